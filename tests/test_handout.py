"""The student handout: no solution leaks, students stop at their first exercise, solutions pass every check."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import torch

from prunekit.teach import exercises, handout

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WITH_EXERCISES = ["00_setup", "01_random", "02_magnitude", "03_snip", "04_grasp", "05_synflow"]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("handout")
    handout.make_handout(NOTEBOOKS, out)
    return out


def test_the_handout_has_every_notebook_a_readme_and_a_results_template(student: Path) -> None:
    names = sorted(p.name for p in (student / "notebooks").iterdir())
    assert names == sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    readme = (student / "README.md").read_text()
    order = [readme.index(f"### {task}") for task in ("1.1", "1.2", "2.1", "2.2", "3 ")]
    assert order == sorted(order), "the tasks follow the report's order"
    assert "prunekit sweep" in readme and "notebooks/03_snip.ipynb" in readme
    template = (student / "results_template.md").read_text()
    assert "| layers.16.conv | 9,437,184 |" in template and "## 1.2.3 FLOP ratio" in template


def test_no_solution_line_leaks_into_the_student_notebooks(student: Path) -> None:
    leaked, checked = [], 0
    for stem in WITH_EXERCISES:
        text = (student / "notebooks" / f"{stem}.ipynb").read_text()
        sources = "\n".join(_source(c) for c in _cells(student / "notebooks" / f"{stem}.ipynb"))
        for cell in _cells(NOTEBOOKS / f"{stem}.ipynb"):
            for line in handout.solution_lines(_source(cell)):
                checked += 1
                if len(line) > 8 and line in {s.strip() for s in sources.splitlines()}:
                    leaked.append(f"{stem}: {line}")
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert checked > 40 and leaked == []


def test_student_cells_are_cleared_and_carry_nbgrader_metadata(student: Path) -> None:
    cells = _cells(student / "notebooks" / "03_snip.ipynb")
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")
    graded = [c["metadata"]["nbgrader"] for c in cells if "nbgrader" in c["metadata"]]
    assert {g["grade_id"] for g in graded} >= {"03_snip-exercise-1-answer", "03_snip-exercise-1-check"}
    answer = next(g for g in graded if g["grade_id"].endswith("1-answer"))
    check = next(g for g in graded if g["grade_id"].endswith("1-check"))
    assert (answer["solution"], answer["locked"], check["grade"], check["locked"]) == (True, False, True, True)
    body = next(_source(c) for c in cells if _source(c).startswith("# Exercise 1\n"))
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in body


def test_generating_twice_gives_identical_files(tmp_path: Path) -> None:
    first = handout.make_handout(NOTEBOOKS, tmp_path / "a")
    second = handout.make_handout(NOTEBOOKS, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))


def _exercise_cells(stem: str) -> list[str]:
    return [_source(c) for c in _cells(NOTEBOOKS / f"{stem}.ipynb") if handout.SOLUTION[0] in _source(c)
            or _source(c).startswith("# Exercise") and "exercises.check_" in _source(c)]


@pytest.mark.parametrize("stem", WITH_EXERCISES)
def test_the_reference_solutions_pass_every_check(stem: str, capsys: pytest.CaptureFixture[str]) -> None:
    cells = _exercise_cells(stem)
    assert len(cells) >= 2, "an answer cell and its check"
    namespace: dict = {}
    for code in cells:
        exec(compile(code, f"<{stem}>", "exec"), namespace)  # noqa: S102 - the notebook's own exercise cells
    assert capsys.readouterr().out.count("✓") >= 2, "visible and hidden checks both ran"


@pytest.mark.parametrize("stem", WITH_EXERCISES)
def test_the_student_version_stops_at_its_check_with_not_implemented(stem: str, student: Path) -> None:
    cells = [_source(c) for c in _cells(student / "notebooks" / f"{stem}.ipynb")
             if c["cell_type"] == "code" and _source(c).startswith("# Exercise")]
    namespace: dict = {}
    exec(compile(cells[0], f"<{stem} answer>", "exec"), namespace)  # noqa: S102 - defines the student's stub
    with pytest.raises(NotImplementedError):
        exec(compile(cells[1], f"<{stem} check>", "exec"), namespace)  # noqa: S102


def test_a_student_notebook_runs_until_its_first_exercise(student: Path) -> None:
    papermill = pytest.importorskip("papermill")
    source = student / "notebooks" / "05_synflow.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as stop:
        papermill.execute_notebook(
            str(source), str(student / "05.out.ipynb"), kernel_name="python3", cwd=str(source.parent),
            parameters={"INTERACTIVE": False, "POST_EPOCHS": 1, "ROUNDS": 5,
                        "RESULT_DIR": str(student / "results")}, progress_bar=False,
        )
    assert stop.value.ename == "NotImplementedError"
    ran = json.loads((student / "05.out.ipynb").read_text())["cells"]
    failing = next(c for c in ran if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert _source(failing).startswith("# Exercise 1 (check)")


def test_a_wrong_snip_score_gets_a_precise_message() -> None:
    def no_abs(model, batches):
        weights = {name: w for name, w in model.named_parameters() if name.endswith("weight")}
        summed = {name: torch.zeros_like(w) for name, w in weights.items()}
        for inputs, targets in batches:
            loss = torch.nn.functional.cross_entropy(model(inputs), targets)
            for name, grad in zip(weights, torch.autograd.grad(loss, list(weights.values()))):
                summed[name] += grad
        return {name: summed[name] * w.detach() for name, w in weights.items()}

    with pytest.raises(exercises.ExerciseCheckError) as wrong:
        exercises.check_scores(no_abs, "snip")
    message = str(wrong.value)
    assert message.startswith("your snip scores (fc network, seed 0) differ at layers.0.weight[")
    assert "expected 0.00" in message and "received -0.00" in message
    assert "take the absolute value" in message and "Hint: SNIP's connection sensitivity" in message


def test_a_check_catches_a_model_changed_in_place() -> None:
    def flips_signs(model, batches):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.abs_()
        return {name: w.detach().clone() for name, w in model.named_parameters() if name.endswith("weight")}

    with pytest.raises(exercises.ExerciseCheckError, match="changed the network's parameters"):
        exercises.check_scores(flips_signs, "synflow")


def test_the_topk_check_insists_on_exact_counts() -> None:
    def threshold_rule(scores, k):  # the report's rule: keep everything >= the k-th largest score
        flat = torch.cat([s.flatten() for s in scores.values()])
        threshold = torch.topk(flat, k).values[-1]
        return {name: (s >= threshold).float() for name, s in scores.items()}

    with pytest.raises(exercises.ExerciseCheckError, match="keep 10 entries in all; expected exactly k = 5"):
        exercises.check_topk_mask(threshold_rule)


def test_broken_markers_are_reported() -> None:
    with pytest.raises(ValueError, match="never closed"):
        handout.strip_solutions("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        handout.strip_hidden_tests("x = 1\n### END HIDDEN TESTS\n")
    assert copy.copy(handout.strip_solutions("a\n")) == "a\n"


def test_handout_reads_dot_notebooks_or_asks_for_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert handout.main(["--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"notebooks folder {tmp_path / 'notebooks'} not found" in error and "pass --notebooks" in error
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_a.ipynb").write_text((NOTEBOOKS / "00_setup.ipynb").read_text())
    assert handout.main(["--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "notebooks" / "00_a.ipynb").is_file()


def _clone_with_notebooks(root: Path) -> Path:
    shutil.copytree(NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "README.md").write_text("the instructor's README\n")
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["repository", "notebooks", "inside-notebooks"])
def test_the_handout_refuses_to_write_over_or_into_the_instructors_notebooks(tmp_path: Path, where: str) -> None:
    clone = _clone_with_notebooks(tmp_path / "clone")
    before = _snapshot(clone)
    out = {"repository": clone, "notebooks": clone / "notebooks", "inside-notebooks": clone / "notebooks" / "s"}[where]
    assert handout.main(["--notebooks", str(clone / "notebooks"), "--out", str(out), "--force"]) == 2
    assert _snapshot(clone) == before
    with pytest.raises(handout.HandoutFolderError, match="instructor's notebooks"):
        handout.make_handout(clone / "notebooks", out, force=True)


def test_the_handout_refuses_a_non_empty_folder_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "handout"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert handout.main(["--notebooks", str(NOTEBOOKS), "--out", str(out)]) == 2
    assert "is not empty; pass --force" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert handout.main(["--notebooks", str(NOTEBOOKS), "--out", str(out), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "README.md").exists()


def test_a_failed_check_shows_its_message_without_prunekits_frames(tmp_path: Path) -> None:
    """In a notebook the student sees one line: the check's message, not three frames of exercises.py."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    cell = ("from prunekit.teach import exercises\n"
            "exercises.check_scores(lambda model, batches: "
            "{n: w.detach() for n, w in model.named_parameters() if n.endswith('weight')}, 'mag')")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    with pytest.raises(CellExecutionError):
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    error = next(o for o in notebook.cells[0].outputs if o.output_type == "error")
    assert error.ename == "ExerciseCheckError"
    assert error.traceback == [f"ExerciseCheckError: {error.evalue}"], error.traceback
    assert "exercises.py" not in "\n".join(error.traceback)


