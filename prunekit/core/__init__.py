"""What pruning is: masked layers, models, scorers, exact top-k pruning and per-layer metrics.

Nothing here knows of files, runs, notebooks or reports; every other part of prunekit builds on it.
"""
