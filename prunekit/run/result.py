"""A finished single-shot run as one typed value, :class:`RunResult`, and its versioned JSON form.

``result.json`` is read and written here and nowhere else: :meth:`RunResult.save` writes
:data:`SCHEMA`; :meth:`RunResult.load` reads it, upgrades a ``prunekit-result/1`` file
written by earlier versions, and refuses anything else with a :class:`ResultSchemaError`
that names the file, the schema found and the schemas this version reads.

Every consumer (the CLI summary, the report, the widgets, the lessons, sweeps) reads
the fields of a :class:`RunResult`, never the keys of the JSON. Its parts (:class:`~prunekit.run.records.EpochRow`, :class:`~prunekit.run.records.DataInfo` …)
are :mod:`prunekit.run.records`, re-exported here.

Example:
    >>> RunResult.from_dict({"schema": "synflow-pickle"}, source="old/result.json")
    Traceback (most recent call last):
    ...
    prunekit.run.result.ResultSchemaError: old/result.json has schema 'synflow-pickle'; this prunekit reads 'prunekit-result/2' (and upgrades 'prunekit-result/1'). Re-run it with this version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prunekit.run.config import ExperimentConfig
from prunekit.run.datasets import DataOrigin
from prunekit.run.io import read_json, write_json
from prunekit.run.records import (
    DataInfo,
    Divergence,
    EpochRow,
    FlopCount,
    LayerRow,
    Machine,
    ParamCount,
    PruneInfo,
    Timing,
    Versions,
    WeightHistograms,
)

__all__ = [
    "COMPLETE",
    "DIVERGED",
    "LEGACY_SCHEMAS",
    "RESULT_FILE",
    "SCHEMA",
    "STATUSES",
    "DataInfo",
    "Divergence",
    "EpochRow",
    "FlopCount",
    "LayerRow",
    "Machine",
    "ParamCount",
    "PruneInfo",
    "ResultSchemaError",
    "RunResult",
    "Timing",
    "Versions",
    "WeightHistograms",
]

SCHEMA = "prunekit-result/2"
"""The ``schema`` of every ``result.json`` this version writes."""

LEGACY_SCHEMAS = ("prunekit-result/1",)
"""Older schemas this version reads (and upgrades)."""

RESULT_FILE = "result.json"
"""A finished run's result, in its folder."""

COMPLETE = "complete"
"""The status of a run that trained every epoch."""

DIVERGED = "diverged"
"""The status of a run stopped because its loss or weights stopped being finite (see :class:`Divergence`)."""

STATUSES = (COMPLETE, DIVERGED)
"""Every status a result may have."""


class ResultSchemaError(ValueError):
    """A ``result.json`` this version cannot read: another schema, or a field missing or malformed.

    Attributes:
        source: The file (or ``"<dict>"``).
        found: The schema the data declares (None when it declares none).
    """

    def __init__(self, message: str, source: str, found: object) -> None:
        super().__init__(message)
        self.source, self.found = source, found


