# The course's commands. Everything runs inside .venv, made on first use
# from requirements.txt (and made again when that file changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.requirements-installed

.PHONY: setup lab test run outputs

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

# For maintainers: re-executes every notebook in place, so its stored
# outputs are those of a real run on the pinned versions
outputs: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False \
		$$(find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
