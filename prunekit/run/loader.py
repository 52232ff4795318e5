"""Batches of a device-resident dataset: normalized inputs, seeded shuffling, CIFAR augmentation.

A :class:`~prunekit.run.datasets.DeviceDataset` already lives on the device as uint8
tensors, so a batch is one ``index_select`` plus one fused multiply-add; no worker
processes, no PIL images. :func:`prune_loader` is the fixed, seeded subset a pruner scores with.

Example:
    >>> from prunekit.run.datasets import DATASETS, DeviceDataset
    >>> data = DeviceDataset("mnist", True, torch.zeros(6, 1, 28, 28, dtype=torch.uint8),
    ...                      torch.arange(6), DATASETS["mnist"], "blank")
    >>> [tuple(inputs.shape) for inputs, _ in DeviceLoader(data, batch_size=4)]
    [(4, 1, 28, 28), (2, 1, 28, 28)]
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from prunekit.run.datasets import DeviceDataset

__all__ = ["DeviceLoader", "prune_loader"]


def _random_crop_flip(images: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """Batched ``RandomCrop(size, padding)`` + ``RandomHorizontalFlip()`` on raw uint8 images.

    Pads with pixel value 0 (as torchvision does on the raw image, before
    normalization), picks one crop offset and one flip per image, and gathers
    all crops with a single indexing operation.
    """
    batch, channels, height, width = images.shape
    device = images.device
    padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, batch), generator=generator).to(device, non_blocking=True)
    flips = (torch.rand(batch, generator=generator) < 0.5).to(device, non_blocking=True)
    rows = offsets[0, :, None] + torch.arange(height, device=device)  # batch × H
    cols = offsets[1, :, None] + torch.arange(width, device=device)  # batch × W
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch_index = torch.arange(batch, device=device)[:, None, None, None]
    channel_index = torch.arange(channels, device=device)[None, :, None, None]
    return padded[batch_index, channel_index, rows[:, None, :, None], cols[:, None, None, :]]


class DeviceLoader:
    """Batches of a :class:`DeviceDataset`: normalized float32 inputs and int64 targets.

    Each pass draws an index permutation (if ``shuffle``) from its own
    ``torch.Generator`` and gathers batches with ``index_select`` on the device;
    normalization ``(x / 255 - mean) / std`` is one fused multiply-add per batch.
    With ``augment=True`` on 32×32 color data (CIFAR), every batch gets a random
    crop with 4 pixels of zero padding and a random horizontal flip, batched on
    the device; on MNIST ``augment`` does nothing (Synaptic-Flow does not augment MNIST).

    The generator's state is part of :meth:`state_dict`, so a resumed run draws
    the same batches as an uninterrupted one.

    Args:
        dataset: The data.
        batch_size: Examples per batch.
        shuffle: Draw a new permutation for each pass.
        augment: Random crop + flip (CIFAR only).
        seed: Seeds the generator; None draws a seed from torch's global RNG
            (so :func:`prunekit.run.training.seed_everything` makes it repeatable).
        drop_last: Drop the last incomplete batch.
        limit: Use only ``limit`` examples: the first ``limit`` ones, or, with
            ``shuffle``, a fixed random subset drawn once from the seeded generator.

    Raises:
        ValueError: If ``batch_size`` or ``limit`` is not positive.

    Example:
        >>> from prunekit.run.datasets import DATASETS
        >>> data = DeviceDataset("mnist", True, torch.zeros(10, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.arange(10), DATASETS["mnist"], "blank")
        >>> loader = DeviceLoader(data, batch_size=4, shuffle=True, seed=0)
        >>> len(loader), [len(targets) for _, targets in loader]
        (3, [4, 4, 2])
    """

    def __init__(
        self,
        dataset: DeviceDataset,
        batch_size: int,
        shuffle: bool = False,
        augment: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        limit: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be positive or None; got {limit}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.augment = bool(augment) and dataset.spec.input_shape[0] == 3
        self.drop_last = drop_last
        self.device = dataset.device
        self.seed = int(torch.randint(0, 2**62, (), dtype=torch.int64)) if seed is None else int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        count = len(dataset) if limit is None else min(int(limit), len(dataset))
        if count == len(dataset):
            self.indices = None  # the whole dataset, in order
        elif shuffle:
            self.indices = torch.randperm(len(dataset), generator=self.generator)[:count].to(self.device)
        else:
            self.indices = torch.arange(count, device=self.device)
        self.num_examples = count
        channels = dataset.spec.input_shape[0]
        mean = torch.tensor(dataset.spec.mean, dtype=torch.float32).expand(channels)
        std = torch.tensor(dataset.spec.std, dtype=torch.float32).expand(channels)
        # (x / 255 - mean) / std == x * scale + shift
        self._scale = (1.0 / (255.0 * std)).reshape(1, channels, 1, 1).to(self.device)
        self._shift = (-mean / std).reshape(1, channels, 1, 1).to(self.device)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_examples // self.batch_size
        return math.ceil(self.num_examples / self.batch_size)

    def __repr__(self) -> str:
        return (
            f"DeviceLoader({self.dataset.name}, {'train' if self.dataset.train else 'test'}, "
            f"{self.num_examples:,} examples, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, augment={self.augment}, device={self.device})"
        )

    def _order(self) -> Tensor | None:
        """This pass's indices into the dataset (None = all, in order)."""
        if self.shuffle:
            permutation = torch.randperm(self.num_examples, generator=self.generator).to(self.device)
            return permutation if self.indices is None else self.indices.index_select(0, permutation)
        return self.indices

    def normalize(self, images: Tensor) -> Tensor:
        """Turns raw uint8 pixels into normalized float32 inputs.

        Args:
            images: uint8 ``B×C×H×W`` on the loader's device.

        Returns:
            ``(images / 255 - mean) / std`` as float32.

        Example:
            >>> from prunekit.run.datasets import DATASETS
            >>> data = DeviceDataset("mnist", True, torch.zeros(1, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.zeros(1), DATASETS["mnist"], "blank")
            >>> round(DeviceLoader(data, 1).normalize(data.images)[0, 0, 0, 0].item(), 4)
            -0.4242
        """
        return torch.addcmul(self._shift, images.float(), self._scale)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._order()
        images, targets = self.dataset.images, self.dataset.targets
        stop = len(self) * self.batch_size if self.drop_last else self.num_examples
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, self.num_examples)
            if order is None:
                batch_images, batch_targets = images[start:end], targets[start:end]
            else:
                index = order[start:end]
                batch_images, batch_targets = images.index_select(0, index), targets.index_select(0, index)
            if self.augment:
                batch_images = _random_crop_flip(batch_images, self.generator)
            yield self.normalize(batch_images), batch_targets

    def state_dict(self) -> dict:
        """The generator state (to resume the same sequence of batches).

        Returns:
            ``{"seed": int, "generator": ByteTensor}``.

        Example:
            >>> from prunekit.run.datasets import DATASETS
            >>> data = DeviceDataset("mnist", True, torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.zeros(4), DATASETS["mnist"], "blank")
            >>> sorted(DeviceLoader(data, 2, seed=0).state_dict())
            ['generator', 'seed']
        """
        return {"seed": self.seed, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restores the generator state saved by :meth:`state_dict`.

        Args:
            state: A dict from :meth:`state_dict`.

        Raises:
            ValueError: If it comes from a loader with another seed.

        Example:
            >>> from prunekit.run.datasets import DATASETS
            >>> data = DeviceDataset("mnist", True, torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
            ...                      torch.zeros(4), DATASETS["mnist"], "blank")
            >>> loader = DeviceLoader(data, 2, seed=0)
            >>> loader.load_state_dict(loader.state_dict())
        """
        if int(state["seed"]) != self.seed:
            raise ValueError(f"loader state has seed {state['seed']}, but this loader was seeded with {self.seed}")
        self.generator.set_state(state["generator"].cpu())  # a checkpoint loaded onto a GPU moved it there


def prune_loader(dataset: DeviceDataset, ratio: int, batch_size: int, seed: int) -> DeviceLoader:
    """The data a pruner scores with: ``ratio × num_classes`` random training images.

    Synaptic-Flow's ``--prune-dataset-ratio`` (default 10, i.e. 100 images for
    10 classes); a fixed seeded subset, shuffled each pass, never augmented.

    Args:
        dataset: The training split.
        ratio: Images per class, on average.
        batch_size: The pruning batch size (the report's ``--prune-batch-size``).
        seed: Chooses the subset and the order.

    Returns:
        A :class:`DeviceLoader` over the subset.

    Raises:
        ValueError: If ``ratio`` is not positive.

    Example:
        >>> from prunekit.run.datasets import DATASETS
        >>> data = DeviceDataset("mnist", True, torch.zeros(500, 1, 28, 28, dtype=torch.uint8),
        ...                      torch.arange(500) % 10, DATASETS["mnist"], "blank")
        >>> loader = prune_loader(data, ratio=10, batch_size=256, seed=1)
        >>> loader.num_examples, len(loader)
        (100, 1)
    """
    if ratio < 1:
        raise ValueError(f"ratio must be a positive number of images per class; got {ratio}")
    return DeviceLoader(dataset, batch_size, shuffle=True, augment=False, seed=seed, limit=ratio * dataset.spec.num_classes)
