"""A student's score function drives the notebook's run (prunekit.teach.yours), on tiny real runs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from prunekit.core.scorers import pruner_names
from prunekit.run import data as prunekit_data
from prunekit.teach import exercises, yours


def _snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _run(fn, kit, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit_data.DataWarning)
        return yours.run_with_your_scores(fn, kit, **options)


def test_a_correct_function_reproduces_the_kits_run(sample_run, tiny_results: Path) -> None:
    before = _snapshot(tiny_results)
    mine = _run(lambda model, batches: exercises.reference_scores("snip", model, batches), sample_run.result)
    table = mine.table.set_index("what")
    assert mine.yours.config.pruner.startswith("yours_snip_")
    assert mine.yours.params.kept == sample_run.result.params.kept == round(sample_run.result.params.total / 10)
    assert (table.difference == 0).all(), table
    assert mine.yours.top1 == sample_run.result.top1  # same masks, same seed: the same training on the CPU
    assert _snapshot(tiny_results) == before, "nothing is written where the notebook keeps its runs"
    assert not [name for name in pruner_names() if name.startswith("yours_")], "the scorer is unregistered after"


def test_a_different_scorer_changes_the_results(sample_run) -> None:
    """Swapping in another scorer changes what the run keeps: the student's function is the one used."""
    def magnitude_instead(model, batches):
        return {name: w.detach().abs() for name, w in model.named_parameters() if name.endswith("weight")}

    mine = _run(magnitude_instead, sample_run.result, check=False)
    table = mine.table.set_index("what")
    layers = [what for what in table.index if what.startswith("kept weights of")]
    assert table.loc["kept weights in all", "difference"] == 0  # the same density either way
    assert (table.loc[layers, "difference"] != 0).any(), table  # but other layers keep them
    assert mine.yours.config.replace(pruner="snip") == sample_run.result.config.replace(
        result_dir=mine.yours.config.result_dir, expid="yours")


def test_a_wrong_function_is_refused_before_any_training(sample_run, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("trained with a function that fails its check")

    monkeypatch.setattr(yours, "run_singleshot", never)

    def signed(model, batches):  # SNIP without the absolute value
        return {name: -s for name, s in exercises.reference_scores("snip", model, batches).items()}

    with pytest.raises(exercises.ExerciseCheckError, match="(?i)received negative values"):
        yours.run_with_your_scores(signed, sample_run.result)

    def stub(model, batches):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        yours.run_with_your_scores(stub, sample_run.result)


def test_an_edited_function_is_another_scorer() -> None:
    def first(model, batches):
        return {"w": torch.ones(1)}

    def second(model, batches):
        return {"w": torch.ones(1) * 2}

    assert yours.student_scorer(first, "mag").name != yours.student_scorer(second, "mag").name
    assert yours.student_scorer(first, "mag").name == yours.student_scorer(first, "mag").name
    assert yours.student_scorer(first, "snip").needs_data and not yours.student_scorer(first, "rand").needs_data
    with pytest.raises(ValueError, match="valid pruners: rand, mag, snip, grasp, synflow"):
        yours.student_scorer(first, "snipp")
