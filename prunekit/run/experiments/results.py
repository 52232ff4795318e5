"""The results of the multi-run experiments as typed values, and their versioned JSON form.

A multishot or conservation run writes one file, ``experiment.json``
(:data:`EXPERIMENT_FILE`), into its folder ``<result_dir>/<experiment>/<expid>/``, atomically
(:func:`prunekit.run.io.write_json`). It is written after every finished part (a
compression × level pair of ``multishot``), with status ``"running"`` until the last one,
so a restarted run skips the parts it finds there. Single-shot runs keep ``result.json``
(:class:`~prunekit.run.result.RunResult`); the two never share a folder.

Example:
    >>> curve = Curve(pruner="synflow", label="layers", x=(10.0, 100.0), y=(1.0, 0.1))
    >>> Curve.from_dict(curve.to_dict()) == curve
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunekit.run.config import ExperimentConfig
from prunekit.run.io import read_json, write_json
from prunekit.run.records import EpochRow
from prunekit.run.result import ResultSchemaError

__all__ = [
    "EXPERIMENT_FILE",
    "EXPERIMENT_SCHEMA",
    "ConservationResult",
    "Curve",
    "LevelRow",
    "MultishotEntry",
    "MultishotResult",
    "load_experiment",
]

EXPERIMENT_FILE = "experiment.json"
"""The result file of a multishot or conservation run."""

EXPERIMENT_SCHEMA = "prunekit-experiment/1"
"""The schema written (and the only one read) by this version."""

RUNNING, COMPLETE = "running", "complete"


def _rows(values: Any) -> tuple[EpochRow, ...]:
    return tuple(EpochRow(**row) if isinstance(row, Mapping) else row for row in values)


@dataclass(frozen=True)
class LevelRow:
    """One prune-and-rewind level of a multishot run.

    Attributes:
        level: 1 … L.
        density: The level's target density ``(10^-a)^(l/L)``.
        kept: Prunable weights kept after the level.
        total: Prunable weights in all.
        top1: Test top-1 (%) of the trained model just before it was pruned at this level.
    """

    level: int
    density: float
    kept: int
    total: int
    top1: float


@dataclass(frozen=True)
class MultishotEntry:
    """One compression × levels pair of a multishot run, finished.

    Attributes:
        pruner: The pruner.
        compression: The compression exponent ``a``.
        levels: The number of levels ``L``.
        level_rows: What each level did.
        kept: Prunable weights kept at the end.
        total: Prunable weights in all.
        top1: Final test top-1 (%) after ``post_epochs``.
        top5: Final test top-5 (%).
        post_history: The post-training history (epoch 0 = right after the last rewind).
        layer_density: Each prunable parameter's final density.
        collapsed_layers: Layers left with no weight.
        disconnected: No path from input to output through the kept weights.
        reinitialized: The lottery-ticket control: fresh random weights under the final mask.
    """

    pruner: str
    compression: float
    levels: int
    level_rows: tuple[LevelRow, ...]
    kept: int
    total: int
    top1: float
    top5: float
    post_history: tuple[EpochRow, ...]
    layer_density: dict[str, float]
    collapsed_layers: tuple[str, ...]
    disconnected: bool
    reinitialized: bool

    @property
    def density(self) -> float:
        """``kept / total``."""
        return self.kept / self.total

    @property
    def key(self) -> str:
        """``a<compression>-L<levels>``, the entry's name in logs and checkpoints."""
        return f"a{self.compression:g}-L{self.levels}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MultishotEntry:
        """Rebuilds an entry from :func:`dataclasses.asdict` output."""
        values = dict(data)
        values["level_rows"] = tuple(LevelRow(**row) for row in values["level_rows"])
        values["post_history"] = _rows(values["post_history"])
        values["collapsed_layers"] = tuple(values["collapsed_layers"])
        return cls(**values)


@dataclass(frozen=True)
class Curve:
    """One series of a conservation experiment: ``y`` against ``x``, with optional names of the points.

    Attributes:
        pruner: The pruner (or ``"dense"`` for imp-conservation).
        label: What the series is: a layer name, ``"layers"``, ``"rounds=100"`` …
        x: The abscissae (in-scores, layer sizes, epochs, compressions).
        y: The ordinates (out-scores, average scores, mean squared weights, flow kept).
        names: Names of the points (layer names), when they have any.
    """

    pruner: str
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"pruner": self.pruner, "label": self.label, "x": list(self.x), "y": list(self.y),
                "names": list(self.names)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curve:
        """Rebuilds a curve from :meth:`to_dict` output."""
        return cls(str(data["pruner"]), str(data["label"]), tuple(float(v) for v in data["x"]),
                   tuple(float(v) for v in data["y"]), tuple(data.get("names", ())))


def _head(data: Mapping[str, Any], source: str) -> None:
    if not isinstance(data, Mapping) or data.get("schema") != EXPERIMENT_SCHEMA:
        found = data.get("schema") if isinstance(data, Mapping) else type(data).__name__
        raise ResultSchemaError(f"{source} has schema {found!r}; this prunekit reads {EXPERIMENT_SCHEMA!r}. "
                                "Re-run it with this version.")


