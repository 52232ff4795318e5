"""The command line takes the report's commands verbatim, has plain switches, and never overwrites silently."""

from __future__ import annotations

import dataclasses
import errno
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from prunekit import cli
from prunekit.run import experiment
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
    assert config.lr_drops == (30, 60) and config.rounds == 7 and config.scope == "local"
    assert config.schedule == "linear"
    switches = ("reinitialize", "shuffle", "invert", "prune_bias", "prune_batchnorm", "prune_train_mode")
    assert all(getattr(config, name) for name in (*switches, "dense_classifier", "verbose"))
    assert (config.optimizer, config.weight_decay, config.seed, config.data_dir) == ("momentum", 5e-4, 3, "D")


@pytest.mark.parametrize("switch", ["--shuffle", "--invert", "--reinitialize", "--prune-bias"])
def test_switches_take_no_value(switch: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The report's code parsed its booleans with ``bool()``, so ``--shuffle False`` meant True; here a value is an error."""
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
    missing = [f.name for f in dataclasses.fields(ExperimentConfig) if f.name not in flags]
    assert missing == []


def test_one_name_per_idea_with_the_reports_flags_as_aliases() -> None:
    new = _config("--rounds 4 --scope local --schedule linear")
    old = _config("--prune-epochs 4 --mask-scope local --compression-schedule linear")
    assert new == old and (new.rounds, new.scope, new.schedule) == (4, "local", "linear")


def test_help_comes_from_the_config_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "--rounds ROUNDS, --prune-epochs ROUNDS" in out and "--scope {global,local}, --mask-scope" in out
    assert "pruning images per class (default: 10)" in out


def test_a_registered_pruner_is_a_choice_of_the_cli() -> None:
    from prunekit.core.scorers import Scorer, register, unregister

    register(Scorer("ones", lambda model, params, data, loss_fn: [p.param.detach().abs() for p in params]))
    try:
        assert _config("--pruner ones --compression 1").pruner == "ones"
    finally:
        unregister("ones")
    with pytest.raises(SystemExit):
        _config("--pruner ones")


@pytest.mark.parametrize(("line", "message"), [
    ("--compression inf", "compression must be a finite number >= 0"),
    ("--compression nan", "compression must be a finite number >= 0"),
    ("--compression 6", "keeps less than one of the 119,400 prunable weights"),
    ("--model vgg16", "unknown model 'vgg16' of model class 'default'; valid models: conv, fc"),
    ("--device tpu", "unknown device 'tpu'"),
    ("--lr-drop-rate -0.1", "lr_drop_rate must be a finite number > 0"),
    ("--seed 18446744073709551616", "seed must be a whole number in [-2**63, 2**63 - 1]"),
    ("--train-batch-size 0", "train_batch_size must be a whole number >= 1"),
])
def test_bad_values_exit_2_with_a_message(line: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(shlex.split(line))
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_run_prints_the_summary_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = (
        f"{SEED_SNIP.replace('--post-epochs 30', '--post-epochs 1')} --train-limit 512 --test-limit 256 "
        f"--timing-repeats 1 --result-dir {tmp_path} --data-dir {tmp_path} --quiet --device cpu --verbose"
    )
    assert cli.main(shlex.split(line)) == 0
    out = capsys.readouterr().out
    assert "post-training history" in out
    assert "parameters: 11,940 of 119,400 prunable weights kept (density 0.1000" in out
    assert "FLOPs:" in out and "FLOP ratio" in out and "test time:" in out and "layer collapse: none" in out
    assert (tmp_path / "singleshot" / "11" / "result.json").is_file()
    assert cli.main(shlex.split(line)) == 2, "refused before any work: bad input"
    err = capsys.readouterr().err
    assert "already holds a finished run; pass --overwrite" in err and len(err.strip().splitlines()) == 1
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


# --------------------------------------------------------------------------- the contract: one line, exit 1 / 2 / 130

TINY = "--pruner rand --compression 1 --post-epochs 1 --train-limit 200 --test-limit 100 --device cpu --quiet"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_result_dir_that_is_a_file_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    capsys.readouterr()
    code = cli.main([*shlex.split(TINY), "--expid", "f", "--result-dir", str(afile), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    line = [line for line in err.splitlines() if str(afile) in line]
    assert code == 1 and "Traceback" not in err
    assert len(line) == 1 and "a file is in the way" in line[0] and "--result-dir" in line[0]
    assert afile.read_text() == "not a folder"


def test_an_unknown_flag_and_a_bad_value_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--no-such-flag"])
    assert stop.value.code == 2
    assert _one_line(capsys.readouterr().err) == (
        "prunekit: error: unrecognized arguments: --no-such-flag (see prunekit -h)")
    with pytest.raises(SystemExit) as stop:
        cli.main(["--post-epochs", "abc"])
    assert stop.value.code == 2 and "invalid int value: 'abc'" in _one_line(capsys.readouterr().err)
    with pytest.raises(SystemExit) as stop:
        cli.main(["--lr-drop-rate", "-0.1"])
    assert stop.value.code == 2 and "lr_drop_rate must be a finite number > 0" in _one_line(capsys.readouterr().err)
    with pytest.raises(SystemExit) as stop:
        cli.main(["sweep", "--pruners", "rand", "--compressions", "1", "--no-such-flag"])
    assert stop.value.code == 2 and "prunekit sweep: error: unrecognized arguments: --no-such-flag" in _one_line(
        capsys.readouterr().err)


@pytest.mark.parametrize(("error", "code", "message"), [
    (OSError(errno.ENOSPC, "No space left on device", "R/singleshot/x/result.json"), 1,
     "R/singleshot/x/result.json: no space left on the device: free some space"),
    (OSError(errno.EROFS, "Read-only file system", "R/singleshot/x"), 1,
     "R/singleshot/x: a read-only file system: choose a writable --result-dir"),
    (OSError(errno.EACCES, "Permission denied", "R"), 1, "R: permission denied: choose a folder you can write to"),
    (experiment.RunExistsError("R/singleshot/x already holds a finished run"), 2, "already holds a finished run"),
    (KeyError("top1"), 1, "unexpected error KeyError: 'top1' (run again with --debug"),
    (KeyboardInterrupt(), 130, "interrupted; run the same command again to resume"),
])
def test_each_failure_kind_maps_to_one_line_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: BaseException, code: int, message: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(experiment, "run_singleshot", fail)  # the failure as the run would raise it
    assert cli.main([*shlex.split(TINY), "--result-dir", "R"]) == code
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("prunekit: ") and message in line


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--plugin", "no_such_plugin_module", "--pruner", "rand"]) == 2
    assert "cannot import plugin module" in _one_line(capsys.readouterr().err)
    assert cli.main(["--debug", "--plugin", "no_such_plugin_module", "--pruner", "rand"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.strip().splitlines()[-1].startswith("prunekit: ")
    done = subprocess.run([sys.executable, "-m", "prunekit", "sweep", "--pruners", "rand", "--compressions", "1",
                           "--override", "rand:post_epochs=abc", "--debug"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "prunekit sweep: --override 'rand:post_epochs=abc': post_epochs takes a whole number (int); got 'abc'")


def test_ctrl_c_during_training_is_one_line_and_exit_130(tmp_path: Path) -> None:
    folder = tmp_path / "singleshot" / "int"
    process = subprocess.Popen(
        [sys.executable, "-m", "prunekit", *shlex.split(TINY.replace("--post-epochs 1", "--post-epochs 200")
                                                           .replace("--train-limit 200", "--train-limit 2000")),
         "--expid", "int", "--result-dir", str(tmp_path), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a terminal's Ctrl-C: pytest-xdist workers ignore SIGINT, and a child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not (folder / "checkpoint-post.pt").is_file():  # post-training has written its first epoch
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "prunekit: interrupted; run the same command again to resume"
    assert (folder / "checkpoint-post.pt").is_file(), "the checkpoint stays for the resume"
    assert not (folder / "result.json").exists()
