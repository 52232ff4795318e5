"""Nothing lost, nothing written where it should not be (issue 10): each fault the probing found, replayed on tiny real runs.

Every test here failed on the code before its fix: an expid that leaves the result folder, an
overwrite that deleted the finished run first, a diverged run, a corrupt checkpoint, a failure
before training that blocked the retry, a crafted CIFAR pickle, damaged data and result files,
a named data folder that does not exist, and a training time that forgot the epochs before a crash.
"""

from __future__ import annotations

import gzip
import json
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from prunekit import cli, report
from prunekit.report import render
from prunekit.report.collect import SkippedResultWarning
from prunekit.run import experiment, training
from prunekit.run.checkpoints import CorruptCheckpointWarning
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataDirNotFoundError, DatasetNotFoundError, DataWarning, load_dataset
from prunekit.run.datasets import DataFileError
from prunekit.run.io import UnsafePathError, UnsafePickleError
from prunekit.run.result import RESULT_FILE, RunResult

UNFINISHED = {"config.json", "checkpoint-pre.pt", "pruned.pt", "checkpoint-post.pt"}


def _config(tmp_path: Path, **changes) -> ExperimentConfig:
    """A tiny real run on the shipped MNIST sample (a data folder without MNIST)."""
    (tmp_path / "no-mnist").mkdir(exist_ok=True)
    base = ExperimentConfig(
        pruner="snip", compression=1.0, post_epochs=1, train_limit=300, test_limit=200, timing_repeats=1,
        device="cpu", result_dir=str(tmp_path / "results"), data_dir=str(tmp_path / "no-mnist"), expid="run",
    )
    return base.replace(**changes)


def _run(config: ExperimentConfig, **options) -> RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return experiment.run_singleshot(config, progress=False, **options)


def _same(a: RunResult, b: RunResult) -> bool:
    """Equal results, NaN included (a diverged run's losses are NaN, and NaN != NaN)."""
    return json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _crash_at_epoch(monkeypatch: pytest.MonkeyPatch, epoch: int, before=None) -> None:
    """Makes the ``epoch``-th call of train_epoch raise KeyboardInterrupt (``before(call)`` runs first)."""
    real, calls = training.train_epoch, []

    def train_epoch(*args, **kwargs):
        calls.append(1)
        if before is not None:
            before(len(calls))
        if len(calls) == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", train_epoch)


# --------------------------------------------------------------------------- item 1: --expid stays inside --result-dir


@pytest.mark.parametrize("how", ["dotdot", "absolute", "link"])
def test_an_expid_that_leaves_the_result_dir_is_refused_and_deletes_nothing(tmp_path: Path, how: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "result.json").write_text("the instructor's result")
    (victim / "model.pt").write_bytes(b"the instructor's model")
    config = _config(tmp_path)
    expid = {"dotdot": "../../victim", "absolute": str(victim), "link": "link"}[how]
    if how == "link":
        (tmp_path / "results" / "singleshot").mkdir(parents=True)
        (tmp_path / "results" / "singleshot" / "link").symlink_to(victim)
    config = config.replace(expid=expid)
    with pytest.raises(UnsafePathError, match="--expid") as caught:
        _run(config, overwrite=True)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)
    with pytest.raises(UnsafePathError):
        experiment.run_or_load(config)
    assert _files(victim) == {"model.pt": b"the instructor's model", "result.json": b"the instructor's result"}


# --------------------------------------------------------------------------- item 2: overwrite replaces only a finished new run