@dataclass(frozen=True)
class MultishotResult:
    """A multishot run: its configuration and one :class:`MultishotEntry` per finished compression × levels pair.

    Attributes:
        config: The run's configuration.
        status: ``"running"`` (some entries missing) or ``"complete"``.
        entries: The finished entries, in the order run.
        data_origin: ``full``, ``sample`` or ``fallback`` (:class:`~prunekit.run.datasets.DataOrigin` value).
        started_at: ISO time the run (first) started.
        finished_at: ISO time of the last write.
    """

    config: ExperimentConfig
    status: str
    entries: tuple[MultishotEntry, ...] = ()
    data_origin: str = "full"
    started_at: str = ""
    finished_at: str = ""

    def entry(self, compression: float, levels: int) -> MultishotEntry | None:
        """The finished entry of ``compression`` and ``levels``, or None."""
        return next((e for e in self.entries if e.compression == compression and e.levels == levels), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (with ``schema`` and ``kind``)."""
        return {"schema": EXPERIMENT_SCHEMA, "kind": "multishot", "config": self.config.to_dict(),
                "status": self.status, "entries": [dataclasses.asdict(e) for e in self.entries],
                "data_origin": self.data_origin, "started_at": self.started_at, "finished_at": self.finished_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "experiment.json") -> MultishotResult:
        """Rebuilds a result from :meth:`to_dict` output.

        Raises:
            ResultSchemaError: If the schema is not :data:`EXPERIMENT_SCHEMA` or the kind is not multishot.
        """
        _head(data, source)
        if data.get("kind") != "multishot":
            raise ResultSchemaError(f"{source} holds a {data.get('kind')!r} result, not a multishot one")
        return cls(ExperimentConfig.from_dict(data["config"]), str(data["status"]),
                   tuple(MultishotEntry.from_dict(e) for e in data["entries"]), str(data["data_origin"]),
                   str(data["started_at"]), str(data["finished_at"]))

    def save(self, folder: str | Path) -> Path:
        """Writes ``<folder>/experiment.json`` atomically; returns its path."""
        path = Path(folder) / EXPERIMENT_FILE
        write_json(path, self.to_dict())
        return path


@dataclass(frozen=True)
class ConservationResult:
    """A conservation experiment: its curves and, for layer-conservation, the log-log slopes.

    Attributes:
        config: The run's configuration.
        experiment: ``unit-conservation``, ``layer-conservation``, ``imp-conservation`` or ``schedule-conservation``.
        curves: The series (see each experiment in :mod:`prunekit.run.experiments.conservation`).
        slopes: Pruner → fitted slope (layer-conservation: log average score against log layer size).
        data_origin: Where the data came from (``full``, ``sample``, ``fallback``, or ``none`` when no data was read).
        status: ``"complete"``.
        started_at: ISO time.
        finished_at: ISO time.
    """

    config: ExperimentConfig
    experiment: str
    curves: tuple[Curve, ...]
    slopes: dict[str, float] = field(default_factory=dict)
    data_origin: str = "none"
    status: str = COMPLETE
    started_at: str = ""
    finished_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (with ``schema`` and ``kind``)."""
        return {"schema": EXPERIMENT_SCHEMA, "kind": self.experiment, "config": self.config.to_dict(),
                "curves": [c.to_dict() for c in self.curves], "slopes": dict(self.slopes),
                "data_origin": self.data_origin, "status": self.status, "started_at": self.started_at,
                "finished_at": self.finished_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "experiment.json") -> ConservationResult:
        """Rebuilds a result from :meth:`to_dict` output.

        Raises:
            ResultSchemaError: If the schema is not :data:`EXPERIMENT_SCHEMA`.
        """
        _head(data, source)
        return cls(ExperimentConfig.from_dict(data["config"]), str(data["kind"]),
                   tuple(Curve.from_dict(c) for c in data["curves"]),
                   {str(k): float(v) for k, v in data.get("slopes", {}).items()}, str(data["data_origin"]),
                   str(data["status"]), str(data["started_at"]), str(data["finished_at"]))

    def save(self, folder: str | Path) -> Path:
        """Writes ``<folder>/experiment.json`` atomically; returns its path."""
        path = Path(folder) / EXPERIMENT_FILE
        write_json(path, self.to_dict())
        return path


def load_experiment(path: str | Path) -> MultishotResult | ConservationResult:
    """Reads a multishot or conservation result.

    Args:
        path: The run's folder or its ``experiment.json``.

    Returns:
        A :class:`MultishotResult` or a :class:`ConservationResult`.

    Raises:
        FileNotFoundError: If there is no such file.
        ResultSchemaError: If the file has another schema.

    Example:
        >>> load_experiment("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no multishot or conservation result at /nonexistent (experiment.json is missing)
    """
    path = Path(path)
    file = path if path.name == EXPERIMENT_FILE else path / EXPERIMENT_FILE
    if not file.is_file():
        raise FileNotFoundError(f"no multishot or conservation result at {path} ({EXPERIMENT_FILE} is missing)")
    data = read_json(file)
    _head(data, str(file))
    if data.get("kind") == "multishot":
        return MultishotResult.from_dict(data, str(file))
    return ConservationResult.from_dict(data, str(file))
