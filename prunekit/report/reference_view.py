"""The reference result set (``reference/``) as typed values, and its tables in the report's shape.

:func:`load_reference` reads the folders written by ``prunekit reference`` (see
:mod:`prunekit.run.reference_tables` for their columns); a part not computed yet is None.
Every table is a :class:`TitledTable` whose title names its one setting; cells read
"mean ± std" over seeds ("97.41 ± 0.12"). The report's own numbers, the page section and its
figures are in :mod:`prunekit.report.reference_page`.

Example:
    >>> mean_pm_std(97.4133, 0.1234)
    '97.41 ± 0.12'
    >>> mean_pm_std(585045.3, 21093.7, digits=0)
    '585,045 ± 21,094'
    >>> setting_name("snip", "fallback")
    'snip (FALLBACK: MNIST digits stand in for CIFAR-10)'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prunekit.run.resources import clone_root

__all__ = [
    "FALLBACK_LABEL", "NOT_COMPUTED", "MnistPart", "ReferenceSet", "SweepSeries", "TitledTable", "VggPart",
    "caption_tag", "default_reference_dir", "flop_ratio_series", "iterative_table", "vgg_setting_names", "load_reference", "mean_pm_std", "mnist_row_table", "setting_name", "sweep_accuracy_table", "sweep_series", "vgg_flop_ratio_tables",
    "vgg_layer_density", "vgg_layer_flops", "vgg_layer_tables",
]

FALLBACK_LABEL = "FALLBACK: MNIST digits stand in for CIFAR-10"
NOT_COMPUTED = "not computed yet: run `make reference`"
_NAMES = {
    "mag-init": "mag at initialization (the report pre-trained 200 epochs)",
    "synflow-r100": "synflow-r100 (100 rounds, the kit's default)",
    "synflow-r1": "synflow-r1 (1 round, the report's setting)",
}
_REPORT_PRUNER = {"mag-init": "mag", "synflow-r100": "synflow", "synflow-r1": "synflow"}


@dataclass(frozen=True)
class TitledTable:
    """A table of text cells with the title that names its setting.

    Attributes:
        stem: A file-name-safe name (for its CSV).
        title: What the table holds, its one setting and its data.
        table: The cells as text.
        note: A line shown under it (e.g. the command that would reproduce it); empty if none.
    """

    stem: str
    title: str
    table: pd.DataFrame
    note: str = ""


@dataclass(frozen=True)
class MnistPart:
    """``mnist-row``, ``mnist-sweep`` or ``iterative``: ``runs.csv`` and ``summary.csv`` as read, and the scale."""

    folder: Path
    scale: str
    runs: pd.DataFrame
    summary: pd.DataFrame


@dataclass(frozen=True)
class VggPart:
    """``vgg16-init``: its five CSV files as read, and the scale."""

    folder: Path
    scale: str
    flop_runs: pd.DataFrame
    flop_summary: pd.DataFrame
    layers_runs: pd.DataFrame
    layers_summary: pd.DataFrame
    vs_report: pd.DataFrame


@dataclass(frozen=True)
class ReferenceSet:
    """The reference folder; a part not computed yet is None."""

    folder: Path
    mnist_row: MnistPart | None
    mnist_sweep: MnistPart | None
    vgg16_init: VggPart | None
    iterative: MnistPart | None = None

    def missing(self) -> list[str]:
        """The parts not computed yet, e.g. ``["mnist-row"]``."""
        parts = {"mnist-row": self.mnist_row, "mnist-sweep": self.mnist_sweep, "vgg16-init": self.vgg16_init,
                 "iterative": self.iterative}
        return [name for name, part in parts.items() if part is None]


@dataclass(frozen=True)
class SweepSeries:
    """The sweep as wide tables (compression × setting) for a figure: means, stds, collapsed and disconnected runs."""

    mean: pd.DataFrame
    std: pd.DataFrame
    collapsed: pd.DataFrame
    disconnected: pd.DataFrame


def default_reference_dir() -> Path | None:
    """The reference set's folder: the clone's ``reference/`` (editable install), else a ``reference/`` in the
    current folder or its parent (a student handout: notebooks run in ``notebooks/`` beside it), else None.

    Example:
        >>> folder = default_reference_dir()
        >>> folder is None or folder.name == "reference"
        True
    """
    root = clone_root()
    candidates = ([root / "reference"] if root is not None else []) + [Path.cwd() / "reference",
                                                                         Path.cwd().parent / "reference"]
    return next((folder for folder in candidates if (folder / "README.md").is_file()), None)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#")


def _scale(folder: Path) -> str:
    meta = folder / "metadata.json"
    return str(json.loads(meta.read_text(encoding="utf-8")).get("scale", "unknown")) if meta.is_file() else "unknown"


def load_reference(folder: str | Path) -> ReferenceSet:
    """Reads a reference folder; a part whose files are not all there is None.

    Args:
        folder: A folder written by ``prunekit reference`` (holding ``mnist-row/`` … ``vgg16-init/``).

    Returns:
        The set.

    Raises:
        FileNotFoundError: If ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no reference folder {folder}: run `make reference` (or pass --reference DIR)")
    mnist: dict[str, MnistPart | None] = {}
    for part in ("mnist-row", "mnist-sweep", "iterative"):
        sub = folder / part
        done = (sub / "runs.csv").is_file() and (sub / "summary.csv").is_file()
        mnist[part] = MnistPart(sub, _scale(sub), _read(sub / "runs.csv"), _read(sub / "summary.csv")) if done else None
    sub = folder / "vgg16-init"
    names = ("flop_ratio_runs", "flop_ratio_summary", "layers_runs", "layers_summary", "flop_ratio_vs_report")
    vgg = (VggPart(sub, _scale(sub), *(_read(sub / f"{name}.csv") for name in names))
           if all((sub / f"{name}.csv").is_file() for name in names) else None)
    return ReferenceSet(folder, mnist["mnist-row"], mnist["mnist-sweep"], vgg, mnist["iterative"])


