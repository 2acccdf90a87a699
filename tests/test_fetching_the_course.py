"""A notebook opened alone, outside the course (as in Colab, on a school's
JupyterHub, or downloaded), fetches the course with its setup cell, without
the internet: the published address is pointed (COURSE_REPOSITORY) at a
file URL of a local copy of the course, or at a loopback port nothing
listens on."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from classroom.course import CHAPTERS, COURSE_ROOT, free_port
from tools.publish import setup_cell

# The folder name the course is fetched into, from the address's last part
NAME = 'course'


def git(*args, cwd):
    subprocess.run(['git', '-c', 'user.name=test', '-c', 'user.email=test@localhost', *args],
                   cwd=cwd, check=True, capture_output=True)


def git_repository(folder, files):
    """Commits `files` ({relative path: source path or text}) into a new repository at `folder` on branch main."""
    for relative, content in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content)
        else:
            shutil.copy2(content, target)
    git('init', '-q', '-b', 'main', cwd=folder)
    git('add', '-A', cwd=folder)
    git('commit', '-q', '-m', 'the course', cwd=folder)
    return folder.as_uri()


@pytest.fixture(scope='module')
def course_address(tmp_path_factory):
    """A file URL of a git repository holding the course as it is in this
    working tree (committed or not, ignored files left out)."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                            cwd=COURSE_ROOT, check=True, capture_output=True, text=True).stdout.split('\0')
    files = {name: COURSE_ROOT / name for name in listed if name and (COURSE_ROOT / name).is_file()}
    return git_repository(tmp_path_factory.mktemp('published') / NAME, files)


def unreachable_address():
    return f'git://127.0.0.1:{free_port()}/{NAME}'


def run_setup(folder, address, source=setup_cell(), extra_env=None):
    """The setup cell run by Python in `folder`; prints the working directory last."""
    env = {**os.environ, 'COURSE_REPOSITORY': address, **(extra_env or {})}
    return subprocess.run([sys.executable, '-c', source + '\nprint(Path.cwd())'],
                          cwd=folder, env=env, capture_output=True, text=True)


def up_to_the_first_script_run(notebook):
    """The notebook's cells up to the first `%run -i` of a script a
    `%%writefile` cell wrote: the setup, a script written and run (the whole
    chapter runs under strict nbval in tests/test_student_copy_runs.py)."""
    cells = notebook['cells']
    code = [index for index, cell in enumerate(cells) if cell['cell_type'] == 'code']
    written = next(index for index in code if ''.join(cells[index]['source']).startswith('%%writefile'))
    run = next(index for index in code if index > written and ''.join(cells[index]['source']).startswith('%run -i'))
    return {**notebook, 'cells': cells[:run + 1]}


def test_a_chapter_opened_alone_fetches_the_course_and_shows_the_stored_outputs(tmp_path, course_address):
    # The chapter alone in an empty folder, run by nbval in a fresh kernel
    # started there: every cell after the setup cell (which prints what it
    # fetched) gives its stored output, up to a script written and run
    chapter = up_to_the_first_script_run(json.loads(CHAPTERS[0].read_text()))
    setup = next(cell for cell in chapter['cells'] if cell['cell_type'] == 'code')
    setup['metadata'].setdefault('tags', []).append('nbval-ignore-output')
    alone = tmp_path / 'downloads'
    alone.mkdir()
    (alone / CHAPTERS[0].name).write_text(json.dumps(chapter))
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-c', str(tmp_path / 'pytest.ini'),
         '--nbval', '--nbval-sanitize-with', str(COURSE_ROOT / 'tests' / 'sanitize.cfg'), CHAPTERS[0].name],
        cwd=alone, env={**os.environ, 'COURSE_REPOSITORY': course_address}, capture_output=True, text=True)
    print(f'{CHAPTERS[0].name} fetched and run alone in {time.monotonic() - start:.1f} s')
    assert result.returncode == 0, result.stdout[-3000:]
    assert (alone / NAME / 'helpers.py').is_file()
    # the stage scripts were written into the fetched course, not beside the notebook
    assert sorted(path.name for path in alone.iterdir()) == sorted([CHAPTERS[0].name, NAME])


