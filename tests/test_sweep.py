"""Sweeps: grid expansion and its errors, real runs through papermill (parallel, resumed, failing), submitit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prunekit import sweep
from prunekit.experiment import load_result

SMALL = {"post_epochs": 1, "train_limit": 512, "test_limit": 256, "timing_repeats": 1, "device": "cpu",
         "data_dir": "/nonexistent-prunekit-data"}


def test_expand_grid_names_every_run_and_applies_overrides(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["mag", "grasp"], [0.5, 2], seeds=[1, 2], result_dir=tmp_path, post_epochs=3,
                                per_pruner={"grasp": {"post_epochs": 30}})
    assert [c.expid for c in configs][:3] == ["mag-c0.5-s1", "mag-c0.5-s2", "mag-c2-s1"]
    assert len(configs) == 8 and {c.result_dir for c in configs} == {str(tmp_path)}
    assert {c.post_epochs for c in configs if c.pruner == "mag"} == {3}
    assert {c.post_epochs for c in configs if c.pruner == "grasp"} == {30}


def test_a_preset_brings_the_seed_per_pruner_settings(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["mag", "grasp", "snip"], [1], preset="seed-sweep", result_dir=tmp_path)
    by_pruner = {c.pruner: c for c in configs}
    assert (by_pruner["mag"].pre_epochs, by_pruner["grasp"].post_epochs, by_pruner["snip"].post_epochs) == (200, 300, 100)
    assert by_pruner["snip"].model == "vgg16" and by_pruner["snip"].dataset == "cifar10"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pruners": [], "compressions": [1]}, "an empty grid"),
        ({"pruners": ["snipp"], "compressions": [1]}, "unknown pruner.*snipp.*valid pruners: rand, mag, snip"),
        ({"pruners": ["rand"], "compressions": [1], "preset": "fast"}, "unknown preset 'fast'.*quick"),
        ({"pruners": ["rand"], "compressions": [1], "per_pruner": {"grasp": {"lr": 1}}}, "does not run"),
        ({"pruners": ["rand"], "compressions": [1], "seed": 3}, "sets seed itself"),
        ({"pruners": ["rand"], "compressions": [1], "post_epoch": 3}, "unknown config field.*post_epoch"),
    ],
)
def test_bad_grids_fail_before_anything_runs(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.expand_grid(result_dir=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_parse_override() -> None:
    assert sweep.parse_override("grasp:post_epochs=300") == ("grasp", "post_epochs", 300)
    assert sweep.parse_override("snip:optimizer=sgd") == ("snip", "optimizer", "sgd")
    with pytest.raises(ValueError, match="PRUNER:FIELD=VALUE"):
        sweep.parse_override("grasp=300")
    with pytest.raises(ValueError, match="unknown field 'epochs'"):
        sweep.parse_override("grasp:epochs=3")


def test_the_command_line_rejects_bad_input_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        sweep.main(["--result-dir", str(tmp_path), "--pruners", "rand", "--compressions", "1", "--no-such-flag"])
    assert stop.value.code == 2
    old = tmp_path / "old"
    old.mkdir()
    (old / "sweep.json").write_text(json.dumps({"schema": "prunekit-sweep/0"}))
    code = sweep.main(["--result-dir", str(tmp_path), "--name", "old", "--pruners", "rand", "--compressions", "1"])
    assert code == 2 and "incompatible prunekit (schema 'prunekit-sweep/0'" in capsys.readouterr().err
    assert sorted(p.name for p in old.iterdir()) == ["sweep.json"]
    with pytest.raises(ValueError, match="unknown executor 'pbs'.*local, slurm, submitit-local"):
        sweep.run_sweep(sweep.expand_grid(["rand"], [1], result_dir=tmp_path / "x"), executor="pbs")


def test_a_parallel_sweep_completes_resumes_and_reports_a_failing_point(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["rand"], [0.5, 9.0], result_dir=tmp_path / "s", **SMALL)
    first = sweep.run_sweep(configs, jobs=2, progress=False)
    assert first.done == ["rand-c0.5-s1"] and list(first.failed) == ["rand-c9-s1"]
    assert "keeps less than one of 119,400 prunable weights" in first.failed["rand-c9-s1"]
    finished = tmp_path / "s" / "singleshot" / "rand-c0.5-s1"
    assert load_result(finished)["config"]["compression"] == 0.5
    assert (finished / "run.ipynb").is_file(), "every run leaves its executed notebook"
    failed_notebook = json.loads((tmp_path / "s" / "singleshot" / "rand-c9-s1" / "run.ipynb").read_text())
    assert any(o["output_type"] == "error" for c in failed_notebook["cells"] for o in c.get("outputs", []))
    again = sweep.run_sweep(configs, jobs=2, progress=False)
    assert again.skipped == ["rand-c0.5-s1"] and again.done == [] and list(again.failed) == ["rand-c9-s1"]
    assert again.line() == "2 runs: 0 done, 1 skipped, 1 failed"
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["schema"] == sweep.SCHEMA


def test_the_submitit_local_executor_runs_the_slurm_code_path(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["mag"], [1.0], result_dir=tmp_path / "s", **SMALL)
    summary = sweep.run_sweep(configs, executor="submitit-local", progress=False)
    assert summary.done == ["mag-c1-s1"], summary.failed
    assert load_result(tmp_path / "s" / "singleshot" / "mag-c1-s1")["params"]["kept"] == 11_940
    assert any((tmp_path / "s" / "submitit").iterdir()), "submitit wrote its job files"


def test_with_several_gpus_each_run_gets_its_own_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    configs = sweep.expand_grid(["rand", "mag", "snip"], [1], result_dir=tmp_path)
    configs[2] = configs[2].replace(device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [c.device for c in sweep._with_devices(configs)] == ["cuda:0", "cuda:1", "cpu"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert [c.device for c in sweep._with_devices(configs)] == ["auto", "auto", "cpu"]
