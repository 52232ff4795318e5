"""Tests for prunekit.run.io: atomic JSON and checkpoint writes, safe checkpoint loads."""

from __future__ import annotations

import json
import os
import stat
import pickle
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from prunekit.run.io import (
    UnsafePathError,
    UnsafePickleError,
    atomic_write,
    contained_path,
    load_checkpoint,
    load_data_pickle,
    read_json,
    save_checkpoint,
    write_json,
)


class NotAllowed:
    """A class that ``weights_only=True`` must refuse to unpickle."""

    def __init__(self) -> None:
        self.value = 42


def test_write_json_round_trip_converts_tensors_numpy_and_paths(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "folder" / "result.json"
    write_json(target, {"top1": torch.tensor(97.5), "counts": np.arange(3), "where": tmp_path, "nan": float("nan")})
    data = read_json(target)
    assert data["top1"] == 97.5
    assert data["counts"] == [0, 1, 2]
    assert data["where"] == str(tmp_path)
    assert data["nan"] != data["nan"]  # NaN survives the round trip
    assert target.read_text().endswith("\n")


def test_failed_json_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    write_json(target, {"version": 1})
    with pytest.raises(TypeError, match="object"):
        write_json(target, {"version": 2, "bad": object()})
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["result.json"]


def test_atomic_write_replaces_only_at_the_end(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("old")
    with atomic_write(target) as handle:
        handle.write("new")
        assert target.read_text() == "old"  # not replaced while writing
    assert target.read_text() == "new"
    with pytest.raises(ValueError, match="'a'"), atomic_write(target, mode="a"):
        pass


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    target = tmp_path / "checkpoint.pt"
    save_checkpoint(
        target, {"phase": "post", "epoch": 4, "model": model.state_dict(), "history": [{"top1": 12.5, "train_loss": None}]}
    )
    state = load_checkpoint(target)
    assert state["phase"] == "post" and state["epoch"] == 4
    assert state["history"] == [{"top1": 12.5, "train_loss": None}]
    assert torch.equal(state["model"]["weight"], model.weight.detach())


def test_interrupted_checkpoint_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    save_checkpoint(target, {"epoch": 1})

    def crashing_saver(state: dict, handle) -> None:  # noqa: ANN001 - a file object
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(target, {"epoch": 2}, saver=crashing_saver)
    assert load_checkpoint(target)["epoch"] == 1
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint.pt"]


class _InterruptingFile:
    """A file whose first write sends this process Ctrl-C, as a terminal would mid-save."""

    def __init__(self, handle) -> None:  # noqa: ANN001 - a file object
        self.handle, self.sent = handle, False

    def write(self, data: bytes) -> int:
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def test_ctrl_c_while_torch_save_writes_comes_after_the_complete_checkpoint(tmp_path: Path) -> None:
    # torch.save turns a KeyboardInterrupt inside its write into RuntimeError("unexpected pos ..."),
    # which the CLI would report as a crash; the interrupt must wait until the file is written.
    target = tmp_path / "checkpoint.pt"
    weights = torch.arange(5000.0)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist workers ignore SIGINT
    try:
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(target, {"epoch": 3, "weights": weights},
                            saver=lambda state, handle: torch.save(state, _InterruptingFile(handle)))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    state = load_checkpoint(target)
    assert state["epoch"] == 3 and torch.equal(state["weights"], weights)
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_deferred_ctrl_c_is_dropped_when_it_was_ignored(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        save_checkpoint(tmp_path / "c.pt", {"epoch": 1},
                        saver=lambda state, handle: torch.save(state, _InterruptingFile(handle)))
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert load_checkpoint(tmp_path / "c.pt")["epoch"] == 1


def test_load_checkpoint_refuses_arbitrary_objects(tmp_path: Path) -> None:
    target = tmp_path / "evil.pt"
    torch.save({"payload": NotAllowed()}, target)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(target)


def test_load_checkpoint_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("name", ["../victim", "../../x", "/tmp/abs", "a/../../b", "", "~/x"])
def test_contained_path_refuses_names_that_leave_the_parent(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePathError, match="--expid"):
        contained_path(tmp_path / "results", name, "--expid")


def test_contained_path_refuses_a_link_out_of_the_parent(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "results" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(UnsafePathError, match="outside"):
        contained_path(tmp_path / "results", "link/run", "--expid")


def test_contained_path_accepts_nested_plain_names(tmp_path: Path) -> None:
    assert contained_path(tmp_path, "sweep/rand-c1-s1") == tmp_path / "sweep" / "rand-c1-s1"


def test_written_files_respect_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {"a": 1})
        with atomic_write(tmp_path / "m.bin", "wb") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "m.bin").stat().st_mode) == 0o644


class _Payload:
    """Unpickling this calls os.system: what a crafted data_batch_1 could do."""

    def __reduce__(self) -> tuple:
        return (os.system, ("touch PWNED",))


def test_a_crafted_data_pickle_is_refused_and_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    crafted = tmp_path / "data_batch_1"
    crafted.write_bytes(pickle.dumps({b"data": _Payload(), b"labels": [1]}, protocol=2))
    with pytest.raises(UnsafePickleError, match=r"data_batch_1: refusing to load posix\.system"):
        load_data_pickle(crafted)
    assert not (tmp_path / "PWNED").exists()


def test_a_real_format_cifar_batch_loads(tmp_path: Path) -> None:
    batch = {b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072), b"labels": [3, 7], b"batch_label": b"x"}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    loaded = load_data_pickle(tmp_path / "data_batch_1")
    assert loaded[b"labels"] == [3, 7] and np.array_equal(loaded[b"data"], batch[b"data"])


def test_a_truncated_data_pickle_names_the_file(tmp_path: Path) -> None:
    whole = pickle.dumps({b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [3, 7]}, protocol=2)
    (tmp_path / "data_batch_2").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(pickle.UnpicklingError, match="data_batch_2 is not a readable data pickle"):
        load_data_pickle(tmp_path / "data_batch_2")
