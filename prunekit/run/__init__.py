"""Running experiments: configs, data, training, single runs, sweeps and the files they write.

Builds on :mod:`prunekit.core`; knows nothing of notebooks, widgets or reports.
"""
