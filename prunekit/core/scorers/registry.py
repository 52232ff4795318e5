"""The scorer registry: a plain dict keyed like the seed's ``--pruner``.

Example:
    >>> sorted(SCORERS)
    ['grasp', 'mag', 'rand', 'snip', 'synflow']
    >>> get_scorer("synflow").default_iterations
    100
"""

from __future__ import annotations

from prunekit.core.scorers.base import Scorer
from prunekit.core.scorers.grasp import grasp_scores
from prunekit.core.scorers.mag import mag_scores
from prunekit.core.scorers.rand import rand_scores
from prunekit.core.scorers.snip import snip_scores
from prunekit.core.scorers.synflow import synflow_scores

__all__ = ["SCORERS", "get_scorer"]

SCORERS: dict[str, Scorer] = {
    "rand": Scorer("rand", rand_scores, needs_data=False, default_iterations=1, formula="S = z, z ~ N(0, 1)"),
    "mag": Scorer("mag", mag_scores, needs_data=False, default_iterations=1, formula="S = |θ|"),
    "snip": Scorer("snip", snip_scores, needs_data=True, default_iterations=1, formula="S = |∂L/∂m| = |g ⊙ θ|"),
    "grasp": Scorer("grasp", grasp_scores, needs_data=True, default_iterations=1, formula="S = θ ⊙ Hg (T = 200)"),
    "synflow": Scorer(
        "synflow", synflow_scores, needs_data=False, default_iterations=100, formula="S = θ ⊙ ∂R/∂θ, R = 1ᵀ ∏|θ| 1"
    ),
}


def get_scorer(name: str) -> Scorer:
    """Looks a scorer up by name.

    Args:
        name: One of ``rand``, ``mag``, ``snip``, ``grasp``, ``synflow``.

    Returns:
        The :class:`Scorer`.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.

    Example:
        >>> get_scorer("mag").needs_data
        False
    """
    if name not in SCORERS:
        raise ValueError(f"unknown pruner {name!r}; valid pruners: {', '.join(SCORERS)}")
    return SCORERS[name]
