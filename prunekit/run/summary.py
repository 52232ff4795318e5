"""The end-of-run summary of a :class:`~prunekit.run.result.RunResult`, in plain lines (the CLI and sweeps print it).

Example:
    >>> from prunekit.run.config import ExperimentConfig
    >>> from prunekit.run.experiment import run_or_load
    >>> print("\\n".join(summary_lines(run_or_load(ExperimentConfig(post_epochs=1)))))  # doctest: +SKIP
"""

from __future__ import annotations

from prunekit.run.result import RunResult

__all__ = ["divergence_line", "summary_lines"]


def divergence_line(result: RunResult) -> str:
    """One line saying that (and where) a run diverged; ``""`` for a run that trained every epoch.

    The CLI prints it (and exits 1) instead of a summary that would read like a result.

    Args:
        result: A finished run.

    Returns:
        E.g. ``run x DIVERGED: training diverged in post-training epoch 1 (training loss is nan); ...``.

    Example:
        >>> from prunekit.run.experiment import run_or_load
        >>> divergence_line(run_or_load(ExperimentConfig(optimizer="sgd", lr=1e6)))  # doctest: +SKIP
        'run sgd-... DIVERGED: training diverged in post-training epoch 1 (training loss is nan); ...'
    """
    if result.divergence is None:
        return ""
    return (f"run {result.expid} DIVERGED: {result.divergence.describe()}; its result is saved with status "
            f"'diverged' (top-1 {result.top1:.2f} % as measured): lower --lr or change --optimizer")


def summary_lines(result: RunResult) -> list[str]:
    """The end-of-run summary, as the report's code printed it: accuracies, parameter and FLOP ratios, test time, collapse.

    A run on the shipped sample or on fallback data starts with a line that says so
    (from ``result.data.origin``); a network left without any input-output path though
    no layer collapsed gets a ``DISCONNECTED`` line.

    Args:
        result: A finished run.

    Returns:
        Lines to print.

    Example:
        >>> from prunekit.run.experiment import run_or_load
        >>> lines = summary_lines(run_or_load(ExperimentConfig(post_epochs=1, result_dir="/tmp/pk")))  # doctest: +SKIP
        >>> lines[0]  # doctest: +SKIP
        'SHIPPED MNIST SAMPLE (10,000/2,000 images): not comparable with the full 60,000/10,000 set'
    """
    config, params, flops, timing = result.config, result.params, result.flops, result.timing
    density = params.density
    lines = [
        f"run {result.expid}: {config.pruner} on {config.model}/{config.dataset}, "
        f"compression exponent {config.compression:g} (target density {10 ** -config.compression:.4g})",
        f"data: {result.data.train_source}",
        f"top-1 accuracy: {result.pre_prune_top1:.2f} % before pruning, {result.after_prune_top1:.2f} % "
        f"right after, {result.top1:.2f} % final (top-5 {result.top5:.2f} %)",
        f"parameters: {params.kept:,} of {params.total:,} prunable weights kept "
        f"(density {density:.4f}, sparsity {1 - density:.4f}, compression ratio "
        f"{params.total / params.kept if params.kept else float('inf'):.3g})",
        f"FLOPs: {flops.remaining:,} of {flops.total:,} remain (FLOP ratio {flops.ratio:.4f})",
        f"test time: {timing.median_s:.4f} s median over {timing.repeats} passes "
        f"(interquartile range {timing.iqr_s:.4f} s)",
        f"pruning: {result.prune.rounds} round(s) in {result.prune.time_s:.2f} s; "
        f"training {result.train_time_s:.1f} s",
    ]
    if result.machine is not None:
        lines.append(result.machine.line())
        if result.machine.overloaded:
            lines.append(result.machine.notice())
    if result.collapsed_layers:
        lines.append(
            f"LAYER COLLAPSE: {', '.join(result.collapsed_layers)} kept no weights, so no signal reaches the "
            "output and the network can only guess the most frequent class"
        )
    else:
        lines.append("layer collapse: none (every layer kept some weights)")
    if result.disconnected and not result.collapsed_layers:  # a collapse line already says no signal passes
        lines.append(
            "DISCONNECTED: no path from input to output through the kept weights (every layer kept some, but "
            "they do not line up), so no signal reaches the output and the network can only guess"
        )
    if result.diverged:
        lines.insert(0, divergence_line(result))
    if result.origin.warning:
        lines.insert(0, result.origin.warning)
    return lines
