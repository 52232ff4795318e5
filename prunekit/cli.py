"""The command line: the report's ``python main.py ...`` commands, verbatim, as ``prunekit ...``.

Every flag of Synaptic-Flow's ``main.py`` that a single-shot run uses is accepted
with its meaning; boolean options are plain switches (``--shuffle``, never
``--shuffle True``). Subcommands hand over to the module that owns them:

- ``prunekit [flags]``: one single-shot run (:func:`prunekit.run.experiment.run_singleshot`), or with
  ``--experiment multishot`` or a conservation experiment, that experiment (:mod:`prunekit.run.experiments`);
- ``prunekit sweep ...``: a grid of runs (:mod:`prunekit.run.sweep`);
- ``prunekit report <folder>``: the report's tables and figures (:mod:`prunekit.report`);
- ``prunekit handout --out DIR``: the student notebooks (:mod:`prunekit.teach.handout`);
- ``prunekit notebooks --out DIR``: every numbered notebook in batch (:mod:`prunekit.teach.batch`);
- ``prunekit check [NOTEBOOK ...]``: which checked exercises pass (:mod:`prunekit.teach.grading`);
- ``prunekit grade SUBMISSIONS --out DIR``: grades.csv of submitted notebooks (:mod:`prunekit.teach.grading`).

The contract: every expected failure prints one line on stderr (what, where, what to do) and
exits 1 (a run failed: data errors, divergence, I/O errors such as a full disk) or 2 (bad input:
a bad value, name or flag; nothing ran). :data:`EXIT_CODES` maps exception types to codes in one
place; ``--debug`` shows the traceback as well. Ctrl-C prints one line and exits 130.

Example:
    >>> args = build_parser().parse_args("--model fc --pruner snip --compression 1 --expid 11 --shuffle".split())
    >>> config_from_args(args).shuffle, config_from_args(args).expid
    (True, '11')
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence

from prunekit.run.config import ExperimentConfig
from prunekit.run.data import DataDirNotFoundError, DatasetNotFoundError, notices_as_lines
from prunekit.run.datasets import DataFileError
from prunekit.run.flags import add_run_flags, given_fields
from prunekit.run.io import UnsafePickleError
from prunekit.run.parsing import OneLineParser
from prunekit.run.plugins import ENV_VAR, PluginError, load_plugins
from prunekit.run.records import EpochRow
from prunekit.run.result import ResultSchemaError
from prunekit.run.run_folder import RunExistsError
from prunekit.run.training import TrainingDiverged

__all__ = ["EXIT_CODES", "SUBCOMMANDS", "build_parser", "config_from_args", "error_line", "exit_code", "main"]

SUBCOMMANDS: dict[str, str] = {
    "sweep": "prunekit.run.sweep",
    "report": "prunekit.report",
    "handout": "prunekit.teach.handout",
    "notebooks": "prunekit.teach.batch",
    "reference": "prunekit.report.reference",
    "check": "prunekit.teach.grading:check_main",
    "grade": "prunekit.teach.grading",
}
"""Subcommand → the module whose ``main(argv)`` runs it (``module:function`` names another function)."""

INTERRUPTED = 130
"""The exit code after Ctrl-C (128 + SIGINT), as shells give it."""

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (DataDirNotFoundError, 2),  # a --data-dir the user named that does not exist: bad input
    (DataFileError, 1),  # a data file that is truncated, malformed or out of range: the run failed
    (UnsafePickleError, 1),
    (DatasetNotFoundError, 1),
    (ResultSchemaError, 1),  # a result.json this version cannot read
    (TrainingDiverged, 1),
    (RunExistsError, 2),  # the folder holds a finished run: --overwrite or another --expid
    (PluginError, 2),
    (ValueError, 2),  # bad input: config checks (ConfigError), paths (UnsafePathError), parameters, sweep settings
    (OSError, 1),  # the result folder is a file, read-only, the disk is full, ...
)
"""Exception type → exit code, first match wins: 1 = the run failed, 2 = bad input (nothing ran).
Anything else is a bug: one line asking for ``--debug`` and a report, exit 1."""

_OS_HINTS = {
    errno.ENOSPC: "no space left on the device: free some space, then run the same command again (what finished "
                  "is kept)",
    errno.EDQUOT: "disk quota exceeded: free some space, then run the same command again (what finished is kept)",
    errno.EROFS: "a read-only file system: choose a writable --result-dir",
    errno.EACCES: "permission denied: choose a folder you can write to (--result-dir)",
    errno.EPERM: "operation not permitted: choose a folder you can write to (--result-dir)",
    errno.ENOTDIR: "a file is in the way where a folder must go: choose another --result-dir or move the file",
    errno.EEXIST: "a file is in the way where a folder must go: choose another --result-dir or move the file",
}


def exit_code(error: BaseException) -> int | None:
    """The exit code of ``error`` from :data:`EXIT_CODES` (130 for Ctrl-C); None for an unexpected error (a bug).

    Example:
        >>> exit_code(ValueError("bad")), exit_code(OSError(28, "No space left on device")), exit_code(KeyError("x"))
        (2, 1, None)
    """
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), None)


def error_line(error: BaseException) -> str:
    """One line saying what failed, where, and what to do.

    Example:
        >>> error_line(OSError(28, "No space left on device", "/r/result.json")).split(": free")[0]
        '/r/result.json: no space left on the device'
    """
    if isinstance(error, KeyboardInterrupt):
        return "interrupted; run the same command again to resume"
    if isinstance(error, OSError) and error.errno in _OS_HINTS and error.strerror:
        where = error.filename if error.filename is not None else "?"
        text = f"{where}: {_OS_HINTS[error.errno]}"
    elif isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    if exit_code(error) is None:
        text = (f"unexpected error {type(error).__name__}: {text} "
                "(run again with --debug for the traceback, and report it)")
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _kit_flags(parser: argparse.ArgumentParser) -> None:
    kit = parser.add_argument_group("the kit")
    kit.add_argument(
        "--allow-fallback",
        action="store_true",
        help="if CIFAR-10 is missing, train on MNIST digits padded to 3x32x32, LABELLED AS A FALLBACK everywhere",
    )
    kit.add_argument("--overwrite", action="store_true", help="replace a finished run with the same expid")
    kit.add_argument("--quiet", action="store_true", help="no progress bars")
    kit.add_argument("--debug", action="store_true", help="show the traceback of an error (every subcommand)")
    kit.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                     help=f"import MODULE first (e.g. one that registers a pruner); also ${ENV_VAR} (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of a single-shot run: one flag per config field (from its metadata), plus the kit's own.

    Returns:
        An ``argparse.ArgumentParser``; run flags left out are absent from the namespace (the config's defaults apply).
    """
    parser = OneLineParser(
        prog="prunekit",
        description=(
            "Prune a network at initialization, train it, and report accuracy, test time and FLOPs. "
            "Accepts Synaptic-Flow's main.py flags. Subcommands: " + ", ".join(SUBCOMMANDS) + " (prunekit <sub> -h)."
        ),
        allow_abbrev=False,
        epilog="example: prunekit --model-class default --model fc --dataset mnist --experiment singleshot "
        "--pruner snip --compression 1 --expid 11 --post-epochs 30",
    )
    add_run_flags(parser)
    _kit_flags(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The run's configuration from parsed arguments.

    Args:
        args: The output of :func:`build_parser` ``.parse_args``.

    Returns:
        An :class:`ExperimentConfig`.

    Raises:
        ValueError: For conflicting device flags or a value the configuration rejects.
    """
    return ExperimentConfig(**given_fields(args))


def _plugins(argv: Sequence[str]) -> None:
    """Imports the ``--plugin`` modules (and ``$PRUNEKIT_PLUGINS``) before the parser lists the pruners."""
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    early.add_argument("--plugin", action="append", default=[])
    known, _ = early.parse_known_args(list(argv))
    load_plugins(known.plugin)


def _history_lines(rows: Sequence[EpochRow], phase: str) -> list[str]:
    lines = [f"{phase}-training history: epoch, train loss, test loss, top-1 %, top-5 %"]
    for row in rows:
        loss = "-" if row.train_loss is None else f"{row.train_loss:.4f}"
        lines.append(f"  {row.epoch:>4}  {loss:>8}  {row.test_loss:.4f}  {row.top1:6.2f}  {row.top5:6.2f}")
    return lines


def _run(argv: Sequence[str]) -> int:
    from prunekit.run import experiment

    _plugins(argv)
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if getattr(args, "workers", None) is not None:
        print("prunekit: --workers is not needed (batches are built on the device); ignoring it", file=sys.stderr)
    try:
        config = config_from_args(args).validate()  # everything checked before any data is read
    except ValueError as error:
        parser.error(str(error))
    if config.experiment != "singleshot":  # multishot and the conservation experiments
        from prunekit.run import experiments

        with warnings.catch_warnings(), notices_as_lines():
            warnings.simplefilter("ignore")
            outcome = experiments.run_experiment(config, progress=not args.quiet, overwrite=args.overwrite,
                                                 allow_fallback=args.allow_fallback)
        print("\n".join(experiments.experiment_lines(outcome)))
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # collapse is in the summary; other library chatter is not the user's
        with notices_as_lines():  # data notices: one plain line each on stderr
            result = experiment.run_singleshot(
                config, progress=not args.quiet, overwrite=args.overwrite, allow_fallback=args.allow_fallback
            )
    if result.diverged:  # saved with status "diverged"; its numbers are not results
        print(f"prunekit: {experiment.divergence_line(result)}", file=sys.stderr)
        return 1
    if config.verbose:
        print("\n".join(_history_lines(result.pre_history, "pre") + _history_lines(result.post_history, "post")))
    print("\n".join(experiment.summary_lines(result)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: Arguments without the program name; None = ``sys.argv[1:]``.

    Every expected failure prints one line on stderr and returns its code (:data:`EXIT_CODES`);
    ``--debug`` (anywhere on the line, for every subcommand) prints the traceback first.

    Returns:
        The exit code: 0 on success, 1 when a run failed (or diverged), 2 for bad input, 130 after Ctrl-C.

    Raises:
        SystemExit: For a bad flag or value found by the parser (one line, code 2), and ``--help``.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    arguments = [argument for argument in arguments if argument != "--debug"]
    subcommand = arguments[0] if arguments and arguments[0] in SUBCOMMANDS else None
    program = f"prunekit {subcommand}" if subcommand else "prunekit"
    try:
        if subcommand is not None:
            module, _, function = SUBCOMMANDS[subcommand].partition(":")
            handler: Callable[[list[str]], int] = getattr(importlib.import_module(module), function or "main")
            return int(handler(arguments[1:]) or 0)
        return _run(arguments)
    except (KeyboardInterrupt, Exception) as error:  # noqa: BLE001 - the one place errors become exit codes
        if debug:
            traceback.print_exc()
        print(f"{program}: {error_line(error)}", file=sys.stderr, flush=True)
        code = exit_code(error)
        return 1 if code is None else code


if __name__ == "__main__":
    sys.exit(main())
