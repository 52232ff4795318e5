"""``prunekit reference`` at its smoke scale: real tiny runs, the files' columns and metadata, resuming, the CLI.

One session-scoped smoke set (1 seed, compressions 0.5 and 1, 1 epoch, 1,000 training images on the
shipped full MNIST; VGG16 with four of its six settings, the two slow ones left out) is computed into
a temporary folder and read back as a student would, with ``pandas.read_csv(comment="#")``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from prunekit import cli
from prunekit.report.reference import CHECKED, COMPARISON_FILE, TOLERANCE, compare_flop_ratios
from prunekit.run.reference import build_parser, run_reference
from prunekit.run.reference_parts import ROW_SETTINGS, SMOKE, SWEEP_SETTINGS, setting_of

REPO = Path(__file__).resolve().parents[1]
SCALE = dataclasses.replace(SMOKE, vgg_settings=("rand", "mag-init", "snip", "synflow-r1"))
META_KEYS = {"command", "scale", "prunekit_version", "torch_version", "python_version", "machine", "started_at",
             "finished_at", "elapsed_s", "seeds", "part", "files", "settings", "compressions"}


@pytest.fixture(scope="session")
def smoke(tmp_path_factory) -> tuple[Path, Path, dict[str, list[Path]]]:
    """The smoke set: (out, work, the files written per part)."""
    base = tmp_path_factory.mktemp("reference")
    out, work = base / "reference", base / "work"
    written = run_reference(scale=SCALE, jobs=2, out=out, work=work, data_dir=REPO / "data", log=lambda line: None)
    return out, work, written


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#")


def header(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]


def test_every_part_writes_its_files(smoke):
    out, _, written = smoke
    assert sorted(written) == ["iterative", "mnist-row", "mnist-sweep", "vgg16-init"]
    assert sorted(p.name for p in (out / "iterative").iterdir()) == [
        "levels.csv", "metadata.json", "runs.csv", "summary.csv"]
    assert sorted(p.name for p in (out / "mnist-row").iterdir()) == ["metadata.json", "runs.csv", "summary.csv"]
    assert sorted(p.name for p in (out / "vgg16-init").iterdir()) == [
        "flop_ratio_runs.csv", "flop_ratio_summary.csv", "layers_runs.csv", "layers_summary.csv", "metadata.json"
    ]
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.pkl")), "no weights or pickles in the set"


@pytest.mark.parametrize("part", ["mnist-row", "mnist-sweep", "vgg16-init", "iterative"])
def test_each_csv_names_command_versions_and_machine_but_no_date(smoke, part):
    out, _, _ = smoke
    for path in (out / part).glob("*.csv"):
        lines = header(path)
        assert lines[1] == "# command: prunekit reference --part vgg16-init --part mnist-sweep --part mnist-row " \
                           "--part iterative --jobs 2 --smoke"
        assert lines[2].startswith("# prunekit ") and ", torch " in lines[2]
        assert lines[3].startswith("# machine: ") and "2 jobs x " in lines[3]
        assert not re.search(r"\d{4}-\d{2}-\d{2}", path.read_text(encoding="utf-8")), f"a date in {path}"
    meta = json.loads((out / part / "metadata.json").read_text(encoding="utf-8"))
    assert META_KEYS <= set(meta), f"missing: {META_KEYS - set(meta)}"
    assert meta["part"] == part and meta["scale"] == "smoke" and meta["seeds"] == [1]
    assert set(meta["machine"]) == {"platform", "processor", "cpu_count", "jobs", "threads"}
    assert sorted(meta["files"]) == sorted(p.name for p in (out / part).glob("*.csv"))


def test_mnist_row_has_one_run_per_setting_with_its_capped_epochs(smoke):
    out, _, _ = smoke
    runs = read(out / "mnist-row" / "runs.csv")
    assert list(runs.columns) == [
        "setting", "pruner", "rounds", "compression", "seed", "pre_epochs", "post_epochs", "status", "top1", "top5",
        "density", "kept", "total", "n_collapsed_layers", "collapsed_layers", "disconnected", "data_origin",
        "train_examples", "test_examples",
    ]
    assert runs.setting.tolist() == [s.label for s in ROW_SETTINGS]
    assert runs.set_index("setting").rounds.to_dict()["synflow-r100"] == 100
    assert runs.set_index("setting").rounds.to_dict()["synflow-r1"] == 1
    assert (runs.compression == 1.0).all() and (runs.data_origin == "full").all()
    assert (runs.train_examples == 1000).all() and (runs.post_epochs == 1).all()
    assert runs.set_index("setting").pre_epochs.to_dict()["mag"] == 1  # the report's 20, capped at the smoke's 1
    assert runs.top1.between(0, 100).all() and (runs.status == "complete").all()
    assert runs.disconnected.isin([True, False]).all()


def test_mnist_sweep_summary_has_mean_std_per_setting_and_compression(smoke):
    out, _, _ = smoke
    summary = read(out / "mnist-sweep" / "summary.csv")
    assert list(summary.columns) == [
        "setting", "pruner", "rounds", "compression", "pre_epochs", "post_epochs", "seeds", "top1_mean", "top1_std",
        "top5_mean", "top5_std", "density_mean", "runs_collapsed", "runs_disconnected", "runs_diverged", "data_origin",
    ]
    assert len(summary) == len(SWEEP_SETTINGS) * 2
    assert sorted(set(summary.compression)) == [0.5, 1.0]
    assert (summary.seeds == 1).all() and summary.top1_std.isna().all()  # one seed: no std
    runs = read(out / "mnist-sweep" / "runs.csv")
    means = runs.groupby(["setting", "compression"]).top1.mean().round(3)
    assert means.to_dict() == summary.set_index(["setting", "compression"]).top1_mean.to_dict()


def test_vgg16_files_have_flop_ratios_and_layers_at_half(smoke):
    out, _, _ = smoke
    runs = read(out / "vgg16-init" / "flop_ratio_runs.csv")
    assert sorted(set(runs.setting)) == sorted(SCALE.vgg_settings)
    uses_data = runs.setting == "snip"
    assert runs[uses_data].prune_data_origin.isin(["full", "fallback"]).all()
    assert (runs[~uses_data].prune_data_origin == "unused").all()
    assert (runs.flops_remaining <= runs.flops).all() and runs.flop_ratio.between(0, 1).all()
    layers = read(out / "vgg16-init" / "layers_summary.csv")
    assert len(layers) == 4 * 14  # 13 convolutions and the classifier per setting
    rand = layers[layers.setting == "rand"]
    assert rand.density_mean.between(0.25, 0.40).all()  # Rand keeps about 10^-0.5 of every layer


def test_comparison_with_the_report_holds_for_its_own_settings(smoke):
    out, _, _ = smoke
    table, holds = compare_flop_ratios(out / "vgg16-init")
    compared = read(out / "vgg16-init" / COMPARISON_FILE)
    assert holds, "\n".join(table)
    checked = compared[compared.checked]
    assert sorted(set(checked.setting)) == sorted(CHECKED)
    assert (checked.difference.abs() <= TOLERANCE).all()
    assert setting_of("vgg16-init", "mag-init").note.endswith("the report pre-trained 200 epochs")


def test_a_second_call_resumes_and_writes_identical_csvs(smoke):
    out, work, _ = smoke
    before = {p: p.read_bytes() for p in out.rglob("*.csv")}
    lines: list[str] = []
    run_reference(scale=SCALE, jobs=2, out=out, work=work, data_dir=REPO / "data", log=lines.append)
    assert {p: p.read_bytes() for p in out.rglob("*.csv")} == before


def test_the_cli_knows_the_subcommand_and_rejects_a_bad_part(capsys):
    assert cli.SUBCOMMANDS["reference"] == "prunekit.report.reference"
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--part", "cifar-row"])
    assert stop.value.code == 2
    assert "invalid choice: 'cifar-row'" in capsys.readouterr().err


def test_bad_jobs_and_parts_are_typed_errors(tmp_path):
    with pytest.raises(ValueError, match="jobs must be at least 1; got 0"):
        run_reference(jobs=0, out=tmp_path, work=tmp_path)
    with pytest.raises(ValueError, match="unknown part.*valid parts: vgg16-init, mnist-sweep, mnist-row, iterative$"):
        run_reference(["mnist-col"], out=tmp_path, work=tmp_path)


def test_every_worker_uses_one_torch_thread_whatever_the_jobs() -> None:
    """Sums in one order: 2 threads moved one VGG16 weight between layers for SNIP and GraSP."""
    from prunekit.run.reference import Machine

    assert {Machine.here(jobs).threads for jobs in (1, 2, 8)} == {1}


def test_iterative_part_imp_and_its_control_share_the_mask_and_the_sweep_shares_its_runs(smoke):
    """IMP and the lottery control prune the same weights level by level; the one-shot rows are mnist-sweep's runs."""
    out, work, _ = smoke
    runs, levels = read(out / "iterative" / "runs.csv"), read(out / "iterative" / "levels.csv")
    assert list(runs.setting) == ["imp", "imp-reinit", "mag", "synflow-r100", "rand"]
    assert (runs.compression == 1.0).all() and (runs.kept == 11_940).all() and (runs.total == 119_400).all()
    assert list(runs.levels) == [5, 5, 1, 1, 1]
    imp, control = (levels[levels.setting == label].reset_index(drop=True) for label in ("imp", "imp-reinit"))
    assert list(imp.level) == [1, 2, 3, 4, 5] and list(imp.kept) == [75_336, 47_534, 29_992, 18_924, 11_940]
    assert imp.drop(columns="setting").equals(control.drop(columns="setting"))
    sweep = read(out / "mnist-sweep" / "runs.csv")
    for label in ("mag", "synflow-r100", "rand"):
        mine = runs[runs.setting == label].iloc[0]
        theirs = sweep[(sweep.setting == label) & (sweep.compression == 1.0)].iloc[0]
        assert (mine.top1, mine.kept) == (theirs.top1, theirs.kept)
    assert len(list((work / "iterative" / "multishot").iterdir())) == 2
    summary = read(out / "iterative" / "summary.csv")
    assert list(summary.seeds) == [1] * 5 and summary.top1_std.isna().all()