def test_rand_scores_that_seed_inside_the_function_are_rejected() -> None:
    def seeded(model, batches):
        torch.manual_seed(0)  # the check seeds torch with 0 first, so the values match; the seeding is the error
        return {name: torch.randn_like(w) for name, w in model.named_parameters() if name.endswith("weight")}

    def unseeded(model, batches):
        return {name: torch.randn_like(w) for name, w in model.named_parameters() if name.endswith("weight")}

    exercises.check_scores(unseeded, "rand")
    with pytest.raises(exercises.ExerciseCheckError, match="the function seeds the generator itself") as wrong:
        exercises.check_scores(seeded, "rand")
    assert "manual_seed" not in str(wrong.value), "the message names the mistake, not the code"


def test_a_flop_counter_that_leaves_its_hooks_registered_is_rejected() -> None:
    def leaky(model, input_shape):
        flops = {}

        def count(module, inputs, output):
            weight = module.weight
            per_output = weight[0].numel() if weight.dim() > 1 else weight.numel()
            flops[names[module]] = float(per_output * output[0].numel())

        names = {m: f"{n}.weight" for n, m in model.named_modules() if hasattr(m, "weight_mask")}
        for module in names:
            module.register_forward_hook(count)  # never removed
        model(torch.zeros(1, *input_shape))
        return flops

    assert exercises.reference_layer_flops(exercises.small_models()["fc"])  # the reference itself leaves none
    with pytest.raises(exercises.ExerciseCheckError, match=r"left \d+ hook\(s\) registered on the fc network"):
        exercises.check_flops(leaky)


