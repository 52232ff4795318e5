"""Sweeps: grid expansion and its errors, the command line, real runs through papermill (parallel, resumed after a
kill, failing), and submitit's local executor."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prunekit import cli
from prunekit.run import executors, sweep
from prunekit.run.experiment import load_result, run_dir
from prunekit.run.machine import thread_share
from prunekit.run.presets import PRESETS, RENAMED_PRESETS, get_preset


@pytest.fixture
def small(tmp_path: Path) -> dict:
    """Run fields for seconds-long MNIST-FC runs on the shipped sample.

    ``data_dir`` is an empty folder: nothing is found there, so the runs read the
    MNIST sample shipped with the kit.
    """
    no_data = tmp_path / "no-data"
    no_data.mkdir()
    return {"post_epochs": 1, "train_limit": 2000, "test_limit": 500, "timing_repeats": 1, "device": "cpu",
            "data_dir": str(no_data)}


def _as_flags(fields: dict) -> list[str]:
    return [part for key, value in fields.items() for part in (f"--{key.replace('_', '-')}", str(value))]


# --------------------------------------------------------------------------- the grid


def test_expand_grid_names_every_run_and_applies_overrides(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["mag", "grasp"], [0.5, 2], seeds=[1, 2], result_dir=tmp_path, post_epochs=3,
                                per_pruner={"grasp": {"post_epochs": 30}})
    assert [c.expid for c in configs][:3] == ["mag-c0.5-s1", "mag-c0.5-s2", "mag-c2-s1"]
    assert len(configs) == 8 and {c.result_dir for c in configs} == {str(tmp_path)}
    assert {(c.pruner, c.compression, c.seed) for c in configs} == {
        (p, a, s) for p in ("mag", "grasp") for a in (0.5, 2.0) for s in (1, 2)
    }
    assert {c.post_epochs for c in configs if c.pruner == "mag"} == {3}
    assert {c.post_epochs for c in configs if c.pruner == "grasp"} == {30}


def test_a_preset_brings_its_per_pruner_settings(tmp_path: Path) -> None:
    preset = PRESETS["report-sweep"]
    configs = sweep.expand_grid(["mag", "grasp", "snip"], [1], preset="report-sweep", result_dir=tmp_path)
    by_pruner = {c.pruner: c for c in configs}
    assert by_pruner["mag"].pre_epochs == preset.per_pruner["mag"]["pre_epochs"] == 200, "the report pre-trained Mag"
    assert by_pruner["grasp"].post_epochs == preset.per_pruner["grasp"]["post_epochs"] == 300, "GraSP 300 in 1.2"
    assert by_pruner["snip"].post_epochs == preset.base["post_epochs"]
    assert by_pruner["snip"].model == preset.base["model"] and by_pruner["snip"].dataset == preset.base["dataset"]
    fixed = sweep.expand_grid(["grasp"], [1], preset="report-sweep", result_dir=tmp_path, post_epochs=2)
    assert fixed[0].post_epochs == 2, "a setting given for every run wins over the preset's"


@pytest.mark.parametrize(("old", "new"), [("seed-mnist", "report-mnist"), ("seed-cifar", "report-cifar"),
                                          ("seed-sweep", "report-sweep")])
def test_a_former_preset_name_names_the_new_one(old: str, new: str) -> None:
    assert RENAMED_PRESETS[old] == new and new in PRESETS and old not in PRESETS
    valid = ", ".join(PRESETS)
    with pytest.raises(ValueError, match=f"^unknown preset '{old}'; it is now called '{new}'; valid presets: {valid}$"):
        get_preset(old)
    with pytest.raises(ValueError, match="^unknown preset 'fast'; valid presets: quick, report-mnist"):
        get_preset("fast")


def test_vary_adds_grid_axes_named_in_the_expids(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["snip"], [1], result_dir=tmp_path, vary={"model": ["fc", "conv"], "lr": [0.1, 1e-3]})
    assert [c.expid for c in configs] == [
        "snip-c1-s1-model=fc-lr=0.1", "snip-c1-s1-model=fc-lr=0.001",
        "snip-c1-s1-model=conv-lr=0.1", "snip-c1-s1-model=conv-lr=0.001",
    ]
    assert [(c.model, c.lr) for c in configs] == [("fc", 0.1), ("fc", 0.001), ("conv", 0.1), ("conv", 0.001)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pruners": [], "compressions": [1]}, "an empty grid: no values for pruners"),
        ({"pruners": ["rand"], "compressions": [1], "vary": {"model": []}}, "an empty grid: no values for model"),
        ({"pruners": ["snipp"], "compressions": [1]}, "unknown pruner.*'snipp'.*valid pruners: rand, mag, snip"),
        ({"pruners": ["rand"], "compressions": [1], "preset": "fast"}, "unknown preset 'fast'.*quick"),
        ({"pruners": ["rand"], "compressions": [1], "preset": "seed-sweep"},
         "unknown preset 'seed-sweep'; it is now called 'report-sweep'; valid presets: quick"),
        ({"pruners": ["rand"], "compressions": [1], "per_pruner": {"grasp": {"lr": 1}}}, "grasp that the grid does"),
        ({"pruners": ["rand"], "compressions": [1], "seed": 3}, "sets seed itself; use --seeds"),
        ({"pruners": ["rand"], "compressions": [1], "post_epoch": 3}, "unknown config field.*post_epoch.*post_epochs"),
        ({"pruners": ["rand"], "compressions": [1], "vary": {"epochs": [1]}}, "unknown config field.*epochs in vary"),
        ({"pruners": ["rand"], "compressions": [1], "lr": 1, "vary": {"lr": [1, 2]}}, "lr is both a grid axis"),
        ({"pruners": ["rand"], "compressions": [1], "model": "vgg17"}, "run rand-c1-s1: unknown model 'vgg17'.*valid models: conv, fc"),
        ({"pruners": ["rand"], "compressions": [1], "model_class": "lottery"}, "model 'fc' of model class 'lottery'"),
        ({"pruners": ["rand"], "compressions": [1], "dataset": "imagenet"}, "unknown dataset.*mnist, cifar10"),
        ({"pruners": ["rand"], "compressions": [1], "post_epochs": "3"}, "run rand-c1-s1: post_epochs must be a whole number >= 0; got '3'"),
        ({"pruners": ["rand"], "compressions": [1, 1.0]}, r"given twice \(rand-c1-s1\)"),
        ({"pruners": ["rand"], "compressions": [-1]}, "compression exponent must be >= 0"),
        ({"pruners": ["rand"], "compressions": [1, 9]}, "run rand-c9-s1: compression 9 keeps less than one of"),
    ],
)
def test_bad_grids_fail_before_anything_is_written(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sweep.expand_grid(result_dir=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_values_overrides_and_axes_from_text() -> None:
    assert sweep.parse_value("post-epochs", "300") == 300
    assert (sweep.parse_value("lr", "1e-3"), sweep.parse_value("shuffle", "true")) == (0.001, True)
    assert (sweep.parse_value("train_limit", "none"), sweep.parse_value("lr_drops", "30+60")) == (None, (30, 60))
    assert sweep.parse_override("grasp:post_epochs=300") == ("grasp", "post_epochs", 300)
    assert sweep.parse_override("snip:optimizer=sgd") == ("snip", "optimizer", "sgd")
    assert sweep.parse_vary("model=fc,conv") == ("model", ["fc", "conv"])
    for bad, message in [(lambda: sweep.parse_override("grasp=300"), "PRUNER:FIELD=VALUE"),
                         (lambda: sweep.parse_override("grasp:epochs=3"), "unknown field 'epochs'"),
                         (lambda: sweep.parse_override("grsp:lr=3"), "unknown pruner 'grsp'"),
                         (lambda: sweep.parse_value("post_epochs", "many"),
                          "post_epochs takes a whole number \\(int\\)"),
                         (lambda: sweep.parse_value("shuffle", "maybe"), "shuffle takes true or false"),
                         (lambda: sweep.parse_vary("model"), "FIELD=V1,V2")]:
        with pytest.raises(ValueError, match=message):
            bad()


# --------------------------------------------------------------------------- the command line


def test_the_issue_example_and_the_seed_overrides_parse() -> None:
    args, configs = sweep.grid_from_args(
        "--name cifar-vgg16 --pruners rand mag snip grasp synflow --compressions 0.05 0.1 0.2 0.5 1 2 "
        "--model-class lottery --model vgg16 --dataset cifar10 --post-epochs 100 --jobs 2 "
        "--override grasp:post_epochs=400 --override mag:pre_epochs=200".split()
    )
    assert args.jobs == 2 and len(configs) == 30
    assert {c.result_dir for c in configs} == {str(Path("results/sweeps/cifar-vgg16"))}
    assert {(c.model_class, c.model, c.dataset) for c in configs} == {("lottery", "vgg16", "cifar10")}
    assert {c.pruner: (c.pre_epochs, c.post_epochs) for c in configs} == {
        "rand": (0, 100), "mag": (200, 100), "snip": (0, 100), "grasp": (0, 400), "synflow": (0, 100)}
    assert sorted({c.compression for c in configs}) == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]


def test_run_flags_given_explicitly_win_over_a_preset() -> None:
    _, configs = sweep.grid_from_args(
        "--pruners snip --preset report-sweep --model-class default --model fc --dataset mnist --shuffle "
        "--gpu 1 --prune-epochs 3 --vary post-epochs=1,2".split()
    )
    assert len(configs) == 2 * len(PRESETS["report-sweep"].compressions), "the preset's compressions"
    first = configs[0]
    assert (first.model_class, first.model, first.dataset, first.shuffle) == ("default", "fc", "mnist", True)
    assert (first.device, first.rounds, first.optimizer) == ("cuda:1", 3, "adam")
    assert [c.post_epochs for c in configs[:2]] == [1, 2]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ("--pruners rand --compressions 1 --pruner snip", "the grid sets pruner itself; use --pruners"),
        ("--pruners rand --compressions 1 --seed 3", "use --seeds"),
        ("--pruners rand --compressions 1 --name ../x", "sweep name \\(--name\\) '../x' would leave"),
        ("--pruners rand --compressions 1 --name /tmp/prunekit-abs", "'/tmp/prunekit-abs' would leave"),
        ("--pruners rand --compressions 1 --override rand:post_epochs=abc",
         "--override 'rand:post_epochs=abc': post_epochs takes a whole number \\(int\\); got 'abc'"),
        ("--pruners rand --compressions 1 --vary lr=0.1,x",
         "--vary 'lr=0.1,x': lr takes a number \\(float\\); got 'x'"),
        ("--pruners rand --compressions 1 --vary lr=0.1,-1", "run rand-c1-s1-lr=-1: lr must be a finite number > 0"),
        ("--pruners rand", "give --compressions"),
        ("--pruners rand --compressions 1 --vary model=fc,vgg17", "unknown model 'vgg17'"),
        ("--pruners rand --compressions 1 --override snip:lr=0.1", "overrides for pruner.*snip"),
        ("--pruners rand --compressions 1 --executor slurm", "needs a SLURM cluster.*local, slurm, submitit-local"),
    ],
)
def test_the_command_line_rejects_bad_input_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: str, message: str
) -> None:
    code = cli.main(["sweep", "--result-dir", str(tmp_path / "R"), *argv.split()])
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir()), "nothing written"
    assert not Path("/tmp/prunekit-abs").exists()


def test_unknown_options_and_an_incompatible_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        sweep.main(["--result-dir", str(tmp_path), "--pruners", "rand", "--compressions", "1", "--no-such-flag"])
    assert stop.value.code == 2 and "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
    old = tmp_path / "old"
    old.mkdir()
    (old / "sweep.json").write_text(json.dumps({"schema": "prunekit-sweep/0", "prunekit_version": "0.0.1"}))
    code = cli.main(["sweep", "--result-dir", str(tmp_path), "--name", "old", "--pruners", "rand",
                     "--compressions", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "incompatible prunekit (schema 'prunekit-sweep/0', version 0.0.1" in err
    assert sorted(p.name for p in old.iterdir()) == ["sweep.json"]
    with pytest.raises(ValueError, match="unknown executor 'pbs'; valid executors: local, slurm, submitit-local"):
        sweep.run_sweep(sweep.expand_grid(["rand"], [1], result_dir=tmp_path / "x"), executor="pbs")
    with pytest.raises(ValueError, match="jobs must be at least 1; got 0"):
        sweep.run_sweep(sweep.expand_grid(["rand"], [1], result_dir=tmp_path / "x"), jobs=0)
    assert not (tmp_path / "x").exists()


def test_a_run_claimed_by_another_live_sweep_is_waited_for_and_a_dead_ones_claim_taken_over(tmp_path: Path) -> None:
    configs = sweep.expand_grid(["rand"], [1], result_dir=tmp_path)
    claim = sweep.claim_path(tmp_path, "rand-c1-s1")
    claim.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    claim.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "nonce": "other"}))
    dead = concurrent.futures.Future()
    dead.set_exception(RuntimeError("the worker died"))
    submitted = []

    class DeadExecutor:  # the hook for submitit-like executors: submit() returns a job with done()/result()
        def submit(self, function: object, *args: object) -> concurrent.futures.Future:
            submitted.append(time.monotonic())
            return dead

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(sweep.run_sweep, configs, executor=DeadExecutor(), progress=False, poll_s=0.05)
        time.sleep(1.0)
        assert not running.done() and submitted == [], "a run another live sweep holds is not started"
        holder.kill()  # that sweep dies without finishing the run: its claim is stale
        holder.wait()
        summary = running.result(timeout=60)
    assert summary.failed == {"rand-c1-s1": "RuntimeError: the worker died"}, "the stale claim was taken over"
    assert (run_dir(configs[0]) / "error.txt").read_text().startswith("RuntimeError: the worker died")
    assert not claim.exists(), "the claim is released"


def test_a_claim_is_exclusive_and_only_a_dead_processes_claim_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    first, second = sweep.RunClaim(path), sweep.RunClaim(path)
    assert first.take() and not second.take(), "O_EXCL: one holder"
    second.release()
    assert path.exists(), "release never deletes another's claim"
    first.release()
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    path.write_text(json.dumps({"pid": ended.pid, "host": socket.gethostname(), "nonce": "gone"}))
    assert second.take() and json.loads(path.read_text())["nonce"] == second.token["nonce"]
    path.write_text(json.dumps({"pid": ended.pid, "host": "another-machine", "nonce": "far"}))
    assert not first.take(), "a claim of another machine cannot be checked, so it is respected"


def test_with_several_gpus_each_run_in_flight_gets_its_own_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executors, "_gpu_count", lambda: 2)
    assert sweep._device_slots(3) == ["cuda:0", "cuda:1", "cuda:0"]
    configs = sweep.expand_grid(["rand", "mag", "snip", "grasp"], [1], result_dir=tmp_path)
    configs[3] = configs[3].replace(device="cpu")
    seen = []

    def submit(function: object, config_json: str, *args: object) -> concurrent.futures.Future:
        seen.append(json.loads(config_json)["device"])
        future = concurrent.futures.Future()
        future.set_result("done")
        return future

    pool = sweep._Pool(submit, lambda cancel: None, window=2, same_machine=True)
    summary = sweep.SweepSummary(tmp_path)
    sweep._drive(pool, configs, summary, sweep.tqdm(disable=True), (), 0.01)
    assert seen == ["cuda:0", "cuda:1", "cuda:0", "cpu"] and len(summary.done) == 4
    monkeypatch.setattr(executors, "_gpu_count", lambda: 1)
    assert sweep._device_slots(2) == [None, None], "one GPU: config.device stays as it is"


# --------------------------------------------------------------------------- real runs


def test_a_parallel_sweep_completes_and_skips_every_run_when_started_again(
    tmp_path: Path, small: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "s"
    grid = sweep.expand_grid(["rand", "snip"], [0.5, 1], result_dir=folder, **small)
    first = sweep.run_sweep(grid, jobs=2, progress=False)
    assert first.done == [c.expid for c in grid] and first.skipped == [] and first.failed == {}
    for config in grid:
        result = load_result(run_dir(config))
        assert (result.status, result.config.pruner, result.config.compression) == (
            "complete", config.pruner, config.compression)
        assert result.origin.value == "sample" and result.data.train_examples == small["train_limit"]
        assert result.machine.threads == int(os.environ.get("OMP_NUM_THREADS") or thread_share(2)), "its share"
        notebook = json.loads((run_dir(config) / "run.ipynb").read_text())
        printed = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
        assert f"run {config.expid}: {config.pruner}" in printed, "the executed notebook keeps the summary"
    manifest = json.loads((folder / "sweep.json").read_text())
    assert manifest["schema"] == sweep.SCHEMA and sorted(manifest["runs"]) == sorted(c.expid for c in grid)
    assert manifest["grid"]["pruners"] == ["rand", "snip"] and manifest["grid"]["compressions"] == [0.5, 1.0]

    finished_at = {c.expid: load_result(run_dir(c)).finished_at for c in grid}
    capsys.readouterr()
    code = sweep.main(["--result-dir", str(tmp_path), "--name", "s", "--pruners", "rand", "snip",
                       "--compressions", "0.5", "1", "--jobs", "2", "--quiet", *_as_flags(small)])
    assert code == 0 and "4 runs: 0 done, 4 skipped, 0 failed" in capsys.readouterr().out
    assert {c.expid: load_result(run_dir(c)).finished_at for c in grid} == finished_at, "nothing ran again"

    changed = sweep.expand_grid(["rand"], [0.5], result_dir=folder, **{**small, "post_epochs": 2})
    with pytest.raises(sweep.SettingsChangedError, match="rand-c0.5-s1 \\(post_epochs: stored 1, wanted 2\\)"):
        sweep.run_sweep(changed, progress=False)
    assert all(len((run_dir(c) / executors.ATTEMPTS).read_text().splitlines()) == 1 for c in grid), "each ran once"


def _descendants(pid: int) -> list[int]:
    """The process ids below ``pid`` (Linux ``/proc``), e.g. a sweep's notebook kernels."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being listed
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited


