"""The kit's set-up files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names differ from PyPI names in one place
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject_runtime() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {_name(r) for r in data["project"]["dependencies"]}


def environment_runtime() -> set[str]:
    names, in_runtime = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            in_runtime = "runtime" in stripped or (in_runtime and "development" not in stripped)
            continue
        if in_runtime and stripped.startswith("- "):
            names.add(CONDA_TO_PYPI.get(_name(stripped[2:]), _name(stripped[2:])))
    return names


def test_environment_and_pyproject_agree_on_runtime_dependencies():
    assert environment_runtime() == pyproject_runtime()


def test_design_card_packages_are_dependencies():
    wanted = {"torch", "torchvision", "jupyterlab", "ipywidgets", "matplotlib", "seaborn", "nbval", "papermill"}
    assert wanted <= pyproject_runtime()


def test_environment_uses_conda_forge_and_python_311():
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text and "python=3.11" in text


def test_console_script_and_dev_extra():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["scripts"]["prunekit"] == "prunekit.cli:main"
    assert "pytest" in {_name(r) for r in data["project"]["optional-dependencies"]["dev"]}
