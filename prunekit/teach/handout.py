"""The student handout: the instructor's notebooks with the solutions taken out.

``prunekit handout --notebooks <clone>/notebooks --out handout/`` copies every numbered notebook
(from ``./notebooks`` without ``--notebooks``) and

- replaces each nbgrader solution region (``### BEGIN SOLUTION`` … ``### END SOLUTION``)
  by ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the region's indentation;
- removes each hidden-test region (``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS``);
- clears every output, execution count, execution record and saved widget state;
- gives the exercise cells nbgrader's cell metadata (schema 3: an answer cell is a solution cell,
  its ``(check)`` cell is a locked, graded test cell), as the instructor's notebooks carry it,
  so an nbgrader course can import either;

and writes a student ``README.md`` (set-up, the tasks in the report's order with their commands,
run times and needs, the check command) and ``results_template.md`` (the report's tables, empty,
with the run settings). It is complete on its own (:mod:`prunekit.teach.handout_kit`): ``kit/``
holds prunekit (``pip install ./kit``), ``environment.yml`` the conda environment, ``data/`` full
MNIST, and the student notebooks' ``DATA_DIR`` is that folder. The output is deterministic:
generating twice gives byte-identical files.

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

from prunekit.run.resources import notebooks_dir, template_path
from prunekit.teach import handout_kit

__all__ = [
    "HIDDEN",
    "SOLUTION",
    "HandoutFolderError",
    "check_out_dir",
    "make_handout",
    "main",
    "nbgrader_metadata",
    "solution_lines",
    "strip_hidden_tests",
    "strip_solutions",
    "student_notebook",
]

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")

DATA_SHIPPED = ("Full MNIST is in `data/MNIST/raw/` (60,000 training and 10,000 test images; the notebooks' "
                "`DATA_DIR` is this `data/` folder).")
DATA_MISSING = ("Full MNIST was not included: the notebooks train on the kit's shipped sample of it (10,000 training "
                "and 2,000 test images) and say so in every result. Put the four MNIST files in `data/MNIST/raw/` "
                "for the full set.")

_EXERCISE = re.compile(r"# Exercise (\d+)( \(check\))?")
_FUNCTION = re.compile(r"^def (my_\w+)\(([^)]*)\)", re.M)
_NOTEBOOK_METADATA_DROPPED = ("papermill", "widgets")
_CELL_METADATA_DROPPED = ("execution", "papermill", "collapsed", "scrolled")


def _regions(text: str, markers: tuple[str, str]) -> list[tuple[int, int, str]]:
    """``(first line, last line, indentation)`` of each region; raises on an unclosed or nested marker."""
    begin, end = markers
    regions: list[tuple[int, int, str]] = []
    opened: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines()):
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
        lines[first : last + 1] = [f"{indent}{STUB[0]}", f"{indent}{STUB[1]}"]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def strip_hidden_tests(text: str) -> str:
    """Removes each hidden-test region, markers included (and the blank lines it leaves at the end).

    Raises:
        ValueError: For an unclosed, unopened or nested marker.

    Example:
        >>> strip_hidden_tests("check()\\n### BEGIN HIDDEN TESTS\\nsecret()\\n### END HIDDEN TESTS")
        'check()'
    """
    regions = _regions(text, HIDDEN)
    if not regions:
        return text
    lines = text.splitlines()
    for first, last, _ in reversed(regions):
        del lines[first : last + 1]
    return "\n".join(lines).rstrip("\n") + ("\n" if text.endswith("\n") and lines else "")


def solution_lines(text: str) -> list[str]:
    """The non-blank lines inside the solution regions of ``text`` (markers excluded), stripped.

    Example:
        >>> solution_lines("def f():\\n    ### BEGIN SOLUTION\\n\\n    return 1\\n    ### END SOLUTION\\n")
        ['return 1']
    """
    lines = text.splitlines()
    inside = []
    for first, last, _ in _regions(text, SOLUTION):
        inside += [line.strip() for line in lines[first + 1 : last] if line.strip()]
    return inside


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def nbgrader_metadata(text: str, stem: str) -> dict[str, Any] | None:
    """nbgrader's cell metadata (schema 3) for an exercise code cell, or None for any other cell.

    A ``# Exercise N`` cell holding a solution region is an answer (solution) cell; a
    ``# Exercise N (check)`` cell, or one holding hidden tests, is a locked test cell worth one point.

    Args:
        text: The cell's source.
        stem: The notebook's name without ``.ipynb`` (part of the unique ``grade_id``).

    Raises:
        ValueError: If a solution or hidden-test region sits in a cell not labelled ``# Exercise N``,
            or a cell holds both (nbgrader refuses both).

    Example:
        >>> nbgrader_metadata("# Exercise 2 (check)\\ncheck(f)", "03_snip")["grade_id"]
        '03_snip-exercise-2-check'
    """
    match = _EXERCISE.match(text)
    solution = any(line.strip() == SOLUTION[0] for line in text.splitlines())
    hidden = any(line.strip() == HIDDEN[0] for line in text.splitlines())
    if match is None:
        if solution or hidden:
            first = text.splitlines()[0] if text else ""
            raise ValueError(f"a solution or hidden-test region in a cell that is not an exercise ({first!r}); "
                             "start the cell with '# Exercise N' (answer) or '# Exercise N (check)' (test)")
        return None
    graded = bool(match.group(2)) or hidden
    if graded and solution:
        raise ValueError(f"exercise {match.group(1)}: a solution region in a check cell; "
                         "put the solution in '# Exercise N' and the tests in '# Exercise N (check)'")
    if not (graded or solution):
        return None
    metadata: dict[str, Any] = {
        "grade": graded,
        "grade_id": f"{stem}-exercise-{match.group(1)}-{'check' if graded else 'answer'}",
        "locked": graded,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if graded:
        metadata["points"] = 1
    return metadata


def _student_cell(cell: dict[str, Any], stem: str) -> dict[str, Any]:
    out = {key: value for key, value in cell.items() if key not in ("outputs", "execution_count", "source")}
    out["metadata"] = {key: value for key, value in cell.get("metadata", {}).items()
                       if key not in _CELL_METADATA_DROPPED and key != "nbgrader"}
    text = _source(cell)
    if cell["cell_type"] == "code":
        out["outputs"], out["execution_count"] = [], None
        metadata = nbgrader_metadata(text, stem)
        if metadata is not None:
            out["metadata"]["nbgrader"] = metadata
        text = strip_hidden_tests(strip_solutions(text))
    elif SOLUTION[0] in text or HIDDEN[0] in text:
        raise ValueError(f"a solution or hidden-test marker in a markdown cell: {text.splitlines()[0]!r}")
    out["source"] = text.splitlines(keepends=True)
    return out


def student_notebook(notebook: dict[str, Any], stem: str) -> dict[str, Any]:
    """The student version of one notebook (see the module docstring).

    Raises:
        ValueError: For a broken marker, or a region outside an exercise cell.
    """
    student = {key: value for key, value in notebook.items() if key != "cells"}
    student["metadata"] = {key: value for key, value in notebook.get("metadata", {}).items()
                           if key not in _NOTEBOOK_METADATA_DROPPED}
    student["cells"] = [_student_cell(cell, stem) for cell in notebook["cells"]]
    return student


def _exercise_lines(name: str, cells: list[dict[str, Any]]) -> list[str]:
    """README lines: each function to write in one notebook."""
    lines = []
    for cell in cells:
        text = _source(cell)
        match = _EXERCISE.match(text)
        if cell["cell_type"] == "code" and match and not match.group(2) and SOLUTION[0] in text:
            functions = ", ".join(f"`{fn}({args})`" for fn, args in _FUNCTION.findall(text)) or "the marked code"
            lines.append(f"- `notebooks/{name}`, exercise {match.group(1)}: {functions}")
    return lines


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


class HandoutFolderError(ValueError):
    """The handout's output folder is not one it may write into."""


