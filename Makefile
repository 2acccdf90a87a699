# The course's commands. Everything runs inside .venv, made on first use
# from requirements.txt (and made again when that file changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.requirements-installed

.PHONY: setup lab test run bench

setup: $(READY)

$(READY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

# Opens JupyterLab at the course's root, on the first notebook
lab: setup
	$(BIN)/jupyter lab notebooks/01_rethinking_the_training_loop.ipynb

# Unit tests, then every notebook re-executed under strict nbval
test: setup
	$(BIN)/python -m pytest

# Executes every notebook headless into build/executed/, with timings
run: setup
	$(BIN)/python tests/run_notebooks.py build/executed

# Times data loading (eager vs on-demand datasets, 0 and 2 workers) and the
# chapter's mini-batch loop; prints a table and writes it to build/bench.md
bench: setup
	$(BIN)/python benchmarks/data_loading.py
