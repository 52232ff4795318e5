"""Batch runs of notebooks: parameters, selection, and a failing notebook that does not stop the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prunekit.run.machine import THREAD_VARIABLES, thread_share
from prunekit.teach import batch


def _notebook(path: Path, body: str) -> None:
    cells = [
        {"cell_type": "code", "id": "params", "metadata": {"tags": ["parameters"]}, "source": "INTERACTIVE = True\nVALUE = 1\n",
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "id": "body", "metadata": {}, "source": body, "outputs": [], "execution_count": None},
    ]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


def test_parse_parameters_reads_literals_and_strings() -> None:
    assert batch.parse_parameters(["A=1", "B=[0.5, 2]", "C=quick", "D=None", "E='x y'"]) == {
        "A": 1, "B": [0.5, 2], "C": "quick", "D": None, "E": "x y"
    }
    with pytest.raises(ValueError, match="NAME=value; got 'oops'"):
        batch.parse_parameters(["oops"])


def test_notebooks_in_keeps_numbered_ones_and_names_unknown_choices(tmp_path: Path) -> None:
    for name in ("00_a", "01_b", "scratch"):
        _notebook(tmp_path / f"{name}.ipynb", "")
    assert [p.stem for p in batch.notebooks_in(tmp_path)] == ["00_a", "01_b"]
    assert [p.stem for p in batch.notebooks_in(tmp_path, ["01"])] == ["01_b"]
    with pytest.raises(ValueError, match="no notebook 07.*valid: 00_a, 01_b"):
        batch.notebooks_in(tmp_path, ["07"])


def test_a_failing_notebook_is_reported_and_the_rest_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    _notebook(source / "00_fails.ipynb", "raise RuntimeError('broken on purpose')")
    _notebook(source / "01_works.ipynb", "print('value', VALUE * 10, 'interactive', INTERACTIVE)")
    code = batch.main(["--notebooks", str(source), "--out", str(tmp_path / "out"), "-p", "VALUE=4"])
    assert code == 1
    assert "00_fails FAILED" in capsys.readouterr().err
    ran = json.loads((tmp_path / "out" / "01_works.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in ran["cells"] for o in c.get("outputs", []))
    assert "value 40 interactive False" in printed
    failed = json.loads((tmp_path / "out" / "00_fails.ipynb").read_text())
    assert any(o["output_type"] == "error" for c in failed["cells"] for o in c.get("outputs", []))


def test_main_reads_dot_notebooks_or_asks_for_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        batch.main(["--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert "pass --notebooks" in capsys.readouterr().err


def test_parallel_notebooks_start_the_summary_last_with_their_share_of_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --jobs 2 a notebook flagged ``after_others`` waits for the rest, even when it sorts first; each
    kernel gets cores // 2 torch threads."""
    for name in THREAD_VARIABLES:  # as on a user's machine: no thread count chosen
        monkeypatch.delenv(name, raising=False)
    source, shared = tmp_path / "src", tmp_path / "shared"
    source.mkdir()
    shared.mkdir()
    _notebook(source / "00_summary.ipynb", f"import pathlib\nfound = sorted(p.name for p in pathlib.Path({str(shared)!r}).iterdir())\n"
              "assert found == ['01', '02'], found\nprint('summary read', found)")
    flagged = json.loads((source / "00_summary.ipynb").read_text())
    flagged["metadata"]["prunekit"] = {"after_others": True}
    (source / "00_summary.ipynb").write_text(json.dumps(flagged))
    for name in ("01", "02"):
        _notebook(source / f"{name}_run.ipynb", f"import os, pathlib\npathlib.Path({str(shared)!r}, {name!r}).write_text('x')\n"
                  "print('threads', os.environ.get('OMP_NUM_THREADS'))")
    assert batch.runs_after_others(source / "00_summary.ipynb") and not batch.runs_after_others(source / "01_run.ipynb")
    outcome = batch.run_notebooks(batch.notebooks_in(source), tmp_path / "out", progress=False, jobs=2)
    assert list(outcome) == ["00_summary", "01_run", "02_run"], "reported in the order given"
    assert all(text.startswith("ok") for text in outcome.values()), outcome
    printed = {name: "".join("".join(o.get("text", "")) for c in json.loads((tmp_path / "out" / f"{name}.ipynb").read_text())["cells"]
                             for o in c.get("outputs", []))
               for name in outcome}
    assert "summary read ['01', '02']" in printed["00_summary"]
    share = f"threads {thread_share(2)}"
    assert share in printed["01_run"] and share in printed["02_run"]
    with pytest.raises(ValueError, match="jobs must be 1 or more; got 0"):
        batch.run_notebooks([], tmp_path / "out", jobs=0)


