"""The run flags, generated from :class:`~prunekit.run.config.ExperimentConfig`'s field metadata.

Each field becomes one flag (its :class:`~prunekit.run.config.Flag`: help, choices,
aliases, group); booleans are plain switches (``--shuffle``, never ``--shuffle
True``); ``lr_drops`` takes several epochs. Defaults are not set on the parser: a
flag left out leaves the dataclass's default, so the dataclass stays the single
source. Synaptic-Flow's ``--gpu N`` and ``--no-cuda`` map to ``--device``; its
``--workers`` is accepted and ignored. Both ``prunekit`` and ``prunekit sweep`` use it.

Example:
    >>> parser = argparse.ArgumentParser()
    >>> add_run_flags(parser)
    >>> given_fields(parser.parse_args("--prune-epochs 7 --mask-scope local --gpu 1".split()))
    {'rounds': 7, 'scope': 'local', 'device': 'cuda:1'}
"""

from __future__ import annotations

import argparse
import typing
from typing import Any

from prunekit.run.config import ExperimentConfig

__all__ = ["REPORT_ONLY_FLAGS", "add_run_flags", "given_fields"]

REPORT_ONLY_FLAGS = ("gpu", "no_cuda", "workers")
"""Flags of Synaptic-Flow's main.py that are no config field (``--gpu``, ``--no-cuda``, ``--workers``)."""


def _optional(kind: type) -> Any:
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null") else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Adds one flag per config field, grouped as in ``prunekit --help``, and the report's device flags.

    Args:
        parser: The parser to extend.
    """
    defaults = ExperimentConfig()
    groups: dict[str, Any] = {}
    for spec, flag, kind in ExperimentConfig.flags():
        group = groups.get(flag.group) or groups.setdefault(flag.group, parser.add_argument_group(flag.group))
        names = [flag.flag or "--" + spec.name.replace("_", "-"), *flag.aliases]
        default = getattr(defaults, spec.name)
        text = flag.help + ("" if default in (None, "", ()) or isinstance(default, bool) else f" (default: {default})")
        if flag.aliases:
            text += f"; also {', '.join(flag.aliases)}"
        options: dict[str, Any] = {"dest": spec.name, "default": argparse.SUPPRESS, "help": text}
        args = typing.get_args(kind)
        if kind is bool:
            options["action"] = "store_true"
        elif typing.get_origin(kind) is tuple:  # Synaptic-Flow's lists: --compression-list 1 2 …
            item = args[0]
            options.update(nargs="*" if spec.name == "lr_drops" else "+", type=item,
                           metavar="EPOCH" if spec.name == "lr_drops" else item.__name__.upper())
        elif type(None) in args:
            options["type"] = _optional(next(arg for arg in args if arg is not type(None)))
        else:
            options["type"] = kind
        if flag.choices is not None:
            options["choices"] = list(flag.choices())
        group.add_argument(*names, **options)
    run = groups.get("the run") or parser.add_argument_group("the run")
    run.add_argument("--gpu", type=int, default=argparse.SUPPRESS, help="the report's GPU index: same as --device cuda:N")
    run.add_argument("--no-cuda", action="store_true", default=argparse.SUPPRESS,
                     help="the report's switch: same as --device cpu")
    run.add_argument("--workers", type=int, default=argparse.SUPPRESS,
                     help="accepted for the report's commands; unused (batches are built on the device)")


def given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line (and only those), the report's device flags mapped to ``device``.

    Args:
        args: Parsed by a parser extended with :func:`add_run_flags`.

    Returns:
        Field → value, ready for ``ExperimentConfig(**fields)`` or ``config.replace(**fields)``.

    Raises:
        ValueError: If more than one of ``--device``, ``--gpu`` and ``--no-cuda`` is given.
    """
    present = vars(args)
    fields = {name: present[name] for name in ExperimentConfig.field_names() if name in present}
    for name, value in list(fields.items()):
        if isinstance(value, list):  # nargs flags: lr_drops and the experiments' lists
            fields[name] = tuple(value)
    chosen = [flag for flag, dest in (("--device", "device"), ("--gpu", "gpu"), ("--no-cuda", "no_cuda"))
              if dest in present]
    if len(chosen) > 1:
        raise ValueError(f"give only one of --device, --gpu and --no-cuda; got {', '.join(chosen)}")
    if "gpu" in present:
        fields["device"] = f"cuda:{present['gpu']}"
    elif "no_cuda" in present:
        fields["device"] = "cpu"
    return fields
