"""The kit's set-up files agree with each other."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


# --------------------------------------------------------------------------- a plain (non-editable) install


def _copy_clone(target: Path) -> Path:
    """The working tree without .venv, .git and outputs, as a clone would have it."""
    skip = {".venv", ".git", "results", "out", "handout", "build", "dist", "__pycache__", ".pytest_cache"}
    shutil.copytree(ROOT, target, ignore=lambda folder, names: [n for n in names if n in skip or n.endswith(".egg-info")])
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("plain-install")
    clone = _copy_clone(base / "clone")
    site = base / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(clone)],
        capture_output=True, text=True, cwd=base, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    work = base / "elsewhere"
    work.mkdir()
    return {"clone": clone, "site": site, "work": work}


def _run(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed["site"])}
    env.pop("PRUNEKIT_DATA", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=installed["work"],
                          env=env, timeout=600)


def test_a_plain_install_runs_from_another_folder(installed: dict[str, Path]) -> None:
    site = installed["site"]
    done = _run(installed, "-c", "import prunekit, prunekit.run.resources as r; print(prunekit.__file__); "
                "print(r.clone_root()); print(r.sample_dir()); print(r.template_path('run.ipynb')); print(prunekit.__version__)")
    assert done.returncode == 0, done.stderr
    where, clone, sample, template, version = done.stdout.split("\n")[:5]
    assert Path(where).is_relative_to(site) and clone == "None"
    assert Path(sample) == site / "prunekit" / "sample_data" / "mnist-sample"
    assert sorted(p.name for p in Path(sample).iterdir()) == sorted(p.name for p in (ROOT / "data" / "mnist-sample").glob("*.gz"))
    assert Path(template) == site / "prunekit" / "templates" / "run.ipynb"
    assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    helped = _run(installed, "-m", "prunekit", "--help")
    assert helped.returncode == 0 and "--data-dir" in helped.stdout, helped.stderr


def test_a_plain_install_trains_one_epoch_on_its_shipped_sample(installed: dict[str, Path]) -> None:
    empty = installed["work"] / "no-data"
    empty.mkdir()
    done = _run(installed, "-m", "prunekit", "--pruner", "mag", "--compression", "1", "--post-epochs", "1",
                "--train-limit", "300", "--test-limit", "200", "--data-dir", str(empty), "--device", "cpu",
                "--result-dir", str(installed["work"] / "results"), "--timing-repeats", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"MNIST not found under {empty}" in done.stderr
    assert str(installed["site"] / "prunekit" / "sample_data" / "mnist-sample") in done.stdout
    assert list((installed["work"] / "results").rglob("result.json"))


def test_a_plain_install_writes_the_handout_from_given_notebooks(installed: dict[str, Path]) -> None:
    out = installed["work"] / "handout"
    done = _run(installed, "-m", "prunekit", "handout", "--notebooks", str(installed["clone"] / "notebooks"),
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "README.md").is_file() and (out / "results_template.md").is_file()
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    missing = _run(installed, "-m", "prunekit", "handout", "--out", str(out))
    assert missing.returncode == 2
    assert "./notebooks" in missing.stderr and "pass --notebooks" in missing.stderr


def test_without_data_the_message_says_where_it_goes(installed: dict[str, Path]) -> None:
    done = _run(installed, "-m", "prunekit", "--dataset", "cifar10", "--model-class", "lottery", "--model", "vgg11",
                "--post-epochs", "1", "--device", "cpu", "--result-dir", str(installed["work"] / "results"))
    assert done.returncode != 0
    assert "CIFAR-10 not found" in done.stderr
    assert f"under {installed['work'] / 'data'}/" in done.stderr, "a plain install looks in ./data of the current folder"
