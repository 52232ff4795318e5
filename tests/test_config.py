"""The run configuration: one name per idea, legacy names read, and every check done before any data is read."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from prunekit import cli
from prunekit.run import data, experiment, loader
from prunekit.run.checks import ConfigError, prunable_counts
from prunekit.run.config import LEGACY_NAMES, ExperimentConfig

BAD = {
    "a misspelt pruner": ({"pruner": "snipp"}, "unknown pruner 'snipp'; valid pruners: rand, mag, snip, grasp, synflow"),
    "a bad model": ({"model": "vgg16"}, "unknown model 'vgg16' of model class 'default'; valid models: conv, fc"),
    "a bad model class": ({"model_class": "big"}, "unknown model class 'big'; valid model classes: default, lottery"),
    "a bad dataset": ({"dataset": "imagenet"}, "unknown dataset 'imagenet'; valid datasets: mnist, cifar10, cifar100"),
    "less than one weight": ({"compression": 5.4}, "keeps less than one of the 119,400 prunable weights"),
    "less than one weight per layer": ({"compression": 3.4, "scope": "local"},
                                       "keeps less than one of the smallest layer's 1,000 prunable weights"),
    "an infinite compression": ({"compression": float("inf")}, "compression must be a finite number >= 0"),
    "a bad device": ({"device": "tpu"}, "unknown device 'tpu'; valid devices: auto, cpu, cuda, mps or cuda:N"),
    "a bad optimizer": ({"optimizer": "adamw"}, "unknown optimizer 'adamw'; valid optimizers: adam, sgd, momentum"),
    "a negative drop rate": ({"lr_drop_rate": -0.1}, "lr_drop_rate must be a finite number > 0; got -0.1"),
    "a bad drop epoch": ({"lr_drops": (0,)}, "each of lr_drops must be a whole number >= 1; got 0"),
    "a seed beyond 64 bits": ({"seed": 2**63}, r"seed must be a whole number in \[-2\*\*63, 2\*\*63 - 1\]"),
    "a bad schedule": ({"schedule": "cosine"}, "unknown schedule 'cosine'; valid schedules: exponential, linear"),
    "zero rounds": ({"rounds": 0}, "rounds must be a whole number >= 1 or None; got 0"),
}


@pytest.mark.parametrize("fields, message", BAD.values(), ids=BAD.keys())
def test_a_bad_value_is_refused_when_the_config_is_built(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig(**fields)
    assert issubclass(ConfigError, ValueError)


def test_the_largest_compression_that_keeps_one_weight_is_accepted() -> None:
    total, smallest = prunable_counts("default", "fc", "mnist")
    assert (total, smallest) == (119_400, 1_000)
    assert ExperimentConfig(compression=5.37).density * total >= 0.5
    assert ExperimentConfig(model_class="lottery", model="vgg16", dataset="cifar10", compression=6.8).compression == 6.8
    with pytest.raises(ConfigError, match="14,715,584 prunable weights"):
        ExperimentConfig(model_class="lottery", model="vgg16", dataset="cifar10", compression=7.5)


@pytest.fixture
def data_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every data-loading function records its call (and refuses to work)."""
    calls: list[str] = []

    def recorder(name: str):
        def record(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called: data was read before the checks")

        return record

    for module in (data, experiment, loader):
        for name in ("load_dataset", "cifar_fallback", "prune_loader"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, recorder(name))
    return calls


@pytest.mark.parametrize("line", [
    "--pruner snipp", "--model vgg16", "--compression 6", "--device tpu", "--compression inf", "--compression nan",
    "--device cuda:7", "--seed 99999999999999999999", "--lr-drop-rate -1",
])
def test_the_cli_refuses_before_any_data_is_read(
    line: str, data_calls: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main([*shlex.split(line), "--result-dir", str(tmp_path), "--quiet"])
    assert stop.value.code == 2 and "prunekit: error:" in capsys.readouterr().err
    assert data_calls == []
    assert not any(tmp_path.iterdir()), "nothing was written either"


@pytest.mark.parametrize("fields", [fields for fields, _ in BAD.values()], ids=BAD.keys())
def test_a_run_refuses_before_any_data_is_read(fields: dict, data_calls: list[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        experiment.run_singleshot(ExperimentConfig(result_dir=str(tmp_path)).replace(**fields), progress=False)
    assert data_calls == []


def test_an_absent_device_is_refused_by_validate_before_any_data_is_read(data_calls: list[str]) -> None:
    config = ExperimentConfig(device="cuda:7")  # a sweep may build it for a cluster
    with pytest.raises(ConfigError, match="not available"):
        config.validate()
    assert data_calls == []


def test_legacy_names_load_and_map_to_one_name_per_idea(tmp_path: Path) -> None:
    old = {"prune_iterations": 3, "mask_scope": "local", "compression_schedule": "linear", "pruner": "synflow"}
    config = ExperimentConfig.from_dict(old)
    assert (config.rounds, config.scope, config.schedule) == (3, "local", "linear")
    assert set(LEGACY_NAMES).isdisjoint(config.to_dict())
    assert ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="mask_scope given twice"):
        ExperimentConfig.from_dict({"mask_scope": "local", "scope": "global"})


def test_paths_are_stored_as_text(tmp_path: Path) -> None:
    config = ExperimentConfig(result_dir=tmp_path, data_dir=tmp_path / "d")
    assert config.result_dir == str(tmp_path) and config.data_dir == str(tmp_path / "d")