def test_a_second_run_reuses_the_fetched_course_and_keeps_a_changed_file(tmp_path, course_address):
    first = run_setup(tmp_path, course_address)
    assert first.returncode == 0, first.stderr
    fetched = tmp_path / NAME
    assert first.stdout.splitlines() == [
        f'Fetched the course from {course_address} into {fetched}, now the working folder.', str(fetched)]
    changed = fetched / 'data_preparation' / 'v0.py'
    changed.write_text(changed.read_text() + '# a learner was here\n')
    # nothing is fetched again: the address may as well be unreachable now
    second = run_setup(tmp_path, unreachable_address())
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f'Using the course fetched before into {fetched} (kept as it is, with your changes).', str(fetched)]
    assert changed.read_text().endswith('# a learner was here\n')
    assert sorted(path.name for path in tmp_path.iterdir()) == [NAME]


def test_on_colab_it_installs_only_what_is_missing_and_names_the_versions_that_differ(tmp_path):
    # A stub google.colab module, and a stub pip that records what it was asked to install
    stubs = tmp_path / 'stubs'
    (stubs / 'google' / 'colab').mkdir(parents=True)
    (stubs / 'google' / 'colab' / '__init__.py').write_text('')
    (stubs / 'pip').mkdir()
    (stubs / 'pip' / '__init__.py').write_text('')
    (stubs / 'pip' / '__main__.py').write_text(
        'import os, sys\nopen(os.environ["PIP_CALLS"], "a").write(" ".join(sys.argv[1:]) + "\\n")\n')
    pins = 'numpy==0.0.1\ncourse-absent-package==1.0\n'
    packages = "NOTEBOOK_PACKAGES = ('torch', 'numpy', 'matplotlib', 'pillow', 'tensorboard')"
    course_setup = (COURSE_ROOT / 'course_setup.py').read_text()
    assert packages in course_setup
    address = git_repository(tmp_path / 'published' / NAME, {
        'helpers.py': '', 'requirements.txt': pins,
        'course_setup.py': course_setup.replace(packages, "NOTEBOOK_PACKAGES = ('numpy', 'course-absent-package')")})
    source = setup_cell()
    calls = tmp_path / 'pip-calls.txt'
    numpy_here = subprocess.run([sys.executable, '-c', 'import numpy; print(numpy.__version__)'],
                                capture_output=True, text=True).stdout.strip()

    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    result = run_setup(elsewhere, address, source, {'PIP_CALLS': str(calls)})
    assert result.returncode == 0, result.stderr
    assert 'Colab' not in result.stdout and not calls.exists()

    colab = tmp_path / 'content'
    colab.mkdir()
    result = run_setup(colab, address, source, {'PYTHONPATH': str(stubs), 'PIP_CALLS': str(calls)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == (
        f'On Colab: installed course-absent-package==1.0; kept numpy {numpy_here} '
        '(the outputs shown come from 0.0.1), so the numbers they print may differ slightly.')
    assert calls.read_text() == 'install --quiet course-absent-package==1.0\n'


def test_an_unreachable_address_stops_the_notebook_with_one_sentence(tmp_path):
    address = unreachable_address()
    shell = (
        'import sys\n'
        'from IPython.core.interactiveshell import InteractiveShell\n'
        'result = InteractiveShell.instance().run_cell(sys.stdin.read())\n'
        'sys.exit(0 if result.success else 3)\n'
    )
    result = subprocess.run([sys.executable, '-c', shell], input=setup_cell(), cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, 'COURSE_REPOSITORY': address})
    assert result.returncode == 3
    shown = (result.stdout + result.stderr).strip().splitlines()
    assert len(shown) == 1, shown
    assert shown[0].startswith(f'CourseSetupError: Could not fetch the course from {address}: ')
    assert 'Connection refused' in shown[0], shown[0]
    # nothing half-fetched is left behind
    assert list(tmp_path.iterdir()) == []
