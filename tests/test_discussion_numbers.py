"""Numbers in the notebooks' discussions come from results: a typed number there fails this test.

A discussion (the Markdown cells from ``## Discussion`` to the next ``## `` heading) may
quote a number only if it is not a run's outcome:

- the report's own published numbers (:mod:`prunekit.report.report_numbers`) and its settings
  (epochs, compression exponents);
- facts of the kit's architectures and data that no run changes (prunable weights, dense FLOPs,
  image and data-set sizes), computed here from the code;
- small counts (0 to 10), section numbers (``1.2.3``) and notebook numbers (``05``).

Every other number, a top-1 accuracy, a FLOP ratio, a density, a count of kept weights, must be
rendered by a code cell from the notebook's own results (``IPython.display.Markdown``), next to an
``assert`` of the comparison the sentence makes; this test does not read code cells.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prunekit.core.metrics import layer_table
from prunekit.core.models import create_model
from prunekit.report import report_numbers

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NUMBER = re.compile(r"(?<![\w.$\\{^_/-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w.]?\d)")
SECTION = re.compile(r"\b\d\.\d(?:\.\d)?\b")


def _report_values() -> set[float]:
    values: set[float] = set()
    tables = (report_numbers.TABLE_1_1, report_numbers.TABLE_1_2_1, report_numbers.TABLE_1_2_2,
              report_numbers.TABLE_1_2_3, report_numbers.TABLE_2_2)
    for table in tables:
        for key, row in table.items():
            values.update(v for v in (key if isinstance(key, tuple) else (key,)) if isinstance(v, (int, float)))
            values.update(float(v) for v in row.values())
    values.add(float(report_numbers.VGG16_DENSE_FLOPS))
    return values


def _architecture_values() -> set[float]:
    values: set[float] = set()
    for model_class, model, shape in (("default", "fc", (1, 28, 28)), ("lottery", "vgg16", (3, 32, 32))):
        table = layer_table(create_model(model_class, model, shape, 10))
        weights = table[table["param"] == "weight"]
        values.update(float(v) for v in weights["size"])
        values.update(float(v) for v in weights["flops"])
        values.update((float(weights["size"].sum()), float(weights["flops"].sum()), float(table["flops"].sum())))
    return values


ALLOWED: set[float] = (
    _report_values()
    | _architecture_values()
    | {float(n) for n in range(11)}
    # the report's settings: epochs, rounds, temperature, batch sizes, compression exponents
    | {20.0, 30.0, 100.0, 150.0, 200.0, 300.0, 400.0, 64.0, 256.0, 0.05, 0.1, 0.2, 0.5, 1.5, 2.5, 3.0, 3.5}
    # data and image sizes: MNIST 60,000/10,000, the shipped sample 10,000/2,000, 28×28, 32×32, 784 inputs
    | {60_000.0, 10_000.0, 2_000.0, 28.0, 32.0, 784.0, 3072.0}
    # years and the paper's references
    | {2018.0, 2019.0, 2020.0}
)


def _discussion_cells(path: Path) -> list[str]:
    cells, inside = [], False
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.lstrip().startswith("## "):
            inside = source.lstrip().startswith("## Discussion")
            source = source.split("\n", 1)[1] if "\n" in source else ""
        if inside and cell["cell_type"] == "markdown":
            cells.append(source)
    return cells


def typed_numbers(text: str) -> list[str]:
    """The numbers in ``text`` that a discussion may not type (see the module docstring).

    Example:
        >>> typed_numbers("Rand reaches 96.36 % at compression 1, the report 95.77 % (section 1.1, notebook 05).")
        ['96.36']
    """
    text = SECTION.sub(" ", text)
    text = re.sub(r"\$[^$]*\$", " ", text)  # equations
    text = re.sub(r"`[^`]*`", " ", text)  # code: flags, file names, parameters
    text = re.sub(r"\b0\d\b", " ", text)  # notebook numbers (05, 07)
    found = []
    for match in NUMBER.finditer(text):
        value = float(match.group(1).replace(",", ""))
        if value not in ALLOWED:
            found.append(match.group(1))
    return found


def test_every_notebook_has_a_discussion() -> None:
    missing = [p.name for p in NOTEBOOKS if not _discussion_cells(p)]
    assert not missing, f"no '## Discussion' section in {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_discussions_type_no_result(path: Path) -> None:
    typed = [(number, cell.strip()[:80]) for cell in _discussion_cells(path) for number in typed_numbers(cell)]
    assert not typed, (
        f"{path.name}: numbers typed into the discussion that must be rendered from results "
        f"(a code cell printing Markdown next to an assert): {typed}"
    )


def test_the_check_catches_a_typed_accuracy() -> None:
    assert typed_numbers("One epoch lifts the accuracy to around 75 %; SynFlow keeps 0.3191 of the FLOPs.") == [
        "75", "0.3191"]
    assert typed_numbers("The report's SynFlow reached 11.35 % after 150 epochs (section 1.2.3, notebook 05).") == []