def test_a_run_two_parts_share_is_computed_once_and_counts_for_both(tmp_path):
    """The iterative part's one-shot rows are mnist-sweep's runs: one task each, never two workers on one folder."""
    tiny = dataclasses.replace(SMOKE, sweep_compressions=(1.0,), epochs=0, train_limit=256, test_limit=200)
    lines: list[str] = []
    written = run_reference(["mnist-sweep", "iterative"], scale=tiny, jobs=2, out=tmp_path / "out",
                            work=tmp_path / "work", data_dir=REPO / "data", log=lines.append)
    assert sorted(written) == ["iterative", "mnist-sweep"]
    assert lines[0].startswith("reference: 8 tasks (mnist-sweep 6, iterative 5; each shared run once)")
    shared = [line for line in lines if "(also iterative's)" in line]
    assert len(shared) == 3 and all(re.search(r"mnist-sweep (mag|synflow|rand) ", line) for line in shared), shared
    assert len([line for line in lines if line.startswith("[")]) == 8 and lines.count(lines[-1]) == 1
    sweep, iterative = read(tmp_path / "out" / "mnist-sweep" / "runs.csv"), read(tmp_path / "out" / "iterative" / "runs.csv")
    for label in ("mag", "synflow-r100", "rand"):
        assert sweep[sweep.setting == label].top1.tolist() == iterative[iterative.setting == label].top1.tolist()
