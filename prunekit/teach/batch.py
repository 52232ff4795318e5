"""Every numbered notebook in batch, through papermill: what ``make demo`` runs.

Each notebook runs with ``INTERACTIVE = False`` (no widget waits for a click)
and the result folder given here, and is saved executed into the output folder,
so an instructor can open what ran. A failing notebook is reported (papermill
leaves its error banner in the saved copy) and the others still run.

A parameter goes to the notebooks that declare it in their ``parameters`` cell (``-p POST_EPOCHS=1``
reaches 01–06, not 00 or 08); one that no notebook declares is an error naming those they declare.

With ``jobs > 1`` notebooks run side by side, each kernel with its share of the cores, the long ones first
(metadata ``"prunekit": {"minutes": N}``, the CPU minutes it takes with its defaults; 1 when missing), the
others in numbered order (``06`` copies the single runs of 01–05 when they are finished in time).
A notebook that reads the others' runs (``08_summary``) says so in its metadata
(``"prunekit": {"after_others": true}``) and starts only when the others have finished.

Example:
    >>> parse_parameters(["POST_EPOCHS=1", "PRESET=quick", "DATA_DIR=None"])
    {'POST_EPOCHS': 1, 'PRESET': 'quick', 'DATA_DIR': None}
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from prunekit.run.kernels import kernel_config
from prunekit.run.machine import share_threads, thread_share
from prunekit.run.resources import notebooks_dir
from prunekit.teach.parameters import assigned_names

__all__ = [
    "declared_parameters",
    "notebooks_in",
    "parse_parameters",
    "runs_after_others",
    "start_order",
    "run_notebooks",
    "main",
]

def notebooks_in(folder: str | Path, only: Sequence[str] = ()) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) of a folder, in order.

    Args:
        folder: Where to look.
        only: Keep these (numbers such as ``"05"`` or names such as ``"05_synflow"``); empty keeps all.

    Returns:
        The paths.

    Raises:
        ValueError: If a requested notebook is not there; the message lists those that are.
    """
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    chosen = [path for path in found if path.stem in only or path.stem[:2] in only]
    known = {path.stem for path in found} | {path.stem[:2] for path in found}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ValueError(f"no notebook {', '.join(unknown)} in {folder}; valid: {', '.join(p.stem for p in found)}")
    return chosen


