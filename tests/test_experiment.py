"""The single-shot experiment: what result.json holds, repeatability, no silent overwrite, resume after a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
import torch

from prunekit.run import experiment, run_folder, training
from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataWarning
from prunekit.run.datasets import DataOrigin
from prunekit.run.result import RunResult

FC_WEIGHTS = 119_400


def _config(tmp_path: Path, **changes) -> ExperimentConfig:
    """FC on the shipped MNIST sample, small enough to train in about a second."""
    (tmp_path / "no-data-here").mkdir(exist_ok=True)  # a data folder without MNIST: the shipped sample is read
    base = ExperimentConfig(
        pruner="snip",
        compression=1.0,
        post_epochs=1,
        train_limit=1024,
        test_limit=512,
        timing_repeats=2,
        result_dir=str(tmp_path / "results"),
        data_dir=str(tmp_path / "no-data-here"),
        device="cpu",
        expid="run",
    )
    return base.replace(**changes)


def _run(config: ExperimentConfig, **options) -> RunResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return experiment.run_singleshot(config, progress=False, **options)


def test_the_result_is_saved_with_consistent_counts(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = _run(config)
    folder = experiment.run_dir(config)
    assert experiment.load_result(folder) == result
    saved = json.loads((folder / "result.json").read_text())
    assert saved["schema"] == experiment.SCHEMA and saved["status"] == "complete"
    assert saved["config"] == config.to_dict() and result.config == config
    assert (result.params.total, result.params.kept) == (FC_WEIGHTS, 11_940)
    assert result.params.density == pytest.approx(0.1)
    layer_flops = sum(row.flops_remaining for row in result.layers)
    assert result.flops.remaining == layer_flops < result.flops.total
    assert result.flops.ratio == pytest.approx(layer_flops / result.flops.total)
    assert result.top1 == result.post_history[-1].top1 == saved["post_history"][-1]["top1"]
    assert [row.epoch for row in result.post_history] == [0, 1]
    assert result.origin is DataOrigin.SAMPLE and result.data.train_examples == 1024
    assert result.timing.repeats == 2 and result.test_time_s == result.timing.median_s > 0
    assert result.prune.rounds == 1 and result.collapsed_layers == ()
    assert sorted(path.name for path in folder.iterdir()) == ["model.pt", "result.json"]


def test_the_saved_model_loads_with_weights_only_and_keeps_its_masks(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _run(config)
    state = torch.load(experiment.run_dir(config) / "model.pt", weights_only=True)
    assert int(sum(state[key].sum() for key in state if key.endswith("weight_mask"))) == 11_940
    model = experiment.load_model(experiment.run_dir(config))
    assert not model.training
    assert all(torch.equal(model.state_dict()[key], value) for key, value in state.items())


def test_same_seed_same_masks_and_accuracies(tmp_path: Path) -> None:
    first = _run(_config(tmp_path, expid="a"))
    second = _run(_config(tmp_path, expid="b"))
    assert first.top1 == second.top1
    masks = [torch.load(Path(tmp_path / "results/singleshot" / name / "model.pt"), weights_only=True) for name in "ab"]
    assert all(torch.equal(masks[0][key], masks[1][key]) for key in masks[0] if key.endswith("_mask"))
    other = _run(_config(tmp_path, expid="c", seed=2))
    assert other.layers != first.layers or other.top1 != first.top1


def test_a_finished_run_is_never_overwritten_silently(tmp_path: Path) -> None:
    config = _config(tmp_path, post_epochs=0)
    _run(config)
    with pytest.raises(experiment.RunExistsError, match="already holds a finished run.*--overwrite"):
        _run(config)
    assert _run(config, overwrite=True).status == "complete"


def test_run_or_load_reuses_a_finished_identical_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, expid="", post_epochs=0)
    first = _run(config)
    assert experiment.run_dir(config).name == experiment.expid_of(config)
    assert experiment.expid_of(config).startswith("snip-c1-")

    def fail(*args, **kwargs):
        raise AssertionError("run_or_load ran a finished run again")

    monkeypatch.setattr(experiment, "run_singleshot", fail)
    assert experiment.run_or_load(config) == first
    with pytest.raises(experiment.RunExistsError, match="seed"):
        experiment.run_or_load(config.replace(expid=experiment.expid_of(config), seed=3))


def test_a_crash_during_post_training_resumes_from_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uninterrupted = _run(_config(tmp_path, expid="whole", post_epochs=3))
    config = _config(tmp_path, expid="crashed", post_epochs=3)
    real_epoch, calls = training.train_epoch, []

    def crash_on_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(training, "train_epoch", crash_on_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        _run(config)
    folder = experiment.run_dir(config)
    assert not (folder / "result.json").exists()
    assert {"pruned.pt", "checkpoint-post.pt", "config.json"} <= {path.name for path in folder.iterdir()}
    monkeypatch.setattr(training, "train_epoch", real_epoch)
    resumed = experiment.run_singleshot(config, progress=True)
    assert "resuming post training from epoch 1/3" in capsys.readouterr().out
    assert [row.top1 for row in resumed.post_history] == [row.top1 for row in uninterrupted.post_history]
    assert resumed.layers == uninterrupted.layers
    assert sorted(path.name for path in folder.iterdir()) == ["model.pt", "result.json"]


def test_an_unfinished_run_of_another_configuration_is_not_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, post_epochs=2)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_epoch", crash)
    with pytest.raises(KeyboardInterrupt):
        _run(config)
    with pytest.raises(experiment.RunExistsError, match="another configuration.*pruner"):
        _run(config.replace(pruner="mag"))


def test_synflow_with_one_iteration_collapses_and_the_summary_says_so(tmp_path: Path) -> None:
    deep = _config(tmp_path, pruner="synflow", compression=2.0, rounds=1, post_epochs=0, expid="one")
    result = _run(deep)
    assert result.collapsed_layers, "one-shot SynFlow at density 0.01 should empty a layer of the FC net"
    lines = experiment.summary_lines(result)
    assert any(line.startswith("LAYER COLLAPSE: " + result.collapsed_layers[0]) for line in lines)
    assert lines[0].startswith("SHIPPED MNIST SAMPLE")
    iterated = _run(deep.replace(rounds=None, expid="hundred"))
    assert iterated.prune.rounds == 100 and iterated.collapsed_layers == ()


def test_load_result_rejects_another_schema(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "result.json").write_text(json.dumps({"schema": "synflow-pickle"}))
    with pytest.raises(ValueError, match="synflow-pickle.*prunekit-result/2"):
        experiment.load_result(folder)
    with pytest.raises(FileNotFoundError, match="no finished run"):
        experiment.load_result(tmp_path / "missing")


def test_missing_cifar_names_the_folder_unless_a_labelled_fallback_is_allowed(tmp_path: Path) -> None:
    config = _config(tmp_path, dataset="cifar10", model_class="default", model="fc", post_epochs=0, pruner="mag")
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        _run(config)
    result = _run(config, allow_fallback=True)
    assert result.origin is DataOrigin.FALLBACK and result.data.dataset == "cifar10"
    assert experiment.summary_lines(result)[0].startswith("FALLBACK DATA")
    assert experiment.load_model(experiment.run_dir(config)).layers[0].in_features == 3 * 32 * 32


def test_a_saved_sample_run_is_made_again_once_full_mnist_is_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, data_dir=str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        first = experiment.run_or_load(config)
        assert first.origin is DataOrigin.SAMPLE
        assert experiment.run_or_load(config) == first  # same data: loaded, not run again
        raw = tmp_path / "data" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for shipped in (Path(__file__).resolve().parents[1] / "data" / "MNIST" / "raw").glob("*.gz"):
            (raw / shipped.name).symlink_to(shipped)
        again = experiment.run_or_load(config)
        assert again.origin is DataOrigin.FULL and experiment.load_result(experiment.run_dir(config)) == again
        assert "was run on sample data; full data is here now" in capsys.readouterr().err
        for link in raw.iterdir():
            link.unlink()  # the full data gone again: the full run is kept, never replaced by a sample run
        assert experiment.run_or_load(config) == again


def test_run_many_copies_a_run_finished_in_another_result_folder_instead_of_training_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    single = _config(tmp_path, expid="")  # the derived folder name, as notebooks use
    first = _run(single)
    sweep = single.replace(result_dir=str(tmp_path / "sweep"))
    other = sweep.replace(compression=0.5)

    trained: list[float] = []
    real = experiment.run_or_load

    def counting(config: ExperimentConfig, **options) -> RunResult:
        trained.append(config.compression)
        return real(config, **options)

    monkeypatch.setattr(experiment, "run_or_load", counting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        copied, computed = experiment.run_many([sweep, other], progress=False, reuse_from=single.result_dir)
    assert trained == [0.5]  # only the run without a twin trained
    folder = experiment.run_dir(sweep)
    assert folder.parent.parent == tmp_path / "sweep"
    assert (folder / "model.pt").read_bytes() == (experiment.run_dir(single) / "model.pt").read_bytes()
    assert copied.config == sweep and experiment.load_result(folder) == copied
    assert copied.top1 == first.top1 and copied.post_history == first.post_history and copied.layers == first.layers
    assert computed.config == other
    assert experiment.run_many([sweep], progress=False, reuse_from=single.result_dir) == [copied]  # loaded now
    assert trained == [0.5, 1.0]


def test_run_many_leaves_a_run_another_process_is_making_until_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    single = _config(tmp_path, expid="")
    under_way = experiment.run_dir(single)
    under_way.mkdir(parents=True)
    (under_way / "config.json").write_text("{}")  # started elsewhere, not finished
    sweep = [single.replace(result_dir=str(tmp_path / "sweep"), compression=a) for a in (1.0, 0.5, 2.0)]
    order: list[float] = []
    monkeypatch.setattr(experiment, "run_or_load", lambda config, **options: order.append(config.compression) or config)
    assert experiment.run_many(sweep, progress=False, reuse_from=single.result_dir) == sweep  # results in the given order
    assert order == [0.5, 2.0, 1.0]
    order.clear()
    assert experiment.run_many(sweep, progress=False) == sweep
    assert order == [1.0, 0.5, 2.0]  # without reuse_from: the given order


def test_a_twin_that_spelled_out_the_default_rounds_is_the_same_run_but_one_round_is_not(tmp_path: Path) -> None:
    default = _config(tmp_path, pruner="synflow", expid="", rounds=None, post_epochs=0, train_limit=64)
    spelled = _run(default.replace(rounds=100))  # e.g. notebook 05 with ROUNDS = 100
    one = _run(default.replace(rounds=1))
    sweep = default.replace(result_dir=str(tmp_path / "sweep"))
    twin, folder = run_folder.finished_twin(sweep, default.result_dir)
    assert twin == spelled and folder == experiment.run_dir(default.replace(rounds=100))
    assert run_folder.finished_twin(sweep.replace(rounds=1), default.result_dir)[0] == one
    with pytest.raises(ValueError, match="rounds"):
        run_folder.adopt(one, experiment.run_dir(default.replace(rounds=1)), sweep)
    assert run_folder.finished_twin(sweep.replace(rounds=10), default.result_dir) is None


def test_run_or_load_waits_while_another_process_holds_the_run_then_loads_it(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    finished = _run(config)
    folder = experiment.run_dir(config)
    script = ("import sys; from pathlib import Path; from prunekit.run.run_folder import run_lock\n"
              f"with run_lock(Path({str(folder)!r})):\n    print('held', flush=True); sys.stdin.readline()\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        loaded: list[RunResult] = []
        waiter = threading.Thread(target=lambda: loaded.append(experiment.run_or_load(config)))
        waiter.start()
        waiter.join(timeout=2.0)
        assert waiter.is_alive() and not loaded  # loading a finished run takes milliseconds: it is waiting
        holder.stdin.write("\n")
        holder.stdin.flush()
        waiter.join(timeout=60)
        assert loaded == [finished]
    finally:
        holder.kill()
        holder.wait()
    assert f"another process is making the run in {folder}; waiting for it" in capfd.readouterr().err
