# The two commands of the README: `make demo` (the main job) and `make test`.
# Each creates .venv when it is missing and installs the kit with its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: demo test test-fast test-browser nbval handout venv clean bench reference

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

# The main job: every numbered notebook in batch (papermill, default parameters, INTERACTIVE=False), JOBS at
# once, saved executed under $(OUT)/notebooks; 08_summary runs last and writes the report's tables and figures,
# from the runs of 00-07, in $(OUT)/report.
demo: $(STAMP)
	$(BIN)/prunekit notebooks --out $(OUT)/notebooks --jobs $(JOBS) -p REPORT_DIR=$(abspath $(OUT))/report

# The tests: the library's unit and integration tests with the student path in a real browser (test-browser), the
# doctests of prunekit/, then every notebook under nbval (cells marked NBVAL_CHECK_OUTPUT must reproduce their
# committed outputs). TEST_JOBS pytest workers (pytest-xdist), one torch thread each. Each worker takes whole test
# files (--dist loadfile): the browser tests one after another in one JupyterLab while the other worker runs unit
# tests, and a module's costly fixture (a tiny reference set, real runs) is built once, not once per worker;
# nbval gives each worker whole notebooks: 06 (the longest) first, the others in numbered order, so that 06 finds
# the compression-1 runs of 01-05 finished and copies them; 08_summary runs last: it reads the runs of 00-07.
TEST_JOBS ?= 2
NBVAL := $(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg --durations=0
SWEEP_NOTEBOOK := notebooks/06_compression_sweep.ipynb
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests -n $(TEST_JOBS) --dist loadfile --durations=20
	$(BIN)/python -m pytest --doctest-modules prunekit
	OMP_NUM_THREADS=1 $(NBVAL) -n $(TEST_JOBS) --dist loadfile $(SWEEP_NOTEBOOK) \
		$(filter-out $(SWEEP_NOTEBOOK) notebooks/08_summary.ipynb,$(wildcard notebooks/[0-9][0-9]_*.ipynb))
	$(NBVAL) notebooks/08_summary.ipynb

# Every numbered notebook opened in JupyterLab in headless Chromium (Debian's /usr/bin/chromium),
# run with INTERACTIVE = True and quick parameters, its widgets clicked; screenshots in out/browser/.
# One at a time: two at once (a JupyterLab and a Chromium each) took longer on 2 cores (466 s against 426 s).
test-browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser -m browser --durations=0

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not browser" -x -q

nbval: $(STAMP)
	$(NBVAL) notebooks

# The reference result set (reference/, committed as CSV + metadata.json): about an hour or more on 2 cores;
# runs go to results/reference/, so an interrupted `make reference` resumes. JOBS worker processes.
JOBS ?= 2
reference: $(STAMP)
	$(BIN)/prunekit reference --jobs $(JOBS)

handout: $(STAMP)
	$(BIN)/prunekit handout --out handout --force

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(OUT) results .pytest_cache
