"""Tests for prunekit.run.training: optimizers, loops, resumable fit, inference timing, seeding."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunekit import create_model
from prunekit.run.data import DeviceLoader, SampleDataWarning, load_dataset
from prunekit.run.io import load_checkpoint
from prunekit.run.timing import measure_inference_time
from prunekit.run.training import (
    OPTIMIZERS,
    evaluate,
    fit,
    make_optimizer,
    make_scheduler,
    seed_everything,
    train_epoch,
)

ROW_KEYS = {"epoch", "train_loss", "test_loss", "top1", "top5", "lr", "epoch_time_s"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The shipped MNIST sample (always there, offline), loaded once for the module."""
    empty = tmp_path_factory.mktemp("no-mnist-here")  # a data folder that exists but has no MNIST
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        train = load_dataset("mnist", train=True, data_dir=empty, download=False)
        test = load_dataset("mnist", train=False, data_dir=empty, download=False)
    return train, test


def _setup(sample: tuple, seed: int = 0, optimizer: str = "adam", limit: int = 1024):
    """What a fresh process would build: seeded model, optimizer, scheduler and loaders."""
    train, test = sample
    seed_everything(seed)
    model = create_model("default", "fc", (1, 28, 28), 10)
    opt = make_optimizer(optimizer, model.parameters(), lr=1e-3)
    scheduler = make_scheduler(opt, lr_drops=[2], lr_drop_rate=0.1)
    train_loader = DeviceLoader(train, batch_size=64, shuffle=True, limit=limit)  # seed drawn from the global RNG
    test_loader = DeviceLoader(test, batch_size=256, limit=500)
    return model, opt, scheduler, train_loader, test_loader


def _without_times(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "epoch_time_s"} for row in history]


# --------------------------------------------------------------------------- optimizers and schedulers


def test_optimizer_registry_follows_synaptic_flow() -> None:
    assert list(OPTIMIZERS) == ["adam", "sgd", "momentum", "rms"]
    params = list(nn.Linear(3, 2).parameters())
    assert isinstance(make_optimizer("adam", params, lr=1e-3), torch.optim.Adam)
    assert isinstance(make_optimizer("rms", params, lr=1e-3), torch.optim.RMSprop)
    sgd = make_optimizer("sgd", params, lr=0.1, weight_decay=5e-4)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0
    assert sgd.param_groups[0]["weight_decay"] == 5e-4 and sgd.param_groups[0]["lr"] == 0.1
    momentum = make_optimizer("momentum", params, lr=0.1).param_groups[0]
    assert momentum["momentum"] == 0.9 and momentum["nesterov"] is True


def test_unknown_optimizer_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"'adamw'.*adam, sgd, momentum, rms"):
        make_optimizer("adamw", nn.Linear(2, 2).parameters(), lr=0.1)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_matches_the_reference_implementation(name: str) -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    reference = nn.Linear(5, 3)
    reference.load_state_dict(model.state_dict())
    optimizer = make_optimizer(name, model.parameters(), lr=0.01, weight_decay=1e-3)
    optimizer_class, fixed = OPTIMIZERS[name]
    plain = optimizer_class(reference.parameters(), lr=0.01, weight_decay=1e-3, foreach=False, **fixed)
    inputs, targets = torch.randn(16, 5), torch.randint(0, 3, (16,))
    for _ in range(3):
        for net, opt in ((model, optimizer), (reference, plain)):
            opt.zero_grad()
            F.cross_entropy(net(inputs), targets).backward()
            opt.step()
    torch.testing.assert_close(model.weight, reference.weight, rtol=1e-5, atol=1e-6)
    assert not torch.equal(model.weight, nn.Linear(5, 3).weight)


def test_scheduler_drops_the_rate_at_the_given_epochs() -> None:
    optimizer = make_optimizer("sgd", nn.Linear(2, 2).parameters(), lr=1.0)
    scheduler = make_scheduler(optimizer, lr_drops=[3, 1], lr_drop_rate=0.5)
    rates = []
    for _ in range(4):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == [1.0, 0.5, 0.5, 0.25]


# --------------------------------------------------------------------------- loops


def test_evaluate_counts_top1_and_top5_per_example() -> None:
    # nn.Identity: the inputs are the logits. Target ranks: 0, 4 (the 5th best), 7 in batch one; 0 in batch two.
    logits = torch.arange(10, 0, -1, dtype=torch.float32)  # class 0 best, class 9 worst
    batch_one = (logits.repeat(3, 1), torch.tensor([0, 4, 7]))
    batch_two = (logits.repeat(1, 1), torch.tensor([0]))
    result = evaluate(nn.Identity(), [batch_one, batch_two])
    assert result["top1"] == pytest.approx(50.0) and result["top5"] == pytest.approx(75.0)
    expected = (
        F.cross_entropy(batch_one[0], batch_one[1], reduction="sum")
        + F.cross_entropy(batch_two[0], batch_two[1], reduction="sum")
    ) / 4
    assert result["loss"] == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="no batch"):
        evaluate(nn.Identity(), [])


