"""prunekit: a notebook-first teaching kit on pruning neural networks at initialization.

The public API that notebooks, tests and users call.

Example:
    >>> import prunekit
    >>> net = prunekit.create_model("default", "fc", (1, 28, 28), 10)
    >>> prunekit.prune(net, "synflow", compression=1).kept
    11940
"""

from prunekit.run.config import ExperimentConfig
from prunekit.run.datasets import DataOrigin
from prunekit.run.experiment import load_model, load_result, run_or_load, run_singleshot, summary_lines
from prunekit.run.result import RunResult
from prunekit.core.export import to_dense, to_torch_prune
from prunekit.core.layers import MaskedConv2d, MaskedLinear, masked_parameters
from prunekit.core.metrics import flop_summary, layer_table, weight_histograms
from prunekit.core.models import MODELS, create_model
from prunekit.core.pruning import (
    LayerCollapseWarning,
    PruneReport,
    collapsed_layers,
    density_from_compression,
    prune,
)
from prunekit.run.presets import PRESETS, preset_config
from prunekit.run.resources import package_version
from prunekit.core.scorers import SCORERS
from prunekit.core.sparse import to_sparse
from prunekit.core.structured import compact_model, prune_channels

__version__ = package_version()
"""The installed distribution's version (``importlib.metadata``), ``"unknown"`` when not installed.

Modules inside the kit call :func:`prunekit.run.resources.package_version` instead of importing
this name, so that no module imports the package's own ``__init__`` (an import cycle).
"""

PRUNERS = tuple(SCORERS)

__all__ = [
    "MODELS",
    "PRESETS",
    "PRUNERS",
    "SCORERS",
    "DataOrigin",
    "ExperimentConfig",
    "LayerCollapseWarning",
    "MaskedConv2d",
    "MaskedLinear",
    "PruneReport",
    "RunResult",
    "collapsed_layers",
    "compact_model",
    "create_model",
    "density_from_compression",
    "flop_summary",
    "layer_table",
    "load_model",
    "load_result",
    "masked_parameters",
    "preset_config",
    "prune",
    "prune_channels",
    "run_or_load",
    "run_singleshot",
    "summary_lines",
    "to_dense",
    "to_sparse",
    "to_torch_prune",
    "weight_histograms",
]
