"""Tests for prunekit.run.data: readers, the shipped sample, errors, the device loader and its augmentation.

The CIFAR tests write tiny TEST-ONLY datasets in the real CIFAR python-pickle
format into a temporary folder; the kit never makes up data outside tests.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import pickle
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from prunekit.run import data as pdata, loader
from prunekit.run.data import (
    DATASETS,
    DataOrigin,
    DatasetNotFoundError,
    DeviceDataset,
    DeviceLoader,
    FallbackDataWarning,
    SampleDataWarning,
    cifar_fallback,
    dataset_spec,
    default_data_dir,
    load_dataset,
    prune_loader,
    read_idx,
    sample_dir,
)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers (test-only data)


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if compress else payload)


def write_tiny_mnist(root: Path, n_train: int = 30, n_test: int = 20, compress: bool = False) -> dict[str, np.ndarray]:
    """TEST-ONLY: random digits in torchvision's MNIST layout under root/MNIST/raw."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3) % 10,
    }
    for name, array in arrays.items():
        write_idx(root / "MNIST" / "raw" / (name + (".gz" if compress else "")), array, compress)
    return arrays


def cifar_pixels(count: int, offset: int) -> np.ndarray:
    """TEST-ONLY pixel pattern: image i, channel c, row h, column w = (7i + 50c + 3h + w + offset) mod 256."""
    i, c, h, w = np.meshgrid(np.arange(count), np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    return ((7 * i + 50 * c + 3 * h + w + offset) % 256).astype(np.uint8)


def write_tiny_cifar10(root: Path, per_batch: int = 4) -> Path:
    """TEST-ONLY: a tiny CIFAR-10 in the real pickle format (b"data" N×3072 CHW rows, b"labels")."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for index, name in enumerate(names):
        pixels = cifar_pixels(per_batch, offset=index * per_batch * 7)
        entry = {
            b"batch_label": name.encode(),
            b"data": pixels.reshape(per_batch, 3072),
            b"labels": [(index + k) % 10 for k in range(per_batch)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(entry, handle, protocol=2)
    return folder


def random_cifar_like(count: int, seed: int = 0) -> DeviceDataset:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator)
    return DeviceDataset("cifar10", True, images, torch.arange(count) % 10, DATASETS["cifar10"], "TEST-ONLY random pixels")


def mnist_like(count: int) -> DeviceDataset:
    images = (torch.arange(count * 784) % 256).to(torch.uint8).reshape(count, 1, 28, 28)
    return DeviceDataset("mnist", True, images, torch.arange(count), DATASETS["mnist"], "TEST-ONLY ramp")


# --------------------------------------------------------------------------- specs and paths


def test_specs_follow_synaptic_flow() -> None:
    assert dataset_spec("mnist") == DATASETS["mnist"]
    assert (
        DATASETS["mnist"].input_shape == (1, 28, 28)
        and DATASETS["mnist"].mean == (0.1307,)
        and DATASETS["mnist"].std == (0.3081,)
    )
    assert DATASETS["cifar10"].input_shape == (3, 32, 32) and DATASETS["cifar10"].std == (0.247, 0.243, 0.262)
    assert DATASETS["cifar100"].num_classes == 100


def test_unknown_dataset_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"'svhn'.*mnist, cifar10, cifar100"):
        dataset_spec("svhn")
    with pytest.raises(ValueError, match="'svhn'"):
        load_dataset("svhn", train=True)


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PRUNEKIT_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("PRUNEKIT_DATA")
    assert default_data_dir() == REPO / "data"


# --------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_plain_and_gzip(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    write_idx(tmp_path / "x-idx3-ubyte", array, compress)
    assert read_idx(tmp_path / "x-idx3-ubyte").tolist() == array.tolist()


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path: Path) -> None:
    write_idx(tmp_path / "x", np.zeros((4, 5)))
    (tmp_path / "short").write_bytes((tmp_path / "x").read_bytes()[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        read_idx(tmp_path / "text")


@pytest.mark.parametrize("compress", [False, True])
def test_full_mnist_in_torchvision_layout(tmp_path: Path, compress: bool) -> None:
    arrays = write_tiny_mnist(tmp_path, compress=compress)
    train = load_dataset("mnist", train=True, data_dir=tmp_path, download=False)
    test = load_dataset("mnist", train=False, data_dir=tmp_path, download=False)
    assert train.images.shape == (30, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.targets.dtype == torch.int64
    assert np.array_equal(train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert test.targets.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert train.origin is test.origin is DataOrigin.FULL and not train.is_fallback and not train.is_sample
    assert train.source.startswith("full MNIST train set (30 images)") and str(tmp_path) in train.source


def test_shipped_sample_is_used_loudly(tmp_path: Path) -> None:
    with pytest.warns(SampleDataWarning, match="SHIPPED MNIST SAMPLE") as caught:
        train = load_dataset("mnist", train=True, data_dir=tmp_path, download=False)
    assert (
        f"MNIST not found under {tmp_path}; using the SHIPPED MNIST SAMPLE (10,000 train / 2,000 test images)"
        in str(caught[0].message)
    )
    assert "not comparable" in str(caught[0].message)
    test = load_dataset("mnist", train=False, data_dir=tmp_path, download=False)  # the same notice: not repeated
    assert (len(train), len(test)) == (10_000, 2_000)
    assert train.class_counts() == [1000] * 10 and test.class_counts() == [200] * 10
    assert train.origin is test.origin is DataOrigin.SAMPLE and "SHIPPED MNIST SAMPLE" in train.source
    assert train.is_sample and not train.is_fallback, "the shipped sample is real MNIST, not a stand-in"
    assert 30 < train.images.float().mean().item() < 40  # real digits: ~13 % ink, mean pixel ~33


def test_the_sample_notice_is_shown_once_however_many_loads_meet_it(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        for train in (True, False, True):
            load_dataset("mnist", train=train, data_dir=tmp_path, download=False)
    notices = [w for w in shown if issubclass(w.category, SampleDataWarning)]
    assert len(notices) == 1, [str(w.message) for w in notices]


def test_download_is_tried_before_the_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(pdata, "_try_download", lambda name, root: calls.append((name, root)) or False)
    with pytest.warns(SampleDataWarning):
        load_dataset("mnist", train=False, data_dir=tmp_path, download=True)
    assert calls == [("mnist", tmp_path)]


def test_download_gives_up_quickly_when_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(pdata, "_reachable", lambda url, timeout=3.0: False)
    assert pdata._try_download("mnist", tmp_path) is False
    assert "not downloading mnist" in capsys.readouterr().err
    assert not (tmp_path / "MNIST").exists()


def test_missing_mnist_without_sample_explains_where_files_go(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", train=True, data_dir=tmp_path, download=False, allow_sample=False)
    message = str(info.value)
    assert "MNIST not found" in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "download=True" in message
    assert isinstance(info.value, FileNotFoundError)


def _readme_sha256() -> dict[str, str]:
    text = (REPO / "data" / "README.md").read_text()
    return {name: digest for digest, name in re.findall(r"([0-9a-f]{64})\s+`?([\w.-]+\.gz)", text)}


def test_sample_files_match_the_sha256_in_the_readme() -> None:
    listed = _readme_sha256()
    files = sorted(path.name for path in sample_dir().glob("*.gz"))
    assert files == sorted(listed) and len(files) == 4
    for name in files:
        assert hashlib.sha256((sample_dir() / name).read_bytes()).hexdigest() == listed[name], name


def test_sample_has_the_documented_counts_per_class() -> None:
    """The sample is make_mnist_sample.py's class-balanced selection: its per-class counts, and (above)
    the sha256 the README lists, which the script reproduces byte for byte from the full MNIST."""
    spec = importlib.util.spec_from_file_location("make_mnist_sample", REPO / "data" / "make_mnist_sample.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for train, per_class in ((True, script.TRAIN_PER_CLASS), (False, script.TEST_PER_CLASS)):
        images, labels = pdata._read_mnist(sample_dir(), train=train)
        assert torch.bincount(labels, minlength=10).tolist() == [per_class] * 10
        assert images.shape[1:] == (1, 28, 28) and len(images) == 10 * per_class


# --------------------------------------------------------------------------- CIFAR


def test_cifar10_pickles_decode_in_chw_order(tmp_path: Path) -> None:
    write_tiny_cifar10(tmp_path)
    train = load_dataset("cifar10", train=True, data_dir=tmp_path, download=False)
    test = load_dataset("cifar10", train=False, data_dir=tmp_path, download=False)
    assert train.images.shape == (20, 3, 32, 32) and len(test) == 4
    # image 1 of data_batch_2 (= training image 5), channel 2, row 3, column 4
    assert train.images[5, 2, 3, 4].item() == (7 * 1 + 50 * 2 + 3 * 3 + 4 + 1 * 4 * 7) % 256
    assert torch.equal(test.images, torch.from_numpy(cifar_pixels(4, offset=5 * 4 * 7)))
    assert train.targets.tolist()[:8] == [0, 1, 2, 3, 1, 2, 3, 4]
    assert test.targets.tolist() == [5, 6, 7, 8]
    assert train.origin is DataOrigin.FULL and train.spec == DATASETS["cifar10"] and "cifar-10-batches-py" in train.source


def test_missing_cifar10_explains_where_it_goes(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("cifar10", train=True, data_dir=tmp_path, download=False)
    message = str(info.value)
    assert "CIFAR-10 not found" in message
    assert f"cifar-10-batches-py/ folder under {tmp_path}/" in message
    assert "cifar-10-python.tar.gz" in message and "cs.toronto.edu" in message


def test_cifar_fallback_is_padded_mnist_and_labelled(tmp_path: Path) -> None:
    write_tiny_mnist(tmp_path)
    mnist = load_dataset("mnist", train=False, data_dir=tmp_path, download=False)
    with pytest.warns(FallbackDataWarning, match="FALLBACK"):
        fake = cifar_fallback(train=False, data_dir=tmp_path)
    assert fake.images.shape == (20, 3, 32, 32) and fake.spec.input_shape == (3, 32, 32) and fake.spec.num_classes == 10
    assert fake.source.startswith("FALLBACK: MNIST digits padded to 3×32×32 stand in for CIFAR-10 (CIFAR-10 not found)")
    assert fake.origin is DataOrigin.FALLBACK and fake.is_fallback and not fake.is_sample and fake.name == "cifar10"
    assert fake.spec.mean == (0.1307,) * 3 and fake.spec.std == (0.3081,) * 3
    for channel in range(3):
        assert torch.equal(fake.images[:, channel, 2:30, 2:30], mnist.images[:, 0])
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert fake.images[:, :, border].eq(0).all()
    assert torch.equal(fake.targets, mnist.targets)


# --------------------------------------------------------------------------- the loader


def test_normalization_matches_torchvision() -> None:
    from torchvision import transforms  # noqa: PLC0415 - slow import

    data = random_cifar_like(4)
    inputs, _ = next(iter(DeviceLoader(data, batch_size=4)))
    reference = torch.stack(
        [
            transforms.Normalize(DATASETS["cifar10"].mean, DATASETS["cifar10"].std)(image.float() / 255)
            for image in data.images
        ]
    )
    assert inputs.dtype == torch.float32
    torch.testing.assert_close(inputs, reference, atol=1e-5, rtol=0)


def test_in_order_batches_cover_everything_once() -> None:
    data = mnist_like(10)
    loader = DeviceLoader(data, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(t) for _, t in batches] == [4, 4, 2]
    assert torch.cat([t for _, t in batches]).tolist() == list(range(10))
    assert [len(t) for _, t in DeviceLoader(data, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DeviceLoader(data, batch_size=4, drop_last=True)) == 2
    inputs, targets = batches[1]
    assert torch.equal(inputs, DeviceLoader(data, 10).normalize(data.images[4:8]))


def test_shuffle_is_a_seeded_permutation_per_pass() -> None:
    data = mnist_like(50)
    loader = DeviceLoader(data, batch_size=8, shuffle=True, seed=3)
    first = torch.cat([t for _, t in loader])
    second = torch.cat([t for _, t in loader])
    assert sorted(first.tolist()) == list(range(50)) and sorted(second.tolist()) == list(range(50))
    assert not torch.equal(first, second)
    assert torch.equal(first, torch.cat([t for _, t in DeviceLoader(data, 8, shuffle=True, seed=3)]))
    assert not torch.equal(first, torch.cat([t for _, t in DeviceLoader(data, 8, shuffle=True, seed=4)]))


def test_state_dict_resumes_the_sequence_of_batches() -> None:
    data = mnist_like(20)
    loader = DeviceLoader(data, batch_size=5, shuffle=True, seed=7)
    list(loader)
    state = loader.state_dict()
    expected = torch.cat([t for _, t in loader])
    fresh = DeviceLoader(data, batch_size=5, shuffle=True, seed=7)
    fresh.load_state_dict(state)
    assert torch.equal(torch.cat([t for _, t in fresh]), expected)
    with pytest.raises(ValueError, match="seed"):
        DeviceLoader(data, batch_size=5, shuffle=True, seed=8).load_state_dict(state)


def test_seedless_loader_follows_the_global_seed() -> None:
    data = mnist_like(30)
    torch.manual_seed(11)
    first = torch.cat([t for _, t in DeviceLoader(data, 7, shuffle=True)])
    torch.manual_seed(11)
    assert torch.equal(first, torch.cat([t for _, t in DeviceLoader(data, 7, shuffle=True)]))


def test_limit_uses_a_fixed_subset() -> None:
    data = mnist_like(100)
    ordered = DeviceLoader(data, batch_size=16, limit=40)
    assert torch.cat([t for _, t in ordered]).tolist() == list(range(40)) and len(ordered) == 3
    shuffled = DeviceLoader(data, batch_size=16, shuffle=True, seed=0, limit=40)
    first = torch.cat([t for _, t in shuffled])
    second = torch.cat([t for _, t in shuffled])
    assert len(first) == 40 and len(set(first.tolist())) == 40
    assert set(first.tolist()) == set(second.tolist()) and not torch.equal(first, second)
    assert set(first.tolist()) != set(range(40))
    assert DeviceLoader(data, batch_size=16, limit=1000).num_examples == 100


def test_bad_loader_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(mnist_like(4), batch_size=0)
    with pytest.raises(ValueError, match="limit"):
        DeviceLoader(mnist_like(4), batch_size=2, limit=0)
    with pytest.raises(ValueError, match="uint8"):
        DeviceDataset("mnist", True, torch.zeros(2, 1, 28, 28), torch.zeros(2), DATASETS["mnist"], "floats")


def test_augment_does_nothing_on_mnist() -> None:
    data = mnist_like(16)
    plain = list(DeviceLoader(data, 8, shuffle=True, seed=1))
    augmented = list(DeviceLoader(data, 8, shuffle=True, seed=1, augment=True))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(plain, augmented, strict=True))


def _match_crop(output: torch.Tensor, original: torch.Tensor) -> list[tuple[int, int, bool]]:
    """All (row offset, column offset, flipped) whose crop of the zero-padded original equals output."""
    padded = torch.nn.functional.pad(original, (4, 4, 4, 4))
    found = []
    for dy in range(9):
        for dx in range(9):
            crop = padded[:, dy : dy + 32, dx : dx + 32]
            for flipped in (False, True):
                if torch.equal(output, crop.flip(-1) if flipped else crop):
                    found.append((dy, dx, flipped))
    return found


def test_cifar_augmentation_is_a_zero_padded_shift_and_flip() -> None:
    data = random_cifar_like(64)
    generator = torch.Generator().manual_seed(0)
    outputs = loader._random_crop_flip(data.images, generator)
    assert outputs.shape == data.images.shape and outputs.dtype == torch.uint8
    draws = []
    for output, original in zip(outputs, data.images, strict=True):
        matches = _match_crop(output, original)
        assert len(matches) == 1, matches  # random pixels: exactly one crop/flip explains it
        draws.append(matches[0])
    flips = [flipped for _, _, flipped in draws]
    assert 15 < sum(flips) < 49  # about half flipped
    assert len({(dy, dx) for dy, dx, _ in draws}) > 20  # offsets vary per image, not per batch


def test_flip_really_flips_and_padding_happens_before_normalization() -> None:
    images = torch.full((256, 3, 32, 32), 255, dtype=torch.uint8)
    images[:, :, :, :16] = 0  # left half black, right half white
    data = DeviceDataset("cifar10", True, images, torch.zeros(256), DATASETS["cifar10"], "TEST-ONLY halves")
    loader = DeviceLoader(data, batch_size=256, shuffle=True, seed=0, augment=True)
    inputs, _ = next(iter(loader))
    black = loader.normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)).flatten()
    white = loader.normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8)).flatten()
    centre_left = inputs[:, 0, 16, 12]  # 4 columns left of the middle: black unless flipped
    assert torch.isclose(centre_left, black[0]).any() and torch.isclose(centre_left, white[0]).any()
    # a shifted image shows the zero padding as the normalized value of pixel 0 (never a 0.0 input)
    rows_top = inputs[:, :, 0, :]
    padded_rows = (rows_top == black[None, :, None]).all(dim=(1, 2))
    assert padded_rows.any() and not (inputs == 0).any()
    assert torch.equal(inputs.unique().sort().values, torch.stack([black, white]).flatten().unique().sort().values)


def test_augmentation_is_seeded() -> None:
    data = random_cifar_like(32)
    first = next(iter(DeviceLoader(data, 32, shuffle=True, seed=5, augment=True)))[0]
    again = next(iter(DeviceLoader(data, 32, shuffle=True, seed=5, augment=True)))[0]
    other = next(iter(DeviceLoader(data, 32, shuffle=True, seed=6, augment=True)))[0]
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_prune_loader_takes_ratio_times_classes_without_augmentation() -> None:
    data = random_cifar_like(500)
    loader = prune_loader(data, ratio=10, batch_size=32, seed=1)
    assert loader.num_examples == 100 and len(loader) == 4 and not loader.augment
    seen = torch.cat([t for _, t in loader])
    assert len(seen) == 100
    assert set(seen.tolist()) <= set(range(10)) and torch.equal(
        seen.sort().values, torch.cat([t for _, t in loader]).sort().values
    )
    numbered = DeviceDataset("cifar10", True, data.images, torch.arange(500), DATASETS["cifar10"], "TEST-ONLY numbered")
    for inputs, index in prune_loader(numbered, ratio=1, batch_size=4, seed=1):
        assert torch.equal(inputs, loader.normalize(data.images[index]))  # whole images: no crop, no flip
    assert not torch.equal(prune_loader(data, 10, 32, seed=1).indices, prune_loader(data, 10, 32, seed=2).indices)
    with pytest.raises(ValueError, match="ratio"):
        prune_loader(data, ratio=0, batch_size=32, seed=1)


def test_a_data_origin_is_one_of_three_values_with_its_caption() -> None:
    assert [origin.value for origin in DataOrigin] == ["full", "sample", "fallback"]
    assert DataOrigin("sample") is DataOrigin.SAMPLE and DataOrigin.FULL.caption == DataOrigin.FULL.tag == ""
    assert DataOrigin.FALLBACK.tag == "FALLBACK: MNIST digits standing in for CIFAR-10 · "
    assert DataOrigin.least_real(["full", "sample", "fallback"]) is DataOrigin.FALLBACK
    assert DataOrigin.least_real([]) is DataOrigin.FULL
    with pytest.raises(ValueError, match="'shipped' is not a valid DataOrigin; valid origins: full, sample, fallback"):
        DataOrigin("shipped")
    data = DeviceDataset("mnist", True, torch.zeros(1, 1, 28, 28, dtype=torch.uint8), torch.zeros(1),
                         DATASETS["mnist"], "TEST-ONLY blank", "sample")
    assert data.origin is DataOrigin.SAMPLE, "a value given as text becomes the enum"
