"""A JupyterLab server for the browser tests of the student path (fixtures in ``conftest.py``).

The server runs on a free localhost port with a random token, on a temporary copy of the
numbered notebooks (each with papermill-style injected parameters: ``INTERACTIVE = True``,
quick settings, a temporary result folder), with its own settings, workspaces and runtime
folders, so nothing is written into the repository except the screenshots under
``out/browser/``. Chromium is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``),
driven by Playwright for Python; ``playwright install`` is never needed.

Run with ``make test-browser`` (``pytest tests/browser -m browser``); ``pytest tests -m "not browser"``
leaves these tests out.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
SCREENSHOTS = REPO / "out" / "browser"
CHROMIUM = Path(os.environ.get("PRUNEKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",  # Chromium refuses to run as root with its sandbox
    "--disable-gpu",
    "--disable-background-networking",  # the closed network here makes these hang
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
SERVER_START_S = 90.0

# The quick parameters every notebook gets when it declares them (others keep their defaults).
QUICK = {"INTERACTIVE": True, "PRESET": "quick", "POST_EPOCHS": 1, "SANITY_EPOCHS": 1, "SEED": 1}
# Per-notebook quick parameters: smaller experiments with the same cells.
QUICK_PER_NOTEBOOK: dict[str, dict[str, Any]] = {
    "01_random": {"COLLAPSE_COMPRESSIONS": [2.0, 3.5], "COLLAPSE_SEEDS": 3},
    "04_grasp": {"COMPARE_EPOCHS": 1},
    "06_compression_sweep": {"COMPRESSIONS": [0.5, 1.0], "PRUNERS": ["rand", "snip"]},
    "09_inference": {"REPEATS": 3, "LAYER_SIZES": [[100, 784], [512, 512]], "VGG_TRAIN_IMAGES": 0},
    "10_iterative": {"SEEDS": [1], "TRAIN_LIMIT": 6000},
    # 07 runs its defaults (VGG16 masks at initialization, no training): its discussion's claims are written for them.
}

# Lab settings: every cell in the DOM (no windowing, so prompts and outputs of all cells can be
# read), and no news or update checks (no network here).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def numbered_notebooks() -> list[str]:
    """The stems of the numbered notebooks (``NN_name``), in order."""
    return [path.stem for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]


def _declared(nb: Any) -> set[str]:
    """The names the notebook's ``parameters`` cell assigns."""
    cells = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    if len(cells) != 1:
        raise AssertionError(f"expected one cell tagged 'parameters', found {len(cells)}")
    return set(re.findall(r"^([A-Za-z_]\w*)\s*=", cells[0].source, re.M))


def quick_parameters(stem: str, result_dir: Path, report_dir: Path) -> dict[str, Any]:
    """The quick parameters for one notebook (before keeping those it declares)."""
    return {
        **QUICK,
        "RESULT_DIR": str(result_dir),
        "REPORT_DIR": str(report_dir),
        **QUICK_PER_NOTEBOOK.get(stem, {}),
    }


def prepare_notebooks(target: Path, result_dir: Path, report_dir: Path) -> dict[str, dict[str, Any]]:
    """Copies the numbered notebooks into ``target`` with injected quick parameters.

    Returns:
        Notebook stem -> the parameters injected into it.
    """
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    injected = {}
    for stem in numbered_notebooks():
        nb = load_notebook_node(str(NOTEBOOKS / f"{stem}.ipynb"))  # as papermill reads it (every cell has tags)
        declared = _declared(nb)
        parameters = {k: v for k, v in quick_parameters(stem, result_dir, report_dir).items() if k in declared}
        nb = parameterize_notebook(nb, parameters)
        nbformat.write(nb, target / f"{stem}.ipynb")
        injected[stem] = parameters
    return injected


def free_port() -> int:
    """A localhost TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it is, its token, its folders and its log."""

    url: str
    token: str
    root: Path
    results: Path
    log: Path
    parameters: dict[str, dict[str, Any]]

    def notebook_url(self, stem: str) -> str:
        return f"{self.url}/lab/tree/{stem}.ipynb?token={self.token}"

    def log_tail(self, lines: int = 60) -> str:
        """The server's (and its kernels') last log lines, for failure messages."""
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def wait_for_server(url: str, token: str, process: subprocess.Popen, log: Path) -> None:
    """Polls the server's status until it answers.

    Raises:
        RuntimeError: If the server exits or does not answer within ``SERVER_START_S``; the message holds its log.
    """
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        process_wait(process, 0.25)
    raise RuntimeError(f"JupyterLab did not answer on {url} within {SERVER_START_S:g} s:\n{log.read_text(errors='replace')[-3000:]}")


def process_wait(process: subprocess.Popen, seconds: float) -> None:
    """Waits up to ``seconds`` for ``process`` to end (a poll interval, not a timed wait for a result)."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass
