"""The student path in a real browser: open each notebook in JupyterLab, run it, use its widgets.

For each numbered notebook (a temporary copy with ``INTERACTIVE = True`` and quick
parameters injected, see ``conftest.py``) the test opens it in JupyterLab in headless
Chromium, runs all cells from the *Run* menu, waits as JupyterLab's own UI tests (Galata)
do (every prompt numbered, the kernel status *Idle*; never a fixed sleep), and checks
that no cell shows an error. Then it uses each explorer widget as a student would:
picks a pruner in the dropdown, moves a slider with the keyboard, clicks *Prune* or
*Train*, and checks that the widget's output area changes to a new figure for that
pruner, with no error from the kernel. Screenshots of the main widget before and after
go to ``out/browser/<notebook>-before.png`` and ``-after.png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lab_server import Lab, numbered_notebooks

pytestmark = pytest.mark.browser

OPEN_TIMEOUT_MS = 180_000  # page load and kernel start, on a busy 2-core machine
RUN_ALL_TIMEOUT_MS = 900_000  # the slowest notebook's cells, quick parameters
CLICK_TIMEOUT_MS = 300_000  # one Prune or Train click (a one-epoch run at most)
IDLE = "#jp-main-statusbar >> text=Idle"  # the kernel status in the status bar, as Galata reads it


@dataclass(frozen=True)
class Step:
    """One student action on an explorer: set controls, click its button.

    Attributes:
        name: The screenshot suffix after this step (``after`` for the main widget's last step).
        choose: (control description, option) pairs for dropdowns; the pruner's option is checked
            to appear in the widget's output or status afterwards.
        slide: (control description, value) pairs for sliders, moved with the arrow keys.
    """

    name: str
    choose: tuple[tuple[str, str], ...] = ()
    slide: tuple[tuple[str, float], ...] = ()


# What the widget's status line must say after a click: a Train reports the test accuracy its
# training curve ends at, a Prune how many weights it kept.
EXPECT = {"Train": r"top-1\s*[\d.]+\s*%", "Prune": r"kept\s*[\d,]+\s*of\s*[\d,]+"}


@dataclass(frozen=True)
class Plan:
    """What to do with one explorer, found by its button (``Prune`` or ``Train``)."""

    button: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def expect(self) -> str:
        """The regular expression the status line matches after each click."""
        return EXPECT[self.button]


# Controls are found by their description (the label left of them), matched as regular expressions.
PRUNER = r"^pruner"
COMPRESSION = r"^compression"
ROUNDS = r"round"
PRE_EPOCHS = r"^pre|pre-?train"
_NAMES = {PRUNER: "pruner", COMPRESSION: "compression", ROUNDS: "rounds", PRE_EPOCHS: "pre-training epochs"}

# The widgets of each notebook, main widget first (its screenshots: <notebook>-before/-after.png).
PLANS: dict[str, tuple[Plan, ...]] = {
    "00_setup": (Plan("Train", (Step("after", ((PRUNER, "synflow"),), ((COMPRESSION, 1.5),)),)),),
    "01_random": (
        Plan("Prune", (Step("after", ((PRUNER, "synflow"),), ((COMPRESSION, 3.0),)),)),
        Plan("Train", (Step("train-after", ((PRUNER, "rand"),), ((COMPRESSION, 2.0),)),)),
    ),
    # Mag before and after pre-training: the same run with 0, then 1 pre-training epoch.
    "02_magnitude": (
        Plan(
            "Train",
            (
                Step("at-init", ((PRUNER, "mag"),), ((PRE_EPOCHS, 0), (COMPRESSION, 1.5))),
                Step("after", (), ((PRE_EPOCHS, 1),)),
            ),
        ),
        Plan("Prune", (Step("prune-after", ((PRUNER, "snip"),), ((COMPRESSION, 2.0),)),)),
    ),
    "03_snip": (
        Plan("Prune", (Step("after", ((PRUNER, "grasp"),), ((COMPRESSION, 2.0),)),)),
        Plan("Train", (Step("train-after", ((PRUNER, "snip"),), ((COMPRESSION, 1.5),)),)),
    ),
    "04_grasp": (
        Plan("Prune", (Step("after", ((PRUNER, "snip"),), ((COMPRESSION, 2.0),)),)),
        Plan("Train", (Step("train-after", ((PRUNER, "grasp"),), ((COMPRESSION, 1.5),)),)),
    ),
    # SynFlow one round (the notebook's first state) against 100 rounds; then a data-driven pruner.
    "05_synflow": (
        Plan(
            "Prune",
            (
                Step("after", ((PRUNER, "synflow"),), ((ROUNDS, 100),)),
                Step("snip-after", ((PRUNER, "snip"),), ((COMPRESSION, 1.5),)),
            ),
        ),
        Plan("Train", (Step("train-after", ((PRUNER, "synflow"),), ((COMPRESSION, 1.5),)),)),
    ),
    "06_compression_sweep": (Plan("Train", (Step("after", ((PRUNER, "snip"),), ((COMPRESSION, 0.5),)),)),),
    "07_layer_analysis": (Plan("Prune", (Step("after", ((PRUNER, "mag"),), ((COMPRESSION, 1.0),)),)),),
    "08_summary": (),  # no explorer: the summary notebook links the report
    "09_inference": (),  # no Prune/Train explorer: its one widget is a compact-model table (ipywidgets.interactive)
    "10_iterative": (),  # no explorer: with INTERACTIVE it lists the saved experiment folders for `prunekit report`
}

# --------------------------------------------------------------------------- JupyterLab, as Galata drives it

_LISTEN = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    window.__kernelErrors = [];
    panel.sessionContext.session.kernel.iopubMessage.connect((_, msg) => {
        if (msg.header.msg_type === 'error') {
            window.__kernelErrors.push(`${msg.content.ename}: ${msg.content.evalue}`);
        }
    });
}"""

_ALL_RUN = """() => {
    const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')];
    return prompts.length > 0 && prompts.every(p => !p.textContent.includes('*'));
}"""

_CELLS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const found = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i).toJSON();
        if (cell.cell_type !== 'code') continue;
        const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
        const errors = cell.outputs.filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`);
        found.push({index: i, source: source, count: cell.execution_count, errors: errors});
    }
    return found;
}"""

_OUTPUTS = """(root) => [...root.querySelectorAll('.widget-output')].map(o => o.innerHTML).join('\\n')"""

_STATUS = """(root) => [...root.querySelectorAll('.widget-html')].map(h => h.textContent.trim()).join(' | ')"""

# Done when the output area holds a new figure and the status line reports the result (long work
# runs in a thread, so the kernel may be idle before that); or early, when the kernel raised, or
# when the status line reports a failure (so a broken widget fails fast).
_SETTLED = """([root, before, statusBefore, errorsBefore, expect]) => {
    if (window.__kernelErrors.length > errorsBefore) return true;
    const status = [...root.querySelectorAll('.widget-html')].map(h => h.textContent.trim()).join(' | ');
    if (status !== statusBefore && /cannot|error|fail|invalid/i.test(status)) return true;
    const now = [...root.querySelectorAll('.widget-output')].map(o => o.innerHTML).join('\\n');
    const figure = root.querySelector('.widget-output img, .widget-output svg, .widget-output canvas');
    return now !== before && figure !== null && status !== statusBefore && new RegExp(expect).test(status);
}"""


def _open(page: Any, lab: Lab, stem: str) -> None:
    # One fresh workspace per notebook: nothing else is restored (and no other kernel started).
    page.goto(f"{lab.url}/lab/workspaces/{stem}/tree/{stem}.ipynb?token={lab.token}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=OPEN_TIMEOUT_MS)
    page.locator(IDLE).wait_for(timeout=OPEN_TIMEOUT_MS)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel", timeout=OPEN_TIMEOUT_MS)
    page.evaluate(_LISTEN)


def _run_all(page: Any) -> None:
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(_ALL_RUN, timeout=RUN_ALL_TIMEOUT_MS, polling=500)
    page.locator(IDLE).wait_for(timeout=RUN_ALL_TIMEOUT_MS)


def _kernel_errors(page: Any) -> list[str]:
    return page.evaluate("() => window.__kernelErrors.slice()")


def _check_cells(page: Any, stem: str) -> None:
    cells = page.evaluate(_CELLS)
    errors = [f"cell {c['index']}: {e}" for c in cells for e in c["errors"]]
    assert not errors, f"{stem}: error output in the notebook:\n" + "\n".join(errors)
    not_run = [c["index"] for c in cells if c["source"].strip() and not c["count"]]
    assert not not_run, f"{stem}: cells {not_run} did not run"


def _shut_down(page: Any) -> None:
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.sessionContext.shutdown(); }")


# --------------------------------------------------------------------------- the widgets, as a student uses them


def _explorer(page: Any, stem: str, button: str) -> Any:
    label = re.compile(rf"^\s*{button}\s*$")
    roots = page.locator(".jp-OutputArea-output").filter(has=page.locator("button", has_text=label))
    count = roots.count()
    assert count == 1, f"{stem}: expected one widget with a {button!r} button, found {count}"
    return roots.first


def _control(root: Any, kinds: tuple[str, ...], description: str) -> Any:
    """The one control of one of ``kinds`` (ipywidgets' ``widget-<kind>`` classes) whose label matches."""
    controls = root.locator(", ".join(f".widget-{kind}" for kind in kinds))
    matching = controls.filter(has=root.page.locator("label.widget-label", has_text=re.compile(description, re.I)))
    if matching.count() != 1:
        names = [text.strip() for text in controls.locator("label.widget-label").all_inner_texts()]
        pytest.fail(
            f"expected one control named like {description!r} among the widget's {'/'.join(kinds)} controls, "
            f"found {matching.count()}; they are: {names}"
        )
    return matching.first


def _choose(root: Any, description: str, wanted: str) -> None:
    select = _control(root, ("dropdown",), description).locator("select")
    options = [text.strip() for text in select.locator("option").all_inner_texts()]
    matches = [o for o in options if o.lower() == wanted.lower()] or [o for o in options if wanted.lower() in o.lower()]
    assert matches, f"no option {wanted!r} in the {description!r} dropdown; options: {options}"
    select.select_option(label=matches[0])


def _set_number(root: Any, description: str, target: float) -> None:
    """Moves a slider's handle with the arrow keys until its readout shows ``target``; or types into a number box."""
    control = _control(root, ("hslider", "text"), description)
    if control.locator(".noUi-handle").count() == 0:  # an IntText/FloatText box: type the value, press Enter
        box = control.locator("input")
        box.fill(f"{target:g}")
        box.press("Enter")
        assert float(box.input_value()) == target, f"the {description!r} box shows {box.input_value()}, not {target:g}"
        return
    handle, readout = control.locator(".noUi-handle").first, control.locator(".widget-readout")
    handle.focus()
    for _ in range(400):
        value = float(readout.inner_text())
        if abs(value - target) < 1e-9:
            return
        handle.press("ArrowRight" if value < target else "ArrowLeft")
        if float(readout.inner_text()) == value:
            break  # at an end of the slider
    pytest.fail(f"the {description!r} slider stopped at {readout.inner_text()}, not {target:g}")


def _status(root: Any) -> str:
    return " | ".join(text.strip() for text in root.locator(".widget-html").all_inner_texts() if text.strip())


def _describe(step: Step) -> str:
    settings = [f"{_NAMES.get(name, name)} = {value!r}" for name, value in step.choose]
    settings += [f"{_NAMES.get(name, name)} = {value:g}" for name, value in step.slide]
    return ", ".join(settings) or "no change"


def _act(page: Any, lab: Lab, stem: str, root: Any, plan: Plan, step: Step) -> None:
    for description, option in step.choose:
        _choose(root, description, option)
    for description, value in step.slide:
        _set_number(root, description, value)
    element = root.element_handle()
    before, status_before = element.evaluate(_OUTPUTS), element.evaluate(_STATUS)
    errors_before = len(_kernel_errors(page))
    root.get_by_role("button", name=plan.button).click()
    what = f"{stem}: {step.name}: {_describe(step)}, then a click on {plan.button!r}"
    try:
        page.wait_for_function(_SETTLED, arg=[element, before, status_before, errors_before, plan.expect], timeout=CLICK_TIMEOUT_MS, polling=250)
        page.locator(IDLE).wait_for(timeout=CLICK_TIMEOUT_MS)  # the kernel has sent all of it
    except Exception as error:  # noqa: BLE001 - Playwright's TimeoutError; re-raised with what the student sees
        raise AssertionError(
            f"{what}: no new figure and result status within {CLICK_TIMEOUT_MS / 1000:g} s.\nwidget status: {_status(root)!r}\n"
            f"kernel errors: {_kernel_errors(page)[errors_before:]}\nserver log (tail):\n{lab.log_tail(30)}"
        ) from error
    new_errors = _kernel_errors(page)[errors_before:]
    assert not new_errors, f"{what}: the kernel raised {new_errors}; widget status {_status(root)!r}"
    assert element.evaluate(_OUTPUTS) != before, f"{what}: the output area did not change; widget status {_status(root)!r}"
    assert re.search(plan.expect, _status(root)), f"{what}: the status line does not match {plan.expect!r}: {_status(root)!r}"
    shown = f"{_status(root)} {element.evaluate(_OUTPUTS)}".lower()
    for description, option in step.choose:
        if description == PRUNER:
            assert option.lower() in shown, f"{stem}: the new result does not name the pruner {option!r}: {_status(root)!r}"


@pytest.mark.parametrize("stem", numbered_notebooks())
def test_student_path(stem: str, lab: Lab, browser_context: Any, screenshots: Path) -> None:
    assert stem in PLANS, f"{stem} is a new notebook: add what a student does with its widgets to PLANS"
    page = browser_context.new_page()
    try:
        _open(page, lab, stem)
        _run_all(page)
        _check_cells(page, stem)
        for number, plan in enumerate(PLANS[stem]):
            root = _explorer(page, stem, plan.button)
            prefix = stem if number == 0 else f"{stem}-{plan.button.lower()}"
            root.scroll_into_view_if_needed()
            root.screenshot(path=str(screenshots / f"{prefix}-before.png"))
            for step in plan.steps:
                _act(page, lab, stem, root, plan, step)
                root.screenshot(path=str(screenshots / f"{stem}-{step.name}.png"))
        _check_cells(page, stem)
    finally:
        try:
            _shut_down(page)
        finally:
            page.close()
