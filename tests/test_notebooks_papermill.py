"""Batch runs of the notebooks through papermill with NON-default parameters.

An instructor runs ``papermill 05_synflow.ipynb out.ipynb -p INTERACTIVE False -p COMPRESSION 0.5``;
these tests do the same and then read the saved notebook: no error cell, the
injected parameters, no widget shown, and known output cells holding the values
that prunekit computes for those parameters.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

import prunekit
from prunekit.teach import lessons
from prunekit.core.pruning import density_from_compression, keep_count

papermill = pytest.importorskip("papermill")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FC_WEIGHTS = 119_400
# pandas' display settings in a Jupyter kernel; outside one (CI, no terminal) pandas sizes reprs differently.
KERNEL_DISPLAY = ("display.max_columns", 20, "display.width", 80)


def _execute(name: str, tmp_path: Path, parameters: dict) -> dict:
    output = tmp_path / f"{name}.out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
    )
    return json.loads(output.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _text(cell: dict) -> str:
    """Every text output of a cell (streams and text/plain results) joined."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        elif "data" in output:
            plain = output["data"].get("text/plain", "")
            parts.append("".join(plain) if isinstance(plain, list) else plain)
    return "\n".join(parts)


def _cell(nb: dict, pattern: str) -> dict:
    matches = [cell for cell in nb["cells"] if cell["cell_type"] == "code" and re.search(pattern, _source(cell))]
    assert len(matches) == 1, f"expected one code cell matching {pattern!r}, found {len(matches)}"
    return matches[0]


def _check_batch_run(nb: dict, parameters: dict) -> None:
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"error cells: {[(e['ename'], e['evalue']) for e in errors]}"
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    source = _source(injected[0])
    for name in parameters:
        assert re.search(rf"^{name} = ", source, re.M), f"{name} was not injected"
    assert "INTERACTIVE = False" in source
    widget_cell = _cell(nb, r"^if INTERACTIVE:")
    assert widget_cell["outputs"] == [], "with INTERACTIVE = False no widget is shown"
    assert all(c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code" and _source(c).strip())


def test_synflow_notebook_at_another_compression(tmp_path):
    parameters = {
        "INTERACTIVE": False,
        "COMPRESSION": 0.5,
        "ROUNDS": 10,
        "POST_EPOCHS": 1,
        "RESULT_DIR": str(tmp_path / "results"),
    }
    nb = _execute("05_synflow", tmp_path, parameters)
    _check_batch_run(nb, parameters)
    kept = keep_count(density_from_compression(0.5), FC_WEIGHTS)
    rounds = _text(_cell(nb, r"lessons\.compare_iterations\("))
    assert f"10 iterations: kept {kept:,} of {FC_WEIGHTS:,}" in rounds
    assert f"1 iteration: kept {kept:,} of {FC_WEIGHTS:,}" in rounds
    derived = _text(_cell(nb, r"lessons\.lesson_setup\(config\)"))
    assert "compression 0.5: density 0.3162, 10 pruning round(s), 1 post-training epochs" in derived
    runs = _text(_cell(nb, r"run_or_load\(config\.replace\(rounds=1\)\)"))
    assert "SynFlow, 10 rounds" in runs
    assert (tmp_path / "results").is_dir() and any((tmp_path / "results").rglob("result.json")), (
        "runs are saved under RESULT_DIR"
    )


def test_random_notebook_with_another_seed(tmp_path):
    seed = 7
    parameters = {
        "INTERACTIVE": False,
        "SEED": seed,
        "POST_EPOCHS": 1,
        "HIGH_COMPRESSION": 2.0,
        "COLLAPSE_COMPRESSIONS": [2.0, 3.5],
        "COLLAPSE_SEEDS": 3,
        "RESULT_DIR": str(tmp_path / "results"),
    }
    nb = _execute("01_random", tmp_path, parameters)
    _check_batch_run(nb, parameters)

    torch.manual_seed(seed)
    first, second = torch.randn(3, 2), torch.randn(1, 3)
    hand = _text(_cell(nb, r"by_hand = \[torch\.randn"))
    assert f"{first[0, 0].item():.4f}" in hand and f"{second[0, 2].item():.4f}" in hand, "the seed's draws are printed"

    torch.manual_seed(seed)
    model = prunekit.create_model("default", "fc", (1, 28, 28), 10)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit.LayerCollapseWarning)
        pruned, _ = lessons.prune_copy(model, "rand", 1.0)
    table = lessons.layer_kept(pruned)
    table["expected_kept"] = (table["size"] * density_from_compression(1.0)).round(1)
    shown = _text(_cell(nb, r"lessons\.prune_copy\(lesson\.model, \"rand\", COMPRESSION\)"))
    with pd.option_context(*KERNEL_DISPLAY):
        assert repr(table) in shown, f"the per-layer kept counts of seed {seed}"

    rates = lessons.collapse_rates(lessons.rand_collapse([2.0, 3.5], range(1, 4)))
    with pd.option_context(*KERNEL_DISPLAY):
        assert repr(rates.round(4)) in _text(_cell(nb, r"lessons\.collapse_rates\(collapse\)"))


