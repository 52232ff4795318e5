"""What makes the handout complete on its own: the kit's source, the data and the environment.

``prunekit handout`` calls these so that the handout folder needs nothing else:

- :func:`copy_kit` puts prunekit itself in ``kit/`` (its package and shipped MNIST sample, with a
  ``pyproject.toml`` written from the installed kit's metadata): ``pip install ./kit`` installs it and
  its dependencies;
- :func:`copy_mnist` puts full MNIST (the four IDX files, as found) in ``data/MNIST/raw/``;
- :func:`copy_reference` puts the kit's reference set in ``reference/`` (the notebooks compare with it);
- :func:`environment_yml` is the conda environment of the same dependencies;
- :func:`point_at_handout_data` makes a student notebook's ``DATA_DIR`` the handout's ``data/``.

Example:
    >>> "pytorch>=2.1" in environment_yml()
    True
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from prunekit.report.reference_view import default_reference_dir
from prunekit.run.resources import default_data_dir, sample_dir

__all__ = ["MNIST_FILES", "copy_kit", "copy_mnist", "copy_reference", "environment_yml", "kit_pyproject", "point_at_handout_data"]

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
"""The four files of full MNIST (torchvision's names; ``.gz`` or not)."""

HANDOUT_DATA_DIR = "../data"
"""``DATA_DIR`` of the student notebooks: the handout's ``data/``, seen from ``notebooks/``."""

_CONDA_NAMES = {"torch": "pytorch"}
"""pip name → conda-forge name, where they differ."""


def _runtime_requirements() -> list[str]:
    """The installed kit's runtime requirements (extras left out), e.g. ``["torch>=2.1", ...]``.

    Raises:
        RuntimeError: If prunekit is not installed (run from a bare copy): the requirements are unknown.
    """
    try:
        requires = metadata.requires("prunekit") or []
    except metadata.PackageNotFoundError as error:
        raise RuntimeError("prunekit is not installed (pip install -e <clone>), so its requirements are unknown; "
                           "the handout needs them for kit/pyproject.toml and environment.yml") from error
    return [req for req in requires if "extra ==" not in req]


def environment_yml() -> str:
    """A conda environment file for the handout: the kit's runtime dependencies, then the kit from ``./kit``."""
    lines = [
        "# conda env create -f environment.yml && conda activate prunekit-assignment",
        "# (or without conda: python -m venv .venv && . .venv/bin/activate && pip install ./kit)",
        "name: prunekit-assignment",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
    ]
    for requirement in _runtime_requirements():
        name = re.split(r"[<>=!~ ;]", requirement, maxsplit=1)[0]
        lines.append(f"  - {_CONDA_NAMES.get(name, name)}{requirement[len(name):]}")
    lines += ["  - pip:", "      - ./kit"]
    return "\n".join(lines) + "\n"


def kit_pyproject() -> str:
    """``kit/pyproject.toml``: the installed kit's name, version, requirements and command."""
    dependencies = "".join(f'    "{req}",\n' for req in _runtime_requirements())
    return (
        "# Written by `prunekit handout` from the kit it was made with: pip install ./kit\n"
        "[build-system]\n"
        'requires = ["setuptools>=61"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        'name = "prunekit"\n'
        f'version = "{metadata.version("prunekit")}"\n'
        'requires-python = ">=3.10"\n'
        f"dependencies = [\n{dependencies}]\n\n"
        "[project.scripts]\n"
        'prunekit = "prunekit.cli:main"\n\n'
        "[tool.setuptools.packages.find]\n"
        'include = ["prunekit*"]\n\n'
        "[tool.setuptools.package-data]\n"
        'prunekit = ["templates/*.ipynb", "templates/*.md", "sample_data/mnist-sample/*.gz"]\n'
    )


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def copy_kit(out_dir: str | Path) -> list[Path]:
    """Copies the prunekit package (no caches) and its MNIST sample into ``out_dir/kit`` with a pyproject.toml.

    Returns:
        The files written, sorted.

    Raises:
        RuntimeError: If prunekit is not installed (its requirements are unknown).
    """
    kit = Path(out_dir) / "kit"
    package = Path(__file__).resolve().parents[1]
    written = [_copy(path, kit / "prunekit" / path.relative_to(package))
               for path in sorted(package.rglob("*"))
               if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
               and "sample_data" not in path.relative_to(package).parts]
    written += [_copy(path, kit / "prunekit" / "sample_data" / "mnist-sample" / path.name)
                for path in sorted(sample_dir().glob("*.gz"))]
    (kit / "pyproject.toml").write_bytes(kit_pyproject().encode("utf-8"))
    return sorted([*written, kit / "pyproject.toml"])


def _mnist_source(data_dir: str | Path | None) -> list[Path] | None:
    raw = Path(data_dir if data_dir is not None else default_data_dir()) / "MNIST" / "raw"
    found = []
    for name in MNIST_FILES:
        candidates = [raw / f"{name}.gz", raw / name]
        present = [path for path in candidates if path.is_file()]
        if not present:
            return None
        found.append(present[0])
    return found


def copy_mnist(out_dir: str | Path, data_dir: str | Path | None = None) -> list[Path]:
    """Copies full MNIST into ``out_dir/data/MNIST/raw`` when it is found (else nothing).

    Args:
        out_dir: The handout's folder.
        data_dir: Where to look (``<data_dir>/MNIST/raw``); None looks where the kit does
            (``$PRUNEKIT_DATA``, the clone's ``data/``, ``./data``).

    Returns:
        The files written (empty when full MNIST was not found: the notebooks then use the kit's sample).
    """
    files = _mnist_source(data_dir)
    if files is None:
        return []
    return [_copy(path, Path(out_dir) / "data" / "MNIST" / "raw" / path.name) for path in files]


def copy_reference(out_dir: str | Path) -> list[Path]:
    """Copies the kit's reference set (compact CSV and metadata) into ``out_dir/reference`` when there is one.

    The notebooks put their runs beside it (``prunekit.report.reference_view.default_reference_dir``
    finds ``../reference`` from ``notebooks/``).

    Returns:
        The files written (empty without a reference set).
    """
    folder = default_reference_dir()
    if folder is None:
        return []
    return [_copy(path, Path(out_dir) / "reference" / path.relative_to(folder))
            for path in sorted(folder.rglob("*")) if path.is_file()]


def point_at_handout_data(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook with its parameters cell's ``DATA_DIR = None`` line set to the handout's ``data/``.

    Example:
        >>> cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["DATA_DIR = None  # x\\n"]}
        >>> point_at_handout_data({"cells": [cell]})["cells"][0]["source"][0][:20]
        'DATA_DIR = "../data"'
    """
    for cell in notebook.get("cells", []):
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        text = re.sub(r"^DATA_DIR = None\b.*$",
                      f'DATA_DIR = "{HANDOUT_DATA_DIR}"  # the handout\'s data/ (full MNIST; put CIFAR-10\'s '
                      "cifar-10-batches-py/ there too)", text, flags=re.M)
        cell["source"] = text.splitlines(keepends=True)
    return notebook
