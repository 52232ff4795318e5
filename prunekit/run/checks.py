"""The checks of a run's configuration, done before any work starts (no data is read).

Every name is checked against its registry (pruner, dataset, model class and model,
optimizer, schedule, scope, experiment, device kind), every number against its
range (a 64-bit seed, a positive learning rate and drop rate, ...) and the
compression against the model's prunable count: the model is built once on
PyTorch's ``meta`` device (no memory, no data) and its count is cached.

Example:
    >>> prunable_counts("default", "fc", "mnist")[0]
    119400
    >>> check_compression(6, 119400)
    Traceback (most recent call last):
    ...
    prunekit.run.checks.ConfigError: compression 6 keeps less than one of the 119,400 prunable weights (density 1e-06); use a compression exponent below 5.38
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from prunekit.core.layers import masked_parameters
from prunekit.core.models.registry import MODELS, create_model
from prunekit.core.pruning import SCHEDULES, SCOPES
from prunekit.core.scorers import pruner_names
from prunekit.run import plugins
from prunekit.run.datasets import DATASETS
from prunekit.run.device import DEVICE_KINDS, select_device
from prunekit.run.training import OPTIMIZERS

__all__ = [
    "EXPERIMENTS",
    "SEED_RANGE",
    "ConfigError",
    "check_compression",
    "check_config",
    "check_device_available",
    "check_device_name",
    "prunable_counts",
]

EXPERIMENTS = (
    "singleshot", "multishot", "unit-conservation", "layer-conservation", "imp-conservation", "schedule-conservation",
)
"""Experiments this kit runs (Synaptic-Flow's ``--experiment``; :mod:`prunekit.run.experiments`)."""

SEED_RANGE = (-(2**63), 2**63 - 1)
"""Seeds are 64-bit signed integers (what ``torch.manual_seed`` and the checkpoints store)."""


class ConfigError(ValueError):
    """A configuration value that cannot run; the message names it and lists the valid choices."""


def dataset_names() -> tuple[str, ...]:
    """The datasets the kit reads."""
    return tuple(DATASETS)


def model_class_names() -> tuple[str, ...]:
    """The model classes (the report's ``--model-class``)."""
    return tuple(MODELS)


def optimizer_names() -> tuple[str, ...]:
    """The optimizers."""
    return tuple(OPTIMIZERS)


def schedule_names() -> tuple[str, ...]:
    """How the density falls over the rounds."""
    return tuple(SCHEDULES)


def scope_names() -> tuple[str, ...]:
    """Global or local thresholds."""
    return tuple(SCOPES)


def pruner_choices() -> tuple[str, ...]:
    """The registered pruners, after importing the plugins named by ``PRUNEKIT_PLUGINS``."""
    plugins.load_plugins()
    return pruner_names()


def _choice(what: str, value: Any, valid: Sequence[str], plural: str | None = None) -> None:
    if not isinstance(value, str) or value not in valid:
        raise ConfigError(f"unknown {what} {value!r}; valid {plural or what + 's'}: {', '.join(valid)}")


def _whole(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        none = " or None" if optional else ""
        raise ConfigError(f"{name} must be a whole number >= {low}{none}; got {value!r}")


def _number(name: str, value: Any, *, positive: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise ConfigError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}; got {value!r}")


def lr_drops(value: Iterable[Any]) -> tuple[int, ...]:
    """The ``lr_drops`` field as a tuple of epochs >= 1.

    Raises:
        ConfigError: For an epoch that is not a whole number >= 1.

    Example:
        >>> lr_drops([30, 60])
        (30, 60)
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"lr_drops must be a list of epochs, e.g. (30, 60); got {value!r}")
    epochs = tuple(value)
    for epoch in epochs:
        _whole("each of lr_drops", epoch, 1)
    return epochs


def check_device_name(name: Any) -> None:
    """Refuses a device that is no device kind (``tpu``); whether it exists here is :func:`check_device_available`.

    Raises:
        ConfigError: The message lists the valid names.

    Example:
        >>> check_device_name("cuda:1")
    """
    text = str(name).strip().lower() if isinstance(name, str) else None
    kind, _, index = (text or "").partition(":")
    if text is None or kind not in DEVICE_KINDS or (index and (kind != "cuda" or not index.isdigit())):
        raise ConfigError(f"unknown device {name!r}; valid devices: {', '.join(DEVICE_KINDS)} or cuda:N")


def check_device_available(name: str) -> None:
    """Refuses a device this machine does not have.

    Raises:
        ConfigError: The message says what this machine has.

    Example:
        >>> check_device_available("cpu")
    """
    try:
        select_device(name)
    except ValueError as error:
        raise ConfigError(str(error)) from None


@functools.lru_cache(maxsize=64)
def prunable_counts(
    model_class: str, model: str, dataset: str, dense_classifier: bool = False, bias: bool = False,
    batchnorm: bool = False,
) -> tuple[int, int]:
    """``(prunable entries in all, the smallest prunable tensor)`` of a model, built on the meta device.

    Args:
        model_class: The model class.
        model: The model.
        dataset: Gives the input shape and the number of classes.
        dense_classifier: Keep the classifier dense.
        bias: Count biases as prunable.
        batchnorm: Count batch-norm parameters as prunable.

    Returns:
        The total and the smallest tensor's size (what ``scope=local`` needs to keep one weight of).

    Raises:
        ConfigError: For an unknown model class, model or dataset.
    """
    spec = DATASETS[dataset]
    try:
        net = create_model(model_class, model, spec.input_shape, spec.num_classes,
                           dense_classifier=dense_classifier, device="meta")
    except ValueError as error:
        raise ConfigError(str(error)) from None
    sizes = [p.mask.numel() for p in masked_parameters(net, bias=bias, batchnorm=batchnorm)]
    return sum(sizes), min(sizes, default=0)


def check_compression(compression: Any, total: int, smallest: int | None = None) -> None:
    """Refuses a compression that is not a finite number >= 0 or keeps less than one weight.

    Args:
        compression: The exponent ``a`` (density ``10**-a``).
        total: Prunable entries of the model.
        smallest: The smallest prunable tensor, for ``scope=local`` (each layer keeps the density).

    Raises:
        ConfigError: The message gives the largest usable exponent.

    Example:
        >>> check_compression(1, 119400)
    """
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or not math.isfinite(compression):
        raise ConfigError(
            f"compression must be a finite number >= 0 (the exponent a: density = 10**-a); got {compression!r}"
        )
    if compression < 0:
        raise ConfigError(f"compression exponent must be >= 0 (density = 10**-compression); got {compression!r}")
    for size, what in ((total, "the"), (smallest, "the smallest layer's")):
        if size and round(10.0 ** -compression * size) < 1:
            raise ConfigError(
                f"compression {compression:g} keeps less than one of {what} {size:,} prunable weights "
                f"(density {10.0 ** -compression:.3g}); use a compression exponent below {math.log10(2 * size):.2f}"
            )


def check_config(config: Any) -> None:
    """Every check that needs no data and no particular machine; see the module's docstring.

    Args:
        config: An :class:`~prunekit.run.config.ExperimentConfig` (being built).

    Raises:
        ConfigError: At the first bad value; the message names it and lists the valid choices.
    """
    if not isinstance(config.pruner, str) or config.pruner not in pruner_names():
        _choice("pruner", config.pruner, pruner_choices())
    _choice("dataset", config.dataset, dataset_names())
    _choice("model class", config.model_class, model_class_names(), "model classes")
    models = sorted(MODELS[config.model_class])
    if config.model not in models:
        raise ConfigError(f"unknown model {config.model!r} of model class {config.model_class!r}; "
                          f"valid models: {', '.join(models)}")
    _choice("optimizer", config.optimizer, optimizer_names())
    _choice("schedule", config.schedule, schedule_names())
    _choice("scope", config.scope, scope_names())
    _choice("experiment", config.experiment, EXPERIMENTS)
    check_device_name(config.device)
    for name in ("train_batch_size", "test_batch_size", "prune_batch_size", "prune_dataset_ratio", "timing_repeats"):
        _whole(name, getattr(config, name), 1)
    for name in ("pre_epochs", "post_epochs"):
        _whole(name, getattr(config, name), 0)
    for name in ("train_limit", "test_limit", "rounds"):
        _whole(name, getattr(config, name), 1, optional=True)
    _number("lr", config.lr, positive=True)
    _number("lr_drop_rate", config.lr_drop_rate, positive=True)
    _number("weight_decay", config.weight_decay, positive=False)
    low, high = SEED_RANGE
    if not isinstance(config.seed, int) or isinstance(config.seed, bool) or not low <= config.seed <= high:
        raise ConfigError(f"seed must be a whole number in [-2**63, 2**63 - 1] (64 bits); got {config.seed!r}")
    check_compression(config.compression, 0)
    if config.compression > 0:
        total, smallest = prunable_counts(config.model_class, config.model, config.dataset, config.dense_classifier,
                                          config.prune_bias, config.prune_batchnorm)
        check_compression(config.compression, total, smallest if config.scope == "local" else None)
    for name in ("dense_classifier", "prune_bias", "prune_batchnorm", "prune_train_mode", "reinitialize", "shuffle",
                 "invert", "verbose"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(f"{name} is a switch: True or False; got {getattr(config, name)!r}")
    if config.data_dir is not None and not isinstance(config.data_dir, str):
        raise ConfigError(f"data_dir must be a folder name (text) or None; got {config.data_dir!r}")
    _check_lists(config)


def _check_lists(config: Any) -> None:
    """The list flags of the multi-run experiments (``--compression-list`` …)."""
    for pruner in config.pruner_list:
        if not isinstance(pruner, str) or pruner not in pruner_names():
            _choice("pruner in --pruner-list", pruner, pruner_choices(), "pruners")
    for name in ("level_list", "prune_epoch_list"):
        for value in getattr(config, name):
            _whole(name, value, 1)
    _whole("rewind_iteration", config.rewind_iteration, 0)
    if config.compression_list:
        total, _ = prunable_counts(config.model_class, config.model, config.dataset, config.dense_classifier,
                                   config.prune_bias, config.prune_batchnorm)
        for compression in config.compression_list:
            check_compression(compression, total)

