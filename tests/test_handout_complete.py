"""The handout on its own: installed from its kit/, its notebooks run with the exercises filled in, on its data.

A student's path, as the handout's README gives it: ``pip install ./kit`` (here ``--target`` a folder, on
PYTHONPATH, with this environment's dependencies), then each notebook top to bottom. The exercises are
filled with the instructor's reference solutions; the kernel imports prunekit from the handout's copy.

The notebooks with checked exercises (00-05) run in every ``make test`` with one post-training epoch;
``PRUNEKIT_HANDOUT_ALL=1`` runs every notebook with its default parameters (the README's times).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handout_answers import fill_in, source as _source
from prunekit.teach import handout

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DATA = Path(__file__).resolve().parents[1] / "data"
ALL = os.environ.get("PRUNEKIT_HANDOUT_ALL") == "1"
WITH_EXERCISES = ["00_setup", "01_random", "02_magnitude", "03_snip", "04_grasp", "05_synflow"]
STEMS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if ALL else WITH_EXERCISES


@pytest.fixture(scope="module")
def handout_installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("student-handout") / "H"
    handout.make_handout(NOTEBOOKS, out, data_dir=DATA)
    site = out.parent / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(site), str(out / "kit")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return {"handout": out, "site": site}


def test_the_handout_holds_what_its_readme_needs(handout_installed: dict[str, Path]) -> None:
    out = handout_installed["handout"]
    readme = (out / "README.md").read_text(encoding="utf-8")
    for needed in ("pip install ./kit", "environment.yml", "prunekit check", "data/MNIST/raw"):
        assert needed in readme, needed
    assert sorted(p.name for p in (out / "data" / "MNIST" / "raw").iterdir()) == sorted(
        p.name for p in (DATA / "MNIST" / "raw").iterdir())
    assert "pytorch>=2.1" in (out / "environment.yml").read_text() and "./kit" in (out / "environment.yml").read_text()
    installed = handout_installed["site"] / "prunekit"
    assert (installed / "templates" / "run.ipynb").is_file()
    assert len(list((installed / "sample_data" / "mnist-sample").glob("*.gz"))) == 4
    parameters = next(c for c in json.loads((out / "notebooks" / "03_snip.ipynb").read_text())["cells"]
                      if "parameters" in c["metadata"].get("tags", []))
    assert 'DATA_DIR = "../data"' in _source(parameters)


@pytest.mark.parametrize("stem", STEMS)
def test_each_notebook_runs_top_to_bottom_with_its_exercises_filled(stem: str, handout_installed: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    out, site = handout_installed["handout"], handout_installed["site"]
    student = json.loads((out / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    instructor = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))
    filled = fill_in(student, instructor)
    assert filled == sum(1 for c in instructor["cells"] if handout.SOLUTION[0] in _source(c))
    student["cells"].append({"cell_type": "code", "execution_count": None, "id": "whence", "metadata": {},
                             "outputs": [], "source": "import prunekit\nprint('prunekit from', prunekit.__file__)"})
    answered = out / "notebooks" / f"{stem}.answered.ipynb"
    answered.write_text(json.dumps(student), encoding="utf-8")
    parameters = {"INTERACTIVE": False}
    if not ALL:
        names = "".join(_source(c) for c in student["cells"] if "parameters" in c["metadata"].get("tags", []))
        parameters.update({name: value for name, value in (("POST_EPOCHS", 1), ("COMPARE_EPOCHS", 1), ("ROUNDS", 5))
                           if f"\n{name} = " in f"\n{names}"})
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PRUNEKIT_DATA", None)
    started = time.perf_counter()
    old = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits it: prunekit comes from the handout's kit/
    try:
        ran = papermill.execute_notebook(str(answered), str(tmp_path / f"{stem}.out.ipynb"), kernel_name="python3",
                                         cwd=str(answered.parent), parameters=parameters, progress_bar=False)
    finally:
        os.environ.clear()
        os.environ.update(old)
    print(f"{stem}: {time.perf_counter() - started:.0f} s")
    outputs = "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                        for c in ran["cells"] for o in c.get("outputs", []))
    errors = [o for c in ran["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert f"prunekit from {site / 'prunekit' / '__init__.py'}" in outputs, "the kernel ran the handout's kit"
    if stem in WITH_EXERCISES:
        assert outputs.count("✓ your") >= 2, "every check ran and passed"
    if stem in WITH_EXERCISES[1:]:
        assert "full MNIST train set (60,000 images)" in outputs, "the handout's data/, not the sample"
        assert "kept weights in all" in outputs, "the student's scorer ran the notebook's experiment"
