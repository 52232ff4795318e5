"""notebooks/conftest.py: nbval compares a checked cell's stdout, never its stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CODE = "# NBVAL_CHECK_OUTPUT\nimport sys\nprint('kept 11,940')\nprint('warning at line 561', file=sys.stderr)"


def _notebook(path: Path, stdout: str, stderr: str) -> None:
    outputs = [{"name": "stdout", "output_type": "stream", "text": stdout},
               {"name": "stderr", "output_type": "stream", "text": stderr}]
    cell = {"cell_type": "code", "execution_count": 1, "id": "checked", "metadata": {}, "outputs": outputs,
            "source": CODE}
    path.write_text(json.dumps({"cells": [cell], "metadata": {"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}))


def _nbval(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", str(folder)],
                          capture_output=True, text=True, cwd=folder)


def test_stderr_differences_pass_and_stdout_differences_fail(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOKS / "conftest.py", tmp_path / "conftest.py")
    _notebook(tmp_path / "same_stdout.ipynb", "kept 11,940\n", "warning at line 576\n")
    assert _nbval(tmp_path).returncode == 0
    _notebook(tmp_path / "other_stdout.ipynb", "kept 11,939\n", "warning at line 561\n")
    failed = _nbval(tmp_path)
    assert failed.returncode == 1 and "1 failed" in failed.stdout and "other_stdout.ipynb" in failed.stdout