def mean_pm_std(mean: float, std: float | None, digits: int = 2) -> str:
    """``"mean ± std"`` with ``digits`` decimals (thousands separated); one seed: ``"mean (1 seed)"``; "—" if missing."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:,.{digits}f} (1 seed)"
    return f"{mean:,.{digits}f} ± {std:,.{digits}f}"


def setting_name(label: str, prune_data_origin: str = "") -> str:
    """A setting's column title: what it is, and FALLBACK when its pruning batches were not CIFAR-10."""
    name = _NAMES.get(label, label)
    if prune_data_origin == "fallback":
        return f"{name} ({FALLBACK_LABEL})"
    if prune_data_origin not in ("", "full", "unused"):
        return f"{name} (pruning batches: {prune_data_origin}, not CIFAR-10)"
    return name


def _scale_tag(scale: str) -> str:
    return "" if scale == "full" else f"{scale.upper()} SCALE, not the reference numbers · "


def caption_tag(part: MnistPart | VggPart) -> str:
    """What a caption must say first about a part: a smoke scale, MNIST data that was not the full set, FALLBACK."""
    if isinstance(part, MnistPart):
        return _scale_tag(part.scale) + _origin_tag(part.summary)
    return _scale_tag(part.scale) + _fallback_tag(_origins(part), list(part.flop_summary.setting.unique()))


def _seeds(summary: pd.DataFrame) -> str:
    low, high = int(summary.seeds.min()), int(summary.seeds.max())
    return f"{high} seed{'s' if high > 1 else ''}" if low == high else f"{low}–{high} seeds"


def _marks(row: pd.Series) -> str:
    notes = [f"{what} in {int(row[column])}/{int(row.seeds)} seeds"
             for column, what in (("runs_collapsed", "collapsed"), ("runs_disconnected", "disconnected"),
                                  ("runs_diverged", "diverged"))
             if column in row and not pd.isna(row[column]) and int(row[column]) > 0]
    return f" ({'; '.join(notes)})" if notes else ""


def _epochs(summary: pd.DataFrame) -> str:
    parts = []
    for label, rows in summary.groupby("setting", sort=False):
        pre, post = int(rows.pre_epochs.iloc[0]), int(rows.post_epochs.iloc[0])
        parts.append(f"{label} {'pre ' + str(pre) + ', ' if pre else ''}post {post}")
    return "; ".join(parts)


def _origin_tag(summary: pd.DataFrame) -> str:
    origins = sorted(set(";".join(summary.data_origin.astype(str)).split(";")) - {"full"})
    return f"data origin {', '.join(origins).upper()}, not full MNIST · " if origins else ""


