"""Multishot (iterative pruning with rewinding): level densities, rewinding, resume, and the command line."""

from __future__ import annotations

import shlex
import warnings

import pytest
import torch

from prunekit import cli
from prunekit.core.layers import masked_parameters
from prunekit.core.pruning import keep_count, prune
from prunekit.run.config import ExperimentConfig
from prunekit.run import data as prunekit_data
from prunekit.run.experiments import load_experiment, run_experiment
from prunekit.run.experiments.common import folder_of, prepare
from prunekit.run.experiments.multishot import (
    LEVEL_CHECKPOINT,
    level_densities,
    rewind_,
    run_multishot,
    snapshot,
)
from prunekit.run.training import fit, make_optimizer, make_scheduler


@pytest.fixture
def multishot(make_tiny_config, tmp_path):
    """A tiny multishot config (Mag, a = 1, 3 levels, 1 + 1 epochs on 300 images); changes as keywords."""

    def make(**changes):
        settings = {"experiment": "multishot", "pruner": "mag", "pre_epochs": 1, "post_epochs": 1,
                    "compression_list": (1.0,), "level_list": (3,), "lr_drops": (1,), **changes}
        return make_tiny_config(tmp_path, **settings)

    return make


@pytest.fixture(autouse=True)
def _quiet_data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", prunekit_data.DataWarning)
        yield


def test_level_densities_fall_geometrically_to_the_final_density() -> None:
    densities = level_densities(2, 4)
    assert densities == pytest.approx([10 ** -0.5, 10 ** -1.0, 10 ** -1.5, 10 ** -2.0])
    with pytest.raises(ValueError, match="levels must be >= 1"):
        level_densities(1, 0)


def test_every_level_keeps_exactly_round_density_times_n(multishot) -> None:
    result = run_multishot(multishot(compression_list=(1.0, 2.0), level_list=(1, 3)), progress=False)
    assert [(e.compression, e.levels) for e in result.entries] == [(1.0, 1), (1.0, 3), (2.0, 1), (2.0, 3)]
    for entry in result.entries:
        total = entry.total
        assert [row.kept for row in entry.level_rows] == [
            keep_count(d, total) for d in level_densities(entry.compression, entry.levels)]
        assert entry.kept == keep_count(10 ** -entry.compression, total)
    assert load_experiment(folder_of(result.config)) == result
    assert not (folder_of(result.config) / LEVEL_CHECKPOINT).exists()


def test_rewinding_restores_the_survivors_initial_weights_and_the_optimizer_and_schedule(multishot) -> None:
    config = multishot()
    setup = prepare(config)
    model = setup.model
    optimizer = make_optimizer("adam", model.parameters(), 1e-3)
    scheduler = make_scheduler(optimizer, (1,), 0.1)
    point = snapshot(model, optimizer, scheduler)
    fit(model, setup.train_loader, setup.test_loader, optimizer, scheduler, 2, progress=False)
    assert scheduler.last_epoch == 2 and optimizer.state
    prune(model, "mag", 1.0, scope="local")
    rewind_(model, optimizer, scheduler, point)
    for p in masked_parameters(model):
        initial = point["model"][f"{p.name}"]
        assert torch.equal(p.param[p.mask.bool()], initial[p.mask.bool()])  # the survivors: back to their start
        assert not p.param[~p.mask.bool()].any()  # the pruned: zero
    assert scheduler.last_epoch == 0 and optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert not optimizer.state  # Adam's moments: gone, as at initialization


def test_rewinding_to_an_early_iteration_is_not_rewinding_to_initialization(multishot) -> None:
    early = run_multishot(multishot(rewind_iteration=3, level_list=(1,)), progress=False)
    start = run_multishot(multishot(level_list=(1,)), progress=False)
    assert early.entries[0].layer_density != start.entries[0].layer_density


