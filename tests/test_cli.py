"""The command line takes the seed's commands verbatim, has plain switches, and never overwrites silently."""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from prunekit import cli
from prunekit.run.config import ExperimentConfig
from prunekit.run.device import select_device

SEED_SNIP = (
    "--model-class default --model fc --dataset mnist --experiment singleshot --pruner snip --compression 1 "
    "--expid 11 --post-epochs 30"
)


def _config(line: str) -> ExperimentConfig:
    return cli.config_from_args(cli.build_parser().parse_args(shlex.split(line)))


def test_a_seed_command_parses_to_its_meaning() -> None:
    config = _config(SEED_SNIP)
    assert (config.model_class, config.model, config.dataset, config.pruner) == ("default", "fc", "mnist", "snip")
    assert (config.compression, config.expid, config.post_epochs, config.density) == (1.0, "11", 30, 0.1)


def test_defaults_change_nothing() -> None:
    assert _config("") == ExperimentConfig()


def test_every_synaptic_flow_flag_is_accepted() -> None:
    line = (
        "--optimizer momentum --lr 0.1 --lr-drops 30 60 --lr-drop-rate 0.2 --weight-decay 5e-4 "
        "--train-batch-size 128 --test-batch-size 512 --prune-batch-size 64 --prune-dataset-ratio 20 "
        "--prune-epochs 7 --compression-schedule linear --mask-scope local --seed 3 --result-dir R "
        "--reinitialize --shuffle --invert --prune-bias --prune-batchnorm --prune-train-mode --dense-classifier "
        "--pre-epochs 2 --verbose --data-dir D --device cpu"
    )
    config = _config(line)
    assert config.lr_drops == (30, 60) and config.prune_iterations == 7 and config.mask_scope == "local"
    switches = ("reinitialize", "shuffle", "invert", "prune_bias", "prune_batchnorm", "prune_train_mode")
    assert all(getattr(config, name) for name in (*switches, "dense_classifier", "verbose"))
    assert (config.optimizer, config.weight_decay, config.seed, config.data_dir) == ("momentum", 5e-4, 3, "D")


@pytest.mark.parametrize("switch", ["--shuffle", "--invert", "--reinitialize", "--prune-bias"])
def test_switches_take_no_value(switch: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed parsed its booleans with ``bool()``, so ``--shuffle False`` meant True; here a value is an error."""
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args([switch, "False"])
    assert stop.value.code == 2
    assert "unrecognized arguments: False" in capsys.readouterr().err


def test_a_bad_value_names_the_valid_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--pruner", "snipp"])
    assert "invalid choice: 'snipp'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--compression", "-1"])
    assert "compression exponent must be >= 0" in capsys.readouterr().err


def test_device_flags_of_the_seed_map_to_one_device() -> None:
    assert _config("--no-cuda").device == "cpu"
    assert _config("--gpu 1").device == "cuda:1"
    with pytest.raises(ValueError, match="only one of --device, --gpu and --no-cuda"):
        _config("--gpu 0 --device cpu")


def test_select_device_rejects_unknown_and_absent_devices() -> None:
    assert select_device("CPU") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'.*auto, cpu, cuda, mps"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available.*0 CUDA device"):
            select_device("cuda:0")


def test_every_config_field_has_a_flag() -> None:
    flags = {action.dest for action in cli.build_parser()._actions}
    renamed = {"prune_iterations": "prune_epochs"}
    missing = [f.name for f in dataclasses.fields(ExperimentConfig) if renamed.get(f.name, f.name) not in flags]
    assert missing == []


def test_a_run_prints_the_summary_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = (
        f"{SEED_SNIP.replace('--post-epochs 30', '--post-epochs 1')} --train-limit 512 --test-limit 256 "
        f"--timing-repeats 1 --result-dir {tmp_path} --data-dir {tmp_path / 'none'} --quiet --device cpu --verbose"
    )
    assert cli.main(shlex.split(line)) == 0
    out = capsys.readouterr().out
    assert "post-training history" in out
    assert "parameters: 11,940 of 119,400 prunable weights kept (density 0.1000" in out
    assert "FLOPs:" in out and "FLOP ratio" in out and "test time:" in out and "layer collapse: none" in out
    assert (tmp_path / "singleshot" / "11" / "result.json").is_file()
    assert cli.main(shlex.split(line)) == 1
    assert "already holds a finished run; pass --overwrite" in capsys.readouterr().err
    assert cli.main([*shlex.split(line), "--overwrite"]) == 0


def test_python_dash_m_prunekit_is_the_same_program() -> None:
    done = subprocess.run([sys.executable, "-m", "prunekit", "--help"], capture_output=True, text=True, check=True)
    assert "--prune-epochs" in done.stdout and "sweep" in done.stdout


def test_subcommands_dispatch_to_their_module(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    class Fake:
        @staticmethod
        def main(argv: list[str]) -> int:
            seen["argv"] = argv
            return 3

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: seen.setdefault("module", name) and Fake)
    assert cli.main(["report", "results/x", "--out", "o"]) == 3
    assert seen == {"module": "prunekit.report", "argv": ["results/x", "--out", "o"]}