def test_the_bar_names_only_the_notebooks_a_worker_is_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[list[str]] = []

    class RecordingBar:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def set_postfix_str(self, text: str) -> None:
            shown.append(text.split(", "))

        def update(self, count: int) -> None:
            shown.append(["<finished>"])

        def close(self) -> None:
            pass

    monkeypatch.setattr(batch, "tqdm", RecordingBar)
    source = tmp_path / "src"
    source.mkdir()
    for name in ("01", "02", "03", "04"):
        _notebook(source / f"{name}_run.ipynb", "print('ran')")
    outcome = batch.run_notebooks(batch.notebooks_in(source), tmp_path / "out", progress=False, jobs=2)
    assert all(text.startswith("ok") for text in outcome.values()), outcome
    named = [names for names in shown if names != ["<finished>"]]
    assert named[0] == ["01_run", "02_run"], "the first two start together"
    assert all(len(names) <= 2 for names in named), f"two workers, but the bar named {named}"
    assert sorted({name for names in named for name in names}) == ["01_run", "02_run", "03_run", "04_run"]
    finished_before = shown.index(["<finished>"])
    assert all("03_run" not in names for names in shown[:finished_before]), "03 waits for a free worker"


def test_a_parameter_reaches_only_the_notebooks_that_declare_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "src"
    source.mkdir()
    _notebook(source / "00_value.ipynb", "print('value', VALUE)")
    summary = json.loads((source / "00_value.ipynb").read_text())
    summary["cells"][0]["source"] = "INTERACTIVE = True\nREPORT_DIR = 'nowhere'\n"
    summary["cells"][1]["source"] = "print('report in', REPORT_DIR)"
    (source / "01_report.ipynb").write_text(json.dumps(summary))
    assert batch.declared_parameters(source / "01_report.ipynb") == ["INTERACTIVE", "REPORT_DIR"]
    outcome = batch.run_notebooks(batch.notebooks_in(source), tmp_path / "out", {"VALUE": 3, "REPORT_DIR": "here"},
                                  progress=False)
    assert all(text.startswith("ok") for text in outcome.values()), outcome
    printed = {name: "".join("".join(o.get("text", "")) for c in json.loads((tmp_path / "out" / f"{name}.ipynb").read_text())["cells"]
                             for o in c.get("outputs", []))
               for name in outcome}
    assert "value 3" in printed["00_value"] and "report in here" in printed["01_report"]
    with pytest.raises(SystemExit) as stopped:
        batch.main(["--notebooks", str(source), "--out", str(tmp_path / "out"), "-p", "VALEU=3"])
    assert stopped.value.code == 2
    assert "no notebook declares VALEU; their parameters: INTERACTIVE, REPORT_DIR, VALUE" in capsys.readouterr().err


def test_start_order_puts_long_notebooks_first_only_with_jobs_and_the_summary_last(tmp_path: Path) -> None:
    meta = {"01_single": None, "02_single": None, "06_sweep": {"minutes": 7.5}, "07_layers": None,
            "08_summary": {"after_others": True}}
    for stem, prunekit_meta in meta.items():
        _notebook(tmp_path / f"{stem}.ipynb", "x = 1")
        if prunekit_meta:
            nb = json.loads((tmp_path / f"{stem}.ipynb").read_text())
            nb["metadata"]["prunekit"] = prunekit_meta
            (tmp_path / f"{stem}.ipynb").write_text(json.dumps(nb))
    notebooks = batch.notebooks_in(tmp_path)
    stems = lambda wave: [path.stem for path in wave]  # noqa: E731
    assert [stems(w) for w in batch.start_order(notebooks, 2)] == [["06_sweep", "01_single", "02_single", "07_layers"], ["08_summary"]]
    assert [stems(w) for w in batch.start_order(notebooks, 1)] == [["01_single", "02_single", "06_sweep", "07_layers"], ["08_summary"]]


def test_the_shipped_notebooks_start_with_the_sweep_then_in_numbered_order() -> None:
    """06 first; 01-05 soon after it, so that the sweep finds their compression-1 runs finished and copies them."""
    notebooks = batch.notebooks_in(Path(__file__).resolve().parents[1] / "notebooks")
    first, last = batch.start_order(notebooks, 2)
    assert [path.stem[:2] for path in first] == ["06", "00", "01", "02", "03", "04", "05", "07", "09", "10"]
    assert [path.stem[:2] for path in last] == ["08"]