def test_grasp_scores_off_by_a_fraction_of_a_percent_are_rejected() -> None:
    """On the ConvNet GraSP's scores are at most about 1e-7: the tolerance follows their scale (a fixed 1e-9 let
    a 0.4 % error pass there)."""
    from prunekit.core.models.fc import Conv

    def almost(model, batches):
        factor = 1.004 if isinstance(model, Conv) else 1.0
        return {name: score * factor for name, score in exercises.reference_scores("grasp", model, batches).items()}

    exercises.check_scores(lambda model, batches: exercises.reference_scores("grasp", model, batches), "grasp")
    with pytest.raises(exercises.ExerciseCheckError, match=r"\(conv network, seed 0\) are 1.004 × prunekit's, but 1 × on the fc network"):
        exercises.check_scores(almost, "grasp")


def test_setting_the_preset_alone_gives_the_reports_epochs() -> None:
    """The README tells students to set PRESET only: no notebook may then keep quick epochs of its own."""
    import ast

    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cell = next((c for c in _cells(path) if "parameters" in c["metadata"].get("tags", [])), None)
        values = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(_source(cell)).body
                  if isinstance(node, ast.Assign)} if cell else {}
        if "PRESET" in values and "POST_EPOCHS" in values:
            assert values["POST_EPOCHS"] is None, f"{path.stem}: POST_EPOCHS = {values['POST_EPOCHS']} overrides the preset"
