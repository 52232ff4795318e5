"""pytest settings for the notebooks under nbval: stderr is never compared.

Warnings (a layer collapse, the shipped-sample notice), progress bars and download probes go to
stderr. They depend on the machine, on the line numbers of the kit's code and on which runs are
already on disk, not on the results, so a checked cell (``# NBVAL_CHECK_OUTPUT``) compares its
stdout and its displayed values only. nbval compares every stream, so stderr is dropped here
before the comparison.
"""

import nbval.plugin

_streams = nbval.plugin.transform_streams_for_comparison


def _without_stderr(outputs):
    return [output for output in _streams(outputs) if "stderr" not in output]


nbval.plugin.transform_streams_for_comparison = _without_stderr
