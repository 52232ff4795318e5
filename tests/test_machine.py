"""Threads and load: each worker gets its share of the cores, a run records its CPU, a loaded machine is named."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from prunekit.run import machine
from prunekit.run.data import DataWarning
from prunekit.run.experiment import load_result, run_dir, run_singleshot
from prunekit.run.records import Machine
from prunekit.run.summary import summary_lines


TINY = "--post-epochs 1 --train-limit 300 --test-limit 200 --timing-repeats 1 --quiet"


@pytest.mark.parametrize(("cores", "jobs", "threads"), [(2, 2, 1), (2, 1, 2), (8, 3, 2), (2, 5, 1), (16, 4, 4)])
def test_each_worker_gets_cores_over_jobs_threads(cores: int, jobs: int, threads: int, monkeypatch) -> None:
    monkeypatch.setattr(machine, "cpu_cores", lambda: cores)
    assert machine.thread_share(jobs) == threads


def test_a_bad_job_count_is_refused() -> None:
    with pytest.raises(ValueError, match="jobs must be >= 1; got 0"):
        machine.thread_share(0)


def test_a_users_own_thread_count_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    machine.share_threads(1)
    assert os.environ["OMP_NUM_THREADS"] == "3" and os.environ["MKL_NUM_THREADS"] == "1"


def test_overloaded_means_a_load_of_at_least_the_cores_plus_one() -> None:
    assert Machine(cores=2, threads=1, load=3.0).overloaded
    assert not Machine(cores=2, threads=1, load=2.9).overloaded, "the kit's own workers filling the cores"
    assert not Machine(cores=2, threads=1, load=None).overloaded
    assert Machine(2, 1, 4.5).notice().startswith("LOADED MACHINE: the load was 4.5 on 2 core(s)")


def test_a_run_records_its_threads_cores_and_load_and_prints_them(tmp_path: Path, make_tiny_config) -> None:
    config = make_tiny_config(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        result = run_singleshot(config, progress=False)
    assert result.machine is not None
    assert (result.machine.cores, result.machine.threads) == (machine.cpu_cores(), torch.get_num_threads())
    assert load_result(run_dir(config)).machine == result.machine, "saved in result.json"
    lines = summary_lines(result)
    assert f"CPU: {torch.get_num_threads()} torch thread(s) on {machine.cpu_cores()} core(s); load " in "\n".join(lines)


def test_a_run_on_a_loaded_machine_says_so_once_and_records_it(tmp_path: Path, monkeypatch, make_tiny_config) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (machine.cpu_cores() + 3.0, 0.0, 0.0))
    monkeypatch.setattr(machine, "_WARNED", set())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run_singleshot(make_tiny_config(tmp_path, seed=1), progress=False)
        second = run_singleshot(make_tiny_config(tmp_path, seed=2), progress=False)
    loaded = [w for w in caught if issubclass(w.category, machine.LoadedMachineWarning)]
    assert len(loaded) == 1, "once per process"
    assert first.machine.overloaded and second.machine.overloaded
    assert first.machine.load == machine.cpu_cores() + 3.0
    assert any(line.startswith("LOADED MACHINE:") for line in summary_lines(second))


def test_the_cli_prints_the_loaded_machine_notice_as_one_plain_line(tmp_path: Path) -> None:
    """A child process whose load average is faked high: one ``prunekit: LOADED MACHINE`` line, no warning format."""
    (tmp_path / "no-data").mkdir()
    code = (
        "import os, sys; os.getloadavg = lambda: (99.0, 0.0, 0.0); from prunekit import cli; "
        f"sys.exit(cli.main({shlex.split(TINY)!r}"
        f" + ['--result-dir', {str(tmp_path)!r}, '--data-dir', {str(tmp_path / 'no-data')!r}, '--device', 'cpu']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    notices = [line for line in done.stderr.splitlines() if "LOADED MACHINE" in line]
    assert len(notices) == 1 and notices[0].startswith("prunekit: LOADED MACHINE: the load was 99"), done.stderr