def test_evaluate_uses_eval_mode_without_gradients() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9), nn.Linear(4, 3))
    batch = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
    first, second = evaluate(model, batch), evaluate(model, batch)
    assert first == second and not model.training  # dropout off
    assert all(parameter.grad is None for parameter in model.parameters())
    assert first["top5"] == 100.0  # 3 classes: top-5 is everything


def test_train_epoch_returns_the_mean_loss_per_example() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))), (torch.randn(2, 4), torch.randint(0, 3, (2,)))]
    expected = sum(F.cross_entropy(model(x), y, reduction="sum").item() for x, y in batches) / 10
    frozen = make_optimizer("sgd", model.parameters(), lr=0.0)  # lr 0: the weights stay put
    assert train_epoch(model, batches, frozen) == pytest.approx(expected, rel=1e-6)
    assert model.training
    with pytest.raises(ValueError, match="no batch"):
        train_epoch(model, [], frozen)


def test_training_learns_mnist(sample: tuple) -> None:
    model, optimizer, _, train_loader, test_loader = _setup(sample, limit=2048)
    before = evaluate(model, test_loader)
    losses = [train_epoch(model, train_loader, optimizer) for _ in range(2)]
    after = evaluate(model, test_loader)
    assert before["top1"] < 25 and after["top1"] > 75
    assert losses[1] < losses[0] < 2.3


# --------------------------------------------------------------------------- fit


def test_fit_history_rows(sample: tuple, tmp_path: Path) -> None:
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, limit=512)
    history = fit(
        model, train_loader, test_loader, optimizer, scheduler, 3, checkpoint_path=tmp_path / "c.pt", progress=False
    )
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    assert all(set(row) == ROW_KEYS for row in history)
    assert history[0]["train_loss"] is None and history[0]["epoch_time_s"] == 0.0
    assert [row["lr"] for row in history] == pytest.approx([1e-3, 1e-3, 1e-3, 1e-4])
    assert all(row["epoch_time_s"] > 0 for row in history[1:])
    assert history[3]["top1"] > history[0]["top1"] + 20
    assert history[3]["top1"] == evaluate(model, test_loader)["top1"]
    state = load_checkpoint(tmp_path / "c.pt")
    assert state["phase"] == "post" and state["epoch"] == 3 and _without_times(state["history"]) == _without_times(history)
    assert set(state) == {"phase", "epoch", "model", "optimizer", "scheduler", "history", "rng"}
    assert torch.equal(state["model"]["layers.0.weight"], model.layers[0].weight.detach())


def test_same_seed_same_history(sample: tuple) -> None:
    runs = []
    for _ in range(2):
        model, optimizer, scheduler, train_loader, test_loader = _setup(sample, seed=3, limit=512)
        runs.append(_without_times(fit(model, train_loader, test_loader, optimizer, scheduler, 2, progress=False)))
    assert runs[0] == runs[1]
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, seed=4, limit=512)
    assert _without_times(fit(model, train_loader, test_loader, optimizer, scheduler, 2, progress=False)) != runs[0]


class CrashingLoader:
    """Wraps a loader and raises in the middle of pass ``crash_on`` (1-based): a simulated kill."""

    def __init__(self, loader: DeviceLoader, crash_on: int) -> None:
        self.loader, self.crash_on, self.passes = loader, crash_on, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):  # noqa: ANN204 - a generator
        self.passes += 1
        for index, batch in enumerate(self.loader):
            if self.passes == self.crash_on and index == 3:
                raise KeyboardInterrupt("simulated crash")
            yield batch

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def test_resume_after_a_crash_gives_the_uninterrupted_history(
    sample: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, seed=5, limit=512)
    reference = fit(model, train_loader, test_loader, optimizer, scheduler, 3, progress=False)
    reference_weights = {key: value.clone() for key, value in model.state_dict().items()}

    checkpoint = tmp_path / "run" / "checkpoint.pt"
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, seed=5, limit=512)
    with pytest.raises(KeyboardInterrupt):
        fit(
            model,
            CrashingLoader(train_loader, crash_on=3),
            test_loader,
            optimizer,
            scheduler,
            3,
            checkpoint_path=checkpoint,
            progress=False,
        )
    assert load_checkpoint(checkpoint)["epoch"] == 2
    torch.rand(5)  # the new process's RNG is elsewhere; the checkpoint restores it

    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, seed=5, limit=512)
    resumed = fit(model, train_loader, test_loader, optimizer, scheduler, 3, checkpoint_path=checkpoint, progress=False)
    assert "resuming post training from epoch 2/3" in capsys.readouterr().out
    assert _without_times(resumed) == _without_times(reference)
    for key, value in model.state_dict().items():
        assert torch.equal(value, reference_weights[key]), key
    assert scheduler.last_epoch == 3 and optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_checkpoint_of_another_phase_is_not_resumed(
    sample: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, limit=256)
    fit(model, train_loader, test_loader, optimizer, scheduler, 1, checkpoint_path=checkpoint, phase="pre", progress=False)
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, limit=256)
    history = fit(
        model, train_loader, test_loader, optimizer, scheduler, 2, checkpoint_path=checkpoint, phase="post", progress=False
    )
    assert "resuming" not in capsys.readouterr().out
    assert [row["epoch"] for row in history] == [0, 1, 2] and load_checkpoint(checkpoint)["phase"] == "post"
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, limit=256)
    with pytest.raises(ValueError, match="more than the 1 requested"):
        fit(
            model,
            train_loader,
            test_loader,
            optimizer,
            scheduler,
            1,
            checkpoint_path=checkpoint,
            phase="post",
            progress=False,
        )


