"""The five scorers: rand, mag, snip, grasp, synflow (one module each)."""

from prunekit.core.scorers.base import Scorer
from prunekit.core.scorers.registry import SCORERS, get_scorer

__all__ = ["SCORERS", "Scorer", "get_scorer"]
