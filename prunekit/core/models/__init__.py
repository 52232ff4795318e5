"""Models: ``default`` (fc, conv) and ``lottery`` (VGG family, ResNet-20), all :class:`PrunableModel`."""

from prunekit.core.models.base import PrunableModel
from prunekit.core.models.registry import MODELS, create_model, model_names

__all__ = ["MODELS", "PrunableModel", "create_model", "model_names"]
