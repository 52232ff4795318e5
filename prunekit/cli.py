"""The command line: the seed's ``python main.py ...`` commands, verbatim, as ``prunekit ...``.

Every flag of Synaptic-Flow's ``main.py`` that a single-shot run uses is accepted
with its meaning; boolean options are plain switches (``--shuffle``, never
``--shuffle True``). Subcommands hand over to the module that owns them:

- ``prunekit [flags]``: one single-shot run (:func:`prunekit.run.experiment.run_singleshot`);
- ``prunekit sweep ...``: a grid of runs (:mod:`prunekit.run.sweep`);
- ``prunekit report <folder>``: the seed's tables and figures (:mod:`prunekit.report`);
- ``prunekit handout --out DIR``: the student notebooks (:mod:`prunekit.teach.handout`);
- ``prunekit notebooks --out DIR``: every numbered notebook in batch (:mod:`prunekit.teach.batch`).

Example:
    >>> args = build_parser().parse_args("--model fc --pruner snip --compression 1 --expid 11 --shuffle".split())
    >>> config_from_args(args).shuffle, config_from_args(args).expid
    (True, '11')
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence

from prunekit.run.config import EXPERIMENTS, ExperimentConfig

__all__ = ["SUBCOMMANDS", "build_parser", "config_from_args", "main"]

SUBCOMMANDS: dict[str, str] = {
    "sweep": "prunekit.run.sweep",
    "report": "prunekit.report",
    "handout": "prunekit.teach.handout",
    "notebooks": "prunekit.teach.batch",
}
"""Subcommand → the module whose ``main(argv)`` runs it."""

_DATASETS = ("mnist", "cifar10", "cifar100")
_MODEL_CLASSES = ("default", "lottery")
_OPTIMIZERS = ("adam", "sgd", "momentum", "rms")
_PRUNERS = ("rand", "mag", "snip", "grasp", "synflow")
_SWITCHES = (
    ("--dense-classifier", "keep the classifier unpruned"),
    ("--prune-bias", "prune biases too"),
    ("--prune-batchnorm", "prune batch-norm weights and biases too"),
    ("--prune-train-mode", "score the weights with the model in train mode"),
    ("--reinitialize", "draw fresh weights after pruning (keeping the masks)"),
    ("--shuffle", "permute each layer's mask after pruning (a layer-wise random control)"),
    ("--invert", "keep the lowest scores instead of the highest"),
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of a single-shot run, with the seed's flag names, defaults and meanings.

    Returns:
        An ``argparse.ArgumentParser``.
    """
    defaults = ExperimentConfig()
    parser = argparse.ArgumentParser(
        prog="prunekit",
        description=(
            "Prune a network at initialization, train it, and report accuracy, test time and FLOPs. "
            "Accepts Synaptic-Flow's main.py flags. Subcommands: " + ", ".join(SUBCOMMANDS) + " (prunekit <sub> -h)."
        ),
        allow_abbrev=False,
        epilog="example: prunekit --model-class default --model fc --dataset mnist --experiment singleshot "
        "--pruner snip --compression 1 --expid 11 --post-epochs 30",
    )
    data = parser.add_argument_group("data and model")
    data.add_argument("--dataset", default=defaults.dataset, choices=_DATASETS, help="the dataset (default: mnist)")
    data.add_argument("--model-class", default=defaults.model_class, choices=_MODEL_CLASSES, help="model family")
    data.add_argument("--model", default=defaults.model, help="a model of the class, e.g. fc, conv, vgg16, resnet20")
    data.add_argument("--data-dir", default=None, help="dataset folder (default: $PRUNEKIT_DATA or the kit's data/)")
    data.add_argument(
        "--allow-fallback",
        action="store_true",
        help="if CIFAR-10 is missing, train on MNIST digits padded to 3x32x32, LABELLED AS A FALLBACK everywhere",
    )
    train = parser.add_argument_group("training")
    train.add_argument("--optimizer", default=defaults.optimizer, choices=_OPTIMIZERS)
    train.add_argument("--train-batch-size", type=_positive_int, default=defaults.train_batch_size)
    train.add_argument("--test-batch-size", type=_positive_int, default=defaults.test_batch_size)
    train.add_argument("--pre-epochs", type=int, default=defaults.pre_epochs, help="training epochs before pruning")
    train.add_argument("--post-epochs", type=int, default=defaults.post_epochs, help="training epochs after pruning")
    train.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    train.add_argument("--lr-drops", type=int, nargs="*", default=[], help="epochs at which the rate is multiplied")
    train.add_argument("--lr-drop-rate", type=float, default=defaults.lr_drop_rate, help="that factor")
    train.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    train.add_argument("--train-limit", type=_positive_int, default=None, help="use only this many training images")
    train.add_argument("--test-limit", type=_positive_int, default=None, help="use only this many test images")
    train.add_argument("--timing-repeats", type=_positive_int, default=defaults.timing_repeats,
                       help="timed passes over the test set (after one warm-up pass)")
    pruning = parser.add_argument_group("pruning")
    pruning.add_argument("--pruner", default=defaults.pruner, choices=_PRUNERS)
    pruning.add_argument(
        "--compression", type=float, default=defaults.compression,
        help="compression exponent a: keep a density of 10^-a of the prunable weights",
    )
    pruning.add_argument(
        "--prune-epochs", type=_positive_int, default=None,
        help="pruning iterations (scoring rounds); default 100 for synflow, 1 for the others",
    )
    pruning.add_argument("--compression-schedule", default=defaults.compression_schedule,
                         choices=("exponential", "linear"))
    pruning.add_argument("--mask-scope", default=defaults.mask_scope, choices=("global", "local"))
    pruning.add_argument("--prune-dataset-ratio", type=_positive_int, default=defaults.prune_dataset_ratio,
                         help="pruning images per class")
    pruning.add_argument("--prune-batch-size", type=_positive_int, default=defaults.prune_batch_size)
    for flag, text in _SWITCHES:
        pruning.add_argument(flag, action="store_true", help=text)
    run = parser.add_argument_group("the run")
    run.add_argument("--experiment", default=defaults.experiment, choices=EXPERIMENTS)
    run.add_argument("--expid", default="", help="the run's folder name (default: derived from the settings)")
    run.add_argument("--result-dir", default=defaults.result_dir, help="runs go to <result-dir>/<experiment>/<expid>")
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N or mps")
    run.add_argument("--gpu", type=int, default=None, help="the seed's GPU index: same as --device cuda:N")
    run.add_argument("--no-cuda", action="store_true", help="the seed's switch: same as --device cpu")
    run.add_argument("--workers", type=int, default=None,
                     help="accepted for the seed's commands; unused (batches are built on the device)")
    run.add_argument("--overwrite", action="store_true", help="replace a finished run with the same expid")
    run.add_argument("--verbose", action="store_true", help="print the per-epoch history at the end")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _device(args: argparse.Namespace) -> str:
    given = {"--device": args.device is not None, "--gpu": args.gpu is not None, "--no-cuda": args.no_cuda}
    chosen = [name for name, present in given.items() if present]
    if len(chosen) > 1:
        raise ValueError(f"give only one of --device, --gpu and --no-cuda; got {', '.join(chosen)}")
    if args.gpu is not None:
        return f"cuda:{args.gpu}"
    if args.no_cuda:
        return "cpu"
    return args.device or "auto"


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The run's configuration from parsed arguments.

    Args:
        args: The output of :func:`build_parser` ``.parse_args``.

    Returns:
        An :class:`ExperimentConfig`.

    Raises:
        ValueError: For conflicting device flags or a value the configuration rejects.
    """
    return ExperimentConfig(
        dataset=args.dataset,
        model_class=args.model_class,
        model=args.model,
        dense_classifier=args.dense_classifier,
        optimizer=args.optimizer,
        train_batch_size=args.train_batch_size,
        test_batch_size=args.test_batch_size,
        pre_epochs=args.pre_epochs,
        post_epochs=args.post_epochs,
        lr=args.lr,
        lr_drops=tuple(args.lr_drops),
        lr_drop_rate=args.lr_drop_rate,
        weight_decay=args.weight_decay,
        pruner=args.pruner,
        compression=args.compression,
        prune_iterations=args.prune_epochs,
        compression_schedule=args.compression_schedule,
        mask_scope=args.mask_scope,
        prune_dataset_ratio=args.prune_dataset_ratio,
        prune_batch_size=args.prune_batch_size,
        prune_bias=args.prune_bias,
        prune_batchnorm=args.prune_batchnorm,
        prune_train_mode=args.prune_train_mode,
        reinitialize=args.reinitialize,
        shuffle=args.shuffle,
        invert=args.invert,
        experiment=args.experiment,
        expid=args.expid,
        result_dir=args.result_dir,
        data_dir=args.data_dir,
        device=_device(args),
        seed=args.seed,
        train_limit=args.train_limit,
        test_limit=args.test_limit,
        timing_repeats=args.timing_repeats,
        verbose=args.verbose,
    )


def _history_lines(rows: Sequence[dict], phase: str) -> list[str]:
    lines = [f"{phase}-training history: epoch, train loss, test loss, top-1 %, top-5 %"]
    for row in rows:
        loss = "-" if row["train_loss"] is None else f"{row['train_loss']:.4f}"
        lines.append(f"  {row['epoch']:>4}  {loss:>8}  {row['test_loss']:.4f}  {row['top1']:6.2f}  {row['top5']:6.2f}")
    return lines


def _run(argv: Sequence[str]) -> int:
    from prunekit.run import experiment

    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.workers is not None:
        print("prunekit: --workers is not needed (batches are built on the device); ignoring it", file=sys.stderr)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # data and collapse warnings are printed by the kit in plain lines
            result = experiment.run_singleshot(
                config, progress=not args.quiet, overwrite=args.overwrite, allow_fallback=args.allow_fallback
            )
    except (experiment.RunExistsError, FileNotFoundError, ValueError) as error:
        print(f"prunekit: {error}", file=sys.stderr)
        return 1
    if args.verbose:
        print("\n".join(_history_lines(result["pre_history"], "pre") + _history_lines(result["post_history"], "post")))
    print("\n".join(experiment.summary_lines(result)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: Arguments without the program name; None = ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 1 when a run fails, 2 for bad arguments.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in SUBCOMMANDS:
        handler: Callable[[list[str]], int] = importlib.import_module(SUBCOMMANDS[arguments[0]]).main
        return int(handler(arguments[1:]) or 0)
    return _run(arguments)


if __name__ == "__main__":
    sys.exit(main())
