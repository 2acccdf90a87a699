# The course's commands. Everything runs inside .venv, made on first use
# from requirements.txt (and made again when that file changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.requirements-installed
# The teachers' tools (nbgrader) on top: `make test` and `make student` need
# them, `make lab` does not
TEACHER_READY := $(VENV)/.teacher-requirements-installed
# What only the tests need (the linter, Selenium, the site's tools), on top of both
DEV_READY := $(VENV)/.dev-requirements-installed
# The static site's tools (Sphinx), alone: `make site` needs nothing else
SITE_READY := $(VENV)/.site-requirements-installed

.PHONY: setup lab notebook test lint run outputs student bench site

setup: $(READY)

$(READY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

$(TEACHER_READY): $(READY) requirements-teacher.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-teacher.txt
	touch $@

$(DEV_READY): $(TEACHER_READY) requirements-dev.txt requirements-site.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Opens JupyterLab at the course's root, on the chapter notebook, with the
# course's settings (.jupyter/); more options through LAB_FLAGS, e.g.
# LAB_FLAGS='--no-browser --port 8890'. The browser tests start it the same
# way (tools/lab.py)
LAB_FLAGS ?=
lab: setup
	$(BIN)/python tools/lab.py $(LAB_FLAGS)

# The same in the classic Notebook interface
notebook: setup
	$(BIN)/python tools/lab.py --notebook $(LAB_FLAGS)

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

# The course as a static web site in build/site/ (open build/site/index.html),
# rendered from the notebooks' stored outputs: nothing is executed or
# downloaded. Needs only requirements-site.txt, not PyTorch
$(SITE_READY): requirements-site.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-site.txt
	touch $@

site: $(SITE_READY)
	$(BIN)/python tools/build_site.py build/site

# Times data loading (eager vs on-demand datasets, 0 and 2 workers) and the
# chapter's mini-batch loop; prints a table and writes it to build/bench.md
bench: setup
	$(BIN)/python benchmarks/data_loading.py
