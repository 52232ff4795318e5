"""The Jupyter kernels the kit starts (a sweep's runs, batch notebooks): one configuration for both.

Example:
    >>> KERNEL_CONFIG["KernelManager"]["transport_encryption"]
    'auto'
"""

from __future__ import annotations

from typing import Any

__all__ = ["KERNEL_CONFIG", "kernel_config"]

KERNEL_CONFIG: dict[str, dict[str, Any]] = {"KernelManager": {"transport_encryption": "auto"}}
"""Jupyter config of the kernels started here: their manager provisions CurveZMQ keys when the
kernelspec declares support (ipykernel >= 7 does), so the kernel does not warn that it runs over
TCP without encryption (jupyter_client >= 8.10; older versions ignore the setting)."""


def kernel_config() -> Any:
    """:data:`KERNEL_CONFIG` as the traitlets ``Config`` that ``papermill.execute_notebook(config=...)`` takes."""
    from traitlets.config import Config

    return Config(KERNEL_CONFIG)
