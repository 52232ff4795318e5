"""Your scores in the notebook's run: a student's exercise function drives a real experiment.

The checked exercises of notebooks 01–05 ask for a score function ``my_<pruner>_scores(model,
batches) -> {weight name: score}``. :func:`run_with_your_scores` checks it (a wrong one is
refused with the check's message, before any training), then runs the notebook's own experiment
again, with the same configuration (data, seed, compression, rounds, epochs), pruning with the
student's function instead of prunekit's scorer. :func:`yours_vs_kit` puts the two runs side by
side, layer by layer. Nothing is written where the notebook keeps its runs: the run goes to a
temporary folder that is removed afterwards (so ``08_summary`` never mixes it with the kit's runs).

Example:
    >>> scorer = student_scorer(lambda model, batches: {}, "mag")
    >>> scorer.name.startswith("yours_mag_"), scorer.label
    (True, 'your Mag')
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from prunekit.core.layers import MaskedParameter
from prunekit.core.scorers import Scorer, get_scorer, register, unregister
from prunekit.core.scorers.base import Batches, batches_on
from prunekit.run.experiment import run_singleshot
from prunekit.run.result import RunResult
from prunekit.teach.exercises import ExerciseCheckError, check_scores

__all__ = ["YourRun", "run_with_your_scores", "student_scorer", "yours_vs_kit"]

StudentFn = Callable[[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]], Any]
"""``(model, batches) -> {weight name: score tensor}``: the exercises' signature."""


def _fingerprint(fn: StudentFn) -> str:
    """Eight hex digits that change whenever the function's code or constants change."""
    code = getattr(fn, "__code__", None)
    text = repr((code.co_code, code.co_consts, code.co_names)) if code is not None else repr(fn)
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:8]


def student_scorer(fn: StudentFn, pruner: str) -> Scorer:
    """A :class:`~prunekit.core.scorers.Scorer` that scores with a student's function, like ``pruner`` does.

    It takes the built-in pruner's data needs and default rounds; its name holds a fingerprint of
    the function's code, so an edited function is another scorer.

    Args:
        fn: ``(model, batches) -> {weight name: score tensor}`` (``batches``: a list of ``(inputs, targets)``).
        pruner: The built-in pruner it stands for (``rand``, ``mag``, ``snip``, ``grasp``, ``synflow``).

    Returns:
        The scorer (not registered).

    Raises:
        ValueError: For an unknown pruner; the message lists the valid ones.
    """
    builtin = get_scorer(pruner)

    def scores(model: nn.Module, params: Sequence[MaskedParameter], data: Batches | None = None,
               loss_fn: Any = None) -> list[torch.Tensor]:
        device = params[0].param.device
        batches = list(batches_on(data, device)) if data is not None else []
        answer = fn(model, batches)
        missing = [p.name for p in params if not isinstance(answer, dict) or p.name not in answer]
        if missing:
            raise ExerciseCheckError(f"your {pruner} scores have no entry for {', '.join(missing)} on this run's "
                                     f"{type(model).__name__}: return one score tensor per prunable weight")
        return [torch.as_tensor(answer[p.name]).detach().to(device=device, dtype=torch.float32) for p in params]

    return Scorer(f"yours_{pruner}_{_fingerprint(fn)}", scores, label=f"your {builtin.label}",
                  needs_data=builtin.needs_data, default_rounds=builtin.default_rounds, formula=builtin.formula,
                  hint=builtin.hint)


@dataclass(frozen=True)
class YourRun:
    """The notebook's run made with a student's scores, beside the same run with prunekit's.

    Attributes:
        yours: The run that pruned with the student's function.
        kit: The notebook's run with prunekit's scorer (same configuration otherwise).
        table: :func:`yours_vs_kit` of the two.
    """

    yours: RunResult
    kit: RunResult
    table: pd.DataFrame

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


def run_with_your_scores(fn: StudentFn, kit: RunResult, *, check: bool = True, progress: bool = False) -> YourRun:
    """Runs the notebook's experiment again with the student's scores instead of prunekit's.

    Args:
        fn: The student's ``my_<pruner>_scores``.
        kit: The notebook's run with prunekit's scorer; its configuration is reused as it is.
        check: Check ``fn`` first (:func:`prunekit.teach.exercises.check_scores`): a wrong function is
            refused with the check's message, before any training.
        progress: Show the run's progress bars.

    Returns:
        A :class:`YourRun`.

    Raises:
        ExerciseCheckError: If the check fails.
        NotImplementedError: If the exercise is not answered yet (the student's stub raises it).

    Example:
        >>> from prunekit.teach.exercises import reference_scores
        >>> mine = run_with_your_scores(lambda m, b: reference_scores("snip", m, b), kit_run)  # doctest: +SKIP
        >>> mine.yours.top1 == mine.kit.top1  # doctest: +SKIP
        True
    """
    pruner = kit.config.pruner
    if check:
        check_scores(fn, pruner)
    scorer = register(student_scorer(fn, pruner), replace=True)
    try:
        with tempfile.TemporaryDirectory(prefix="prunekit-yours-") as folder:
            config = kit.config.replace(pruner=scorer.name, result_dir=folder, expid="yours")
            result = run_singleshot(config, progress=progress, allow_fallback=True)
    finally:
        unregister(scorer.name)
    return YourRun(result, kit, yours_vs_kit(result, kit))


def yours_vs_kit(yours: RunResult, kit: RunResult) -> pd.DataFrame:
    """Weights kept per layer, then the outcomes (kept in all, FLOP ratio, top-1), for both runs.

    Args:
        yours: The run with the student's scores.
        kit: The same run with prunekit's scorer.

    Returns:
        Columns ``what``, ``yours``, ``prunekit``, ``difference`` (yours − prunekit). The last row is each
        run's number of torch threads: the same masks train to the same top-1 with the same number of
        threads; with another number, sums run in another order and the last digits differ.
    """
    rows = []
    kit_layers = {(row.module, row.param): row for row in kit.layers if row.prunable and row.param == "weight"}
    for row in yours.layers:
        if row.prunable and row.param == "weight":
            other = kit_layers[(row.module, row.param)]
            rows.append((f"kept weights of {row.module}", row.kept, other.kept))
    rows.append(("kept weights in all", yours.params.kept, kit.params.kept))
    rows.append(("FLOP ratio", round(yours.flops.ratio, 6), round(kit.flops.ratio, 6)))
    rows.append(("top-1 after training (%)", round(yours.top1, 2), round(kit.top1, 2)))
    threads = [run.machine.threads if run.machine is not None else None for run in (yours, kit)]
    rows.append(("torch threads of the run", *threads))
    frame = pd.DataFrame(rows, columns=["what", "yours", "prunekit"], dtype=object)  # counts stay integers
    frame["difference"] = [None if None in (a, b) else round(a - b, 6) for a, b in zip(frame.yours, frame.prunekit)]
    return frame
