"""Adding a sixth pruner is one file plus one ``register`` call: prune(), the CLI, a sweep and the report take it.

The toy scorer lives outside the package: in this test file for prune() and the CLI, and
in a module written to a temporary folder on PYTHONPATH for the sweep (whose runs are
notebooks in other processes: ``--plugin`` hands the module to them).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

from prunekit import cli, create_model, prune, report
from prunekit.core.layers import masked_parameters
from prunekit.core.pruning import LayerCollapseWarning
from prunekit.core.scorers import Scorer, pruner_names, register, unregister
from prunekit.run import plugins, sweep
from prunekit.run.plugins import ENV_VAR

PLUGIN = '''
"""A sixth pruner from outside prunekit: keep the largest |θ| · (layer index)."""
import torch
from prunekit.core.scorers import Scorer, register


def depth_scores(model, params, data=None, loss_fn=None):
    return [p.param.detach().abs() * (index + 1) for index, p in enumerate(params)]


SCORER = register(Scorer("depthmag", depth_scores, label="DepthMag", formula="S = |θ| · l", hint="|θ| times l"))
'''


def depth_scores(model, params, data=None, loss_fn=None) -> list[torch.Tensor]:
    """Keep the largest |θ| · (layer index), the deepest layers favoured."""
    return [p.param.detach().abs() * (index + 1) for index, p in enumerate(params)]


@pytest.fixture
def toy():
    scorer = register(Scorer("depthmag", depth_scores, label="DepthMag", formula="S = |θ| · l", hint="|θ| times l"))
    yield scorer
    unregister("depthmag")


@pytest.fixture
def tiny(tmp_path: Path) -> list[str]:
    no_data = tmp_path / "no-data"
    no_data.write_text("not a folder: the shipped MNIST sample is read")
    return ["--post-epochs", "1", "--train-limit", "300", "--test-limit", "200", "--timing-repeats", "1",
            "--device", "cpu", "--data-dir", str(no_data), "--quiet"]


def test_a_registered_pruner_prunes_through_prune(toy: Scorer) -> None:
    assert pruner_names()[-1] == "depthmag"
    net = create_model("default", "fc", (1, 28, 28), 10)
    with pytest.warns(LayerCollapseWarning, match="after depthmag pruning"):  # the toy favours deep layers hard
        result = prune(net, "depthmag", compression=1)
    assert (result.pruner, result.kept) == ("depthmag", 11_940)
    densities = [float(p.mask.mean()) for p in masked_parameters(net)]
    assert densities[-1] > densities[0], "the deeper layers keep more"
    plain = create_model("default", "fc", (1, 28, 28), 10)
    assert prune(plain, depth_scores, compression=0.1).pruner == "depth_scores", "a plain function prunes directly"


def test_a_registered_pruner_runs_from_the_cli_and_shows_in_the_report(
    toy: Scorer, tiny: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    code = cli.main(["--pruner", "depthmag", "--compression", "1", "--expid", "d1", "--result-dir", str(results), *tiny])
    assert code == 0, capsys.readouterr().err
    assert (results / "singleshot" / "d1" / "result.json").is_file()
    frame = report.collect(results)
    assert list(frame.pruner) == ["depthmag"]
    assert "depthmag" in report.table_accuracy(frame).columns


def test_a_plugin_pruner_reaches_the_runs_of_a_sweep_and_its_report(
    tiny: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "toy_pruners.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", str(folder))  # the run notebooks' kernels import it too
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(plugins, "_LOADED", [])
    try:
        code = sweep.main(["--plugin", "toy_pruners", "--pruners", "depthmag", "rand", "--compressions", "1",
                           "--result-dir", str(tmp_path), "--name", "toy", *tiny])
        captured = capsys.readouterr()
        assert code == 0, captured.out + captured.err
        frame = report.collect(tmp_path / "toy")
        assert sorted(frame.pruner) == ["depthmag", "rand"]
        table = report.table_accuracy(frame)
        assert list(table.columns) == ["rand", "depthmag"], "built-ins first, in the report's order"
        assert table.notna().all().all()
    finally:
        if "depthmag" in pruner_names():
            unregister("depthmag")
        sys.modules.pop("toy_pruners", None)


def test_a_missing_plugin_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--plugin", "no_such_plugin_module", "--pruner", "rand"]) == 2
    assert "cannot import plugin module 'no_such_plugin_module'" in capsys.readouterr().err
