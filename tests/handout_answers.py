"""Filling a student notebook's answer cells with the instructor's solutions (for the handout and grading tests)."""

from __future__ import annotations

from collections.abc import Mapping

from prunekit.teach import handout


def source(cell: dict) -> str:
    """A cell's source as one string."""
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def fill_in(student: dict, instructor: dict, replace: Mapping[str, str] | None = None) -> int:
    """Puts the instructor's solutions (markers removed) into the student's unanswered cells, in place.

    Args:
        student: A student notebook (from ``prunekit handout``).
        instructor: The instructor's notebook it was made from.
        replace: First line of an answer cell (e.g. ``"# Exercise 1"``) → other code to put there instead.

    Returns:
        How many cells were filled.
    """
    answers = {}
    for cell in instructor["cells"]:
        text = source(cell)
        if cell["cell_type"] == "code" and handout.SOLUTION[0] in text:
            answers[text.splitlines()[0]] = "\n".join(
                line for line in text.splitlines() if line.strip() not in handout.SOLUTION)
    answers.update(replace or {})
    filled = 0
    for cell in student["cells"]:
        text = source(cell)
        if cell["cell_type"] == "code" and text and text.splitlines()[0] in answers and "NotImplementedError" in text:
            cell["source"] = answers[text.splitlines()[0]].splitlines(keepends=True)
            filled += 1
    return filled