def test_overwrite_keeps_the_finished_run_until_the_new_one_has_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    _run(config)
    folder = experiment.run_dir(config)
    before = _files(folder)
    assert sorted(before) == ["model.pt", "result.json"]

    def broken_training(*args, **kwargs):
        raise RuntimeError("injected failure during training")

    monkeypatch.setattr(training, "train_epoch", broken_training)
    with pytest.raises(RuntimeError, match="injected"):
        _run(config.replace(seed=2), overwrite=True)
    assert {name: data for name, data in _files(folder).items() if name in before} == before
    monkeypatch.undo()

    def unbuildable(*args, **kwargs):
        raise ValueError("injected: this model cannot be built")

    monkeypatch.setattr(experiment, "create_model", unbuildable)
    with pytest.raises(ValueError, match="cannot be built"):
        _run(config.replace(seed=2), overwrite=True)
    assert _files(folder) == before
    monkeypatch.undo()

    replaced = _run(config.replace(seed=2), overwrite=True)
    assert replaced.config.seed == 2 and experiment.load_result(folder) == replaced
    assert sorted(_files(folder)) == ["model.pt", "result.json"] and _files(folder) != before


# --------------------------------------------------------------------------- item 6: a diverged run is recorded as such


@pytest.fixture(scope="module")
def diverged(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentConfig, RunResult]:
    """SGD at learning rate 10^6: the loss is NaN after the first epoch."""
    config = _config(tmp_path_factory.mktemp("diverged"), optimizer="sgd", lr=1e6, post_epochs=3, expid="sgd-1e6")
    return config, _run(config)


def test_a_diverging_run_stops_and_is_saved_with_status_diverged(diverged) -> None:
    config, result = diverged
    folder = experiment.run_dir(config)
    assert result.status == "diverged" and result.diverged
    assert (result.divergence.phase, result.divergence.epoch) == ("post", 1)
    assert "not finite" in result.divergence.reason or "nan" in result.divergence.reason
    assert [row.epoch for row in result.post_history] == [0, 1]  # stopped: epochs 2 and 3 were not trained
    assert result.top1 == result.post_history[-1].top1  # the accuracy as measured
    assert not result.histograms  # non-finite weights have no histogram
    assert sorted(path.name for path in folder.iterdir()) == ["model.pt", "result.json"]
    assert _same(experiment.load_result(folder), result)
    assert experiment.summary_lines(result)[1].startswith("run sgd-1e6 DIVERGED: training diverged in post-training")


def test_restarting_a_diverged_run_loads_it(diverged, monkeypatch: pytest.MonkeyPatch) -> None:
    config, result = diverged

    def fail(*args, **kwargs):
        raise AssertionError("a diverged run was computed again")

    monkeypatch.setattr(experiment, "run_singleshot", fail)
    assert _same(experiment.run_or_load(config), result)
    assert _same(experiment.run_many([config], progress=False)[0], result)


