"""Every numbered notebook follows the kit's template (no kernel needed: the .ipynb JSON is read).

The template: a ``# NN · Title`` cell, then ``## Aim`` → ``## Theory`` (with equations)
→ ``## Practice`` → ``## Discussion`` → ``## Exercises``; exactly one code cell tagged
``parameters`` holding only commented assignments, ``INTERACTIVE`` among them; kernel
``python3``; thin code cells (no ``def``/``class``, no wildcard import); no committed
errors; ``# NBVAL_CHECK_OUTPUT`` only on deterministic cells (never accuracies or times).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = [
    "00_setup",
    "01_random",
    "02_magnitude",
    "03_snip",
    "04_grasp",
    "05_synflow",
    "06_compression_sweep",
    "07_layer_analysis",
    "08_summary",
    "09_inference",
    "10_iterative",
]
SECTIONS = ["Aim", "Theory", "Practice", "Discussion", "Exercises"]
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
# Words that betray a non-deterministic value (accuracy, loss, time) in a checked cell's code.
UNCHECKABLE = re.compile(
    r"top-?[15]|accura|\bloss\b|train_loss|test_loss|time_s|_time\b|\btimes?\b|elapsed|perf_counter|seconds|inference", re.I
)

NUMBERED = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _python(cell: dict) -> str:
    """The cell's code with IPython magics and shell escapes blanked out, ready for ``ast``."""
    lines = []
    for line in _source(cell).splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _headings(cells: list[dict], level: int = 2) -> list[tuple[int, str]]:
    prefix = "#" * level + " "
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for line in _source(cell).splitlines():
            if line.startswith(prefix):
                found.append((index, line[len(prefix) :].strip()))
    return found


def _section_of(cells: list[dict]) -> list[str | None]:
    """For each cell, the ``##`` section it sits in (None before the first)."""
    starts = dict(_headings(cells))
    current, sections = None, []
    for index in range(len(cells)):
        current = starts.get(index, current)
        sections.append(current)
    return sections


@pytest.fixture(params=NUMBERED, ids=[p.stem for p in NUMBERED])
def notebook(request) -> tuple[Path, dict]:
    return request.param, _load(request.param)


def test_all_numbered_notebooks_exist():
    missing = [name for name in EXPECTED if not (NOTEBOOKS_DIR / f"{name}.ipynb").is_file()]
    assert not missing, f"missing notebooks: {', '.join(missing)}"


def test_numbers_are_unique():
    numbers = [p.name[:2] for p in NUMBERED]
    assert len(numbers) == len(set(numbers)), f"two notebooks share a number: {numbers}"


def test_kernel_is_python3(notebook):
    _, nb = notebook
    spec = nb["metadata"].get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("display_name") == "Python 3", spec
    assert nb["metadata"].get("language_info", {}).get("name", "python") == "python"


def test_title_cell(notebook):
    path, nb = notebook
    first = nb["cells"][0]
    text = _source(first)
    assert first["cell_type"] == "markdown"
    assert text.startswith(f"# {path.name[:2]} · "), (
        f"first line must be '# {path.name[:2]} · Title': {text.splitlines()[0]!r}"
    )
    assert re.search(r"Runs in about \d+(–\d+)? minutes? on a laptop CPU", text), (
        "state the run time of the default parameters"
    )
    assert "PRESET" in text


def test_sections_in_template_order(notebook):
    _, nb = notebook
    titles = [title for _, title in _headings(nb["cells"])]
    assert titles == SECTIONS, f"## headings must be exactly {SECTIONS}; found {titles}"


def test_theory_has_equations(notebook):
    _, nb = notebook
    sections = _section_of(nb["cells"])
    theory = "".join(
        _source(c) for c, s in zip(nb["cells"], sections) if s == "Theory" and c["cell_type"] == "markdown"
    )
    assert "$$" in theory or "$" in theory, "Theory needs the equations in LaTeX"


