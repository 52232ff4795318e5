"""Checking and grading the checked exercises: ``prunekit check`` (students) and ``prunekit grade`` (instructors).

A checked exercise is a ``# Exercise N`` answer cell (a solution region in the instructor's
notebook, the student's code in a submission) and its ``# Exercise N (check)`` cell. An exercise
scores its points when its check cell runs without an error after the notebook's answer cells.

- :func:`run_checks` runs one notebook's answers against check cells: the notebook's own (what a
  student sees) or, for grading, the instructor's, hidden tests included, as nbgrader's autograde
  replaces a submission's test cells by the source ones. Nothing else of the notebook runs: no
  training, no open question's cell, no ``(your run)`` cell.
- :func:`grade_folder` grades every submission below a folder (one sub-folder per student) and
  :func:`write_grades` writes ``grades.csv`` (a row per student, a column per exercise) and
  ``feedback.csv`` (a row per student and exercise, with the check's message).

A submission's code runs in this Python process, as nbgrader runs it in a kernel: grade
submissions you would run yourself.

Example:
    >>> outcome = ExerciseOutcome("03_snip", 1, 0.0, 1.0, "not answered yet")
    >>> outcome.key, outcome.passed
    ('03_snip:1', False)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunekit.run.resources import notebooks_dir
from prunekit.teach.handout import strip_hidden_tests

__all__ = [
    "ExerciseOutcome",
    "check_main",
    "check_notebooks",
    "checked_exercises",
    "grade_folder",
    "main",
    "run_checks",
    "write_grades",
]

_MARKER = re.compile(r"^# Exercise (\d+)( \(check\)| \(your run\))?\s*$")
GRADES_FILE = "grades.csv"
FEEDBACK_FILE = "feedback.csv"


@dataclass(frozen=True)
class ExerciseOutcome:
    """One checked exercise of one notebook: the points it scored and why.

    Attributes:
        notebook: The notebook's name without ``.ipynb``, e.g. ``03_snip``.
        exercise: The exercise's number.
        points: What it scored (0 or ``max_points``).
        max_points: What it is worth.
        message: ``"passed"``, or what went wrong (the check's message, or "not answered yet").
    """

    notebook: str
    exercise: int
    points: float
    max_points: float
    message: str

    @property
    def key(self) -> str:
        """``notebook:exercise``, the column of ``grades.csv``."""
        return f"{self.notebook}:{self.exercise}"

    @property
    def passed(self) -> bool:
        """Whether it scored its points."""
        return self.points == self.max_points


def _source(cell: Mapping[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _kind(cell: Mapping[str, Any]) -> tuple[int, str] | None:
    """``(number, "answer" | "check" | "run")`` of an exercise code cell, or None."""
    if cell.get("cell_type") != "code":
        return None
    text = _source(cell)
    match = _MARKER.match(text.splitlines()[0] if text else "")
    if match is None:
        return None
    suffix = match.group(2) or ""
    return int(match.group(1)), {"": "answer", " (check)": "check", " (your run)": "run"}[suffix]


def checked_exercises(notebook: Mapping[str, Any]) -> dict[int, str]:
    """Exercise number → the source of its check cell, for the exercises that have one.

    Example:
        >>> checked_exercises({"cells": [{"cell_type": "code", "source": "# Exercise 2 (check)\\ncheck(f)"}]})
        {2: '# Exercise 2 (check)\\ncheck(f)'}
    """
    checks = {}
    for cell in notebook.get("cells", []):
        kind = _kind(cell)
        if kind is not None and kind[1] == "check":
            checks[kind[0]] = _source(cell)
    return checks


def _answers(notebook: Mapping[str, Any]) -> dict[int, str]:
    """Exercise number → its answer cell's source, for answers that define a function (a checked exercise)."""
    answers = {}
    for cell in notebook.get("cells", []):
        kind = _kind(cell)
        if kind is not None and kind[1] == "answer" and re.search(r"^def my_\w+\(", _source(cell), re.M):
            answers[kind[0]] = _source(cell)
    return answers


def _first_lines(error: BaseException, limit: int = 3) -> str:
    text = str(error).strip() or type(error).__name__
    lines = text.splitlines()
    return " ".join(lines[:limit]) + (" …" if len(lines) > limit else "")


def run_checks(answers: Mapping[str, Any], checks: Mapping[str, Any] | None = None, *,
               stem: str) -> list[ExerciseOutcome]:
    """Runs a notebook's answer cells, then each checked exercise's check cell; one outcome per exercise.

    Args:
        answers: The notebook whose answers are checked (a student's submission, or the instructor's own).
        checks: The notebook whose check cells are run (the instructor's, hidden tests included); None
            runs ``answers``' own check cells (without their hidden tests, as a student sees them).
        stem: The notebook's name without ``.ipynb``.

    Returns:
        The outcomes, in exercise order.

    Example:
        >>> answers = {"cells": [{"cell_type": "code", "source": "# Exercise 1\\ndef my_f():\\n    return 2"}]}
        >>> checks = {"cells": [{"cell_type": "code", "source": "# Exercise 1 (check)\\nassert my_f() == 2"}]}
        >>> [o.passed for o in run_checks(answers, checks, stem="toy")]
        [True]
    """
    check_cells = checked_exercises(checks if checks is not None else answers)
    if checks is None:
        check_cells = {n: strip_hidden_tests(text) for n, text in check_cells.items()}
    answer_cells = _answers(answers)
    namespace: dict[str, Any] = {"__name__": f"prunekit_check_{stem}"}
    failed_answers: dict[int, str] = {}
    for number, text in sorted(answer_cells.items()):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(text, f"<{stem} exercise {number}>", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 - a submission's error is its feedback
            failed_answers[number] = f"the answer cell fails: {type(error).__name__}: {_first_lines(error)}"
    outcomes = []
    for number, text in sorted(check_cells.items()):
        if number in failed_answers:
            message = failed_answers[number]
        elif number not in answer_cells:
            message = "no answer cell ('# Exercise N' defining the function) found"
        else:
            message = _run_check(text, namespace, stem, number)
        outcomes.append(ExerciseOutcome(stem, number, 1.0 if message == "passed" else 0.0, 1.0, message))
    return outcomes


def _run_check(text: str, namespace: dict[str, Any], stem: str, number: int) -> str:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(text, f"<{stem} exercise {number} check>", "exec"), namespace)  # noqa: S102
    except NotImplementedError:
        return "not answered yet"
    except AssertionError as error:  # ExerciseCheckError included
        return _first_lines(error)
    except Exception as error:  # noqa: BLE001 - a submission's error is its feedback
        return f"{type(error).__name__}: {_first_lines(error)}"
    return "passed"


def _notebooks_with_checks(folder: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if checked_exercises(notebook):
            found[path.stem] = notebook
    return found


def grade_folder(submissions: str | Path, instructor_notebooks: str | Path) -> dict[str, list[ExerciseOutcome]]:
    """Grades every student's submitted notebooks against the instructor's check cells.

    Args:
        submissions: One sub-folder per student (its name is the student's id), holding that student's
            notebooks anywhere below it (``alice/notebooks/03_snip.ipynb`` or ``alice/03_snip.ipynb``).
        instructor_notebooks: The instructor's notebooks (solutions and hidden tests).

    Returns:
        Student id → one outcome per checked exercise of the instructor's notebooks (a missing
        notebook scores 0 with "notebook not submitted").

    Raises:
        FileNotFoundError: If a folder is missing, or ``submissions`` has no student sub-folder.
    """
    source = _notebooks_with_checks(notebooks_dir(instructor_notebooks))
    root = Path(submissions)
    if not root.is_dir():
        raise FileNotFoundError(f"submissions folder {root} not found")
    students = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise FileNotFoundError(f"no student folder in {root}: put each student's notebooks in {root}/<student id>/")
    grades = {}
    for student in students:
        outcomes = []
        for stem, instructor in source.items():
            submitted = sorted(student.rglob(f"{stem}.ipynb"))
            if not submitted:
                outcomes += [ExerciseOutcome(stem, n, 0.0, 1.0, "notebook not submitted")
                             for n in sorted(checked_exercises(instructor))]
                continue
            try:
                answers = json.loads(submitted[0].read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                outcomes += [ExerciseOutcome(stem, n, 0.0, 1.0, f"unreadable notebook: {error}")
                             for n in sorted(checked_exercises(instructor))]
                continue
            outcomes += run_checks(answers, instructor, stem=stem)
        grades[student.name] = outcomes
    return grades


def write_grades(grades: Mapping[str, Sequence[ExerciseOutcome]], out_dir: str | Path) -> list[Path]:
    """Writes ``grades.csv`` (student, one column per exercise, total, max) and ``feedback.csv``.

    Returns:
        The two files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = sorted({o.key for outcomes in grades.values() for o in outcomes},
                  key=lambda key: (key.split(":")[0], int(key.split(":")[1])))
    with (out / GRADES_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *keys, "total", "max"])
        for student, outcomes in grades.items():
            points = {o.key: o.points for o in outcomes}
            writer.writerow([student, *(f"{points.get(k, 0.0):g}" for k in keys),
                             f"{sum(o.points for o in outcomes):g}", f"{sum(o.max_points for o in outcomes):g}"])
    with (out / FEEDBACK_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "notebook", "exercise", "points", "max_points", "message"])
        for student, outcomes in grades.items():
            for o in outcomes:
                writer.writerow([student, o.notebook, o.exercise, f"{o.points:g}", f"{o.max_points:g}", o.message])
    return [out / GRADES_FILE, out / FEEDBACK_FILE]


def check_notebooks(paths: Sequence[str | Path]) -> list[ExerciseOutcome]:
    """A student's ``prunekit check``: each notebook's own checks, as the notebook runs them.

    Args:
        paths: Notebooks, or folders of numbered notebooks.

    Raises:
        FileNotFoundError: If a path does not exist or names no notebook with checked exercises.
    """
    outcomes = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            notebooks = _notebooks_with_checks(path)
            if not notebooks:
                raise FileNotFoundError(f"no notebook with checked exercises in {path}")
            for stem, notebook in notebooks.items():
                outcomes += run_checks(notebook, stem=stem)
        elif path.is_file():
            outcomes += run_checks(json.loads(path.read_text(encoding="utf-8")), stem=path.stem)
        else:
            raise FileNotFoundError(f"{path} not found: name notebooks or their folder (default: ./notebooks)")
    return outcomes


def check_main(argv: Sequence[str] | None = None) -> int:
    """``prunekit check [NOTEBOOK_OR_FOLDER ...]``: which checked exercises pass. Exit 0 if all do, else 1."""
    parser = argparse.ArgumentParser(
        prog="prunekit check",
        description="Run the checks of your exercises (the '# Exercise N (check)' cells) on the answers saved in "
        "your notebooks, without running the rest of them, and say which pass.")
    parser.add_argument("paths", nargs="*", default=["notebooks"],
                        help="notebooks, or folders of them (default: ./notebooks)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        outcomes = check_notebooks(args.paths)
    except (FileNotFoundError, ValueError) as error:
        print(f"prunekit check: {error}", file=sys.stderr)
        return 2
    for o in outcomes:
        print(f"{'✓' if o.passed else '✗'} {o.notebook} exercise {o.exercise}"
              + ("" if o.passed else f": {o.message}"))
    passed = sum(o.passed for o in outcomes)
    print(f"{passed} of {len(outcomes)} checked exercises pass (save the notebook before checking: this reads the "
          "saved file)")
    return 0 if passed == len(outcomes) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit grade SUBMISSIONS --out DIR [--notebooks DIR]``: grades.csv and feedback.csv in DIR."""
    parser = argparse.ArgumentParser(
        prog="prunekit grade",
        description="Grade submitted notebooks: each student's answers against the instructor's check cells (hidden "
        "tests included). Writes DIR/grades.csv (a row per student, a column per checked exercise) and "
        "DIR/feedback.csv (each exercise's message).")
    parser.add_argument("submissions", help="a folder with one sub-folder of notebooks per student")
    parser.add_argument("--out", required=True, help="the folder for grades.csv and feedback.csv")
    parser.add_argument("--notebooks", default=None,
                        help="the instructor's notebooks, e.g. <clone>/notebooks (default: ./notebooks)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        grades = grade_folder(args.submissions, notebooks_dir(args.notebooks))
    except (FileNotFoundError, ValueError) as error:
        print(f"prunekit grade: {error}", file=sys.stderr)
        return 2
    for path in write_grades(grades, args.out):
        print(path)
    for student, outcomes in grades.items():
        print(f"{student}: {sum(o.points for o in outcomes):g} of {sum(o.max_points for o in outcomes):g}")
    return 0

