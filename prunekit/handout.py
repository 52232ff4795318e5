"""The student handout: the instructor's notebooks with the solutions taken out.

``prunekit handout --out handout/`` copies every numbered notebook and

- replaces each nbgrader solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``)
  by ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the region's indentation;
- removes each hidden-test region (``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS``);
- clears every output and execution count;
- gives exercise cells nbgrader's metadata (answer cells editable, check cells graded and locked),
  so an nbgrader course can import the notebooks;

and writes a student ``README.md`` (the assignment's tasks in the seed's order and the
commands for each) and ``results_template.md`` (the seed's tables, empty). The output
is deterministic: generating twice gives identical files.

Example:
    >>> strip_solutions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION\\n")
    'def f():\\n    # YOUR CODE HERE\\n    raise NotImplementedError()\\n'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SOLUTION", "HIDDEN", "make_handout", "main", "solution_lines", "strip_hidden_tests", "strip_solutions"]

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

_REPO = Path(__file__).resolve().parents[1]
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_EXERCISE = re.compile(r"^# Exercise (\d+)( \(check\))?")


def _regions(text: str, markers: tuple[str, str]) -> list[tuple[int, int, str]]:
    """``(first line, last line, indentation)`` of each region; raises on an unclosed or nested marker."""
    begin, end = markers
    lines, regions, opened = text.splitlines(), [], None
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped == begin:
            if opened is not None:
                raise ValueError(f"{begin!r} at line {number + 1} inside another region (opened at {opened[0] + 1})")
            opened = (number, line[: len(line) - len(line.lstrip())])
        elif stripped == end:
            if opened is None:
                raise ValueError(f"{end!r} at line {number + 1} without {begin!r}")
            regions.append((opened[0], number, opened[1]))
            opened = None
    if opened is not None:
        raise ValueError(f"{begin!r} at line {opened[0] + 1} is never closed by {end!r}")
    return regions


def strip_solutions(text: str) -> str:
    """Each solution region becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()``.

    Raises:
        ValueError: For an unclosed, unopened or nested marker.
    """
    lines = text.splitlines()
    for first, last, indent in reversed(_regions(text, SOLUTION)):
        lines[first : last + 1] = [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def strip_hidden_tests(text: str) -> str:
    """Removes each hidden-test region, markers included.

    Raises:
        ValueError: For an unclosed, unopened or nested marker.

    Example:
        >>> strip_hidden_tests("check()\\n### BEGIN HIDDEN TESTS\\nsecret()\\n### END HIDDEN TESTS")
        'check()'
    """
    lines = text.splitlines()
    for first, last, _ in reversed(_regions(text, HIDDEN)):
        del lines[first : last + 1]
    return "\n".join(lines).rstrip("\n") + ("\n" if text.endswith("\n") and lines else "")


def solution_lines(text: str) -> list[str]:
    """The non-blank lines inside the solution regions of ``text`` (markers excluded), stripped."""
    lines = text.splitlines()
    inside = []
    for first, last, _ in _regions(text, SOLUTION):
        inside += [line.strip() for line in lines[first + 1 : last] if line.strip()]
    return inside


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _student_cell(cell: dict[str, Any], stem: str) -> dict[str, Any]:
    text = _source(cell)
    out = {key: value for key, value in cell.items() if key not in ("outputs", "execution_count", "source")}
    out["metadata"] = {key: value for key, value in cell.get("metadata", {}).items() if key not in ("execution",)}
    if cell["cell_type"] == "code":
        out["outputs"], out["execution_count"] = [], None
        match = _EXERCISE.match(text)
        if match:
            graded = bool(match.group(2)) or HIDDEN[0] in text
            kind = "check" if graded else "answer"
            out["metadata"]["nbgrader"] = {
                "grade": graded,
                "grade_id": f"{stem}-exercise-{match.group(1)}-{kind}",
                "locked": graded,
                "schema_version": 3,
                "solution": SOLUTION[0] in text,
                "task": False,
                **({"points": 1} if graded else {}),
            }
        text = strip_hidden_tests(strip_solutions(text))
    out["source"] = text
    return out


def student_notebook(notebook: dict[str, Any], stem: str) -> dict[str, Any]:
    """The student version of one notebook (see the module docstring)."""
    student = {key: value for key, value in notebook.items() if key != "cells"}
    student["metadata"] = {key: value for key, value in notebook.get("metadata", {}).items() if key != "papermill"}
    student["cells"] = [_student_cell(cell, stem) for cell in notebook["cells"]]
    return student


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_handout(notebooks_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Writes the student notebooks, ``README.md`` and ``results_template.md`` into ``out_dir``.

    Args:
        notebooks_dir: The instructor's notebooks (``NN_name.ipynb``).
        out_dir: Where the handout goes (created; files of the same name are replaced).

    Returns:
        The files written, sorted.

    Raises:
        FileNotFoundError: If there is no numbered notebook in ``notebooks_dir``.
        ValueError: If a notebook has an unclosed or nested solution or hidden-test marker.
    """
    sources = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {notebooks_dir}")
    out = Path(out_dir)
    written = []
    exercises = []
    for source in sources:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        try:
            student = student_notebook(notebook, source.stem)
        except ValueError as error:
            raise ValueError(f"{source.name}: {error}") from error
        target = out / "notebooks" / source.name
        _write(target, json.dumps(student, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        written.append(target)
        count = sum(1 for cell in notebook["cells"] if SOLUTION[0] in _source(cell))
        if count:
            exercises.append(f"- `notebooks/{source.name}`: {count} function(s) to write, each followed by its check")
    readme = (_TEMPLATES / "student_README.md").read_text(encoding="utf-8").replace("{EXERCISES}", "\n".join(exercises))
    for name, text in (("README.md", readme), ("results_template.md", (_TEMPLATES / "results_template.md").read_text())):
        _write(out / name, text)
        written.append(out / name)
    return sorted(written)


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit handout --out DIR``.

    Returns:
        0 on success, 2 when the notebooks cannot be read or have broken markers.
    """
    parser = argparse.ArgumentParser(prog="prunekit handout", description="Write the student version of the notebooks.")
    parser.add_argument("--out", default="handout", help="where the student handout goes")
    parser.add_argument("--notebooks", default=str(_REPO / "notebooks"), help="the instructor's notebooks")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        files = make_handout(args.notebooks, args.out)
    except (FileNotFoundError, ValueError) as error:
        print(f"prunekit handout: {error}", file=sys.stderr)
        return 2
    for path in files:
        print(path)
    print(f"{len(files)} files written to {args.out}")
    return 0