def test_exactly_one_parameters_cell_of_commented_assignments(notebook):
    _, nb = notebook
    cells = nb["cells"]
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"exactly one cell must be tagged 'parameters'; found {len(tagged)}"
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert not injected, "commit the notebook run with its default parameters (no papermill injected-parameters cell)"
    index = tagged[0]
    cell = cells[index]
    assert cell["cell_type"] == "code"
    assert _section_of(cells)[index] == "Practice", "the parameters cell belongs at the start of ## Practice"
    tree = ast.parse(_python(cell))
    lines = _source(cell).splitlines()
    names = []
    for statement in tree.body:
        assert isinstance(statement, (ast.Assign, ast.AnnAssign)), (
            f"only assignments in the parameters cell: line {statement.lineno}"
        )
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        assert len(targets) == 1 and isinstance(targets[0], ast.Name), (
            f"one plain name per assignment: line {statement.lineno}"
        )
        names.append(targets[0].id)
        assert "#" in lines[statement.lineno - 1], f"{targets[0].id} needs a trailing comment saying what it tunes"
        assert not any(isinstance(node, ast.Call) for node in ast.walk(statement.value)), (
            f"{targets[0].id}: parameters hold values, not computations (derive values in the next cell)"
        )
    assert "INTERACTIVE" in names, "every notebook has an INTERACTIVE parameter"
    interactive = next(
        s
        for s in tree.body
        if getattr((s.targets if isinstance(s, ast.Assign) else [s.target])[0], "id", "") == "INTERACTIVE"
    )
    assert isinstance(interactive.value, ast.Constant) and interactive.value.value is True, (
        "INTERACTIVE defaults to True"
    )
    assert len(names) == len(set(names)), "a parameter is assigned twice"


def test_code_cells_are_thin(notebook):
    """No library code in a notebook; a student's answer to an exercise may define its function."""
    _, nb = notebook
    sections = _section_of(nb["cells"])
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        answer = sections[index] == "Exercises" and _source(cell).startswith("# Exercise ")
        tree = ast.parse(_python(cell))
        for node in ast.walk(tree):
            assert answer or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)), (
                f"cell {index}: library code (def/class) belongs in a prunekit module"
            )
            if isinstance(node, ast.ImportFrom):
                assert all(alias.name != "*" for alias in node.names), f"cell {index}: no wildcard imports"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"quit", "exit"}, f"cell {index}: no quit or exit call"


def test_widgets_only_when_interactive(notebook):
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        source = _source(cell)
        if cell["cell_type"] == "code" and re.search(r"\bwidgets\.\w+\(", source):
            assert re.search(r"^if INTERACTIVE:", source, re.M), (
                f"cell {index}: show widgets only under `if INTERACTIVE:`"
            )


def test_no_errors_committed(notebook):
    _, nb = notebook
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", (
                f"cell {index} holds an error: {output.get('ename')}: {output.get('evalue')}"
            )
            if output.get("output_type") == "stream":
                assert "Traceback (most recent call last)" not in "".join(output.get("text", "")), (
                    f"cell {index} printed a traceback"
                )


def test_committed_with_outputs(notebook):
    _, nb = notebook
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and _source(c).strip()]
    assert any(c.get("outputs") for c in code), "commit the notebook executed with its default parameters"
    counts = [c.get("execution_count") for c in code if c.get("execution_count") is not None]
    assert counts == sorted(counts), "cells were executed out of order"


def test_checked_cells_are_deterministic_ones(notebook):
    _, nb = notebook
    checked = 0
    for index, cell in enumerate(nb["cells"]):
        source = _source(cell)
        if "NBVAL_CHECK_OUTPUT" not in source:
            continue
        assert cell["cell_type"] == "code"
        assert source.splitlines()[0] == CHECK_MARKER, f"cell {index}: the first line must be exactly {CHECK_MARKER!r}"
        code = "\n".join(source.splitlines()[1:])
        assert not UNCHECKABLE.search(code), f"cell {index}: a checked cell must not print accuracies, losses or times"
        assert cell.get("outputs"), f"cell {index}: a checked cell must have committed outputs to compare"
        checked += 1
    assert checked >= 1, (
        "mark at least one deterministic cell (parameter counts, FLOPs, seeded densities) with # NBVAL_CHECK_OUTPUT"
    )


