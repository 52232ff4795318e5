"""Models: ``default`` (fc, conv) and ``lottery`` (VGG family, ResNet-20)."""

from prunekit.core.models.registry import MODELS, create_model, model_names

__all__ = ["MODELS", "create_model", "model_names"]