def check_out_dir(notebooks_dir: str | Path, out_dir: str | Path, *, force: bool = False) -> None:
    """Refuses an output folder where writing the handout could destroy something.

    Args:
        notebooks_dir: The instructor's notebooks.
        out_dir: The handout's folder.
        force: Allow a non-empty ``out_dir`` (e.g. an earlier handout); never one that holds
            or lies inside the instructor's notebooks.

    Raises:
        HandoutFolderError: If ``out_dir`` is or lies inside ``notebooks_dir``, contains it (for
            example the repository itself), or is a non-empty folder and ``force`` is False;
            or if ``out_dir`` is a file.

    Example:
        >>> check_out_dir("notebooks", "notebooks/student")
        Traceback (most recent call last):
        ...
        prunekit.teach.handout.HandoutFolderError: --out notebooks/student lies inside the instructor's notebooks (notebooks): choose a folder outside it, e.g. handout/
    """
    out, source = Path(out_dir).resolve(), Path(notebooks_dir).resolve()
    hint = "choose a folder outside it, e.g. handout/"
    if out == source or source in out.parents:
        raise HandoutFolderError(f"--out {out_dir} lies inside the instructor's notebooks ({notebooks_dir}): {hint}")
    if out in source.parents:
        raise HandoutFolderError(f"--out {out_dir} contains the instructor's notebooks ({notebooks_dir}); writing the "
                                 f"handout there would replace them and their README: {hint}")
    if out.exists() and not out.is_dir():
        raise HandoutFolderError(f"--out {out_dir} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise HandoutFolderError(f"--out {out_dir} is not empty; pass --force to replace an earlier handout there")


def make_handout(notebooks_dir: str | Path, out_dir: str | Path, *, force: bool = False,
                 data_dir: str | Path | None = None, kit: bool = True, data: bool = True) -> list[Path]:
    """Writes the student notebooks, ``README.md``, ``results_template.md`` and what they need into ``out_dir``.

    The handout is complete on its own (:mod:`prunekit.teach.handout_kit`): ``kit/`` (prunekit's
    source, ``pip install ./kit``), ``environment.yml``, and full MNIST in ``data/MNIST/raw/`` when it
    is found; the student notebooks' ``DATA_DIR`` is that ``data/`` folder.

    Args:
        notebooks_dir: The instructor's notebooks (``NN_name.ipynb``).
        out_dir: Where the handout goes: ``out_dir/notebooks/``, ``README.md``, ``results_template.md``
            (created; must be empty unless ``force``).
        force: Replace the files of an earlier handout in a non-empty ``out_dir``.
        data_dir: Where to find full MNIST to copy (``<data_dir>/MNIST/raw``); None looks where the kit does.
        kit: Include ``kit/`` and ``environment.yml``.
        data: Include full MNIST.

    Returns:
        The files written, sorted.

    Raises:
        FileNotFoundError: If there is no numbered notebook in ``notebooks_dir``.
        ValueError: If a notebook has an unclosed or nested marker or a region outside an exercise cell.
        HandoutFolderError: If ``out_dir`` is refused by :func:`check_out_dir`.

    Example:
        >>> files = make_handout("notebooks", "handout")  # doctest: +SKIP
        >>> [str(f) for f in files][-2:]  # doctest: +SKIP
        ['handout/README.md', 'handout/results_template.md']
    """
    sources = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {notebooks_dir}")
    out = Path(out_dir)
    check_out_dir(notebooks_dir, out, force=force)
    written, exercises = [], []
    for source in sources:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        try:
            student = student_notebook(notebook, source.stem)
        except ValueError as error:
            raise ValueError(f"{source.name}: {error}") from error
        target = out / "notebooks" / source.name
        student = handout_kit.point_at_handout_data(student)
        _write(target, json.dumps(student, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        written.append(target)
        exercises += _exercise_lines(source.name, notebook["cells"])
    mnist = handout_kit.copy_mnist(out, data_dir) if data else []
    written += mnist
    if kit:
        written += handout_kit.copy_kit(out)
        written += handout_kit.copy_reference(out)
        _write(out / "environment.yml", handout_kit.environment_yml())
        written.append(out / "environment.yml")
    readme = template_path("student_README.md").read_text(encoding="utf-8")
    readme = readme.replace("{EXERCISES}", "\n".join(exercises) or "(none)")
    readme = readme.replace("{DATA}", DATA_SHIPPED if mnist else DATA_MISSING)
    template = template_path("results_template.md").read_text(encoding="utf-8")
    for name, text in (("README.md", readme), ("results_template.md", template)):
        _write(out / name, text)
        written.append(out / name)
    return sorted(written)


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit handout --out DIR [--notebooks DIR]``; without ``--notebooks``, ``./notebooks`` must exist.

    Returns:
        0 on success, 2 when the notebooks cannot be read or have broken markers.
    """
    parser = argparse.ArgumentParser(
        prog="prunekit handout",
        description="Write the student version of the notebooks (solutions and hidden tests removed, outputs "
        "cleared, nbgrader metadata), a student README.md and results_template.md.",
    )
    parser.add_argument("--out", default="handout", help="where the handout goes (default: handout)")
    parser.add_argument("--notebooks", default=None,
                        help="the instructor's notebooks, e.g. <clone>/notebooks (default: ./notebooks)")
    parser.add_argument("--force", action="store_true", help="replace an earlier handout in a non-empty --out folder")
    parser.add_argument("--data-dir", default=None,
                        help="where to find full MNIST to include (<DIR>/MNIST/raw); default: where the kit looks")
    parser.add_argument("--no-data", action="store_true", help="leave full MNIST out (the notebooks use the sample)")
    parser.add_argument("--no-kit", action="store_true",
                        help="leave kit/ and environment.yml out (students install prunekit another way)")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        files = make_handout(notebooks_dir(args.notebooks), args.out, force=args.force, data_dir=args.data_dir,
                             kit=not args.no_kit, data=not args.no_data)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"prunekit handout: {error}", file=sys.stderr)
        return 2
    for path in files:
        if "kit" not in path.relative_to(args.out).parts[:1]:
            print(path)
    kit_files = sum(1 for path in files if path.relative_to(args.out).parts[:1] == ("kit",))
    if kit_files:
        print(f"{Path(args.out) / 'kit'} ({kit_files} files: prunekit's source, pip install ./kit)")
    print(f"{len(files)} files written to {args.out}")
    return 0
