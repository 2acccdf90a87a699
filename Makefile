# The course's commands. Everything runs inside .venv, made on first use
# from requirements.txt (and made again when that file changes).
PYTHON ?= python3
VENV ?= .venv
# TORCH=cpu installs PyTorch's CPU build first: on Linux, pip would otherwise
# fetch the CUDA build, several GB, even on a machine without an NVIDIA GPU
TORCH ?=
ifneq ($(filter-out cpu,$(TORCH)),)
$(error TORCH=$(TORCH): the one choice is TORCH=cpu; leave it out for pip's default build)
endif
BIN := $(VENV)/bin
READY := $(VENV)/.requirements-installed
# The course's own package (classroom/ and hub/, pyproject.toml), installed
# in place (editable) into .venv after the pins: its commands (course-check,
# course-grading, ...) and what nbgrader's settings import
PACKAGE_READY := $(VENV)/.course-package-installed
# The teachers' tools (nbgrader): `make student` needs them alone, `make
# release`, `make grade` and `make test` beside requirements.txt, `make lab`
# not at all
TEACHER_READY := $(VENV)/.teacher-requirements-installed
# What only the tests need (the linter, Selenium, the site's tools), on top of both
DEV_READY := $(VENV)/.dev-requirements-installed
# The static site's tools (Sphinx), alone: `make site` needs nothing else
SITE_READY := $(VENV)/.site-requirements-installed
# The class's JupyterHub (as root): every user's server runs from one
# environment that every user can read, made from the operating system's
# python3 (the python3 first on root's PATH may live in root's home folder,
# which other users cannot enter), with the course's pins, nbgrader and the hub
HUB_PYTHON ?= /usr/bin/python3
HUB_ENV ?= /opt/pytorch-course-hub/env
HUB_READY := $(HUB_ENV)/.requirements-installed
HUB_PACKAGE := $(HUB_ENV)/.course-package-installed
# The hub's tests make Unix accounts: run as root (CI), `make test` makes the
# hub's environment first; as another user they are skipped, and it is not made
ifeq ($(shell id -u),0)
TEST_HUB := $(HUB_PACKAGE)
endif

.PHONY: help setup lab notebook test lint run outputs check exercises solutions kernel-check student release roster due grade \
	bench site tensorboard ddp publish hub hub-env hub-backup hub-restore hub-image

# The first target: a bare `make` lists the commands, by who needs them (the
# group is the first word after a target's ##)
help: ## learners: lists these commands, by who needs them
	@awk -F ':.*## ' 'BEGIN { split("learners teachers hub maintainers", order, " "); \
		title["learners"] = "For learners"; title["teachers"] = "For teachers (TEACHING.md)"; \
		title["hub"] = "For a class\047s JupyterHub, as root (HUB.md)"; \
		title["maintainers"] = "For maintainers and contributors (CONTRIBUTING.md)" } \
		/^[a-z-]+:.*## / { group = $$2; sub(/:.*/, "", group); text = $$2; sub(/^[a-z]+: /, "", text); \
			listed[group] = listed[group] sprintf("  make %-13s %s\n", $$1, text) } \
		END { for (i = 1; i <= 4; i++) printf "%s%s:\n%s", (i > 1 ? "\n" : ""), title[order[i]], listed[order[i]] }' \
		$(MAKEFILE_LIST)

setup: $(READY) $(PACKAGE_READY) ## learners: makes .venv and installs requirements.txt (TORCH=cpu: PyTorch's CPU build)

# The oldest Python that every pin of requirements.txt supports (their
# Requires-Python; tests/test_course_details.py keeps it true)
MIN_PYTHON := 3.11

$(READY): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(MIN_PYTHON)".split("."))))' || \
		{ echo "The course needs Python $(MIN_PYTHON) or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1)." \
		"Install a newer one and run make with PYTHON=python3.X (or delete $(VENV) first)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
ifeq ($(TORCH),cpu)
	$(BIN)/python -m pip install --disable-pip-version-check $$(grep '^torch==' requirements.txt) \
		--index-url https://download.pytorch.org/whl/cpu
