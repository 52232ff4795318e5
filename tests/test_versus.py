"""A notebook's runs beside the reference set: real runs of the reference machinery at a tiny scale."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prunekit.run.experiment import load_result
from prunekit.run.reference import run_reference
from prunekit.run.reference_parts import Scale
from prunekit.teach.lessons import versus_reference, worst_gap
from prunekit.teach.lessons.versus import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
TINY = Scale("smoke", (1,), (1.0,), (0.5,), epochs=1, train_limit=300, test_limit=200)


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    scratch = tmp_path_factory.mktemp("versus")
    run_reference(["mnist-sweep"], jobs=1, scale=TINY, out=scratch / "reference", work=scratch / "work",
                  data_dir=ROOT / "data", log=lambda line: None)
    results = [load_result(found.parent) for found in sorted((scratch / "work").rglob("result.json"))]
    return scratch / "reference", results


def test_a_run_of_the_reference_itself_sits_at_zero_difference(tiny_reference: tuple[Path, list]) -> None:
    folder, results = tiny_reference
    table = versus_reference(results, folder)
    assert table.columns.tolist() == list(COLUMNS)
    assert sorted(table.setting) == ["grasp", "mag", "rand", "snip", "synflow-r1", "synflow-r100"]
    assert (table["difference (points)"] == 0).all()  # one seed: the mean is the run's own top-1
    assert all(text.endswith("(1 seed)") for text in table["reference top-1 (%)"])
    assert table.loc[table.setting == "mag", "live epochs"].item() == "pre 1, post 1"
    assert worst_gap(table) == 0.0 and "mnist-sweep (FC, full MNIST, 20 post-training epochs" in table.attrs["title"]


def test_runs_the_reference_has_no_row_for_are_left_out(tiny_reference: tuple[Path, list]) -> None:
    folder, results = tiny_reference
    other = [r for r in results if r.config.pruner == "rand"]
    moved = [dataclasses.replace(other[0], config=other[0].config.replace(compression=2.0))]  # no such row
    assert versus_reference(moved, folder).empty
    with pytest.raises(ValueError, match="unknown reference part 'sweep'; valid parts: mnist-sweep, mnist-row"):
        versus_reference(results, folder, part="sweep")
    assert versus_reference(results, folder, part="mnist-row").empty  # not computed in this folder
    with pytest.raises(FileNotFoundError, match="no reference folder"):
        versus_reference(results, folder / "missing")
