"""What the installed package provides and where a clone's folders are: version, templates, sample data.

prunekit works the same installed from a clone in editable mode (``pip install -e .``,
``make venv``) and installed plainly (``pip install .``, a wheel). Nothing here
assumes the package sits in a source checkout:

- the version comes from the installed distribution (:func:`package_version`);
- templates and the shipped MNIST sample are package data, found with
  :mod:`importlib.resources` (:func:`template_path`, :func:`sample_dir`); a clone's
  ``data/mnist-sample/`` is used when the package runs from that clone, and a plain
  install carries a copy as ``prunekit/sample_data/mnist-sample/`` (``setup.py`` copies it
  into the wheel);
- datasets are looked for in an explicit folder, then ``$PRUNEKIT_DATA``, then the
  clone's ``data/`` (editable install only), then ``./data`` in the current folder
  (:func:`default_data_dir`, :func:`data_search_note`);
- notebooks (for ``prunekit handout``/``prunekit notebooks``) are ``./notebooks`` unless
  a folder is given (:func:`notebooks_dir`).

Example:
    >>> template_path("run.ipynb").name
    'run.ipynb'
    >>> sorted(p.name for p in sample_dir().iterdir())[0]
    't10k-images-idx3-ubyte.gz'
"""

from __future__ import annotations

import atexit
import contextlib
import os
from importlib import metadata, resources
from pathlib import Path

__all__ = [
    "DATA_ENV",
    "clone_root",
    "data_search_note",
    "default_data_dir",
    "notebooks_dir",
    "package_version",
    "sample_dir",
    "template_path",
]

DATA_ENV = "PRUNEKIT_DATA"
"""The environment variable naming the datasets folder."""

_SAMPLE = "mnist-sample"
_EXTRACTED = contextlib.ExitStack()
atexit.register(_EXTRACTED.close)


def package_version() -> str:
    """The installed prunekit's version, or ``"unknown"`` when it is not installed (run from a bare copy).

    Returns:
        E.g. ``"0.1.0"``.

    Example:
        >>> package_version() != ""
        True
    """
    try:
        return metadata.version("prunekit")
    except metadata.PackageNotFoundError:
        return "unknown"


def clone_root() -> Path | None:
    """The source checkout the package is imported from (an editable install), or None.

    Returns:
        The folder holding ``pyproject.toml`` and ``prunekit/`` when the package runs
        from a clone; None for a plain install into ``site-packages``.

    Example:
        >>> root = clone_root()
        >>> root is None or (root / "prunekit" / "__init__.py").is_file()
        True
    """
    root = Path(__file__).resolve().parents[2]
    project = root / "pyproject.toml"
    if project.is_file() and (root / "prunekit" / "__init__.py").is_file() and 'name = "prunekit"' in project.read_text(
        encoding="utf-8"
    ):
        return root
    return None


def _resource_path(*parts: str) -> Path:
    """A real filesystem path to package data under ``prunekit/`` (extracted once if zipped)."""
    resource = resources.files("prunekit")
    for part in parts:
        resource = resource.joinpath(part)
    if isinstance(resource, Path):
        return resource
    return _EXTRACTED.enter_context(resources.as_file(resource))


def template_path(name: str) -> Path:
    """A template shipped in ``prunekit/templates/`` (e.g. the run notebook), as a path.

    Args:
        name: The file name, e.g. ``"run.ipynb"``.

    Returns:
        Its path.

    Raises:
        FileNotFoundError: If the package has no such template; the message lists those it has.

    Example:
        >>> template_path("student_README.md").suffix
        '.md'
    """
    folder = resources.files("prunekit").joinpath("templates")
    if not folder.joinpath(name).is_file():
        have = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
        raise FileNotFoundError(f"prunekit ships no template {name!r}; its templates: {', '.join(have)}")
    return _resource_path("templates", name)


def sample_dir() -> Path:
    """The folder of the MNIST sample shipped with the kit.

    The clone's ``data/mnist-sample/`` when the package runs from a clone, else
    the copy installed as package data (``prunekit/sample_data/mnist-sample/``).

    Returns:
        The folder (gzip IDX files with torchvision's names); it may be missing
        from a build that did not include it, which :func:`data_search_note` reports.

    Example:
        >>> sample_dir().name
        'mnist-sample'
    """
    root = clone_root()
    if root is not None and (root / "data" / _SAMPLE).is_dir():
        return root / "data" / _SAMPLE
    return _resource_path("sample_data", _SAMPLE)


def default_data_dir() -> Path:
    """Where datasets are looked for when no folder is given.

    Returns:
        ``$PRUNEKIT_DATA`` if set; else the clone's ``data/`` when the package runs
        from a clone (editable install); else ``./data`` in the current folder.

    Example:
        >>> default_data_dir().name  # doctest: +SKIP
        'data'
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    root = clone_root()
    return root / "data" if root is not None else Path.cwd() / "data"


def data_search_note(data_dir: str | Path | None = None) -> str:
    """Says where datasets were looked for, in order, for "not found" messages.

    Args:
        data_dir: The folder given explicitly (``--data-dir``/``data_dir=``), or None.

    Returns:
        One sentence naming each place and whether it was used.

    Example:
        >>> data_search_note("/nowhere").startswith("looked in /nowhere (given as --data-dir/data_dir)")
        True
    """
    if data_dir is not None:
        first = f"{Path(data_dir).expanduser()} (given as --data-dir/data_dir)"
    elif os.environ.get(DATA_ENV):
        first = f"{default_data_dir()} (from ${DATA_ENV})"
    elif clone_root() is not None:
        first = f"{default_data_dir()} (the clone's data/; set ${DATA_ENV} or pass --data-dir to use another folder)"
    else:
        first = f"{default_data_dir()} (./data in the current folder; set ${DATA_ENV} or pass --data-dir)"
    sample = sample_dir()
    state = "present" if sample.is_dir() else "MISSING from this installation"
    return f"looked in {first}, then the shipped MNIST sample at {sample} ({state}, MNIST only)"


def notebooks_dir(given: str | Path | None = None) -> Path:
    """The folder of the numbered notebooks for ``prunekit handout`` and ``prunekit notebooks``.

    Args:
        given: The ``--notebooks`` folder, or None for ``./notebooks`` in the current folder.

    Returns:
        The folder.

    Raises:
        FileNotFoundError: If the folder does not exist; the message says to pass ``--notebooks``.

    Example:
        >>> notebooks_dir("/nowhere")
        Traceback (most recent call last):
        ...
        FileNotFoundError: notebooks folder /nowhere not found; pass --notebooks <clone>/notebooks (the folder of 00_setup.ipynb …)
    """
    folder = Path(given).expanduser() if given is not None else Path.cwd() / "notebooks"
    if not folder.is_dir():
        hint = "" if given is not None else " (looked for ./notebooks in the current folder)"
        raise FileNotFoundError(
            f"notebooks folder {folder} not found{hint}; pass --notebooks <clone>/notebooks "
            "(the folder of 00_setup.ipynb …)"
        )
    return folder
