# The course's commands. Everything runs inside .venv, made on first use
# from requirements.txt (and made again when that file changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.requirements-installed
# The teachers' tools (nbgrader) on top: `make test` and `make student` need
# them, `make lab` does not
TEACHER_READY := $(VENV)/.teacher-requirements-installed
# What only the tests need (the linter), on top of both
DEV_READY := $(VENV)/.dev-requirements-installed

.PHONY: setup lab test lint run outputs student bench ddp

setup: $(READY)

$(READY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

$(TEACHER_READY): $(READY) requirements-teacher.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-teacher.txt
	touch $@

$(DEV_READY): $(TEACHER_READY) requirements-dev.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Opens JupyterLab at the course's root, on the first notebook; more
# options through LAB_FLAGS, e.g. LAB_FLAGS='--no-browser --port 8890'
LAB_FLAGS ?=
lab: setup
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/01_rethinking_the_training_loop.ipynb

# The linter, then the unit tests, every notebook re-executed under strict
# nbval and the exercises' student copies built and checked, over every core
# (pytest-xdist); each file, a notebook too, stays whole on one core
test: lint
	$(BIN)/python -m pytest --numprocesses auto --dist loadfile

# One line length and no unused code (settings in pyproject.toml)
lint: $(DEV_READY)
	$(BIN)/ruff check .

# Executes every notebook headless into build/executed/, with timings
run: setup
	$(BIN)/python tools/run_notebooks.py --out build/executed

# For maintainers: re-executes every notebook in place, so its stored
# outputs are those of a real run on the pinned versions
outputs: setup
	$(BIN)/python tools/run_notebooks.py --in-place

# The learners' copy of the course, exercise solutions removed, in build/student/
student: $(TEACHER_READY)
	$(BIN)/python tools/build_student_copies.py build/student

# Times data loading (eager vs on-demand datasets, 0 and 2 workers) and the
# chapter's mini-batch loop; prints a table and writes it to build/bench.md.
# Then data parallel: 1 process x 1 and x 2 threads against 2 processes,
# for three models (build/bench_data_parallel.md)
bench: setup
	$(BIN)/python benchmarks/data_loading.py
	$(BIN)/python benchmarks/data_parallel.py

# The chapter's model trained data-parallel by NPROC processes on this machine
# (global mini-batch 16), a checkpoint every 10 epochs. A process that dies
# makes torchrun start the group again (up to 3 times), and it resumes from
# the last checkpoint; a new `make ddp` starts afresh. The last line printed
# is the final model.state_dict(). A fresh rendezvous store for each restart
# (TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1) keeps a restarted group from hanging
NPROC ?= 2
ddp: setup
	TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 OMP_NUM_THREADS=1 $(BIN)/torchrun --standalone \
		--nproc_per_node=$(NPROC) --max-restarts=3 model_training/data_parallel.py
