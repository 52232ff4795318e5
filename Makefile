# The two commands of the README: `make demo` (the main job) and `make test`.
# Each creates .venv when it is missing and installs the kit with its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: demo test test-fast nbval venv clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/prunekit --model-class default --model fc --dataset mnist --experiment singleshot \
		--pruner synflow --compression 1 --expid demo --post-epochs 2 --result-dir $(OUT)/results --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest tests

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(OUT) .pytest_cache
