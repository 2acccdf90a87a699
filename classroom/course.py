"""What the course's commands, tools and tests share, defined once: where the
course is, which notebooks it has, how a notebook's cells are read, and how a
notebook is executed."""
import json
import os
import re
import runpy
import shutil
import socket
import time
import subprocess
from pathlib import Path

import nbformat
from nbclient import NotebookClient



def find_course_root():
    """The course's folder, the one holding helpers.py: COURSE_ROOT in the
    environment where it is set (the class's hub, whose environment holds a
    copy of this package, not the clone), else the folder this package lies
    in (make setup installs it in place, editable)."""
    return Path(os.environ.get('COURSE_ROOT') or Path(__file__).resolve().parent.parent)


COURSE_ROOT = find_course_root()
NOTEBOOKS_FOLDER = COURSE_ROOT / 'notebooks'
# The learners' versions of the exercise notebooks: generated from the
# teacher's (classroom/student_copies.py), committed, never edited by hand
EXERCISES_FOLDER = NOTEBOOKS_FOLDER / 'exercises'
# The teacher's versions, with the model solutions and the hidden tests, in
# nbgrader's layout: source/<assignment>/<assignment>.ipynb
TEACHERS_FOLDER = COURSE_ROOT / 'source'


def _notebooks_in(folder, pattern):
    return sorted(path for path in folder.glob(pattern) if '.ipynb_checkpoints' not in path.parts)


# The chapters, in course order (their names start with their number)
CHAPTERS = _notebooks_in(NOTEBOOKS_FOLDER, '*.ipynb')
# The exercise notebooks, in nbgrader's format (the teacher's versions)
EXERCISES = _notebooks_in(TEACHERS_FOLDER, '*/*.ipynb')
# Where the learners' versions of the exercise notebooks lie
LEARNERS_EXERCISES = [EXERCISES_FOLDER / exercise.name for exercise in EXERCISES]
# Every notebook of the course with stored outputs: each one is re-executed
# under strict nbval (the learners' versions have no outputs to compare)
NOTEBOOKS = CHAPTERS + EXERCISES
# What a learner needs beside the notebooks, in the student copy and in every
# nbgrader assignment: what the notebooks' first cell runs, the helpers, the
# data scripts, the chapters' stage scripts (some exercises run them), the
# class notebook 05 writes (its exercises import it), the benchmark that
# notebook 02 imports, and the pinned versions
LEARNER_FILES = [
    'course_setup.py', 'helpers.py', 'requirements.txt', 'data_generation', 'data_preparation',
    'model_configuration', 'model_training', 'stepbystep', 'benchmarks/data_loading.py',
]

WRITEFILE = re.compile(r'%%writefile(?: -a)? (\S+)\n')


def learners_version(exercise):
    """Where the learners' version of an exercise notebook (the teacher's,
    under source/) lies, relative to a course root: notebooks/exercises/NAME."""
    return EXERCISES_FOLDER.relative_to(COURSE_ROOT) / Path(exercise).name


def nbgrader_of(cell):
    """A cell's nbgrader metadata: {} for a cell nbgrader neither grades nor locks."""
    return cell['metadata'].get('nbgrader', {})


def is_check(cell):
    """An autograder cell of an exercise notebook: graded code that is not
    the learner's to write."""
    meta = nbgrader_of(cell)
    return cell['cell_type'] == 'code' and bool(meta.get('grade')) and not meta.get('solution')


def hidden_line_numbers(source):
    """The numbers (from 1) of a check cell's lines inside its hidden tests,
    the lines of nbgrader's markers included."""
    numbers, hidden = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if 'BEGIN HIDDEN TESTS' in line:
            hidden = True
        if hidden:
            numbers.add(number)
        if 'END HIDDEN TESTS' in line:
            hidden = False
    return numbers


def points(notebook, autograded_only):
    """The points of a notebook's graded cells: all of them, or those of
    the autograder cells only (not the answers graded by hand)."""
    return sum(nbgrader_of(cell)['points'] for cell in read(notebook).cells
               if nbgrader_of(cell).get('grade') and (is_check(cell) or not autograded_only))


def code_cells(notebook):
    """(source, tags) of each code cell of a notebook file, in order."""
    cells = json.loads(Path(notebook).read_text())['cells']
    return [
        (''.join(cell['source']), cell.get('metadata', {}).get('tags', []))
        for cell in cells
        if cell['cell_type'] == 'code'
    ]


