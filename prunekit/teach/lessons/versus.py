"""A notebook's live runs beside the reference set: how far a quick run lands from the full-scale mean.

The reference set (written by ``prunekit reference``) trained the FC net on full MNIST with 3 seeds
per setting: ``reference/mnist-row`` with the report's commands and epochs at compression 1,
``reference/mnist-sweep`` for 20 epochs at every compression. A notebook's quick runs train fewer epochs; this table says, run by run, how far below (or above) that mean they land, so the
lesson never reads a short run's number as the pruner's.

Example:
    >>> table = versus_reference(results)  # doctest: +SKIP
    >>> table.columns.tolist()  # doctest: +SKIP
    ['setting', 'compression', 'density', 'live epochs', 'live top-1 (%)', 'reference top-1 (%)', 'reference epochs', 'difference (points)']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from prunekit.report.reference_view import default_reference_dir, load_reference, mean_pm_std
from prunekit.run.datasets import DataOrigin
from prunekit.run.result import RunResult

__all__ = ["COLUMNS", "PARTS", "reference_setting", "versus_reference", "worst_gap"]

COLUMNS = (
    "setting", "compression", "density", "live epochs", "live top-1 (%)", "reference top-1 (%)",
    "reference epochs", "difference (points)",
)
"""The columns of :func:`versus_reference`."""


def reference_setting(result: RunResult) -> str | None:
    """The reference set's label of ``result``'s pruner setting, or None if the set has no such setting.

    SynFlow has two: ``synflow-r100`` (100 rounds, the kit's default) and ``synflow-r1`` (the report's 1 round).

    Args:
        result: A finished run.

    Returns:
        ``"rand"``, ``"mag"``, ``"snip"``, ``"grasp"``, ``"synflow-r100"``, ``"synflow-r1"`` or None.
    """
    pruner, rounds = result.config.pruner, result.prune.rounds  # the rounds it ran (the config may leave the default)
    if pruner == "synflow":
        return {100: "synflow-r100", 1: "synflow-r1"}.get(rounds)
    return pruner if pruner in ("rand", "mag", "snip", "grasp") else None


def _epochs(pre: int, post: int) -> str:
    return f"pre {pre}, post {post}" if pre else f"post {post}"


PARTS = {
    "mnist-sweep": "FC, full MNIST, 20 post-training epochs (Mag pre-trained 20)",
    "mnist-row": "FC, full MNIST, the report's commands and epochs (Rand 20, Mag pre 20 post 10, SNIP 30, GraSP 30, "
                 "SynFlow 150)",
}
"""The reference parts a run can be compared with, and their settings."""


def versus_reference(
    results: Sequence[RunResult], reference: str | Path | None = None, part: str = "mnist-sweep"
) -> pd.DataFrame:
    """Each FC-on-MNIST run beside the reference set's mean ± std for the same setting and compression.

    Args:
        results: Finished runs (others than FC on full MNIST are left out: the reference set has no
            row for them, and a run on the shipped sample is not comparable).
        reference: The reference folder; None = the clone's ``reference/``.
        part: ``"mnist-sweep"`` (every compression, 20 epochs) or ``"mnist-row"`` (compression 1, the
            report's commands with their epochs).

    Returns:
        One row per comparable run, columns :data:`COLUMNS`; ``difference (points)`` is the live top-1
        minus the reference mean. ``attrs["title"]`` names both settings. Empty (with the columns)
        when nothing is comparable or the reference sweep is not computed.

    Raises:
        ValueError: If ``part`` is not one of :data:`PARTS` (the message lists them).
        FileNotFoundError: If ``reference`` is given and is not a folder.

    Example:
        >>> versus_reference([]).columns.tolist()[-1]
        'difference (points)'
    """
    if part not in PARTS:
        raise ValueError(f"unknown reference part {part!r}; valid parts: {', '.join(PARTS)}")
    folder = Path(reference) if reference is not None else default_reference_dir()
    loaded = load_reference(folder) if folder is not None else None
    sweep = None if loaded is None else loaded.mnist_sweep if part == "mnist-sweep" else loaded.mnist_row
    rows = []
    for result in results:
        setting = reference_setting(result)
        config = result.config
        if (sweep is None or setting is None or config.model != "fc" or config.dataset != "mnist"
                or result.data.origin is not DataOrigin.FULL):
            continue
        match = sweep.summary[(sweep.summary.setting == setting)
                              & ((sweep.summary.compression - config.compression).abs() < 1e-9)]
        if match.empty:
            continue
        row = match.iloc[0]
        std = None if pd.isna(row.top1_std) else float(row.top1_std)
        rows.append({
            "setting": setting,
            "compression": config.compression,
            "density": round(10 ** -config.compression, 6),
            "live epochs": _epochs(config.pre_epochs, config.post_epochs),
            "live top-1 (%)": round(result.top1, 2),
            "reference top-1 (%)": mean_pm_std(float(row.top1_mean), std),
            "reference epochs": f"{_epochs(int(row.pre_epochs), int(row.post_epochs))}, {int(row.seeds)} seeds",
            "difference (points)": round(result.top1 - float(row.top1_mean), 2),
        })
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table.attrs["title"] = (f"This notebook's runs (FC, full MNIST, one seed) beside the reference set's {part} "
                            f"({PARTS[part]}; mean ± std over seeds)")
    return table


def worst_gap(table: pd.DataFrame, up_to: float = 1.0) -> float:
    """The largest distance (points) between a live run and its reference mean at compression ≤ ``up_to``.

    Args:
        table: A table from :func:`versus_reference`.
        up_to: The largest compression exponent looked at.

    Returns:
        The largest ``|difference|``; NaN if no row is at or below ``up_to``.

    Example:
        >>> import pandas as pd
        >>> worst_gap(pd.DataFrame({"compression": [0.5, 2.0], "difference (points)": [-1.5, -40.0]}))
        1.5
    """
    low = table[table.compression <= up_to + 1e-9]
    return float(low["difference (points)"].abs().max()) if len(low) else math.nan