def test_a_multishot_run_stopped_after_a_level_resumes_without_redoing_it(multishot) -> None:
    config = multishot(compression_list=(1.0, 2.0), level_list=(3,))
    done: list[tuple[str, int]] = []

    def stop_after_second_level(key: str, level: int) -> None:
        done.append((key, level))
        if (key, level) == ("a2-L3", 2):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_multishot(config, progress=False, on_level=stop_after_second_level)
    assert load_experiment(folder_of(config)).status == "running"
    assert len(load_experiment(folder_of(config)).entries) == 1  # a1-L3 finished and saved
    assert (folder_of(config) / LEVEL_CHECKPOINT).is_file()
    again: list[tuple[str, int]] = []
    result = run_multishot(config, progress=False, on_level=lambda key, level: again.append((key, level)))
    assert again == [("a2-L3", 3)]  # neither a1-L3 nor the first two levels of a2-L3 again
    assert result.status == "complete" and [e.key for e in result.entries] == ["a1-L3", "a2-L3"]
    assert [row.level for row in result.entries[1].level_rows] == [1, 2, 3]
    uninterrupted = run_multishot(config.replace(expid="whole"), progress=False)
    assert [e.level_rows for e in uninterrupted.entries] == [e.level_rows for e in result.entries]
    assert [e.layer_density for e in uninterrupted.entries] == [e.layer_density for e in result.entries]


def test_the_lottery_ticket_control_keeps_the_mask_and_draws_new_weights(multishot) -> None:
    ticket = run_multishot(multishot(level_list=(2,)), progress=False)
    control = run_multishot(multishot(level_list=(2,), reinitialize=True), progress=False)
    assert control.entries[0].layer_density == ticket.entries[0].layer_density
    assert control.entries[0].reinitialized and not ticket.entries[0].reinitialized


def test_an_interrupted_overwrite_keeps_the_finished_run_until_the_new_one_has_finished(multishot) -> None:
    from prunekit.run.experiments.common import REPLACED_FILE
    from prunekit.run.experiments.results import MultishotResult
    from prunekit.run.io import read_json

    config = multishot(level_list=(2,))
    finished = run_multishot(config, progress=False)
    folder = folder_of(config)

    def stop(key: str, level: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_multishot(config, progress=False, overwrite=True, on_level=stop)
    kept = MultishotResult.from_dict(read_json(folder / REPLACED_FILE))
    assert kept.status == "complete" and kept.entries == finished.entries  # nothing lost
    assert load_experiment(folder).status == "running"
    again = run_multishot(config, progress=False, overwrite=True)
    assert again.status == "complete" and not (folder / REPLACED_FILE).exists()
    assert [e.level_rows for e in again.entries] == [e.level_rows for e in finished.entries]


def test_synaptic_flows_example_command_runs_as_prunekit(make_tiny_config, tmp_path, capsys) -> None:
    base = make_tiny_config(tmp_path)
    line = ("--model-class default --model fc --dataset mnist --experiment multishot --pruner mag "
            "--compression-list 1 2 --level-list 1 2 --pre-epochs 1 --post-epochs 1")
    extra = f"--train-limit 300 --test-limit 200 --result-dir {tmp_path} --data-dir {base.data_dir} --quiet"
    assert cli.main([*shlex.split(line), *shlex.split(extra), "--expid", "ex"]) == 0
    assert "compression  levels" in capsys.readouterr().out
    result = load_experiment(tmp_path / "multishot" / "ex")
    assert [(e.compression, e.levels) for e in result.entries] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert cli.main([*shlex.split(line), *shlex.split(extra), "--expid", "ex"]) == 2  # finished: not overwritten


def test_unknown_experiment_names_are_refused_with_the_valid_ones(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--experiment", "manyshot"])
    assert stop.value.code == 2
    assert "multishot" in capsys.readouterr().err
    with pytest.raises(ValueError, match="valid experiments: singleshot, multishot, unit-conservation"):
        ExperimentConfig(experiment="manyshot")
    with pytest.raises(ValueError, match="schedule-conservation"):
        run_experiment(ExperimentConfig())