@dataclass(frozen=True)
class RunResult:
    """Everything a finished single-shot run produced: the report's numbers, histories and provenance.

    Attributes:
        config: The run's configuration.
        expid: The run's folder name.
        status: :data:`COMPLETE`, or :data:`DIVERGED` when training stopped at a non-finite loss or weight
            (the accuracies are then those measured on the diverged model, and ``divergence`` says where).
        prunekit_version: The version that computed it.
        data: What it trained and tested on, and the data's :class:`~prunekit.run.datasets.DataOrigin`.
        pre_history: Evaluations of pre-training (epoch 0 = at initialization).
        post_history: Evaluations of post-training (epoch 0 = right after pruning).
        timing: Inference time over the test set.
        params: Prunable weights, all and kept.
        flops: FLOPs of one forward pass, dense and remaining.
        layers: Every weight and bias of the final model.
        collapsed_layers: Modules left with no weights.
        prune: What pruning did.
        train_time_s: Seconds of training (both phases).
        device: Where it ran.
        versions: The software it ran with.
        started_at: UTC start time (ISO 8601).
        finished_at: UTC end time (ISO 8601).
        histograms: Weight histograms of the final model (empty for upgraded results saved without them,
            and for diverged runs, whose weights are not finite).
        divergence: Where training diverged (None unless ``status`` is :data:`DIVERGED`).
        disconnected: Whether the final masks leave no path from input to output
            (:func:`prunekit.core.connectivity.is_disconnected`; layer collapse implies it). None for a
            result saved before prunekit checked, unless a collapsed layer shows it.
        machine: The CPU's cores, torch's threads and the load when the run started (None: saved before
            prunekit recorded it).
    """

    config: ExperimentConfig
    expid: str
    status: str
    prunekit_version: str
    data: DataInfo
    pre_history: tuple[EpochRow, ...]
    post_history: tuple[EpochRow, ...]
    timing: Timing
    params: ParamCount
    flops: FlopCount
    layers: tuple[LayerRow, ...]
    collapsed_layers: tuple[str, ...]
    prune: PruneInfo
    train_time_s: float
    device: str
    versions: Versions
    started_at: str
    finished_at: str
    histograms: WeightHistograms = WeightHistograms()
    divergence: Divergence | None = None
    disconnected: bool | None = None
    machine: Machine | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown run status {self.status!r}; valid statuses: {', '.join(STATUSES)}")
        if (self.status == DIVERGED) != (self.divergence is not None):
            raise ValueError(f"a run of status {self.status!r} must {'' if self.status == DIVERGED else 'not '}"
                             "say where it diverged (divergence)")

    # ----------------------------------------------------------------------- derived values

    @property
    def diverged(self) -> bool:
        """Whether training stopped at a non-finite loss or weight (``status == "diverged"``)."""
        return self.status == DIVERGED

    @property
    def _last(self) -> EpochRow:
        return (self.post_history or self.pre_history)[-1]

    @property
    def origin(self) -> DataOrigin:
        """Where the data came from (``data.origin``)."""
        return self.data.origin

    @property
    def top1(self) -> float:
        """Final test top-1 accuracy (%): the last evaluation (of a diverged model too)."""
        return self._last.top1

    @property
    def top5(self) -> float:
        """Final test top-5 accuracy (%)."""
        return self._last.top5

    @property
    def pre_prune_top1(self) -> float:
        """Test top-1 accuracy (%) before pruning."""
        return self.pre_history[-1].top1

    @property
    def after_prune_top1(self) -> float:
        """Test top-1 accuracy (%) right after pruning, before post-training (NaN if it never got there)."""
        return self.post_history[0].top1 if self.post_history else float("nan")

    @property
    def test_time_s(self) -> float:
        """Median seconds of one inference pass over the test set."""
        return self.timing.median_s

    def layer_frame(self) -> pd.DataFrame:
        """:attr:`layers` as a table with :func:`prunekit.core.metrics.layer_table`'s columns."""
        rows = [_layer_json(row) for row in self.layers]
        return pd.DataFrame(rows, columns=list(_LAYER_KEYS))

    def weight_layers(self) -> pd.DataFrame:
        """The prunable weights only, one row per module (index ``module``): the per-layer tables' rows."""
        table = self.layer_frame()
        return table[(table.param == "weight") & table.prunable].set_index("module")

    # ----------------------------------------------------------------------- the JSON form

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema :data:`SCHEMA`)."""
        return {
            "schema": SCHEMA,
            "prunekit_version": self.prunekit_version,
            "status": self.status,
            "expid": self.expid,
            "config": self.config.to_dict(),
            "data": {**dataclasses.asdict(self.data), "origin": self.data.origin.value},
            "pre_history": [row.to_dict() for row in self.pre_history],
            "post_history": [row.to_dict() for row in self.post_history],
            "timing": {**dataclasses.asdict(self.timing), "times_s": list(self.timing.times_s)},
            "params": dataclasses.asdict(self.params),
            "flops": dataclasses.asdict(self.flops),
            "layers": [_layer_json(row) for row in self.layers],
            "collapsed_layers": list(self.collapsed_layers),
            "prune": dataclasses.asdict(self.prune),
            "train_time_s": self.train_time_s,
            "device": self.device,
            "versions": dataclasses.asdict(self.versions),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "histograms": {key: list(values) for key, values in dataclasses.asdict(self.histograms).items()},
            "divergence": None if self.divergence is None else dataclasses.asdict(self.divergence),
            "disconnected": self.disconnected,
            "machine": None if self.machine is None else dataclasses.asdict(self.machine),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> RunResult:
        """Reads the JSON form: :data:`SCHEMA`, or a legacy schema (upgraded).

        Args:
            data: The decoded ``result.json``.
            source: Where it came from, for error messages.

        Returns:
            The result.

        Raises:
            ResultSchemaError: If the schema is neither :data:`SCHEMA` nor in :data:`LEGACY_SCHEMAS`,
                or a field is missing or malformed (the message names ``source``).
        """
        found = data.get("schema") if isinstance(data, Mapping) else None
        if found in LEGACY_SCHEMAS:
            data = _upgrade_v1(data, source)
        elif found != SCHEMA:
            accepted = " and ".join(repr(s) for s in LEGACY_SCHEMAS)
            raise ResultSchemaError(
                f"{source} has schema {found!r}; this prunekit reads {SCHEMA!r} (and upgrades {accepted}). "
                "Re-run it with this version.",
                source,
                found,
            )
        try:
            return _build(data)
        except (KeyError, TypeError, ValueError) as error:
            problem = f"field {error}" if isinstance(error, KeyError) else str(error)
            raise ResultSchemaError(
                f"{source} is not a valid {SCHEMA} result ({type(error).__name__}: {problem})", source, found
            ) from None

    def save(self, path: str | Path) -> Path:
        """Writes the JSON form atomically.

        Args:
            path: A run folder (the file is its ``result.json``) or a file path.

        Returns:
            The file written.
        """
        file = _file(Path(path))
        write_json(file, self.to_dict())
        return file

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        """Reads a ``result.json`` (current or legacy schema).

        Args:
            path: A run folder or its ``result.json``.

        Returns:
            The result.

        Raises:
            FileNotFoundError: If there is no finished run there.
            ResultSchemaError: If the file has another schema or is malformed (the message names the file).
        """
        path = Path(path)
        file = _file(path)
        if not file.is_file():
            raise FileNotFoundError(f"no finished run at {path} ({RESULT_FILE} is missing)")
        try:
            data = read_json(file)
        except ValueError as error:
            raise ResultSchemaError(f"{file} is not readable JSON ({error})", str(file), None) from None
        return cls.from_dict(data, source=str(file))


_LAYER_KEYS = ("module", "type", "param", "shape", "size", "kept", "density", "flops", "flops_remaining", "prunable")


def _file(path: Path) -> Path:
    return path if path.suffix == ".json" else path / RESULT_FILE


def _layer_json(row: LayerRow) -> dict[str, Any]:
    values = dataclasses.asdict(row)
    values["type"] = values.pop("layer_type")
    values["shape"] = list(row.shape)
    return {key: values[key] for key in _LAYER_KEYS}


def _epoch(row: Mapping[str, Any]) -> EpochRow:
    loss = row["train_loss"]
    return EpochRow(
        epoch=int(row["epoch"]),
        train_loss=None if loss is None else float(loss),
        test_loss=float(row["test_loss"]),
        top1=float(row["top1"]),
        top5=float(row["top5"]),
        lr=float(row["lr"]),
        epoch_time_s=float(row["epoch_time_s"]),
    )


def _layer(row: Mapping[str, Any]) -> LayerRow:
    return LayerRow(
        module=str(row["module"]),
        layer_type=str(row["type"]),
        param=str(row["param"]),
        shape=tuple(int(n) for n in row["shape"]),
        size=int(row["size"]),
        kept=int(row["kept"]),
        density=float(row["density"]),
        flops=int(row["flops"]),
        flops_remaining=int(row["flops_remaining"]),
        prunable=bool(row["prunable"]),
    )


def _build(data: Mapping[str, Any]) -> RunResult:
    info, timing, prune = data["data"], data["timing"], data["prune"]
    histograms = data.get("histograms") or {}
    divergence = data.get("divergence")
    return RunResult(
        config=ExperimentConfig.from_dict(dict(data["config"])),
        expid=str(data["expid"]),
        status=str(data["status"]),
        prunekit_version=str(data["prunekit_version"]),
        data=DataInfo(
            dataset=str(info["dataset"]),
            origin=DataOrigin(info["origin"]),
            train_source=str(info["train_source"]),
            test_source=str(info["test_source"]),
            train_examples=int(info["train_examples"]),
            test_examples=int(info["test_examples"]),
        ),
        pre_history=tuple(_epoch(row) for row in data["pre_history"]),
        post_history=tuple(_epoch(row) for row in data["post_history"]),
        timing=Timing(
            median_s=float(timing["median_s"]),
            min_s=float(timing["min_s"]),
            max_s=float(timing["max_s"]),
            iqr_s=float(timing["iqr_s"]),
            repeats=int(timing["repeats"]),
            times_s=tuple(float(t) for t in timing["times_s"]),
            threads=int(timing.get("threads", 0)),
            load=None if timing.get("load") is None else float(timing["load"]),
        ),
        params=ParamCount(total=int(data["params"]["total"]), kept=int(data["params"]["kept"])),
        flops=FlopCount(total=int(data["flops"]["total"]), remaining=int(data["flops"]["remaining"])),
        layers=tuple(_layer(row) for row in data["layers"]),
        collapsed_layers=tuple(str(name) for name in data["collapsed_layers"]),
        prune=PruneInfo(
            rounds=int(prune["rounds"]),
            schedule=str(prune["schedule"]),
            scope=str(prune["scope"]),
            density=float(prune["density"]),
            kept=int(prune["kept"]),
            total=int(prune["total"]),
            score_time_s=float(prune["score_time_s"]),
            select_time_s=float(prune["select_time_s"]),
        ),
        train_time_s=float(data["train_time_s"]),
        device=str(data["device"]),
        versions=Versions(**{key: str(value) for key, value in data["versions"].items()}),
        started_at=str(data["started_at"]),
        finished_at=str(data["finished_at"]),
        histograms=WeightHistograms(
            module=tuple(str(m) for m in histograms.get("module", ())),
            bin_left=tuple(float(v) for v in histograms.get("bin_left", ())),
            bin_right=tuple(float(v) for v in histograms.get("bin_right", ())),
            frequency=tuple(float(v) for v in histograms.get("frequency", ())),
        ),
        divergence=None if divergence is None else Divergence(
            phase=str(divergence["phase"]), epoch=int(divergence["epoch"]), reason=str(divergence["reason"])
        ),
        # results saved before the check: known only where a layer collapsed (collapse implies disconnection)
        disconnected=bool(data["disconnected"]) if data.get("disconnected") is not None
        else True if data["collapsed_layers"] else None,
        machine=None if data.get("machine") is None else Machine(
            cores=int(data["machine"]["cores"]), threads=int(data["machine"]["threads"]),
            load=None if data["machine"].get("load") is None else float(data["machine"]["load"]),
        ),
    )


def _upgrade_v1(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A ``prunekit-result/1`` dict in the current form.

    Schema 1 kept data flags (``fallback``, ``sample``) instead of an origin, pruning rounds as
    ``iterations``, the timing as ``test_time``, and derived values (``top1_accuracy`` …) that the
    current form computes. Its config is read by :meth:`ExperimentConfig.from_dict`, which accepts
    the legacy field names.
    """
    try:
        flags = data["data"]
        origin = (
            DataOrigin.FALLBACK if flags.get("fallback") else DataOrigin.SAMPLE if flags.get("sample") else DataOrigin.FULL
        )
        prune = dict(data["prune"])
        prune["rounds"] = prune.pop("iterations")
        upgraded = {key: value for key, value in data.items() if key in _V1_KEPT}
        upgraded.update(
            schema=SCHEMA,
            data={key: flags[key] for key in ("dataset", "train_source", "test_source", "train_examples",
                                              "test_examples")} | {"origin": origin.value},
            timing=data["test_time"],
            params={"total": data["params"]["total"], "kept": data["params"]["kept"]},
            flops={"total": data["flops"]["total"], "remaining": data["flops"]["remaining"]},
            prune=prune,
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ResultSchemaError(
            f"{source} declares {data.get('schema')!r} but lacks {error} (a damaged file?)", source, data.get("schema")
        ) from None
    return upgraded


_V1_KEPT = (
    "prunekit_version", "status", "config", "expid", "pre_history", "post_history", "layers", "collapsed_layers",
    "train_time_s", "device", "versions", "started_at", "finished_at", "histograms",
)
