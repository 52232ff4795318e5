"""RunResult: the typed result of a run, its JSON form (schema 2), the schema-1 upgrade and the schema errors.

Every result here comes from a real tiny run (tests/conftest.py) or, for the upgrade, from
``tests/data/result-schema1.json``: a real result.json written by the schema-1 writer
(``prunekit/experiment.py`` at commit fd3395b) for SNIP at compression 1 on the shipped sample,
300 training / 200 test images, one post-training epoch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prunekit import report
from prunekit.run.datasets import DataOrigin
from prunekit.run.experiment import load_result, summary_lines
from prunekit.run.result import RESULT_FILE, SCHEMA, ResultSchemaError, RunResult

SCHEMA_1 = Path(__file__).parent / "data" / "result-schema1.json"


def test_a_result_saves_and_loads_back_equal(sample_run, tmp_path: Path) -> None:
    result = sample_run.result
    assert load_result(sample_run.folder) == result, "what run_singleshot returned is what it saved"
    copy = result.save(tmp_path / "copy.json")
    assert RunResult.load(copy) == result
    assert RunResult.from_dict(json.loads(copy.read_text())) == result
    saved = json.loads((sample_run.folder / RESULT_FILE).read_text())
    assert saved == json.loads(json.dumps(result.to_dict())) and saved["schema"] == SCHEMA == "prunekit-result/2"
    assert saved["data"]["origin"] == "sample" and saved["prune"]["rounds"] == 1


def test_the_result_fields_agree_with_each_other(sample_run) -> None:
    result = sample_run.result
    assert result.config == sample_run.config and result.status == "complete"
    assert result.top1 == result.post_history[-1].top1 and result.after_prune_top1 == result.post_history[0].top1
    assert [row.epoch for row in result.post_history] == [0, 1] and result.post_history[0].train_loss is None
    assert result.params.kept == result.prune.kept == 11_940 and result.params.density == pytest.approx(0.1)
    weights = result.weight_layers()
    assert list(weights.index) == ["layers.0", "layers.1", "layers.2", "layers.3", "layers.4", "fc"]
    assert weights.kept.sum() == result.params.kept
    assert result.flops.remaining == result.layer_frame().flops_remaining.sum()
    assert result.histograms.frame().groupby("module").frequency.sum().round(6).le(1).all()
    assert result.data.train_examples == 300 and result.data.test_examples == 200


def test_the_data_origin_is_a_value_in_the_result_and_the_summary(sample_run, fallback_run) -> None:
    assert sample_run.result.origin is DataOrigin.SAMPLE
    assert summary_lines(sample_run.result)[0].startswith("SHIPPED MNIST SAMPLE")
    assert fallback_run.result.origin is DataOrigin.FALLBACK
    assert summary_lines(fallback_run.result)[0].startswith("FALLBACK DATA: MNIST digits stood in for CIFAR-10")
    assert not any("SHIPPED" in line for line in summary_lines(fallback_run.result)[:1])


def test_a_schema_1_file_is_upgraded(tmp_path: Path) -> None:
    old = json.loads(SCHEMA_1.read_text())
    assert old["schema"] == "prunekit-result/1"
    result = RunResult.load(SCHEMA_1)
    assert result.origin is DataOrigin.SAMPLE, "schema 1's sample flag"
    assert result.prune.rounds == old["prune"]["iterations"] == old["prune_iterations"] == 1
    assert result.config.rounds == old["config"]["prune_iterations"]
    assert result.config.scope == old["config"]["mask_scope"] and result.config.schedule == old["config"]["compression_schedule"]
    assert (result.top1, result.top5, result.pre_prune_top1) == (
        old["top1_accuracy"], old["top5_accuracy"], old["pre_prune_top1"])
    assert result.test_time_s == old["test_time_s"] and result.timing.repeats == old["test_time"]["repeats"]
    assert result.params.density == pytest.approx(old["params"]["ratio"])
    assert result.flops.ratio == pytest.approx(old["flops"]["ratio"])
    assert result.prune.time_s == pytest.approx(old["prune_time_s"])
    assert result.layer_frame().to_dict(orient="records") == old["layers"]
    assert result.histograms.frame().to_dict(orient="list") == old["histograms"]
    assert summary_lines(result)[0].startswith("SHIPPED MNIST SAMPLE")
    again = RunResult.load(result.save(tmp_path / "upgraded.json"))
    assert again == result and json.loads((tmp_path / "upgraded.json").read_text())["schema"] == SCHEMA


def test_the_report_reads_schema_1_and_schema_2_runs_together(sample_run, tmp_path: Path) -> None:
    shutil.copytree(sample_run.folder, tmp_path / "singleshot" / "new")
    (tmp_path / "singleshot" / "old").mkdir()
    shutil.copy(SCHEMA_1, tmp_path / "singleshot" / "old" / RESULT_FILE)
    frame = report.collect(tmp_path)
    assert sorted(frame.expid) == sorted(["schema1", sample_run.result.expid])
    assert set(frame.origin) == {"sample"} and set(frame["rounds"]) == {1}


def test_another_schema_fails_with_a_typed_error_naming_file_and_schemas(tmp_path: Path) -> None:
    file = tmp_path / "run" / RESULT_FILE
    file.parent.mkdir()
    file.write_text(json.dumps({"schema": "prunekit-result/0"}))
    with pytest.raises(ResultSchemaError) as caught:
        load_result(file.parent)
    message = str(caught.value)
    assert str(file) in message and "'prunekit-result/0'" in message
    assert "'prunekit-result/2'" in message and "'prunekit-result/1'" in message
    assert isinstance(caught.value, ValueError) and caught.value.found == "prunekit-result/0"
    file.write_text(json.dumps([1, 2]))
    with pytest.raises(ResultSchemaError, match="has schema None"):
        load_result(file)
    file.write_text("{not json")
    with pytest.raises(ResultSchemaError, match="not readable JSON"):
        load_result(file)
    with pytest.raises(FileNotFoundError, match="no finished run"):
        load_result(tmp_path / "missing")


def test_a_damaged_result_names_the_missing_field(sample_run, tmp_path: Path) -> None:
    damaged = json.loads((sample_run.folder / RESULT_FILE).read_text())
    del damaged["layers"]
    file = tmp_path / RESULT_FILE
    file.write_text(json.dumps(damaged))
    with pytest.raises(ResultSchemaError, match=r"result.json is not a valid prunekit-result/2 result.*'layers'"):
        RunResult.load(file)
    old = json.loads(SCHEMA_1.read_text())
    del old["test_time"]
    file.write_text(json.dumps(old))
    with pytest.raises(ResultSchemaError, match="declares 'prunekit-result/1' but lacks 'test_time'"):
        RunResult.load(file)