def test_killed_after_its_first_run_a_sweep_resumes_without_redoing_it_and_reports_a_failing_point(
    tmp_path: Path, small: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    # cuda:99 is a valid device name (a sweep may be built for a cluster) that fails inside its run here
    here = {key: value for key, value in small.items() if key != "device"}
    argv = ["sweep", "--result-dir", str(tmp_path), "--name", "k", "--pruners", "rand",
            "--compressions", "0.5", "1", "--vary", "device=cpu,cuda:99", "--quiet", *_as_flags(here)]
    runs = tmp_path / "k" / "singleshot"
    first, absent = "rand-c0.5-s1-device=cpu", "rand-c0.5-s1-device=cuda_99"
    process = subprocess.Popen([sys.executable, "-m", "prunekit", *argv], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernels: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not (runs / first / "result.json").is_file() and process.poll() is None:
            assert time.monotonic() < deadline, "the first run did not finish in time"
            time.sleep(0.2)
        assert (runs / first / "result.json").is_file(), "the sweep stopped before its first run finished"
        os.killpg(process.pid, signal.SIGSTOP)  # frozen, the sweep cannot start a kernel after the listing
        kernels = _descendants(process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the sweep, as a crash would; its kernel exits once orphaned
        process.wait()
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in kernels):  # a kernel looks for its parent every second, then exits
        assert time.monotonic() < deadline, f"the orphaned kernel(s) {kernels} did not exit"
        time.sleep(0.1)
    finished_at = load_result(runs / first).finished_at
    code = sweep.main(argv[1:])
    out = capsys.readouterr().out
    assert code == 1, "some runs failed, so the sweep exits non-zero"
    assert "4 runs: 1 done, 1 skipped, 2 failed" in out and f"failed: {absent}: ConfigError: " in out
    assert load_result(runs / first).finished_at == finished_at, "the finished run was not redone"
    assert load_result(runs / "rand-c1-s1-device=cpu").status == "complete"
    error = (runs / absent / "error.txt").read_text()
    assert error.startswith("ConfigError: ") and "is not available" in error
    notebook = json.loads((runs / absent / "run.ipynb").read_text())
    assert any(o["output_type"] == "error" for c in notebook["cells"] for o in c.get("outputs", []))
    assert any("An Exception was encountered" in "".join(c["source"]) for c in notebook["cells"]), "the banner"


def test_the_submitit_local_executor_runs_the_slurm_code_path(tmp_path: Path, small: dict) -> None:
    configs = sweep.expand_grid(["mag"], [1.0], result_dir=tmp_path / "s", **small)
    summary = sweep.run_sweep(configs, executor="submitit-local", progress=False, poll_s=0.5)
    assert summary.done == ["mag-c1-s1"], summary.failed
    result = load_result(run_dir(configs[0]))
    assert result.params.kept == round(result.params.total * configs[0].density)
    assert any((tmp_path / "s" / "submitit").iterdir()), "submitit wrote its job files"
    again = sweep.run_sweep(configs, executor="submitit-local", progress=False, poll_s=0.5)
    assert again.skipped == ["mag-c1-s1"] and not again.done


def test_the_run_notebook_has_one_commented_parameters_cell() -> None:
    notebook = json.loads(sweep.TEMPLATE.read_text())
    tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    lines = [line for line in "".join(tagged[0]["source"]).splitlines() if line.strip()]
    assert lines and all("=" in line and "#" in line for line in lines), "every parameter is commented"
    names = {line.split("=")[0].strip() for line in lines}
    assert names == {"CONFIG", "ALLOW_FALLBACK", "OVERWRITE"}


def _sweep_cli(tmp_path: Path, name: str, *extra: str) -> list[str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return ["sweep", "--result-dir", str(tmp_path), "--name", name, "--data-dir", str(data), "--train-limit", "200",
            "--test-limit", "100", "--timing-repeats", "1", "--device", "cpu", "--quiet", *extra]


def test_a_rerun_with_changed_settings_stops_unless_overwrite_which_recomputes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's scenario: --post-epochs 1, then --post-epochs 2 (refused, naming it), then with --overwrite."""
    base = _sweep_cli(tmp_path, "chg", "--pruners", "rand", "--compressions", "1")
    folder = tmp_path / "chg"
    assert cli.main([*base, "--post-epochs", "1"]) == 0
    stored = load_result(folder / "singleshot" / "rand-c1-s1")
    assert stored.config.post_epochs == 1
    manifest = (folder / "sweep.json").read_text()
    capsys.readouterr()

    assert cli.main([*base, "--post-epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "rand-c1-s1 (post_epochs: stored 1, wanted 2)" in err and "--overwrite" in err and "--name" in err
    assert (folder / "sweep.json").read_text() == manifest, "sweep.json never claims settings its results do not hold"
    assert load_result(folder / "singleshot" / "rand-c1-s1").finished_at == stored.finished_at

    assert cli.main([*base, "--post-epochs", "2", "--overwrite"]) == 0
    assert "1 runs: 1 done, 0 skipped, 0 failed" in capsys.readouterr().out
    again = load_result(folder / "singleshot" / "rand-c1-s1")
    assert again.config.post_epochs == 2 and [row.epoch for row in again.post_history] == [0, 1, 2]
    assert json.loads((folder / "sweep.json").read_text())["runs"]["rand-c1-s1"]["post_epochs"] == 2
    assert cli.main([*base, "--post-epochs", "2", "--overwrite"]) == 0, "equal settings: skipped, not redone"
    assert "1 runs: 0 done, 1 skipped, 0 failed" in capsys.readouterr().out
    assert load_result(folder / "singleshot" / "rand-c1-s1").finished_at == again.finished_at


def test_two_sweeps_started_together_in_one_folder_compute_every_run_once(tmp_path: Path) -> None:
    argv = _sweep_cli(tmp_path, "both", "--pruners", "rand", "mag", "--compressions", "0.5", "1",
                      "--post-epochs", "1")
    processes = [subprocess.Popen([sys.executable, "-m", "prunekit", *argv], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    runs = sorted((tmp_path / "both" / "singleshot").iterdir())
    assert [run.name for run in runs] == ["mag-c0.5-s1", "mag-c1-s1", "rand-c0.5-s1", "rand-c1-s1"]
    assert all(load_result(run).status == "complete" for run in runs)
    attempts = {run.name: (run / executors.ATTEMPTS).read_text().splitlines() for run in runs}
    assert all(len(lines) == 1 for lines in attempts.values()), attempts
    counts = [re.search(r"4 runs: (\d+) done, (\d+) skipped, 0 failed(?:, (\d+) done by another sweep)?", out)
              for out, _ in outputs]
    assert all(counts), outputs
    assert sum(int(match.group(1)) for match in counts) == 4, "the two sweeps shared the work"
    assert not any((tmp_path / "both" / sweep.CLAIMS).iterdir()), "every claim released"
