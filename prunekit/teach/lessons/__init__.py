"""The data behind the pruner notebooks' lessons (01_random … 05_synflow), one module per topic.

Each function computes one table that a notebook shows or plots. They only call
prunekit's scorers, :func:`prunekit.prune` and :func:`prunekit.layer_table`;
figures are in :mod:`prunekit.teach.plots_lessons`.

- :mod:`~prunekit.teach.lessons.setup`: a notebook's data and seeded model, a pre-trained copy.
- :mod:`~prunekit.teach.lessons.tiny`: the tiny network whose scores are worked out by hand.
- :mod:`~prunekit.teach.lessons.scores`: scores per weight and per layer, the global threshold, ``‖g‖²``.
- :mod:`~prunekit.teach.lessons.masks`: kept weights per layer, pruned copies, rounds, the fan-in effect.
- :mod:`~prunekit.teach.lessons.flow`: input connections, paths, Rand's collapse, SynFlow's conservation.
- :mod:`~prunekit.teach.lessons.runs`: finished runs' histories and summary table.
- :mod:`~prunekit.teach.lessons.versus`: a notebook's runs beside the reference set's means.

Example:
    >>> from prunekit.teach import lessons
    >>> net = lessons.tiny_network()
    >>> [s.tolist() for s in lessons.tiny_scores("mag", net)]
    [[[0.5, 1.0], [2.0, 0.25], [1.5, 1.0]], [[1.0, 0.5, 2.0]]]
"""

from prunekit.teach.lessons.flow import (
    collapse_rates,
    flow_conservation,
    input_connections,
    input_output_paths,
    rand_collapse,
    synflow_bias_effect,
)
from prunekit.teach.lessons.masks import (
    compare_iterations,
    fan_in_table,
    kept_comparison,
    layer_kept,
    prune_copy,
    prune_each,
    weight_histogram,
)
from prunekit.teach.lessons.runs import histories, run_table
from prunekit.teach.lessons.scores import (
    global_threshold,
    gradient_norm,
    gradient_norms,
    layer_scores,
    score_frame,
    score_histograms,
    score_summary,
    threshold_table,
)
from prunekit.teach.lessons.setup import FALLBACK_TAG, Lesson, lesson_setup, majority_share, pretrain_copy
from prunekit.teach.lessons.versus import reference_setting, versus_reference, worst_gap
from prunekit.teach.lessons.tiny import (
    TINY_INPUT,
    TINY_TARGET,
    TINY_W1,
    TINY_W2,
    removal_effects,
    tiny_network,
    tiny_scores,
)

__all__ = [
    "FALLBACK_TAG",
    "Lesson",
    "TINY_INPUT",
    "TINY_TARGET",
    "TINY_W1",
    "TINY_W2",
    "collapse_rates",
    "compare_iterations",
    "fan_in_table",
    "flow_conservation",
    "global_threshold",
    "gradient_norm",
    "gradient_norms",
    "histories",
    "input_connections",
    "input_output_paths",
    "kept_comparison",
    "layer_kept",
    "layer_scores",
    "lesson_setup",
    "majority_share",
    "pretrain_copy",
    "prune_copy",
    "prune_each",
    "rand_collapse",
    "reference_setting",
    "removal_effects",
    "run_table",
    "score_frame",
    "score_histograms",
    "score_summary",
    "synflow_bias_effect",
    "threshold_table",
    "tiny_network",
    "tiny_scores",
    "versus_reference",
    "weight_histogram",
    "worst_gap",
]