def writefile_cells(notebook):
    """(path, text written) for each %%writefile cell, in order."""
    found = []
    for source, _ in code_cells(notebook):
        match = WRITEFILE.match(source)
        if match:
            # %%writefile writes the cell's body, plus the final
            # newline that the notebook's JSON does not store
            found.append((match.group(1), source[match.end():] + '\n'))
    return found


def cell_source(notebook, cell_id):
    """The source of the cell with id `cell_id` in a notebook file, for the
    tests that check what a cell does."""
    for cell in json.loads(Path(notebook).read_text())['cells']:
        if cell.get('id') == cell_id:
            return ''.join(cell['source'])
    raise KeyError(f'{Path(notebook).name} has no cell with id {cell_id!r}')


def run_stages(namespace, *scripts):
    """Runs stage scripts (paths relative to the course root) as `%run -i`
    does: each one sees and extends the same namespace, which is returned."""
    for script in scripts:
        namespace.update(runpy.run_path(str(COURSE_ROOT / script), init_globals=namespace))
    return namespace


def execute(notebook, folder, timeout=600, allow_errors=False, quiet=False, kernel_arguments=()):
    """Runs every cell of `notebook` (an nbformat notebook, changed in place)
    in a fresh kernel started in `folder`, as JupyterLab starts it beside
    the notebook's file. Without timing metadata, so that a re-run changes
    no byte of a notebook whose outputs did not change. `quiet` drops the
    kernel process's own log lines (not the cells' outputs);
    `kernel_arguments` are added to the kernel's command line."""
    client = NotebookClient(
        notebook, timeout=timeout, allow_errors=allow_errors, record_timing=False,
        resources={'metadata': {'path': str(folder)}}, extra_arguments=list(kernel_arguments),
    )
    client.execute(**({'stderr': subprocess.DEVNULL} if quiet else {}))
    return notebook


def read(path):
    """A notebook file as an nbformat notebook (version 4)."""
    return nbformat.read(path, as_version=4)


def learner_files():
    """Every file of LEARNER_FILES (its folders' files, without Python's
    caches), as paths relative to the course root."""
    found = []
    for name in LEARNER_FILES:
        source = COURSE_ROOT / name
        files = sorted(source.rglob('*')) if source.is_dir() else [source]
        found += [path.relative_to(COURSE_ROOT) for path in files
                  if path.is_file() and '__pycache__' not in path.parts]
    return found


def write_atomically(target, write, partial=None):
    """Calls write(path) on a partial file (default: .NAME.partial beside
    `target`), then puts it in `target`'s place in one step, so that a run
    stopped halfway never leaves half a file; `partial` must lie on
    `target`'s file system."""
    partial = Path(partial or Path(target).with_name(f'.{Path(target).name}.partial'))
    try:
        write(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def copy_learner_files(folder):
    """Copies LEARNER_FILES from the course into `folder`, without caches."""
    for name in learner_files():
        (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(COURSE_ROOT / name, Path(folder) / name)


# Marks a folder as made by the course's commands (the learners' copy, the
# model solutions), so that only such a folder is ever emptied to be made again
MADE_BY_THE_COURSE = '.student-copy'


def own_empty_folder(out_folder):
    """`out_folder`, made empty: created, or emptied if one of the course's
    commands made it before; refuses a folder they did not make. Returns it
    as a Path."""
    out_folder = Path(out_folder)
    if out_folder.exists():
        if not (out_folder / MADE_BY_THE_COURSE).is_file() and any(out_folder.iterdir()):
            raise FileExistsError(
                f'{out_folder} exists and was not made by the course\'s commands: '
                f'refusing to overwrite it; choose another folder or empty it'
            )
        shutil.rmtree(out_folder)
    out_folder.mkdir(parents=True)
    (out_folder / MADE_BY_THE_COURSE).write_text("Built by the course's commands (classroom/); rebuilt on every run.\n")
    return out_folder


def free_port():
    """A TCP port that nothing on this machine listens on right now."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout, what):
    """Polls `condition` until it returns something true, and returns that;
    a TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f'gave up after {timeout} s waiting for {what}')
        time.sleep(0.2)
