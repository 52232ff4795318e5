"""Fixtures of the browser tests: a JupyterLab server, a headless Chromium, the screenshot folder.

Run with ``make test-browser`` (``pytest tests/browser -m browser``); ``pytest tests -m "not browser"``
leaves these tests out.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAB_SETTINGS,
    NOTEBOOKS,
    SCREENSHOTS,
    Lab,
    free_port,
    prepare_notebooks,
    wait_for_server,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives JupyterLab in headless Chromium (make test-browser)")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """JupyterLab on a free localhost port, serving quick copies of the numbered notebooks."""
    base = Path(tempfile.mkdtemp(prefix="prunekit-browser-"))
    root, results, report, settings, workspaces, runtime = (
        base / name for name in ("notebooks", "results", "report", "settings", "workspaces", "runtime")
    )
    for folder in (root, results, settings, workspaces, runtime, base / "config"):
        folder.mkdir(parents=True)
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    (base / "reference").symlink_to(NOTEBOOKS.parent / "reference")  # the notebooks read ../reference, as in a clone
    parameters = prepare_notebooks(root, results, report)
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log = base / "jupyterlab.log"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),  # no user config of this machine
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_DATA_DIR": str(base / "data"),  # the notebook-signing key; kernels and extensions stay in sys.prefix
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workspaces}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the kernel's messages (Galata does the same)
        "--KernelManager.transport_encryption=auto",  # CurveZMQ keys: no plain-TCP warning from the kernel
        "--LabApp.extension_manager=readonly",  # no extension search on PyPI
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI and these machines run as root
    with log.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_for_server(url, token, process, log)
        yield Lab(url, token, root, results, log, parameters)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium (Debian's) with a fresh profile, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or set PRUNEKIT_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """``out/browser/`` in the repository: the only thing these tests write there."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