endif
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

$(TEACHER_READY): requirements-teacher.txt | $(PACKAGE_READY)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-teacher.txt
	touch $@

$(PACKAGE_READY): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --editable .
	touch $@

$(DEV_READY): $(READY) $(TEACHER_READY) requirements-dev.txt requirements-site.txt
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Opens JupyterLab at the course's root, on the chapter notebook, with the
# course's settings (.jupyter/); more options through LAB_FLAGS, e.g.
# LAB_FLAGS='--no-browser --port 8890'. The browser tests start it the same
# way (classroom/lab.py)
LAB_FLAGS ?=
lab: setup ## learners: opens the course in JupyterLab, at the course's root
	$(BIN)/course-lab $(LAB_FLAGS)

# The same in the classic Notebook interface
notebook: setup ## learners: the same in the classic Notebook interface
	$(BIN)/course-lab --notebook $(LAB_FLAGS)

# The linter, then the unit tests, every notebook re-executed under strict
# nbval and the exercises' student copies built and checked, over every core
# (pytest-xdist); each file, a notebook too, stays whole on one core. Not for
# learning: it installs requirements-dev.txt, and as root it makes the hub's
# environment in HUB_ENV and creates and deletes Unix accounts
test: lint $(TEST_HUB) ## maintainers: every test (adds the teachers' and test tools; as root: a hub in /opt, Unix accounts)
	COURSE_HUB_ENV=$(HUB_ENV) $(BIN)/python -m pytest --numprocesses auto --dist loadfile

# One line length and no unused code (settings in pyproject.toml)
lint: $(DEV_READY) ## maintainers: checks the code's style and unused code (ruff)
	$(BIN)/ruff check .

# Grades your exercise notebooks in notebooks/exercises/ as a teacher would,
# with the checks kept for grading, in a scratch folder (your notebooks are
# not changed); NB=notebooks/exercises/NAME.ipynb checks one
NB ?=
check: setup ## learners: grades your exercises: points, and what failed (NB=notebooks/exercises/... for one)
	$(BIN)/course-check $(NB)

# Executes every notebook headless into build/executed/, with timings
run: setup ## learners: executes every notebook into build/executed/, with timings
	$(BIN)/python -m tools.run_notebooks --out build/executed

# For maintainers: re-executes every notebook in place, so its stored
# outputs are those of a real run on the pinned versions
outputs: setup ## maintainers: re-executes every notebook in place
	$(BIN)/python -m tools.run_notebooks --in-place

# For maintainers: after changing a teacher's version in source/, writes its
# learners' version into notebooks/exercises/ (never over a learner's work)
exercises: $(TEACHER_READY) ## maintainers: writes the learners' exercises from source/
	$(BIN)/course-copies --in-place

# The model solutions of the exercises, without the hidden tests, in
# build/solutions/: one deliberate step away from the learner's notebooks.
# Needs nothing but make lab's set-up (classroom/solutions.py)
solutions: setup ## learners: writes the exercises' model solutions into build/solutions/
	$(BIN)/course-solutions

# For maintainers: re-executes notebooks on other CPU kernels than this
# machine's own (tools/cpu_kernel_sets.py) and lists, cell by cell, every stored
# output that changes; NB=notebooks/... checks one notebook
kernel-check: setup ## maintainers: lists stored outputs that change on other CPU kernels (NB=... for one)
	$(BIN)/python -m tools.check_cpu_kernels $(NB)

# The learners' copy of the course, exercise solutions removed, in build/student/
student: $(TEACHER_READY) ## teachers: builds the learners' copy in build/student/
	$(BIN)/course-copies build/student

# The nbgrader course in build/course/ (settings in nbgrader_config.py): one
# assignment per exercise notebook, source/ and its release/ versions
release: $(READY) $(TEACHER_READY) ## teachers: builds the nbgrader course in build/course/ (release/)
	$(BIN)/course-grading release

