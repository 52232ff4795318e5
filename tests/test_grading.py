"""``prunekit grade`` over submitted handouts and ``prunekit check`` on a student's notebooks."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from handout_answers import fill_in, source as _source
from prunekit import cli
from prunekit.teach import grading, handout

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHECKED = ["00_setup:1", "00_setup:2", "01_random:1", "01_random:2", "02_magnitude:1", "03_snip:1", "04_grasp:1",
           "05_synflow:1"]


def _answered(student_notebook: Path, instructor_notebook: Path, *, replace: dict[str, str] | None = None) -> dict:
    """The student's notebook with the instructor's solutions filled in (``replace``: first line → other code)."""
    notebook = json.loads(student_notebook.read_text())
    fill_in(notebook, json.loads(instructor_notebook.read_text()), replace)
    return notebook


SIGNED_SNIP = '''# Exercise 1
from prunekit.teach import exercises


def my_snip_scores(model, batches):  # minus |g ⊙ θ|: a sign where there should be an absolute value
    return {name: -score for name, score in exercises.reference_scores("snip", model, batches).items()}
'''


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("grading")
    student = base / "handout"
    handout.make_handout(NOTEBOOKS, student, kit=False, data=False)
    root = base / "submitted"
    for name in ("alice", "bob", "carol"):
        folder = root / name / "notebooks"
        folder.mkdir(parents=True)
        for path in sorted((student / "notebooks").glob("*.ipynb")):
            if name == "carol":  # handed in as handed out: nothing answered
                notebook = json.loads(path.read_text())
            else:
                replace = {"# Exercise 1": SIGNED_SNIP} if name == "bob" and path.stem == "03_snip" else None
                notebook = _answered(path, NOTEBOOKS / path.name, replace=replace)
            (folder / path.name).write_text(json.dumps(notebook))
    return root


def test_the_grading_command_writes_the_expected_csv(submissions: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grades"
    assert cli.main(["grade", str(submissions), "--notebooks", str(NOTEBOOKS), "--out", str(out)]) == 0
    with (out / "grades.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", *CHECKED, "total", "max"]
    assert rows[1] == ["alice", *["1"] * 8, "8", "8"]
    assert rows[2] == ["bob", *["0" if key == "03_snip:1" else "1" for key in CHECKED], "7", "8"]
    assert rows[3] == ["carol", *["0"] * 8, "0", "8"]
    assert len(rows) == 4
    with (out / "feedback.csv").open() as handle:
        feedback = {(r["student"], f"{r['notebook']}:{r['exercise']}"): r["message"] for r in csv.DictReader(handle)}
    assert feedback[("alice", "04_grasp:1")] == "passed"
    assert feedback[("bob", "03_snip:1")].startswith("your snip scores (fc network, seed 0) differ at layers.0.weight")
    assert "Received negative values" in feedback[("bob", "03_snip:1")]
    assert feedback[("carol", "01_random:2")] == "not answered yet"
    printed = capsys.readouterr().out
    assert "alice: 8 of 8" in printed and "bob: 7 of 8" in printed and "carol: 0 of 8" in printed


def test_grading_runs_the_hidden_tests(tmp_path: Path) -> None:
    """An answer that passes the visible check but not the instructor's hidden cases scores 0."""
    instructor = json.loads((NOTEBOOKS / "00_setup.ipynb").read_text())
    student = handout.student_notebook(instructor, "00_setup")
    answers = {"cells": [dict(c) for c in instructor["cells"]]}
    for cell in answers["cells"]:
        if _source(cell).startswith("# Exercise 1") and "def my_layer_flops" in _source(cell):
            cell["source"] = _source(cell).replace("return counts", "return counts if len(counts) != 2 else {}")
    own = {o.key: o.passed for o in grading.run_checks(answers, stem="00_setup")}
    graded = {o.key: o.passed for o in grading.run_checks(answers, instructor, stem="00_setup")}
    assert own["00_setup:1"] and not graded["00_setup:1"]  # the hidden two-layer network catches it
    assert student is not None


def test_prunekit_check_says_which_exercises_pass(submissions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", str(submissions / "alice" / "notebooks")]) == 0
    out = capsys.readouterr().out
    assert "✓ 03_snip exercise 1" in out and "8 of 8 checked exercises pass" in out
    assert cli.main(["check", str(submissions / "bob" / "notebooks" / "03_snip.ipynb")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("✗ 03_snip exercise 1: your snip scores (fc network, seed 0) differ at")
    assert "0 of 1 checked exercises pass" in out
    assert cli.main(["check", str(submissions / "carol" / "notebooks")]) == 1
    assert "✗ 05_synflow exercise 1: not answered yet" in capsys.readouterr().out


def test_bad_folders_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", str(tmp_path / "nowhere")]) == 2
    assert "nowhere not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade", str(tmp_path / "empty"), "--notebooks", str(NOTEBOOKS), "--out", str(tmp_path / "g")]) == 2
    assert "no student folder in" in capsys.readouterr().err
    assert not (tmp_path / "g").exists(), "nothing written when nothing was graded"