def mnist_row_table(part: MnistPart) -> TitledTable:
    """Table 1.1's MNIST row from the reference set: rows ``MNIST / FC``, one column per setting, mean ± std.

    Args:
        part: The ``mnist-row`` part.

    Returns:
        The table; a cell notes the seeds whose runs collapsed, disconnected or diverged.
    """
    s = part.summary
    cells = {setting_name(row.setting): mean_pm_std(row.top1_mean, row.top1_std) + _marks(row) for _, row in s.iterrows()}
    ours = pd.DataFrame([cells], index=pd.Index(["MNIST / FC"], name="data / architecture"))
    title = (f"{_scale_tag(part.scale)}{_origin_tag(s)}Table 1.1, MNIST row (the kit's reference set): top-1 accuracy (%) "
             f"at compression 1, mean ± std over {_seeds(s)}; each pruner with the report's command and epochs "
             f"({_epochs(s)})")
    return TitledTable("reference_table_1_1_mnist", title, ours)


def sweep_series(part: MnistPart) -> SweepSeries:
    """The sweep summary as wide tables (index: compression, one column per setting) for a figure."""
    wide = {column: part.summary.pivot(index="compression", columns="setting", values=column)
            [list(dict.fromkeys(part.summary.setting))]
            for column in ("top1_mean", "top1_std", "runs_collapsed", "runs_disconnected")}
    return SweepSeries(wide["top1_mean"], wide["top1_std"], wide["runs_collapsed"], wide["runs_disconnected"])


def sweep_accuracy_table(part: MnistPart) -> TitledTable:
    """MNIST / FC top-1 accuracy (%) per compression (rows) and setting (columns), mean ± std over seeds."""
    s = part.summary
    cells = {(f"{row.compression:g}", setting_name(row.setting)): mean_pm_std(row.top1_mean, row.top1_std) + _marks(row)
             for _, row in s.iterrows()}
    table = pd.Series(cells).unstack()
    table = table.loc[list(dict.fromkeys(k[0] for k in cells)), list(dict.fromkeys(k[1] for k in cells))]
    title = (f"{_scale_tag(part.scale)}{_origin_tag(s)}MNIST / FC: top-1 accuracy (%) against compression a "
             f"(density 10^-a), mean ± std over {_seeds(s)}; epochs: {_epochs(s)}")
    return TitledTable("reference_mnist_sweep_accuracy", title, table.rename_axis("compression a"))


_ITERATIVE_NAMES = {"imp": "IMP (rewound to initialization)", "imp-reinit": "IMP's mask, new initialization",
                    "mag": "Mag one-shot", "synflow-r100": "SynFlow at initialization (100 rounds)",
                    "rand": "Rand at initialization"}


def iterative_table(part: MnistPart) -> TitledTable:
    """IMP against pruning at initialization: top-1 (%) per method (rows) and compression (columns), mean ± std."""
    s = part.summary
    cells = {(_ITERATIVE_NAMES.get(row.setting, row.setting), f"a = {row.compression:g}"):
             mean_pm_std(row.top1_mean, row.top1_std) + _marks(row) for _, row in s.iterrows()}
    table = pd.Series(cells).unstack()
    table = table.loc[list(dict.fromkeys(k[0] for k in cells)), list(dict.fromkeys(k[1] for k in cells))]
    imp, mag = s[s.setting == "imp"].iloc[0], s[s.setting == "mag"].iloc[0]
    title = (f"{_scale_tag(part.scale)}{_origin_tag(s)}MNIST / FC: iterative magnitude pruning (IMP, {int(imp.levels)} "
             f"levels of {int(imp.pre_epochs)} epochs) and its lottery-ticket control against pruning at "
             f"initialization, top-1 accuracy (%), mean ± std over {_seeds(s)}; {int(imp.post_epochs)} epochs after the "
             f"last pruning, Mag one-shot pre-trained {int(mag.pre_epochs)} epochs")
    return TitledTable("reference_iterative_accuracy", title, table.rename_axis("method"),
                       "`prunekit reference --part iterative`; notebook 10 runs it quickly beside this table")


def _origins(part: VggPart) -> dict[str, str]:
    return dict(zip(part.flop_summary.setting, part.flop_summary.prune_data_origin.astype(str)))


def _fallback_tag(origins: dict[str, str], labels: list[str]) -> str:
    cut = [label for label in labels if origins.get(label) == "fallback"]
    return f"{FALLBACK_LABEL} ({', '.join(cut)}) · " if cut else ""


