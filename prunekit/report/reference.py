"""``prunekit reference``: computes the reference set (:mod:`prunekit.run.reference`) and sets it against the report.

The computing lives in the run layer, which may not read the report's numbers; this face adds,
once ``vgg16-init`` is written, ``flop_ratio_vs_report.csv`` next to its files: the mean FLOP ratio
of each setting at the report's six compressions beside the report's table 1.2.3, and prints it.
Rand and SynFlow with 1 round are the report's own settings there and must come within
:data:`TOLERANCE`; the other settings differ from the report's on purpose (Mag at initialization
instead of pre-trained; SNIP and GraSP scored on the batches the file names) and are listed for reading.

Example:
    >>> TOLERANCE
    0.003
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from prunekit.report.report_numbers import TABLE_1_2_3
from prunekit.run import reference as compute
from prunekit.run.reference_tables import csv_text

__all__ = ["CHECKED", "TOLERANCE", "compare_flop_ratios", "main"]

TOLERANCE = 0.003
CHECKED = ("rand", "synflow-r1")
"""The settings that are the report's own: they must match its FLOP ratios within :data:`TOLERANCE`."""

_REPORT_PRUNER = {"rand": "rand", "mag-init": "mag", "snip": "snip", "grasp": "grasp", "synflow-r1": "synflow",
                  "synflow-r100": "synflow"}
COMPARISON_FILE = "flop_ratio_vs_report.csv"


def _rows(summary: Path) -> list[dict[str, str]]:
    lines = [line for line in summary.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


def compare_flop_ratios(folder: str | Path) -> tuple[list[str], bool]:
    """Writes ``flop_ratio_vs_report.csv`` in a vgg16-init folder; the comparison as lines, and whether it holds.

    Args:
        folder: The folder holding ``flop_ratio_summary.csv``.

    Returns:
        The printable table and True if every :data:`CHECKED` setting is within :data:`TOLERANCE` of the report
        at every compression computed.

    Raises:
        FileNotFoundError: If the folder has no ``flop_ratio_summary.csv``.
    """
    folder = Path(folder)
    summary = folder / "flop_ratio_summary.csv"
    if not summary.is_file():
        raise FileNotFoundError(f"no {summary}: run `prunekit reference --part vgg16-init` first")
    header = [line for line in summary.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    rows, holds, table = [], True, []
    for row in _rows(summary):
        compression = float(row["compression"])
        report = TABLE_1_2_3.get(compression, {}).get(_REPORT_PRUNER[row["setting"]])
        if report is None:
            continue
        ours = float(row["flop_ratio_mean"])
        checked = row["setting"] in CHECKED
        within = abs(ours - report) <= TOLERANCE
        holds &= within or not checked
        verdict = ("ok" if within else "OUTSIDE") if checked else "not the report's setting"
        rows.append([row["setting"], compression, ours, report, ours - report, checked, verdict])
        table.append(f"{row['setting']:>13} a={compression:<5g} kit {ours:.4f}  report {report:.4f}  "
                     f"diff {ours - report:+.4f}  {verdict}")
    body = csv_text(("setting", "compression", "flop_ratio_mean", "report", "difference", "checked", "verdict"),
                    rows, (0, 2, 4, 4, 4, 0, 0))
    note = (f"# the kit's mean FLOP ratio vs the report's table 1.2.3; checked settings ({', '.join(CHECKED)}) must be "
            f"within {TOLERANCE}\n")
    (folder / COMPARISON_FILE).write_text(note + "\n".join(header[1:]) + "\n" + body, encoding="utf-8")
    return table, holds


def _after_part(part: str, files: list[Path]) -> None:
    if part != "vgg16-init":
        return
    table, holds = compare_flop_ratios(files[0].parent)
    print("VGG16 FLOP ratio at initialization, kit (mean over seeds) vs the report (table 1.2.3):", flush=True)
    print("\n".join(table), flush=True)
    print(f"Rand and SynFlow (1 round) within {TOLERANCE} of the report: {'yes' if holds else 'NO'}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit reference ...`` (see :func:`prunekit.run.reference.build_parser`), plus the comparison.

    Args:
        argv: The arguments after ``reference``.

    Returns:
        0, or 1 if a task failed.
    """
    return compute.main(argv, after_part=_after_part)


if __name__ == "__main__":
    sys.exit(main())
