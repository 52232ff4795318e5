"""Tests for prunekit.run.io: atomic JSON and checkpoint writes, safe checkpoint loads."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from prunekit.run.io import atomic_write, load_checkpoint, read_json, save_checkpoint, write_json


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


def test_load_checkpoint_refuses_arbitrary_objects(tmp_path: Path) -> None:
    target = tmp_path / "evil.pt"
    torch.save({"payload": NotAllowed()}, target)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(target)


def test_load_checkpoint_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