def test_the_cli_says_in_one_line_that_a_run_diverged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "no-mnist").mkdir()
    code = cli.main(["--optimizer", "sgd", "--lr", "1e6", "--post-epochs", "2", "--train-limit", "300",
                     "--test-limit", "200", "--timing-repeats", "1", "--device", "cpu", "--data-dir",
                     str(tmp_path / "no-mnist"), "--result-dir", str(tmp_path / "R"), "--expid", "d", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "DIVERGED" in line]
    assert len(lines) == 1 and "post-training epoch 1" in lines[0], err
    assert "Traceback" not in err
    assert RunResult.load(tmp_path / "R" / "singleshot" / "d").diverged


def test_the_report_shows_a_diverged_run_as_diverged(diverged, sample_run, tmp_path: Path) -> None:
    import shutil  # noqa: PLC0415

    shutil.copytree(experiment.run_dir(diverged[0]), tmp_path / "runs" / "diverged")
    shutil.copytree(sample_run.folder, tmp_path / "runs" / "fine")
    frame = report.collect(tmp_path / "runs")
    rows = frame.set_index("expid")
    row, fine = rows.loc["sgd-1e6"], rows.loc[sample_run.result.expid]
    assert row.status == "diverged" and row.label == "snip (optimizer sgd, post 3, lr 1000000.0, diverged)" and np.isnan(row.top1)
    assert fine.status == "complete" and "diverged" not in fine.label
    accuracy = report.table_accuracy(frame)
    assert accuracy[row.label].isna().all() and accuracy[fine.label].notna().all()
    markdown = render.to_markdown(accuracy)
    assert row.label in markdown.splitlines()[0]
    assert render.main([str(tmp_path / "runs"), "--out", str(tmp_path / "out")]) == 0
    assert row.label in (tmp_path / "out" / "report.md").read_text()


# --------------------------------------------------------------------------- item 7: a corrupt checkpoint


@pytest.mark.parametrize("name", ["checkpoint-post.pt", "pruned.pt"])
def test_a_truncated_checkpoint_is_named_and_the_run_goes_on_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    whole = _run(_config(tmp_path, post_epochs=2, expid="whole"))
    config = _config(tmp_path, post_epochs=2)
    _crash_at_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        _run(config)
    monkeypatch.undo()
    damaged = experiment.run_dir(config) / name
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.warns(CorruptCheckpointWarning, match=f"{name} is corrupt.*removed it"):
        resumed = _run(config)
    assert [row.top1 for row in resumed.post_history] == [row.top1 for row in whole.post_history]
    assert resumed.layers == whole.layers
    assert sorted(path.name for path in experiment.run_dir(config).iterdir()) == ["model.pt", "result.json"]


def test_overwrite_removes_a_corrupt_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, post_epochs=2)
    _crash_at_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        _run(config)
    monkeypatch.undo()
    damaged = experiment.run_dir(config) / "pruned.pt"
    damaged.write_bytes(b"PK\x03\x04 truncated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _run(config, overwrite=True)
    assert not [w for w in caught if issubclass(w.category, CorruptCheckpointWarning)]
    assert result.status == "complete" and [row.epoch for row in result.post_history] == [0, 1, 2]


# --------------------------------------------------------------------------- item 8: a failure before training blocks nothing


def _write_mnist(root: Path, labels_test: np.ndarray | None = None, truncate: str | None = None) -> Path:
    """TEST-ONLY: a tiny MNIST in torchvision's layout (gzip), optionally damaged."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(20) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(10) % 10 if labels_test is None else labels_test,
    }
    for name, array in arrays.items():
        header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
        packed = gzip.compress(header + array.astype(np.uint8).tobytes())
        (raw / f"{name}.gz").write_bytes(packed[: len(packed) // 2] if name == truncate else packed)
    return raw


@pytest.mark.parametrize("failure", ["missing cifar10", "damaged data file", "model fails to build"])
def test_a_run_that_failed_before_training_leaves_nothing_that_blocks_the_corrected_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    good = _config(tmp_path, post_epochs=0)
    if failure == "missing cifar10":
        bad, error = good.replace(dataset="cifar10", pruner="mag"), DatasetNotFoundError
    elif failure == "damaged data file":
        _write_mnist(tmp_path / "damaged", truncate="train-images-idx3-ubyte")
        bad, error = good.replace(data_dir=str(tmp_path / "damaged")), DataFileError
    else:
        bad, error = good.replace(model="conv"), ValueError
        real = experiment.create_model

        def create_model(model_class, name, *args, **kwargs):
            if name == "conv":
                raise ValueError("injected: conv cannot be built here")
            return real(model_class, name, *args, **kwargs)

        monkeypatch.setattr(experiment, "create_model", create_model)
    with pytest.raises(error):
        _run(bad)
    folder = experiment.run_dir(good)
    assert not (folder / "config.json").exists()
    assert _run(good).status == "complete"  # the corrected command, same expid


# --------------------------------------------------------------------------- item 9: CIFAR batches cannot run code


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_a_crafted_cifar_batch_is_refused_without_running_it(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(2, 6)] + ["test_batch"]:
        entry = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 1]}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
    marker = tmp_path / "payload-ran"
    (folder / "data_batch_1").write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(UnsafePickleError, match="data_batch_1"):
        load_dataset("cifar10", train=True, data_dir=tmp_path, download=False)
    assert not marker.exists()
    assert len(load_dataset("cifar10", train=False, data_dir=tmp_path, download=False)) == 2  # the clean file reads


# --------------------------------------------------------------------------- item 10: damaged data and result files


def test_a_truncated_gz_is_one_error_naming_the_file(tmp_path: Path) -> None:
    raw = _write_mnist(tmp_path, truncate="t10k-images-idx3-ubyte")
    with pytest.raises(DataFileError) as caught:
        load_dataset("mnist", train=False, data_dir=tmp_path, download=False)
    message = str(caught.value)
    assert str(raw / "t10k-images-idx3-ubyte.gz") in message and "truncated or corrupt" in message
    assert isinstance(caught.value, ValueError) and "\n" not in message


def test_labels_out_of_range_are_one_error_naming_the_file_and_the_value(tmp_path: Path) -> None:
    raw = _write_mnist(tmp_path, labels_test=np.array([0, 1, 2, 200, 4, 5, 6, 7, 8, 9]))
    with pytest.raises(DataFileError) as caught:
        load_dataset("mnist", train=False, data_dir=tmp_path, download=False)
    message = str(caught.value)
    assert str(raw / "t10k-labels-idx1-ubyte.gz") in message and "label 200" in message and "0..9" in message
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    entry = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [3, 10]}
    (folder / "test_batch").write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(DataFileError, match=r"test_batch: label 10 \(at index 1\) is out of range"):
        load_dataset("cifar10", train=False, data_dir=tmp_path, download=False)


def test_the_report_skips_a_bad_result_file_with_a_warning_naming_it(
    sample_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil  # noqa: PLC0415

    runs = tmp_path / "runs"
    shutil.copytree(sample_run.folder, runs / "good")
    damaged = json.loads((sample_run.folder / RESULT_FILE).read_text())
    del damaged["layers"]
    bad = {"list": "[]", "missing-keys": json.dumps(damaged), "schema": json.dumps({"schema": "other/9"}),
           "not-json": "{"}
    for name, text in bad.items():
        (runs / name).mkdir()
        (runs / name / RESULT_FILE).write_text(text)
    with pytest.warns(SkippedResultWarning) as caught:
        frame = report.collect(runs)
    assert list(frame.expid) == [sample_run.result.expid]
    messages = [str(w.message) for w in caught if issubclass(w.category, SkippedResultWarning)]
    assert sorted(m.split(RESULT_FILE)[0].rsplit("/", 2)[-2] for m in messages) == sorted(bad)
    assert render.main([str(runs), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if line.startswith("prunekit report: skipping ")]
    assert len(skipped) == len(bad) and "SkippedResultWarning" not in err and "render.py" not in err, err


# --------------------------------------------------------------------------- item 13: a named data folder must exist


def test_a_named_data_dir_that_does_not_exist_is_an_error_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, data_dir=str(tmp_path / "typo-in-the-path"))

    def no_work(*args, **kwargs):
        raise AssertionError("data was read although the data folder does not exist")

    monkeypatch.setattr(experiment, "load_splits", no_work)
    with pytest.raises(DataDirNotFoundError, match="typo-in-the-path.*does not exist"):
        _run(config)
    assert not (tmp_path / "results").exists()
    with pytest.raises(DataDirNotFoundError):
        load_dataset("mnist", train=False, data_dir=tmp_path / "typo-in-the-path", download=False)


# --------------------------------------------------------------------------- item 15: training time across an interruption


def test_train_time_counts_the_training_done_before_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first epoch, before the crash, is made to last 1000 s on a shifted clock (no real waiting)."""
    config = _config(tmp_path, post_epochs=2)
    real_clock, shift = training.time.perf_counter, [0.0]

    def long_first_epoch(call: int) -> None:
        if call == 1:
            shift[0] += 1000.0

    monkeypatch.setattr(training.time, "perf_counter", lambda: real_clock() + shift[0])
    _crash_at_epoch(monkeypatch, 2, before=long_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        _run(config)
    monkeypatch.undo()
    resumed = _run(config)
    assert resumed.post_history[1].epoch_time_s >= 1000.0
    assert resumed.train_time_s >= 1000.0
    assert resumed.train_time_s == pytest.approx(sum(row.epoch_time_s for row in resumed.post_history))