EXERCISE_HEADING = re.compile(r"^### Exercise (\d+)(?: · \S.*)?$")
EXERCISE_MARKER = re.compile(r"^# Exercise (\d+)( \(check\)| \(your run\))?$")  # as prunekit.teach.handout reads it


def _exercise_problems(cells: list[dict]) -> list[str]:
    """What is wrong with the numbering of the ``## Exercises`` section's cells (empty when it is right).

    Exercises are ``### Exercise N`` (or ``### Exercise N · Title``) headings numbered 1..N in order; every
    code cell there starts with ``# Exercise K`` or ``# Exercise K (check)`` where K is the heading above it;
    every exercise has an answer cell; no prompt is a numbered list item (renderers renumber those per cell).
    """
    problems: list[str] = []
    numbers: list[int] = []
    answered: set[int] = set()
    for index, (cell, section) in enumerate(zip(cells, _section_of(cells))):
        if section != "Exercises":
            continue
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            for line in text.splitlines():
                if line.startswith("### "):
                    match = EXERCISE_HEADING.match(line)
                    if not match:
                        problems.append(
                            f"cell {index}: exercise headings are '### Exercise N[ · Title]': {line!r}"
                        )
                    else:
                        numbers.append(int(match.group(1)))
                elif re.match(r"^\d+\.\s", line):
                    problems.append(
                        f"cell {index}: exercise prompts are '### Exercise N' headings, not list items: {line[:40]!r}"
                    )
            continue
        first = text.splitlines()[0] if text else ""
        match = EXERCISE_MARKER.match(first)
        if not match:
            problems.append(f"cell {index}: code cells under ## Exercises start with '# Exercise N': {first!r}")
        elif not numbers or int(match.group(1)) != numbers[-1]:
            problems.append(f"cell {index}: {first!r} sits under exercise {numbers[-1] if numbers else 'none'}")
        elif not match.group(2):
            answered.add(int(match.group(1)))
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"exercises must be numbered 1..N in order; found {numbers}")
    if not numbers:
        problems.append("the ## Exercises section has no '### Exercise 1'")
    missing = sorted(set(numbers) - answered)
    if missing:
        problems.append(f"exercises without an answer cell ('# Exercise N'): {missing}")
    return problems


def test_exercises_are_numbered_one_to_n_in_order(notebook):
    _, nb = notebook
    problems = _exercise_problems(nb["cells"])
    assert not problems, "\n".join(problems)


def _cells(*items: tuple[str, str]) -> list[dict]:
    return [{"cell_type": kind, "source": text} for kind, text in (("markdown", "## Exercises"), *items)]


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        (_cells(("markdown", "### Exercise 1"), ("code", "# Exercise 1"), ("markdown", "### Exercise 1"),
                ("code", "# Exercise 1")), "numbered 1..N in order; found [1, 1]"),
        (_cells(("markdown", "### Exercise 1"), ("code", "# Exercise 1"), ("markdown", "### Exercise 3"),
                ("code", "# Exercise 3")), "found [1, 3]"),
        (_cells(("markdown", "### Exercise 1"), ("code", "# Exercise 2")), "sits under exercise 1"),
        (_cells(("markdown", "### Exercise 1"), ("code", "# Exercise 1 (check)")), "without an answer cell"),
        (_cells(("markdown", "1. Do this."), ("code", "# Exercise 1")), "not list items"),
        (_cells(("markdown", "### Exercise 1"), ("code", "print(1)")), "start with '# Exercise N'"),
    ],
)
def test_the_numbering_check_catches_broken_numbering(cells, problem):
    assert any(problem in line for line in _exercise_problems(cells)), _exercise_problems(cells)
    good = _cells(("markdown", "### Exercise 1 · A"), ("code", "# Exercise 1"), ("code", "# Exercise 1 (check)"),
                  ("markdown", "### Exercise 2"), ("code", "# Exercise 2"))
    assert _exercise_problems(good) == []