def vgg_flop_ratio_tables(part: VggPart) -> list[TitledTable]:
    """Table 1.2.3 on VGG16 at initialization: per setting, the kit's FLOP ratio (mean ± std) beside the report's."""
    origins, out = _origins(part), []
    summary = part.flop_summary.set_index(["setting", "compression"])
    for label, rows in part.vs_report.groupby("setting", sort=False):
        table = pd.DataFrame({
            "the kit (mean ± std)": [mean_pm_std(summary.loc[(label, a), "flop_ratio_mean"],
                                                 summary.loc[(label, a), "flop_ratio_std"], 4) for a in rows.compression],
            f"the report ({_REPORT_PRUNER.get(label, label)})": [f"{v:.4f}" for v in rows.report],
            "kit − report": [f"{v:+.4f}" for v in rows.difference],
            "verdict": rows.verdict.tolist(),
        }, index=pd.Index([f"{a:g}" for a in rows.compression], name="compression a"))
        seeds = _seeds(part.flop_summary[part.flop_summary.setting == label])
        title = (f"{_scale_tag(part.scale)}{_fallback_tag(origins, [label])}Table 1.2.3, VGG16 FLOP ratio (remaining / "
                 f"dense) of masks at initialization, {setting_name(label)}: the kit (mean ± std over {seeds}) "
                 "beside the report")
        out.append(TitledTable(f"reference_table_1_2_3_{label}", title, table))
    return out


def _layer_wide(part: VggPart, column: str) -> pd.DataFrame:
    frame = part.layers_summary.pivot(index="module", columns="setting", values=column)
    return frame.loc[list(dict.fromkeys(part.layers_summary.module)), list(dict.fromkeys(part.layers_summary.setting))]


def vgg_setting_names(part: VggPart) -> dict[str, str]:
    """Setting label → its title (FALLBACK and Mag at initialization named), in the part's order."""
    origins = _origins(part)
    return {label: setting_name(label, origins.get(label, "")) for label in dict.fromkeys(part.flop_summary.setting)}


def flop_ratio_series(part: VggPart) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and std of the FLOP ratio (index: compression, one column per setting), for a figure."""
    order = list(dict.fromkeys(part.flop_summary.setting))
    return tuple(part.flop_summary.pivot(index="compression", columns="setting", values=column)[order]
                 for column in ("flop_ratio_mean", "flop_ratio_std"))


def vgg_layer_density(part: VggPart) -> pd.DataFrame:
    """Mean density per layer (index: setting, columns: modules in the model's order), for a heatmap."""
    return _layer_wide(part, "density_mean").T


def vgg_layer_flops(part: VggPart) -> pd.DataFrame:
    """Mean remaining weight FLOPs per layer (index: module; ``unpruned`` and one column per setting)."""
    wide = _layer_wide(part, "flops_remaining_mean")
    dense = part.layers_summary.drop_duplicates("module").set_index("module").flops
    return pd.concat([dense.reindex(wide.index).rename("unpruned").astype(float), wide], axis=1)


def vgg_layer_tables(part: VggPart) -> list[TitledTable]:
    """Tables 2.1 (density) and 2.2 (weight FLOPs) per layer at compression 0.5, mean ± std over seeds."""
    origins = _origins(part)
    labels = list(dict.fromkeys(part.layers_summary.setting))
    names = {label: setting_name(label, origins.get(label, "")) for label in labels}
    tag = f"{_scale_tag(part.scale)}{_fallback_tag(origins, labels)}"
    seeds = _seeds(part.layers_summary)
    out = []
    for stem, number, what, mean, std, digits in (
            ("density", "2.1", "density (fraction of weights kept)", "density_mean", "density_std", 4),
            ("flops", "2.2", "remaining weight FLOPs", "flops_remaining_mean", "flops_remaining_std", 0)):
        means, stds = _layer_wide(part, mean), _layer_wide(part, std)
        table = pd.DataFrame({names[label]: [mean_pm_std(m, d, digits) for m, d in zip(means[label], stds[label])]
                              for label in labels}, index=means.index)
        if stem == "flops":
            dense = part.layers_summary.drop_duplicates("module").set_index("module").flops.reindex(means.index)
            table.insert(0, "unpruned", [f"{int(v):,}" for v in dense])
        title = (f"{tag}Table {number}, VGG16 per-layer {what} of masks at initialization (no training), compression "
                 f"0.5, mean ± std over {seeds}")
        out.append(TitledTable(f"reference_table_{number.replace('.', '_')}_{stem}", title, table.rename_axis("layer")))
    return out