def parse_parameters(pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=value`` pairs as papermill parameters; values are Python literals, else strings.

    Raises:
        ValueError: If a pair has no ``=``.
    """
    parameters: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"a parameter is NAME=value; got {pair!r}")
        try:
            parameters[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parameters[name] = text
    return parameters


def _metadata(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {}).get("prunekit", {})


def runs_after_others(path: str | Path) -> bool:
    """Whether a notebook reads the other notebooks' runs (metadata ``"prunekit": {"after_others": true}``).

    Args:
        path: The notebook.

    Returns:
        True if it must start after every other notebook of the batch has finished.
    """
    return bool(_metadata(path).get("after_others", False))


def declared_parameters(path: str | Path) -> list[str]:
    """The names a notebook's ``parameters`` cell assigns (``NAME = value`` lines), in order.

    Args:
        path: The notebook.

    Returns:
        The names; empty if it has no cell tagged ``parameters``.
    """
    cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    names: list[str] = []
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            names += assigned_names(source) or []
    return names


def _per_notebook(notebooks: Sequence[Path], values: Mapping[str, Any]) -> dict[Path, dict[str, Any]]:
    declared = {path: declared_parameters(path) for path in notebooks}
    known = sorted({name for names in declared.values() for name in names})
    unknown = [name for name in values if name not in known]
    if unknown:
        raise ValueError(f"no notebook declares {', '.join(unknown)}; their parameters: {', '.join(known)}")
    return {path: {k: v for k, v in values.items() if k in names or not names} for path, names in declared.items()}


def _execute(path: Path, out: Path, values: Mapping[str, Any], kernel_name: str) -> str:
    """Runs one notebook; ``"ok (N s)"`` or ``"FAILED: <the error's last line>"``."""
    import papermill

    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            str(out / path.name),
            parameters=dict(values),
            kernel_name=kernel_name,
            cwd=str(path.parent),
            progress_bar=False,
            config=kernel_config(),
        )
    except Exception as error:  # noqa: BLE001 - papermill raises many kinds; each is recorded, the rest go on
        first = str(error).strip().splitlines()
        return f"FAILED: {first[-1] if first else type(error).__name__}"
    return f"ok ({time.perf_counter() - start:.0f} s)"


def start_order(notebooks: Sequence[Path], jobs: int) -> list[list[Path]]:
    """The two waves in which :func:`run_notebooks` starts ``notebooks``: the others, then the ``after_others`` ones.

    With ``jobs > 1`` the first wave starts with the long notebooks (metadata ``minutes``, most first),
    so that no worker is left with one at the end; the rest keep their order.

    Args:
        notebooks: Notebook files.
        jobs: Notebooks run at once.

    Returns:
        ``[first wave, last wave]``.
    """
    last = [path for path in notebooks if runs_after_others(path)]
    first = [path for path in notebooks if path not in last]
    if jobs > 1:
        first.sort(key=lambda path: -float(_metadata(path).get("minutes", 1)))  # stable: ties keep their order
    return [first, last]


def run_notebooks(
    notebooks: Sequence[Path],
    out_dir: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel_name: str = "python3",
    progress: bool = True,
    jobs: int = 1,
) -> dict[str, str]:
    """Executes notebooks with papermill, each in its own folder as working directory.

    Args:
        notebooks: The notebooks, run in this order (those flagged by :func:`runs_after_others` after the rest).
        out_dir: Where the executed copies go (same file names).
        parameters: Papermill parameters for every notebook (``INTERACTIVE`` defaults to False).
        kernel_name: The Jupyter kernel.
        progress: Show a bar over notebooks and one line per notebook.
        jobs: Notebooks run at once (above 1, each kernel gets its share of the cores: cores // jobs threads).

    Returns:
        Notebook name → ``"ok (N s)"`` or ``"FAILED: "`` and the error's last line, in the order given.

    Raises:
        ValueError: If ``jobs`` is below 1, or no notebook declares one of the parameters.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more; got {jobs}")
    values = _per_notebook(notebooks, {"INTERACTIVE": False, **(parameters or {})})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    waves = start_order(notebooks, jobs)
    outcome: dict[str, str] = {}
    bar = tqdm(total=len(notebooks), desc="notebooks", unit="notebook", disable=not progress)

    def record(path: Path, text: str) -> None:
        outcome[path.stem] = text
        bar.update(1)
        if progress:
            tqdm.write(f"{path.stem}: {text} -> {out / path.name}")

    try:
        for wave in waves:
            if jobs == 1 or len(wave) < 2:
                for path in wave:
                    bar.set_postfix_str(path.stem)
                    record(path, _execute(path, out, values[path], kernel_name))
                continue
            with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=share_threads, initargs=(thread_share(jobs),)) as pool:
                # at most `jobs` submitted at a time, so every submitted notebook has a worker: the pool
                # would otherwise queue one more than it runs, and the bar would name it as running
                waiting = list(wave)
                running: dict[Future, Path] = {}
                try:
                    while waiting or running:
                        while waiting and len(running) < jobs:
                            path = waiting.pop(0)
                            running[pool.submit(_execute, path, out, values[path], kernel_name)] = path
                        bar.set_postfix_str(", ".join(p.stem for p in running.values())[:60])
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in finished:
                            record(running.pop(future), future.result())
                except BaseException:
                    for future in running:
                        future.cancel()
                    raise
    finally:
        bar.close()
    return {path.stem: outcome[path.stem] for path in notebooks if path.stem in outcome}


def main(argv: Sequence[str] | None = None) -> int:
    """``prunekit notebooks``: run the numbered notebooks in batch (``./notebooks`` unless ``--notebooks``).

    Returns:
        0 if every notebook ran, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="prunekit notebooks", description="Run the numbered notebooks with papermill (INTERACTIVE=False)."
    )
    parser.add_argument("--notebooks", default=None,
                        help="folder of the numbered notebooks, e.g. <clone>/notebooks (default: ./notebooks)")
    parser.add_argument("--out", default="out/notebooks", help="where the executed notebooks go")
    parser.add_argument("--only", nargs="*", default=[], help="run only these, e.g. 00 05_synflow")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a papermill parameter for every notebook, e.g. -p POST_EPOCHS=1")
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run at once (default 1); a notebook that reads the others' runs starts last")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        folder = notebooks_dir(args.notebooks)
        notebooks = notebooks_in(folder, args.only)
        parameters = parse_parameters(args.parameter)
        _per_notebook(notebooks, parameters)  # a parameter no notebook declares stops here
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    if not notebooks:
        parser.error(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more; got {args.jobs}")
    outcome = run_notebooks(notebooks, args.out, parameters, kernel_name=args.kernel, jobs=args.jobs)
    failed = [name for name, text in outcome.items() if text.startswith("FAILED")]
    print(f"{len(outcome) - len(failed)} of {len(outcome)} notebooks ran; executed copies in {args.out}")
    for name in failed:
        print(f"prunekit: {name} {outcome[name]} (open {Path(args.out) / (name + '.ipynb')})", file=sys.stderr)
    return 1 if failed else 0
