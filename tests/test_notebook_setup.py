"""Every notebook starts with the same setup cell, which makes the course's
root the working directory wherever the kernel was started."""
import subprocess
import sys

import pytest

from course import COURSE_ROOT, NOTEBOOKS, code_cells

SETUP = code_cells(NOTEBOOKS[0])[0][0]


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda path: path.name)
def test_every_notebook_opens_with_the_setup_cell(notebook):
    assert code_cells(notebook)[0][0] == SETUP


def run_setup(start_folder, times):
    script = '\n'.join([SETUP] * times) + (
        '\nimport importlib.util'
        '\nprint(Path.cwd())'
        "\nprint(importlib.util.find_spec('helpers').origin)"  # importable, not imported
    )
    return subprocess.run([sys.executable, '-c', script], cwd=start_folder, capture_output=True, text=True)


@pytest.mark.parametrize('start', ['.', 'notebooks', 'data_preparation'])
def test_setup_makes_the_course_root_the_working_directory_however_often_it_runs(start):
    result = run_setup(COURSE_ROOT / start, times=3)
    assert result.returncode == 0, result.stderr
    cwd, helpers_file = result.stdout.splitlines()
    assert cwd == str(COURSE_ROOT)
    assert helpers_file == str(COURSE_ROOT / 'helpers.py')


def test_setup_outside_the_course_says_where_to_start(tmp_path):
    result = run_setup(tmp_path, times=1)
    assert result.returncode != 0
    assert f'{tmp_path} is not inside the course' in result.stderr
