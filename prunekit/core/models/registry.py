"""The model registry, keyed like the report's ``--model-class`` and ``--model`` flags.

Example:
    >>> sorted(MODELS["default"])
    ['conv', 'fc']
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from prunekit.core.models.base import PrunableModel, check_shape
from prunekit.core.models.fc import FC, Conv
from prunekit.core.models.resnet import ResNet
from prunekit.core.models.vgg import PLANS, VGG

__all__ = ["MODELS", "create_model", "model_names"]

ModelFactory = Callable[..., PrunableModel]

MODELS: dict[str, dict[str, ModelFactory]] = {
    "default": {"fc": FC, "conv": Conv},
    "lottery": {
        **{name: partial(VGG, PLANS[name], batch_norm=False) for name in PLANS},
        **{f"{name}-bn": partial(VGG, PLANS[name], batch_norm=True) for name in PLANS},
        "resnet20": partial(ResNet, blocks_per_stage=3),
    },
}


def model_names() -> dict[str, list[str]]:
    """Returns the valid model names of each model class.

    Example:
        >>> model_names()["default"]
        ['conv', 'fc']
    """
    return {model_class: sorted(models) for model_class, models in MODELS.items()}


def create_model(
    model_class: str,
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    dense_classifier: bool = False,
    device: torch.device | str | None = None,
) -> PrunableModel:
    """Builds a model from the registry, with all masks set to one.

    Args:
        model_class: ``"default"`` or ``"lottery"`` (the report's ``--model-class``).
        name: A model of that class (the report's ``--model``), e.g. ``"fc"`` or ``"vgg16"``.
        input_shape: Shape of one input, e.g. ``(1, 28, 28)``.
        num_classes: Number of outputs.
        dense_classifier: Keep the classifier dense (the report's ``--dense-classifier``).
        device: Where to put the model; the masks follow their parameters.

    Returns:
        The model, a :class:`~prunekit.core.models.base.PrunableModel` (``input_shape``,
        ``num_classes``, ``prunable_layer_names()``, ``output_layer_name``).

    Raises:
        ValueError: If the class or the model name is unknown.

    Example:
        >>> net = create_model("default", "fc", (1, 28, 28), 10)
        >>> net.fc.weight.shape
        torch.Size([10, 100])
    """
    if model_class not in MODELS:
        raise ValueError(f"unknown model class {model_class!r}; valid model classes: {', '.join(sorted(MODELS))}")
    models = MODELS[model_class]
    if name not in models:
        hint = [f"{cls}: {', '.join(sorted(MODELS[cls]))}" for cls in MODELS if name in MODELS[cls]]
        extra = f" (it belongs to model class {hint[0].split(':')[0]!r})" if hint else ""
        raise ValueError(
            f"unknown model {name!r} in model class {model_class!r}{extra}; "
            f"valid models: {', '.join(sorted(models))}"
        )
    shape, classes = check_shape(input_shape, num_classes)
    model = models[name](shape, classes, dense_classifier=dense_classifier)
    return model.to(device) if device is not None else model
