"""Tests for prunekit.teach.parameters: the check right after each notebook's parameters cell."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill
import pytest

from prunekit.teach import parameters
from prunekit.teach.parameters import (
    RULES,
    ParameterError,
    changed_parameters,
    check_parameters,
    parameter_cells,
)

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NUMBERED = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _parameters_cell(path: Path) -> tuple[int, str]:
    cells = json.loads(path.read_text())["cells"]
    found = [(i, "".join(c["source"])) for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", [])]
    assert len(found) == 1, f"{path.name}: exactly one parameters cell"
    return found[0]


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.stem)
def test_every_notebook_parameter_has_a_rule_and_its_default_passes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)  # a notebook runs in its own folder: relative defaults such as ../reference
    _, source = _parameters_cell(path)
    declared, _ = parameter_cells([source])
    assert declared, f"{path.name}: the parameters cell assigns names"
    namespace: dict = {}
    exec(compile(source, path.name, "exec"), namespace)  # noqa: S102 - our own notebook's constants
    if "DATA_DIR" in namespace:
        namespace["DATA_DIR"] = None
    check_parameters(namespace, declared=declared)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("COMPRESSION", "abc", "COMPRESSION = 'abc': expected a number >= 0"),
        ("COMPRESSION", float("inf"), "COMPRESSION = inf"),
        ("COMPRESSION", -1.0, "COMPRESSION = -1.0"),
        ("SEED", 2**64, "SEED = 18446744073709551616: expected a whole number from 0 to"),
        ("SEED", 1.5, "SEED = 1.5"),
        ("INTERACTIVE", "False", "INTERACTIVE = 'False': expected True or False"),
        ("PRESET", "fast", "PRESET = 'fast': expected one of 'quick'"),
        ("PRUNERS", ["rand", "snipp"], "PRUNERS = ['rand', 'snipp']: expected a non-empty list of 'rand'"),
        ("PRUNERS", [], "PRUNERS = []"),
        ("POST_EPOCHS", -2, "POST_EPOCHS = -2: expected None or a whole number >= 0"),
        ("COMPRESSIONS", [0.5, "x"], "COMPRESSIONS = [0.5, 'x']"),
        ("BINS", 1, "BINS = 1"),
    ],
)
def test_a_bad_value_names_the_parameter_and_what_is_valid(name: str, value: object, message: str) -> None:
    with pytest.raises(ParameterError) as caught:
        check_parameters({name: value}, declared=[name])
    assert str(caught.value).startswith(f"parameter {message}")


def test_a_data_dir_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="does not exist"):
        check_parameters({"DATA_DIR": str(tmp_path / "nope")}, declared=["DATA_DIR"])
    check_parameters({"DATA_DIR": str(tmp_path)}, declared=["DATA_DIR"])


def test_an_injected_name_the_notebook_does_not_declare_is_refused() -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) PRUNER = 'nonsense'.*SEED, COMPRESSION"):
        check_parameters({"PRUNER": "nonsense", "SEED": 1, "COMPRESSION": 1.0},
                         declared=["SEED", "COMPRESSION"], injected=["PRUNER"])


def test_a_parameter_without_a_rule_is_an_error() -> None:
    assert "SOMETHING_NEW" not in RULES
    with pytest.raises(ParameterError, match="SOMETHING_NEW has no rule"):
        check_parameters({"SOMETHING_NEW": 1}, declared=["SOMETHING_NEW"])


def test_parameter_cells_finds_the_declared_and_the_injected_cell() -> None:
    history = ["", "SEED = 1\nCOMPRESSION = 1.0", "# Parameters\nCOMPRESSION = 2\n", "check_parameters(globals())"]
    assert parameter_cells(history) == (["SEED", "COMPRESSION"], ["COMPRESSION"])
    rerun = history + ["print(1)", "SEED = 3\nCOMPRESSION = 0.5", "check_parameters(globals())"]
    assert parameter_cells(rerun) == (["SEED", "COMPRESSION"], [])


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.stem)
def test_every_notebook_checks_its_parameters_in_the_next_code_cell(path: Path) -> None:
    index, _ = _parameters_cell(path)
    cells = json.loads(path.read_text())["cells"]
    following = next(c for c in cells[index + 1:] if c["cell_type"] == "code")
    assert "check_parameters(globals())" in "".join(following["source"])


def _tiny_notebook(path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("SEED = 1\nCOMPRESSION = 1.0")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [
        parameters,
        nbformat.v4.new_code_cell("from prunekit.teach.parameters import check_parameters\ncheck_parameters(globals())"),
        nbformat.v4.new_code_cell("print('ran with', COMPRESSION)"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(
    ("parameters", "message"),
    [({"PRUNER": "nonsense"}, "unknown parameter(s) PRUNER = 'nonsense'"),
     ({"COMPRESSION": "abc"}, "parameter COMPRESSION = 'abc': expected a number >= 0")],
)
def test_papermill_stops_at_the_check_with_the_parameter_named(tmp_path: Path, parameters: dict, message: str) -> None:
    source = _tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), parameters=parameters,
                                   progress_bar=False, kernel_name="python3", cwd=str(tmp_path))
    assert caught.value.ename == "ParameterError" and message in caught.value.evalue
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert not any(o.get("text", "").startswith("ran with") for c in executed.cells for o in c.get("outputs", []))


def test_papermill_runs_with_good_parameters(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tiny.ipynb")
    papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), parameters={"COMPRESSION": 2},
                               progress_bar=False, kernel_name="python3", cwd=str(tmp_path))
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "ran with 2\n"


def test_changed_parameters_are_the_injected_ones_that_differ_from_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = "SEED = 1\nCOMPRESSION = 1.0\nINTERACTIVE = True"
    for injected, values, changed in [
        ("# Parameters\nCOMPRESSION = 1.0\nINTERACTIVE = False\n", {"COMPRESSION": 1.0, "INTERACTIVE": False}, ()),
        ("# Parameters\nCOMPRESSION = 2.0\n", {"COMPRESSION": 2.0, "INTERACTIVE": True}, ("COMPRESSION",)),
    ]:
        monkeypatch.setattr(parameters, "_history", lambda injected=injected: [declared, injected, "check_parameters()"])
        check_parameters({"SEED": 1, **values})
        assert changed_parameters() == changed


def test_a_claim_raises_with_the_defaults_and_is_flagged_with_changed_parameters(tmp_path: Path) -> None:
    source = _tiny_notebook(tmp_path / "tiny.ipynb")
    notebook = nbformat.read(source, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "from prunekit.teach.claims import claim\nprint(claim(COMPRESSION < 1.5, 'compression is below 1.5'))"))
    nbformat.write(notebook, source)
    papermill.execute_notebook(str(source), str(tmp_path / "flagged.ipynb"), parameters={"COMPRESSION": 2.0},
                               progress_bar=False, kernel_name="python3", cwd=str(tmp_path))
    flagged = nbformat.read(tmp_path / "flagged.ipynb", as_version=4).cells[-1].outputs[0]["text"]
    assert flagged.startswith("⚠ with the changed parameters (COMPRESSION) this does not hold: compression is below 1.5")
    notebook.cells[0].source = "SEED = 1\nCOMPRESSION = 2.0"
    nbformat.write(notebook, source)
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(source), str(tmp_path / "raised.ipynb"), progress_bar=False,
                                   kernel_name="python3", cwd=str(tmp_path))
    assert caught.value.ename == "ClaimError" and "compression is below 1.5" in caught.value.evalue
