"""Every notebook starts with the same short setup cell, generated from one
template (tools/setup_cell.txt, written in by tools/publish.py), which finds
the course and runs the rest from the file the course carries
(course_setup.py): the course's root becomes the working directory wherever
the kernel was started. Opened outside the course, it fetches the course:
tests/test_fetching_the_course.py."""
import ast
import os
import re
import subprocess
import sys

import pytest

from classroom.course import COURSE_ROOT, LEARNER_FILES, NOTEBOOKS, code_cells
from tools.publish import README, readme_with_links, setup_cell

SETUP = setup_cell()


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda path: path.name)
def test_every_notebook_opens_with_the_generated_setup_cell(notebook):
    # after a change to tools/setup_cell.txt or the published address: make publish
    assert code_cells(notebook)[0][0] == SETUP


def test_the_setup_cell_is_short_and_runs_the_rest_from_a_file_every_copy_of_the_course_carries():
    # A learner reads it first: at most 15 lines, as short as the book's own
    assert len(SETUP.splitlines()) <= 15
    assert 'course_setup.py' in SETUP and 'course_setup.py' in LEARNER_FILES


def test_the_readme_launch_links_are_those_of_the_published_address():
    text = README.read_text()
    assert readme_with_links(text) == text


def run_setup(start_folder, times, source=SETUP):
    script = '\n'.join([source] * times) + (
        '\nimport importlib.util'
        '\nos, sys'  # later cells use the os, sys and Path the cell imports, as they always did
        '\nprint(Path.cwd())'
        "\nprint(importlib.util.find_spec('helpers').origin)"  # importable, not imported
    )
    env = {name: value for name, value in os.environ.items() if name != 'COURSE_REPOSITORY'}
    return subprocess.run([sys.executable, '-c', script], cwd=start_folder, capture_output=True, text=True, env=env)


@pytest.mark.parametrize('start', ['.', 'notebooks', 'data_preparation'])
def test_setup_makes_the_course_root_the_working_directory_however_often_it_runs(start):
    result = run_setup(COURSE_ROOT / start, times=3)
    assert result.returncode == 0, result.stderr
    cwd, helpers_file = result.stdout.splitlines()
    assert cwd == str(COURSE_ROOT)
    assert helpers_file == str(COURSE_ROOT / 'helpers.py')


def test_setup_outside_the_course_without_an_address_says_where_to_start(tmp_path):
    result = run_setup(tmp_path, times=1, source=setup_cell(repository=''))
    assert result.returncode != 0
    assert result.stderr.strip().endswith(
        f'CourseSetupError: {tmp_path} is outside the course: open the notebook in it, or set COURSE_REPOSITORY')
    assert list(tmp_path.iterdir()) == []


def test_setup_outside_the_course_never_fetches_into_a_folder_in_the_way(tmp_path):
    # A folder of the learner's own, named as the course would be
    in_the_way = tmp_path / 'course'
    (in_the_way / 'notes.txt').parent.mkdir()
    (in_the_way / 'notes.txt').write_text('mine')
    result = run_setup(tmp_path, times=1, source=setup_cell(repository=f'git://127.0.0.1:9/{in_the_way.name}'))
    assert result.stderr.strip().endswith(
        f'CourseSetupError: {in_the_way} is in the way: it holds no course; move it away')
    assert [path.name for path in tmp_path.iterdir()] == ['course']
    assert [path.name for path in in_the_way.iterdir()] == ['notes.txt']


def test_on_colab_the_setup_checks_every_package_the_notebooks_import_and_requirements_pins_it():
    sources = [source for notebook in NOTEBOOKS for source, _ in code_cells(notebook)]
    for name in LEARNER_FILES:
        path = COURSE_ROOT / name
        sources += [script.read_text() for script in ([path] if path.is_file() else path.rglob('*.py'))]
    imported = {module for source in sources for module in re.findall(r'^\s*(?:from|import)\s+(\w+)', source, re.M)}
    own = {path.stem for path in COURSE_ROOT.iterdir()}
    third_party = imported - set(sys.stdlib_module_names) - own - {'google'}  # google.colab: Colab's own
    distribution = {'PIL': 'pillow'}
    course_setup = ast.parse((COURSE_ROOT / 'course_setup.py').read_text())
    checked = next(ast.literal_eval(node.value) for node in course_setup.body
                   if isinstance(node, ast.Assign) and node.targets[0].id == 'NOTEBOOK_PACKAGES')
    assert {distribution.get(module, module) for module in third_party} == set(checked)
    requirements = (COURSE_ROOT / 'requirements.txt').read_text().splitlines()
    pinned = {line.split('==')[0] for line in requirements if '==' in line}
    assert set(checked) <= pinned
