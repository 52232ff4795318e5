"""Shared fixtures: small masked models and batches on CPU, and a few tiny real runs made once per session."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from prunekit.core.layers import MaskedConv2d, MaskedLinear
from prunekit.run import data as prunekit_data
from prunekit.run.config import ExperimentConfig
from prunekit.run.experiment import run_dir, run_singleshot
from prunekit.run.loader import prune_loader
from prunekit.run.result import RunResult


@pytest.fixture(autouse=True)
def fresh_data_notices() -> None:
    """Each test sees the data module's once-per-process notices and network probe afresh."""
    prunekit_data._SHOUTED.clear()
    prunekit_data._reachable.cache_clear()


class SmallNet(nn.Module):
    """A Conv2d + Linear model (4·1·3·3 + 10·64 = 676 prunable weights)."""

    def __init__(self) -> None:
        super().__init__()
        self.input_shape = (1, 4, 4)
        self.conv = MaskedConv2d(1, 4, 3, padding=1)
        self.fc = MaskedLinear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture
def small_net() -> SmallNet:
    torch.manual_seed(0)
    return SmallNet()


@pytest.fixture
def small_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 1, 4, 4, generator=generator), torch.randint(0, 10, (8,), generator=generator)) for _ in range(2)]


def tiny_config(result_dir: Path, **changes) -> ExperimentConfig:
    """A tiny real run: FC on the shipped MNIST sample, 300 training and 200 test images, one post-training epoch.

    Its data folder exists and is empty, so MNIST is the shipped sample and CIFAR-10 is missing.
    """
    (result_dir / "no-data-here").mkdir(parents=True, exist_ok=True)
    (Path(result_dir) / "no-data-here").mkdir(parents=True, exist_ok=True)  # a named data folder must exist
    base = ExperimentConfig(
        pruner="snip",
        compression=1.0,
        post_epochs=1,
        train_limit=300,
        test_limit=200,
        timing_repeats=1,
        device="cpu",
        result_dir=str(result_dir),
        data_dir=str(result_dir / "no-data-here"),
    )
    return base.replace(**changes)


@dataclass(frozen=True)
class TinyRun:
    """A finished tiny run: its configuration, folder and result."""

    config: ExperimentConfig
    folder: Path
    result: RunResult


def _tiny_run(config: ExperimentConfig, *, allow_fallback: bool = False) -> TinyRun:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit_data.DataWarning)
        result = run_singleshot(config, progress=False, allow_fallback=allow_fallback)
    return TinyRun(config, run_dir(config), result)


@pytest.fixture(scope="session")
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The result folder of the session's tiny runs."""
    return tmp_path_factory.mktemp("tiny-runs")


@pytest.fixture(scope="session")
def sample_run(tiny_results: Path) -> TinyRun:
    """SNIP at compression 1 on the shipped MNIST sample (origin ``sample``), run once per session."""
    return _tiny_run(tiny_config(tiny_results))


@pytest.fixture(scope="session")
def fallback_run(tiny_results: Path) -> TinyRun:
    """Mag on "CIFAR-10" with CIFAR-10 missing: the labelled MNIST stand-in (origin ``fallback``), run once."""
    config = tiny_config(tiny_results, dataset="cifar10", pruner="mag", compression=0.5)
    return _tiny_run(config, allow_fallback=True)


@pytest.fixture(scope="session")
def sample_prune_data(tiny_results: Path):
    """Real pruning batches: 20 images of the shipped MNIST sample (:func:`prunekit.run.loader.prune_loader`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit_data.DataWarning)
        train = prunekit_data.load_dataset("mnist", train=True, data_dir=tiny_config(tiny_results).data_dir,
                                           download=False)
    return prune_loader(train, ratio=2, batch_size=20, seed=1)


@pytest.fixture(scope="session")
def make_tiny_config():
    """:func:`tiny_config`, for tests that need a tiny run of their own (``make_tiny_config(tmp_path, pruner="mag")``)."""
    return tiny_config
