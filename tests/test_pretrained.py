"""Pre-training shared by the runs of one setting: loaded, it gives exactly what training again gives."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import pytest
import torch

from prunekit.run import experiment
from prunekit.run.checkpoints import CorruptCheckpointWarning
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataWarning
from prunekit.run.paths import MODEL_FILE
from prunekit.run.pretrained import FOLDER, pretrain_key, pretrained_path
from prunekit.run.result import RunResult


def _config(tmp_path: Path, folder: str, **changes: object) -> ExperimentConfig:
    """FC on the shipped MNIST sample, two epochs of pre-training, one of post-training."""
    (tmp_path / "no-data-here").mkdir(exist_ok=True)  # a data folder without MNIST: the shipped sample is read
    return ExperimentConfig(pruner="mag", compression=1.0, pre_epochs=2, post_epochs=1, train_limit=1024,
                            test_limit=512, timing_repeats=1, result_dir=str(tmp_path / folder),
                            data_dir=str(tmp_path / "no-data-here"), device="cpu").replace(**changes)


def _run(config: ExperimentConfig, progress: bool = False) -> RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return experiment.run_singleshot(config, progress=progress)


def _learned(rows: tuple) -> list[tuple]:
    """An epoch's numbers without its wall-clock time."""
    return [dataclasses.astuple(dataclasses.replace(row, epoch_time_s=0.0)) for row in rows]


def _weights(config: ExperimentConfig) -> dict[str, torch.Tensor]:
    return torch.load(experiment.run_dir(config) / MODEL_FILE, weights_only=True)


def test_runs_that_differ_after_pretraining_share_it_and_compute_what_training_again_computes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _config(tmp_path, "shared", compression=0.5)
    _run(first)
    saved = pretrained_path(first)
    assert [p.name for p in (tmp_path / "shared" / FOLDER).iterdir()] == [saved.name]
    capsys.readouterr()
    # Mag at another compression exponent, and Rand, whose pruning draws from the restored random state
    for changes in ({"compression": 1.0}, {"pruner": "rand", "post_epochs": 2}):
        shared = _config(tmp_path, "shared", **changes)
        loaded = _run(shared, progress=True)
        assert f"2 epoch(s) loaded from {saved}" in capsys.readouterr().out
        alone = _config(tmp_path, f"alone-{shared.pruner}", **changes)
        trained = _run(alone, progress=True)
        assert "loaded from" not in capsys.readouterr().out, "a folder of its own: it trains"
        assert _learned(loaded.pre_history) == _learned(trained.pre_history)
        assert _learned(loaded.post_history) == _learned(trained.post_history)
        assert loaded.top1 == trained.top1 and loaded.params.kept == trained.params.kept
        mine, theirs = _weights(shared), _weights(alone)
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[key], theirs[key]) for key in mine), \
            "the same weights and masks, bit for bit"
    assert [p.name for p in (tmp_path / "shared" / FOLDER).iterdir()] == [saved.name], "one file for the setting"


def test_only_settings_read_after_pretraining_share_it() -> None:
    base = ExperimentConfig(pruner="mag", compression=1.0, pre_epochs=20)
    same = [base.replace(pruner="snip", compression=3.0, rounds=100, post_epochs=5, prune_batch_size=64,
                         timing_repeats=1, expid="x", result_dir="elsewhere", device="cpu")]
    other = [base.replace(seed=2), base.replace(lr=0.01), base.replace(train_limit=6000), base.replace(pre_epochs=10),
             base.replace(model="conv"), base.replace(optimizer="sgd"), base.replace(data_dir="/data")]
    assert all(pretrain_key(config) == pretrain_key(base) for config in same)
    assert len({pretrain_key(config) for config in [base, *other]}) == 1 + len(other)


def test_a_damaged_file_is_removed_with_a_warning_and_the_run_trains(tmp_path: Path) -> None:
    first = _config(tmp_path, "shared", compression=0.5)
    _run(first)
    saved = pretrained_path(first)
    saved.write_bytes(saved.read_bytes()[:200])  # a copy cut short
    second = _config(tmp_path, "shared")
    with pytest.warns(CorruptCheckpointWarning, match=f"{saved} is corrupt .*removed it, pre-training instead"):
        result = _run(second)
    assert result.status == "complete" and len(result.pre_history) == 3  # epoch 0 and two trained epochs
    assert _learned(result.pre_history) == _learned(experiment.load_result(experiment.run_dir(first)).pre_history)
    assert saved.is_file(), "written again by the run that trained"


def test_a_run_without_pretraining_writes_no_pretrained_folder(tmp_path: Path) -> None:
    _run(_config(tmp_path, "none", pruner="snip", pre_epochs=0))
    assert sorted(p.name for p in (tmp_path / "none").iterdir()) == ["singleshot"]


def test_two_processes_of_one_setting_started_together_pretrain_once(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    configs = [_config(tmp_path, "together", compression=c, pre_epochs=3, train_limit=4096) for c in (0.5, 1.0)]
    code = ("import json, sys, warnings; from prunekit.run.config import ExperimentConfig\n"
            "from prunekit.run.experiment import run_singleshot\n"
            "warnings.simplefilter('ignore')\n"
            "run_singleshot(ExperimentConfig(**json.loads(sys.argv[1])), progress=True)\n")
    processes = [subprocess.Popen([sys.executable, "-c", code, json.dumps(config.to_dict())], text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for config in configs]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    loaded = [out for out, _ in outputs if "loaded from" in out]
    trained = [out for out, _ in outputs if "pre-training: 3 epoch(s)\n" in out]
    assert len(loaded) == 1 and len(trained) == 1, outputs
    waited = [err for _, err in outputs if "another process is making the pre-training in" in err]
    assert len(waited) <= 1
    assert len(list((tmp_path / "together" / FOLDER).iterdir())) == 1
    first, second = (experiment.load_result(experiment.run_dir(config)) for config in configs)
    assert _learned(first.pre_history) == _learned(second.pre_history)