# Imports the class list (a CSV file: id, first_name, last_name, email, and the
# platforms' lms_user_id, sis_user_id, sis_login_id, section) into build/course/:
# the grade files then carry names, e-mails and what Canvas and Moodle match on
FILE ?=
roster: $(TEACHER_READY) ## teachers: imports the class list into the course: make roster FILE=class.csv
	$(BIN)/course-grading roster '$(FILE)'

# Sets an assignment's due date, with its time zone; work handed in later
# loses 10% of its score per day started (classroom/grading/late_penalty.py)
DUE ?=
due: $(TEACHER_READY) ## teachers: sets a due date: make due ASSIGNMENT=... DUE='2027-01-15 17:00 Europe/Paris'
	$(BIN)/course-grading due '$(ASSIGNMENT)' '$(DUE)'

# Autogrades every submission in build/course/submitted/<student>/<assignment>/
# that is new or handed in again (ASSIGNMENT=..., STUDENT=...: only those), one
# that fails reported and skipped; writes build/course/feedback/, the class's
# grades (grades.csv, grades_by_assignment.csv; lms/canvas.csv and
# lms/moodle.csv for the platforms) and ends with a summary, saved in
# build/course/ too. PASSBACK=1 then sends the final scores to the school's
# platform (LTI Assignment and Grade Services, classroom/grading/passback.py),
# for a class that signs in to the hub from the platform (HUB.md)
ASSIGNMENT ?=
STUDENT ?=
PASSBACK ?=
ifneq ($(filter-out 1,$(PASSBACK)),)
$(error PASSBACK=$(PASSBACK): the one choice is PASSBACK=1, which sends the grades to the school's platform)
endif
grade: $(READY) $(TEACHER_READY) ## teachers: autogrades build/course/submitted/ (ASSIGNMENT=, STUDENT=: only those): grades, feedback; PASSBACK=1: to the platform
	$(BIN)/course-grading grade $(if $(ASSIGNMENT),--assignment '$(ASSIGNMENT)') \
		$(if $(STUDENT),--student '$(STUDENT)')
ifeq ($(PASSBACK),1)
	$(BIN)/course-passback --course build/course
endif

# The course as a static web site in build/site/ (open build/site/index.html),
# rendered from the notebooks' stored outputs: nothing is executed or
# downloaded. Needs only requirements-site.txt, not PyTorch
$(SITE_READY): requirements-site.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements-site.txt
	touch $@

# HUB=https://hub.school.example adds a button that opens each chapter on
# that JupyterHub (nbgitpuller) beside Colab's and Binder's; all of them
# need the published address (tools/publish.py, PUBLISHING.md)
HUB ?=
site: $(SITE_READY) ## learners: renders the course as a static site in build/site/ (HUB=: a JupyterHub's address)
	$(if $(HUB),COURSE_HUB=$(HUB)) $(BIN)/python -m tools.build_site build/site

# After the published address in tools/publish.py or the setup cell's
# code in tools/setup_cell.txt changed: writes them into every notebook's
# first code cell and the README's launch links (PUBLISHING.md)
publish: setup ## maintainers: writes the published address into the notebooks' setup cells and README
	$(BIN)/python -m tools.publish

# Times data loading (eager vs on-demand datasets, 0 and 2 workers) and the
# chapter's mini-batch loop; prints a table and writes it to build/bench.md.
# Then data parallel: 1 process x 1 and x 2 threads against 2 processes,
# for three models (build/bench_data_parallel.md). Then autograding with and
# without its sandbox, side by side (build/bench_grading_sandbox.md). Then, as root only, a class of
# 30 on the course's JupyterHub: start, spawn, memory, 30 hand-ins at once,
# collect and autograde (build/bench_hub_load.md); and the Zero to JupyterHub
# image built and a student's server run from it (build/bench_hub_image.md)
bench: setup $(TEACHER_READY) $(TEST_HUB) ## learners: times data loading, data parallel, grading's sandbox (as root, the hub's load and image too); writes build/bench*.md
	$(BIN)/python -m benchmarks.data_loading
	$(BIN)/python -m benchmarks.data_parallel
	$(BIN)/python -m benchmarks.grading_sandbox
ifeq ($(shell id -u),0)
	COURSE_HUB_ENV=$(HUB_ENV) $(BIN)/python -m benchmarks.hub_load
	$(BIN)/python -m benchmarks.hub_image
else
	@echo 'benchmarks/hub_load.py and benchmarks/hub_image.py skipped: they make Unix accounts and a Docker daemon; run make bench as root'
endif

# The chapter's model trained data-parallel by NPROC processes on this machine
# (global mini-batch 16), a checkpoint every 10 epochs, in a folder of its own
# under runs/data_parallel/ (classroom/ddp.py). NPROC (a number, or auto) and
# DEVICE (auto, cpu, or the accelerator's name, such as cuda) are checked
# before anything starts; with more processes than accelerators, auto uses the
# CPU and says so. Ctrl-C stops the run at the end of its epoch, after a
# checkpoint. A lost process makes the run start again (up to 3 times) from its
# last checkpoint; a mistake is reported once. `make ddp RESUME=1` continues
# the last run (RESUME=RUN_ID: that one). The last line printed is the final
# model.state_dict()
NPROC ?= 2
DEVICE ?= auto
RESUME ?=
ddp: setup ## learners: trains the chapter's model on NPROC processes (default 2); RESUME=1 continues
	$(BIN)/course-ddp --nproc '$(NPROC)' --device '$(DEVICE)' \
		$(if $(filter 1,$(RESUME)),--resume,$(if $(RESUME),--resume '$(RESUME)'))

# TensorBoard on the logs the notebooks write into runs/
tensorboard: setup ## learners: shows the TensorBoard logs of runs/
	$(BIN)/tensorboard --logdir runs


# The hub's environment (make hub-env)
$(HUB_READY): requirements.txt requirements-teacher.txt classroom/hub/requirements.txt classroom/hub/proxy/package-lock.json
	$(HUB_PYTHON) -m venv $(HUB_ENV)
ifeq ($(TORCH),cpu)
	$(HUB_ENV)/bin/python -m pip install --disable-pip-version-check $$(grep '^torch==' requirements.txt) \
		--index-url https://download.pytorch.org/whl/cpu
endif
	$(HUB_ENV)/bin/python -m pip install --disable-pip-version-check \
		-r requirements.txt -r requirements-teacher.txt -r classroom/hub/requirements.txt
	# The proxy, JupyterHub's reference one (Node.js), at the versions of classroom/hub/proxy/package-lock.json
	mkdir -p $(HUB_ENV)/proxy
	cp classroom/hub/proxy/package.json classroom/hub/proxy/package-lock.json $(HUB_ENV)/proxy/
	cd $(HUB_ENV)/proxy && npm ci --no-audit --no-fund
	chmod -R go+rX $(HUB_ENV)
	touch $@

# The course's package in the hub's environment: a copy (every user's server
# imports it; the clone stays private to root), installed again when it changes
$(HUB_PACKAGE): $(HUB_READY) pyproject.toml $(wildcard classroom/*.py classroom/*/*.py)
	# Built from a copy of the package alone: nothing of the clone's build/ goes in
	package=$$(mktemp -d) && cp -r pyproject.toml classroom $$package && \
		$(HUB_ENV)/bin/python -m pip install --disable-pip-version-check --no-deps --force-reinstall $$package; \
		status=$$?; rm -rf $$package; exit $$status
	chmod -R go+rX $(HUB_ENV)
	touch $@

hub-env: $(HUB_PACKAGE) ## hub: makes the hub's environment (HUB_ENV, default /opt/pytorch-course-hub/env)

# Serves the class on http://127.0.0.1:8000 (settings in classroom/hub/jupyterhub_config.py,
# the teachers' walk through a term in HUB.md); Ctrl+C stops it and every
# user's server, and keeps everyone's files
# HTTPS with SSL_CERT=certificate.pem SSL_KEY=key.pem (HUB.md, "HTTPS")
SSL_CERT ?=
SSL_KEY ?=
hub: $(HUB_PACKAGE) ## hub: starts the class's JupyterHub, as root (HUB.md); SSL_CERT=, SSL_KEY=: HTTPS
	cd $(HUB_ENV) && COURSE_HUB_SSL_CERT='$(if $(SSL_CERT),$(abspath $(SSL_CERT)))' \
		COURSE_HUB_SSL_KEY='$(if $(SSL_KEY),$(abspath $(SSL_KEY)))' \
		$(HUB_ENV)/bin/jupyterhub -f $(CURDIR)/classroom/hub/jupyterhub_config.py

# The class's hub in one file (hub state, exchange, every home with the
# gradebook), written into BACKUPS, never over an existing one; restored onto
# a fresh machine by make hub-restore BACKUP=... (HUB.md, "Backups"). As root
BACKUPS ?= /var/backups/pytorch-course
BACKUP ?=
hub-backup: $(HUB_PACKAGE) ## hub: writes a backup of the class's hub into BACKUPS (as root)
	$(HUB_ENV)/bin/python -m classroom.hub.backup create '$(BACKUPS)'

hub-restore: $(HUB_PACKAGE) ## hub: restores a backup onto a fresh machine: make hub-restore BACKUP=... (as root)
	$(HUB_ENV)/bin/python -m classroom.hub.backup restore '$(BACKUP)'

# The servers' image for Zero to JupyterHub (classroom/hub/Dockerfile, HUB.md):
# the learners' copy, a wheel of every pin and of the course's package, then
# docker build from the clone's root. HUB_IMAGE_BASE: the image it starts
# from; DOCKER, DOCKER_BUILD_FLAGS: the client and what it adds (e.g.
# --network host where the daemon has no bridge)
HUB_IMAGE ?= pytorch-course-singleuser:latest
HUB_IMAGE_BASE ?= python:3.11-slim-bookworm
DOCKER ?= docker
DOCKER_BUILD_FLAGS ?=
HUB_WHEELS := build/hub-image/wheels
# Wheels for the image's Python, whatever this machine runs: CPython 3.11 on
# x86-64 Linux with glibc up to 2.36 (the default base's and Debian 12's);
# resolved for any 3.11 (Debian's is 3.11.2), and never a source package
HUB_IMAGE_PYTHON := --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
	--platform manylinux2014_x86_64 $(foreach minor,$(shell seq 17 36),--platform manylinux_2_$(minor)_x86_64)

# Made again when a pin changes. PyTorch's CPU build first: the image installs
# from these wheels alone, never from an index, where pip would find the CUDA build
$(HUB_WHEELS)/.downloaded: requirements.txt requirements-teacher.txt classroom/hub/requirements.txt | $(PACKAGE_READY)
	rm -rf $(HUB_WHEELS) && mkdir -p $(HUB_WHEELS)
	$(BIN)/python -m pip download --disable-pip-version-check --no-deps $(HUB_IMAGE_PYTHON) -d $(HUB_WHEELS) \
		$$(grep '^torch==' requirements.txt) --index-url https://download.pytorch.org/whl/cpu
	# The servers need JupyterHub's pin (jupyterhub-singleuser), not the hub's authenticator
	$(BIN)/python -m pip download --disable-pip-version-check $(HUB_IMAGE_PYTHON) -d $(HUB_WHEELS) \
		--find-links $(HUB_WHEELS) -r requirements.txt -r requirements-teacher.txt \
		$$(grep '^jupyterhub==' classroom/hub/requirements.txt)
	touch $@

hub-image: student $(HUB_WHEELS)/.downloaded ## hub: builds the servers' image for Zero to JupyterHub (HUB_IMAGE=name:tag; HUB.md)
	# The course's package, built from a copy of it alone (as make hub-env does)
	package=$$(mktemp -d) && cp -r pyproject.toml classroom $$package && \
		$(BIN)/python -m pip wheel --disable-pip-version-check --no-deps -w $(HUB_WHEELS) $$package; \
		status=$$?; rm -rf $$package; exit $$status
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) --build-arg BASE=$(HUB_IMAGE_BASE) -f classroom/hub/Dockerfile -t $(HUB_IMAGE) .
