"""Notebook 10's lesson: pruning over several rounds of training (IMP) against pruning at initialization.

:func:`comparison_runs` makes (or loads) every run the notebook compares on one model and
dataset, at each compression and seed, and returns one tidy row per run:

- ``Mag one-shot``: trained ``pre_epochs``, pruned once by magnitude, trained on (a single-shot run);
- ``IMP``: iterative magnitude pruning, ``levels`` rounds of train → prune → rewind to initialization,
  then trained (a multishot run, Frankle & Carbin's lottery-ticket procedure);
- ``IMP mask, new init``: the lottery-ticket control, the same procedure with fresh random weights
  under the final mask (``reinitialize``);
- ``SynFlow at init`` and ``Rand at init``: pruned before any training (single-shot runs).

:func:`conservation_runs` makes the four conservation experiments of the same model; :func:`plot_comparison`
draws the comparison.

Example:
    >>> table = comparison_table(pd.DataFrame({"method": ["IMP", "IMP"], "compression": [1.0, 1.0],
    ...                                        "seed": [1, 2], "top1": [97.0, 96.0], "density": [0.1, 0.1],
    ...                                        "collapsed": [False, False]}))
    >>> table.loc["IMP", "a = 1"]
    '96.50 ± 0.71 (2)'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from prunekit.report.reference_view import default_reference_dir, load_reference
from prunekit.run.config import ExperimentConfig
from prunekit.run.experiment import run_many
from prunekit.run.experiments import run_or_load_experiment
from prunekit.run.experiments.conservation import CUT_FLOW
from prunekit.run.experiments.results import ConservationResult, MultishotResult

__all__ = ["METHODS", "REFERENCE_METHODS", "comparison_runs", "comparison_table", "conservation_runs", "flow_kept",
           "here_and_reference", "largest_cut", "holds_in_both", "plot_comparison", "reference_runs", "setting_text",
           "squared_weight_changes",
           "top1_means", "unit_gaps"]

METHODS = ("Mag one-shot", "IMP", "IMP mask, new init", "SynFlow at init", "Rand at init")
"""The methods :func:`comparison_runs` compares, in the order of its tables."""


def _base(model: str, dataset: str, post_epochs: int, train_limit: int | None, test_limit: int | None,
          data_dir: str | None, result_dir: str) -> ExperimentConfig:
    return ExperimentConfig(model_class="default", model=model, dataset=dataset, post_epochs=post_epochs,
                            train_limit=train_limit, test_limit=test_limit, timing_repeats=1, device="cpu",
                            data_dir=data_dir, result_dir=result_dir)


def comparison_runs(
    seeds: Sequence[int],
    compressions: Sequence[float],
    *,
    levels: int = 5,
    pre_epochs: int = 1,
    post_epochs: int = 2,
    train_limit: int | None = None,
    test_limit: int | None = None,
    model: str = "fc",
    dataset: str = "mnist",
    data_dir: str | None = None,
    result_dir: str = "results/notebooks",
    progress: bool = True,
) -> pd.DataFrame:
    """Makes (or loads) every run of the comparison and returns one row per method, compression and seed.

    Args:
        seeds: The random seeds.
        compressions: The compression exponents ``a`` (density ``10^-a``).
        levels: IMP's prune-train-rewind levels.
        pre_epochs: Training before each pruning (Mag one-shot, and each IMP level).
        post_epochs: Training after the (last) pruning, for every method.
        train_limit: Training images used (None = all).
        test_limit: Test images used (None = all).
        model: A model of the ``default`` class.
        dataset: The dataset.
        data_dir: The data folder (None = the kit's).
        result_dir: Where runs are saved; finished ones are loaded.
        progress: Show a bar over the runs.

    Returns:
        Columns ``method, seed, compression, density, top1, collapsed``.
    """
    base = _base(model, dataset, post_epochs, train_limit, test_limit, data_dir, result_dir)
    rows: list[dict[str, Any]] = []
    singles = [(method, base.replace(pruner=pruner, pre_epochs=pre, compression=float(a), seed=seed))
               for seed in seeds for a in compressions
               for method, pruner, pre in (("Mag one-shot", "mag", pre_epochs), ("SynFlow at init", "synflow", 0),
                                           ("Rand at init", "rand", 0))]
    for (method, config), result in zip(singles, run_many([c for _, c in singles], progress=progress)):
        rows.append({"method": method, "seed": config.seed, "compression": config.compression,
                     "density": result.params.kept / result.params.total, "top1": result.top1,
                     "collapsed": bool(result.collapsed_layers)})
    for seed in seeds:
        for method, reinitialize in (("IMP", False), ("IMP mask, new init", True)):
            config = base.replace(experiment="multishot", pruner="mag", pre_epochs=pre_epochs, seed=seed,
                                  compression_list=tuple(float(a) for a in compressions), level_list=(levels,),
                                  reinitialize=reinitialize)
            result = run_or_load_experiment(config, progress=False)
            for entry in result.entries:
                rows.append({"method": method, "seed": seed, "compression": entry.compression,
                             "density": entry.density, "top1": entry.top1, "collapsed": bool(entry.collapsed_layers)})
    return pd.DataFrame(rows)


REFERENCE_METHODS = {"mag": "Mag one-shot", "imp": "IMP", "imp-reinit": "IMP mask, new init",
                     "synflow-r100": "SynFlow at init", "rand": "Rand at init"}
"""The reference set's ``iterative`` settings under the names :func:`comparison_runs` gives them."""


def reference_runs(folder: str | Path | None = None) -> pd.DataFrame | None:
    """The reference set's ``iterative`` part in :func:`comparison_runs`' columns; None if it is not computed.

    Its setting (FC on full MNIST, 3 seeds, every method trained 20 epochs after its last pruning; one-shot
    Mag pre-trained 20 epochs, IMP 4 epochs before each of its 5 prunings) is in ``frame.attrs["setting"]``.

    Args:
        folder: The reference folder (default: :func:`~prunekit.report.reference_view.default_reference_dir`).

    Returns:
        Columns ``method, seed, compression, density, top1, collapsed, disconnected``, or None.
    """
    folder = folder if folder is not None else default_reference_dir()
    part = load_reference(folder).iterative if folder is not None else None
    if part is None:
        return None
    runs = part.runs
    frame = pd.DataFrame({
        "method": runs.setting.map(REFERENCE_METHODS), "seed": runs.seed, "compression": runs.compression,
        "density": runs.density, "top1": runs.top1, "collapsed": runs.n_collapsed_layers > 0,
        "disconnected": runs.disconnected.astype(bool)})
    imp, mag = runs[runs.setting == "imp"].iloc[0], runs[runs.setting == "mag"].iloc[0]
    frame.attrs["setting"] = setting_text(sorted(int(s) for s in runs.seed.unique()), int(runs.train_examples.iloc[0]),
                                          int(runs.post_epochs.iloc[0]), int(mag.pre_epochs), int(imp.pre_epochs),
                                          int(imp.levels), who=f"reference set ({part.scale})")
    return frame


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def setting_text(seeds: Sequence[int], train_limit: int | None, post_epochs: int, mag_pre_epochs: int,
                 imp_pre_epochs: int, levels: int, who: str = "this notebook's runs") -> str:
    """The one setting of a comparison, for its table's and figure's titles.

    Example:
        >>> setting_text([1, 2, 3], 20000, 4, 1, 1, 5)
        "this notebook's runs: FC on 20,000 MNIST training images, seeds 1, 2, 3, 4 epochs after the last pruning; Mag one-shot pre-trained 1 epoch, IMP 1 epoch before each of its 5 prunings"
    """
    images = "full MNIST" if train_limit is None or train_limit >= 60000 else f"{train_limit:,} MNIST training images"
    return (f"{who}: FC on {images}, seeds {', '.join(str(s) for s in seeds)}, {_epochs(post_epochs)} after the last "
            f"pruning; Mag one-shot pre-trained {_epochs(mag_pre_epochs)}, IMP {_epochs(imp_pre_epochs)} before each of "
            f"its {levels} prunings")


def top1_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean top-1 over seeds: one row per method, one column per compression exponent."""
    return frame.groupby(["method", "compression"]).top1.mean().unstack("compression")


def holds_in_both(test: Callable[[pd.DataFrame], bool], here: pd.DataFrame, reference: pd.DataFrame | None) -> bool:
    """Whether ``test`` holds for this notebook's means and for the reference set's (when it is computed).

    Example:
        >>> here = pd.DataFrame({1.0: [90.0, 80.0]}, index=["IMP", "Rand at init"])
        >>> holds_in_both(lambda t: t.loc["IMP", 1.0] > t.loc["Rand at init", 1.0], here, None)
        True
    """
    return bool(test(here)) and (reference is None or bool(test(reference)))


def here_and_reference(here: pd.DataFrame, reference: pd.DataFrame | None, method: str, compression: float) -> str:
    """``"74.7 % here, 87.1 % in the reference set"`` (the first part only when the reference is missing).

    Example:
        >>> here_and_reference(pd.DataFrame({2.0: [74.66]}, index=["IMP"]), None, "IMP", 2.0)
        '74.7 % here'
    """
    text = f"{here.loc[method, compression]:.1f} % here"
    return text if reference is None else f"{text}, {reference.loc[method, compression]:.1f} % in the reference set"


def comparison_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Top-1 mean ± std (number of seeds) per method (rows) and compression (columns).

    Args:
        frame: :func:`comparison_runs` output.

    Returns:
        A table of text cells, methods in :data:`METHODS` order.
    """
    def cell(values: pd.Series) -> str:
        std = values.std() if len(values) > 1 else float("nan")
        return f"{values.mean():.2f} ± {std:.2f} ({len(values)})" if len(values) > 1 else f"{values.mean():.2f} (1)"

    table = frame.groupby(["method", "compression"]).top1.apply(cell).unstack("compression")
    table.columns = [f"a = {a:g}" for a in table.columns]
    order = [m for m in METHODS if m in table.index] + [m for m in table.index if m not in METHODS]
    return table.loc[order].rename_axis("top-1 % (seeds)")


def plot_comparison(frame: pd.DataFrame, title: str = "") -> Any:
    """Top-1 against density (log scale, sparser to the right), one line per method: mean over seeds, std as bars.

    Args:
        frame: :func:`comparison_runs` output.
        title: The figure's title.

    Returns:
        The matplotlib figure.
    """
    figure, ax = plt.subplots(figsize=(7, 4))
    stats = frame.groupby(["method", "compression"]).agg(top1=("top1", "mean"), std=("top1", "std"),
                                                         density=("density", "mean")).reset_index()
    for method in [m for m in METHODS if m in set(stats.method)]:
        rows = stats[stats.method == method].sort_values("compression")
        ax.errorbar(rows.density, rows.top1, yerr=rows["std"].fillna(0), marker="o", capsize=3, label=method)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("density (fraction of weights kept)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(title)
    ax.legend()
    return figure


def conservation_runs(
    seed: int,
    *,
    model: str = "fc",
    dataset: str = "mnist",
    pruners: Sequence[str] = ("mag", "snip", "grasp", "synflow"),
    schedule_pruners: Sequence[str] = ("mag", "synflow"),
    compressions: Sequence[float] = (1, 2, 3),
    rounds: Sequence[int] = (1, 10, 100),
    epochs: int = 2,
    train_limit: int | None = None,
    test_limit: int | None = None,
    data_dir: str | None = None,
    result_dir: str = "results/notebooks",
) -> dict[str, MultishotResult | ConservationResult]:
    """Makes (or loads) the four conservation experiments of one model at initialization.

    Args:
        seed: The random seed.
        model: A model of the ``default`` class.
        dataset: The dataset.
        pruners: The pruners of unit- and layer-conservation.
        schedule_pruners: The pruners of schedule-conservation (GraSP's 100 rounds would take minutes).
        compressions: Schedule-conservation's compression exponents.
        rounds: Schedule-conservation's numbers of pruning rounds.
        epochs: Imp-conservation's training epochs (plain SGD at learning rate 0.01, close to gradient flow: at 0.1
            the steps' second-order term grows the first layer's squared weight 3.7 times as much as the others' in
            2 epochs of full MNIST, against 1.15 times at 0.01).
        train_limit: Training images used (None = all).
        test_limit: Test images used (None = all).
        data_dir: The data folder.
        result_dir: Where runs are saved.

    Returns:
        Experiment name → its result.
    """
    base = _base(model, dataset, epochs, train_limit, test_limit, data_dir, result_dir).replace(
        seed=seed, pruner_list=tuple(pruners))
    settings = {
        "unit-conservation": {},
        "layer-conservation": {},
        "imp-conservation": {"pruner_list": (), "optimizer": "sgd", "lr": 0.01},  # small steps: close to gradient flow
        "schedule-conservation": {"pruner_list": tuple(schedule_pruners),
                                  "compression_list": tuple(float(a) for a in compressions),
                                  "prune_epoch_list": tuple(rounds)},
    }
    return {name: run_or_load_experiment(base.replace(experiment=name, **changes))
            for name, changes in settings.items()}


def unit_gaps(result: ConservationResult) -> pd.Series:
    """Per pruner, the largest relative gap ``|in − out| / max(|in|, |out|)`` over all hidden units (unit-conservation).

    Example:
        >>> from prunekit.run.experiments.results import Curve
        >>> gaps = unit_gaps(ConservationResult(ExperimentConfig(), "unit-conservation",
        ...                  (Curve("synflow", "l", (1.0, 2.0), (1.0, 2.2)),)))
        >>> round(float(gaps["synflow"]), 4)
        0.0909
    """
    gaps: dict[str, float] = {}
    for curve in result.curves:
        for x, y in zip(curve.x, curve.y):
            scale = max(abs(x), abs(y))
            gap = abs(x - y) / scale if scale > 0 else 0.0
            gaps[curve.pruner] = max(gaps.get(curve.pruner, 0.0), gap)
    return pd.Series(gaps, name="largest relative gap")


def squared_weight_changes(result: ConservationResult) -> pd.DataFrame:
    """Per layer (imp-conservation): its size and the change of its average and total squared weight over training.

    Returns:
        Columns ``size, mean_change, total_change``, one row per layer.
    """
    sizes = next(dict(zip(c.names, c.y)) for c in result.curves if c.label == "sizes")
    rows = {c.label: {"size": int(sizes[c.label]), "mean_change": c.y[-1] - c.y[0],
                      "total_change": (c.y[-1] - c.y[0]) * sizes[c.label]}
            for c in result.curves if c.label != "sizes"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("layer")


def flow_kept(result: ConservationResult) -> pd.DataFrame:
    """The fraction of synaptic flow kept (schedule-conservation): one row per pruner and rounds, one column per a.

    Collapsed masks are marked with ``*`` in the row's ``collapsed at`` column.
    """
    return _schedule_table(result, cut=False)


def largest_cut(result: ConservationResult) -> pd.DataFrame:
    """Synaptic-Flow's measure (schedule-conservation): the largest cut / flow ratio of a round, as :func:`flow_kept`."""
    return _schedule_table(result, cut=True)


def _schedule_table(result: ConservationResult, cut: bool) -> pd.DataFrame:
    rows = {}
    for curve in result.curves:
        if curve.label.endswith(CUT_FLOW) != cut:
            continue
        row = {f"a = {a:g}": value for a, value in zip(curve.x, curve.y)}
        row["collapsed at"] = ", ".join(f"{a:g}" for a, note in zip(curve.x, curve.names) if note) or "-"
        rows[(curve.pruner, curve.label.removesuffix(CUT_FLOW))] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(["pruner", "rounds"])
