"""A batch run of a notebook is quiet: no kernel transport warning, one data notice.

``prunekit notebooks`` (:func:`prunekit.teach.batch.run_notebooks`) runs one small notebook
through papermill, as ``make demo`` does. Its kernel must not log ipykernel's "Kernel is
running over TCP without encryption" warning (the kit's kernels get CurveZMQ keys from their
manager), and the notice that the shipped MNIST sample stands in for the full set must appear
once in the executed notebook, not once per dataset load.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from prunekit.teach import batch

pytest.importorskip("papermill")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_snip.ipynb"
SAMPLE_NOTICE = "using the SHIPPED MNIST SAMPLE"
TRANSPORT_WARNING = "running over TCP without encryption"


@contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Captures file descriptor 2 (this process's and its children's, the kernel's, stderr)."""
    captured: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", errors="replace"))


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One batch run of 03_snip (quick parameters, fresh result folder, a data folder without MNIST so that the
    shipped sample is used and announced): its stderr and saved notebook."""
    tmp = tmp_path_factory.mktemp("quiet")
    (tmp / "no-mnist").mkdir()
    with _stderr_captured() as captured:
        outcome = batch.run_notebooks(
            [NOTEBOOK],
            tmp / "out",
            {"POST_EPOCHS": 1, "RESULT_DIR": str(tmp / "results"), "DATA_DIR": str(tmp / "no-mnist")},
            progress=False,
        )
    stderr = captured[0]
    assert outcome[NOTEBOOK.stem].startswith("ok"), f"the batch run failed: {outcome}\n{stderr[-3000:]}"
    nb = json.loads((tmp / "out" / NOTEBOOK.name).read_text(encoding="utf-8"))
    return {"stderr": stderr, "nb": nb}


def _outputs_text(nb: dict[str, Any]) -> str:
    """Every text the executed notebook shows: streams, results, errors."""
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                parts.append("".join(output["text"]))
            elif output["output_type"] == "error":
                parts.append("\n".join(output["traceback"]))
            else:
                plain = output.get("data", {}).get("text/plain", "")
                parts.append("".join(plain) if isinstance(plain, list) else plain)
    return "\n".join(parts)


def test_batch_kernel_does_not_warn_about_its_transport(batch_run: dict[str, Any]) -> None:
    shown = batch_run["stderr"] + _outputs_text(batch_run["nb"])
    assert TRANSPORT_WARNING not in shown, "the kit's kernel still warns about plain TCP:\n" + "\n".join(
        line for line in shown.splitlines() if TRANSPORT_WARNING in line
    )


def test_batch_notebook_shows_the_data_notice_once(batch_run: dict[str, Any]) -> None:
    shown = _outputs_text(batch_run["nb"])
    notices = [line for line in shown.splitlines() if SAMPLE_NOTICE in line]
    assert len(notices) == 1, f"the shipped-sample notice appears {len(notices)} times, not once:\n" + "\n".join(notices)


def test_sweep_kernels_do_not_warn_about_their_transport(tmp_path: Path) -> None:
    """A sweep's runs are papermill notebooks too: their kernels get the same keys (the fault probe saw the warning)."""
    from prunekit.run import sweep

    (tmp_path / "no-mnist").mkdir()
    grid = sweep.expand_grid(["rand"], [1], result_dir=tmp_path / "sweep", post_epochs=1, train_limit=300,
                             test_limit=200, timing_repeats=1, device="cpu", data_dir=str(tmp_path / "no-mnist"))
    with _stderr_captured() as captured:
        summary = sweep.run_sweep(grid, progress=False)
    assert summary.done == [grid[0].expid], captured[0][-3000:]
    assert TRANSPORT_WARNING not in captured[0], "a sweep's kernel still warns about plain TCP"