def test_layer_analysis_notebook_on_the_fc_net_with_two_pruners(tmp_path):
    """07's lessons are written for VGG16 and five pruners; another model and a subset run without error."""
    parameters = {
        "INTERACTIVE": False,
        "MODEL_CLASS": "default",
        "MODEL": "fc",
        "DATASET": "mnist",
        "PRUNERS": ["rand", "synflow"],
        "RESULT_DIR": str(tmp_path / "results"),
    }
    nb = _execute("07_layer_analysis", tmp_path, parameters)
    _check_batch_run(nb, parameters)
    kept = keep_count(density_from_compression(0.5), FC_WEIGHTS)
    assert f"{{'rand': {kept}, 'synflow': {kept}}}" in "".join(_text(c) for c in nb["cells"])
    discussion = _cell(nb, r"(?m)^DISCUSSED = ")
    shown = "".join("".join(o["data"]["text/markdown"]) for o in discussion["outputs"] if "text/markdown" in o.get("data", {}))
    assert "with MODEL = 'fc' and PRUNERS = ['rand', 'synflow'] they are not checked or shown" in shown


def test_inference_notebook_with_fast_parameters(tmp_path):
    """09 in batch with small layers and short trainings: no error, the checked FLOP table, every time with its IQR."""
    parameters = {
        "INTERACTIVE": False,
        "REPEATS": 3,
        "LAYER_SIZES": [[100, 784], [256, 256]],
        "DENSITIES": [0.316, 0.01, 0.001],
        "KEEPS": [0.5, 0.25],
        "CHANNEL_METHODS": ["l1", "mag"],
        "TRAIN_LIMIT": 2000,
        "VGG_BATCH": 4,
        "VGG_TRAIN_IMAGES": 0,
        "COMPRESSIONS": [0, 2],
    }
    nb = _execute("09_inference", tmp_path, parameters)
    _check_batch_run(nb, parameters)
    text = "".join(_text(c) for c in nb["cells"])
    # VGG16 at half its channels: a quarter of the weights of every hidden 3x3 layer, computed exactly
    assert "3,680,608 of 14,715,584 weights, 78,744,064 of 313,201,664 weight FLOPs" in text
    layer_cell = _cell(nb, r"inference\.layer_speed\(")
    assert "masked_iqr_ms" in _text(layer_cell) and "sparse_iqr_ms" in _text(layer_cell)
    discussion = _cell(nb, r"display\(discussion\(lines\)\)")
    shown = "".join("".join(o["data"]["text/markdown"]) for o in discussion["outputs"] if "text/markdown" in o.get("data", {}))
    assert "**The compact network is the masked one.**" in shown and "**Table 1.2.2, honestly.**" in shown
