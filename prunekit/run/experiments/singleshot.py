"""Synaptic-Flow's ``singleshot`` experiment, under the name the other experiments use.

The code is :mod:`prunekit.run.experiment` (kept there: notebooks, sweeps and results import it);
this module only names it beside :mod:`~prunekit.run.experiments.multishot` and
:mod:`~prunekit.run.experiments.conservation`.

Example:
    >>> run_singleshot.__module__
    'prunekit.run.experiment'
"""

from __future__ import annotations

from prunekit.run.experiment import load_result, run_or_load, run_singleshot

__all__ = ["load_result", "run_or_load", "run_singleshot"]