def test_fit_with_progress_bars_and_start_history(sample: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, limit=128)
    earlier = [
        {"epoch": 0, "train_loss": None, "test_loss": 2.3, "top1": 10.0, "top5": 50.0, "lr": 1e-3, "epoch_time_s": 0.0}
    ]
    history = fit(
        model, train_loader, test_loader, optimizer, None, 1, progress=True, batch_progress=True, start_history=earlier
    )
    assert history[0] == earlier[0] and [row["epoch"] for row in history] == [0, 0, 1]
    assert "post-training" in capsys.readouterr().err
    with pytest.raises(ValueError, match="epochs"):
        fit(model, train_loader, test_loader, optimizer, None, -1, progress=False)


# --------------------------------------------------------------------------- timing and seeding


class CountingLoader:
    def __init__(self, batches: list) -> None:
        self.batches, self.passes = batches, 0

    def __iter__(self):  # noqa: ANN204 - a generator
        self.passes += 1
        yield from self.batches


def test_measure_inference_time() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    loader = CountingLoader([(torch.randn(8, 4), torch.zeros(8))] * 3)
    timing = measure_inference_time(model, loader, repeats=4, warmup=2)
    assert loader.passes == 6 and not model.training
    assert set(timing) == {"median_s", "min_s", "max_s", "iqr_s", "repeats", "times_s", "threads", "load"}
    assert timing["repeats"] == 4 and len(timing["times_s"]) == 4
    assert timing["threads"] == 1 and timing["load"] >= 0
    assert 0 < timing["min_s"] <= timing["median_s"] <= timing["max_s"]
    assert 0 <= timing["iqr_s"] <= timing["max_s"] - timing["min_s"]
    single = measure_inference_time(model, loader, repeats=1, warmup=0)
    assert single["iqr_s"] == 0 and single["median_s"] == single["times_s"][0]
    with pytest.raises(ValueError, match="repeats"):
        measure_inference_time(model, loader, repeats=0)
    with pytest.raises(ValueError, match="threads=0"):
        measure_inference_time(model, loader, threads=0)


def test_timing_fixes_the_thread_count_and_restores_it() -> None:
    seen = []

    class Probe(nn.Module):
        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            seen.append(torch.get_num_threads())
            return inputs

    before = torch.get_num_threads()
    timing = measure_inference_time(Probe(), [(torch.zeros(2, 2), torch.zeros(2))], repeats=2, threads=1)
    assert seen == [1, 1, 1] and timing["threads"] == 1 and torch.get_num_threads() == before


def test_seed_everything_seeds_torch_random_and_numpy() -> None:
    seed_everything(123)
    first = (torch.rand(3), random.random(), np.random.rand())
    seed_everything(123)
    second = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(first[0], second[0]) and first[1:] == second[1:]
    seed_everything(124)
    assert not torch.equal(torch.rand(3), first[0])


def test_resume_with_a_differently_seeded_loader_warns(sample: tuple, tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    model, optimizer, scheduler, train_loader, test_loader = _setup(sample, limit=256)
    fit(model, train_loader, test_loader, optimizer, scheduler, 1, checkpoint_path=checkpoint, progress=False)
    model, optimizer, scheduler, _, test_loader = _setup(sample, limit=256)
    other_loader = DeviceLoader(sample[0], batch_size=64, shuffle=True, seed=999, limit=256)
    with pytest.warns(UserWarning, match="cannot restore the training batches' order"):
        history = fit(model, other_loader, test_loader, optimizer, scheduler, 2, checkpoint_path=checkpoint, progress=False)
    assert [row["epoch"] for row in history] == [0, 1, 2]
