"""From saved runs to the report's tables and figures.

- :mod:`prunekit.report.collect`: every ``result.json`` below a folder as one table (:func:`collect`);
- :mod:`prunekit.report.tables`: the report's tables (:func:`table_accuracy`, :func:`table_layer_flops` …);
- :mod:`prunekit.report.plots` and :mod:`prunekit.report.shared_figures`: the figures (the module is not called
  ``figures``: that name is :func:`figures`, every figure of the report from its runs);
- :mod:`prunekit.report.render`: Markdown, CSV, PNG and one HTML page (:func:`write_report`), ``prunekit report``;
- :mod:`prunekit.report.report_numbers`: the report's own published numbers;
- :mod:`prunekit.report.reference_view` and :mod:`prunekit.report.reference_page`: the committed reference set
  (``reference/``) as typed values, tables (mean ± std over seeds), figures and the report's section.

Example:
    >>> from prunekit import report
    >>> report.collect("/nonexistent", allow_empty=True).empty
    True
"""

from prunekit.report.collect import collect, data_label
from prunekit.report.reference_page import reference_figures, reference_tables
from prunekit.report.reference_view import ReferenceSet, TitledTable, load_reference
from prunekit.report.render import figures, main, to_markdown, write_report, written_summary
from prunekit.report.tables import (
    PRUNER_ORDER,
    for_display,
    layer_compression,
    run_histograms,
    side_by_side,
    table_1_1,
    table_accuracy,
    table_flop_ratio,
    table_layer_density,
    table_layer_flops,
    table_model_density,
    table_model_flops,
    table_test_time,
    table_test_time_spread,
    pass_time_ratio,
    TimeRatio,
)

__all__ = [
    "PRUNER_ORDER",
    "ReferenceSet",
    "TitledTable",
    "collect",
    "data_label",
    "figures",
    "for_display",
    "layer_compression",
    "load_reference",
    "main",
    "reference_figures",
    "reference_tables",
    "run_histograms",
    "side_by_side",
    "table_1_1",
    "table_accuracy",
    "table_flop_ratio",
    "table_layer_density",
    "table_layer_flops",
    "table_model_density",
    "table_model_flops",
    "table_test_time",
    "table_test_time_spread",
    "pass_time_ratio",
    "TimeRatio",
    "to_markdown",
    "write_report",
    "written_summary",
]
