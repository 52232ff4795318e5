"""The pruners: one module per scorer (rand, mag, snip, grasp, synflow) and one registry.

Example:
    >>> from prunekit.core.scorers import get_scorer
    >>> get_scorer("synflow").label
    'SynFlow'
"""

from prunekit.core.scorers.base import Scorer, as_scorer
from prunekit.core.scorers.registry import (
    SCORERS,
    field_view,
    get_scorer,
    pruner_names,
    register,
    resolve,
    unregister,
)

__all__ = [
    "SCORERS",
    "Scorer",
    "as_scorer",
    "field_view",
    "get_scorer",
    "pruner_names",
    "register",
    "resolve",
    "unregister",
]
