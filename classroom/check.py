"""Grades a learner's exercise notebooks as they are, with the checks kept for
grading (the hidden tests), without showing those checks.

    course-check                  # make check: every notebook in notebooks/exercises/
    course-check NOTEBOOK...      # make check NB=notebooks/exercises/NAME.ipynb

For each notebook it prints `<notebook>: <points> / <max>` (the autograded
points; written answers wait for a teacher), then, for each exercise that lost
points, the message of the check that failed: the error a check raised, never
its code. It grades as nbgrader does: each check cell is replaced by the
teacher's (source/<assignment>/), hidden tests included; the learner's other
cells stay as they are; a check that raises, or writes to stderr, or did not
run, scores 0 (a warning goes to stdout: classroom/grading/rules.py). The
notebook runs in a fresh kernel in a scratch copy of the course, so the
learner's files are never changed. Needs only requirements.txt.
"""
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from classroom.course import (
    COURSE_ROOT, EXERCISES, copy_learner_files, execute, hidden_line_numbers, is_check, learners_version, nbgrader_of,
    read,
)
from classroom.grading.rules import CELL_TIMEOUT, KERNEL_ARGUMENTS
ANSI_CODE = re.compile(r'\x1b\[[0-9;]*m')
CELL_LINE = re.compile(r'Cell In\[\d+\], line (\d+)')


def teachers_version(notebook):
    """The teacher's version (under source/) of a learners' exercise notebook."""
    for exercise in EXERCISES:
        if exercise.name == Path(notebook).name:
            return exercise
    names = ', '.join(str(learners_version(exercise)) for exercise in EXERCISES)
    raise ValueError(f'{notebook} is not an exercise notebook of the course; the exercise notebooks are {names}')


def graded_version(learners_notebook, teachers_notebook):
    """The learner's notebook with each check cell replaced by the teacher's,
    hidden tests included (matched by grade_id), and no outputs: a new notebook."""
    checks = {nbgrader_of(cell)['grade_id']: cell for cell in teachers_notebook.cells if is_check(cell)}
    graded = nbformat.from_dict(learners_notebook)
    for index, cell in enumerate(graded.cells):
        grade_id = nbgrader_of(cell).get('grade_id')
        if grade_id in checks:
            graded.cells[index] = cell = nbformat.from_dict(checks[grade_id])
        if cell.cell_type == 'code':
            cell.outputs, cell.execution_count = [], None
    return graded


def exercise_titles(notebook):
    """{grade_id of each check: the title of the section it checks (the
    `## ` heading above it)}."""
    titles, title = {}, ''
    for cell in notebook.cells:
        if cell.cell_type == 'markdown' and cell.source.startswith('## '):
            title = cell.source.splitlines()[0][3:].strip()
        if is_check(cell):
            titles[nbgrader_of(cell)['grade_id']] = title
    return titles


def failure(cell):
    """Why an executed check cell scores 0, in words a learner may see (the
    error's type and message, or the first line not blank written to
    stderr), and whether it failed in the hidden tests; None when it passed."""
    if cell.get('execution_count') is None:
        return 'did not run (a cell before it stopped the notebook)', False
    for output in cell.outputs:
        if output.output_type == 'error':
            # IPython's traceback names the cell's line that failed first
            line = CELL_LINE.search(ANSI_CODE.sub('', '\n'.join(output.traceback)))
            in_hidden = bool(line) and int(line.group(1)) in hidden_line_numbers(cell.source)
            if output.ename == 'NotImplementedError' and not output.evalue:
                return 'NotImplementedError: the answer is still to be written', in_hidden
            return (f'{output.ename}: {output.evalue}' if output.evalue else output.ename), in_hidden
    written = [output.text for output in cell.outputs if output.output_type == 'stream' and output.name == 'stderr']
    if written:
        # Its first line that is not blank only: a warning's second line
        # quotes the code
        first = next((line.strip() for line in ''.join(written).splitlines() if line.strip()), 'blank lines only')
        return f'wrote to stderr, which fails a check: {first}', False
    return None


def run_graded(notebook_path):
    """Runs the graded version of a learners' exercise notebook in a scratch
    copy of the course; returns it executed, and the teacher's version."""
    teachers = read(teachers_version(notebook_path))
    graded = graded_version(read(notebook_path), teachers)
    with tempfile.TemporaryDirectory(prefix='course-check-') as scratch:
        copy_learner_files(scratch)
        folder = Path(scratch) / learners_version(notebook_path).parent
        folder.mkdir(parents=True)
        try:
            execute(graded, folder, timeout=CELL_TIMEOUT, allow_errors=True, quiet=True,
                    kernel_arguments=KERNEL_ARGUMENTS)
        except (CellTimeoutError, DeadKernelError):
            pass  # the cells that ran are graded; the others score 0
    return graded, teachers


def score(graded, teachers):
    """(points, max_points, [(exercise title, points lost, why) for each
    failing check]) of an executed graded notebook."""
    done = {nbgrader_of(cell)['grade_id']: cell for cell in graded.cells if is_check(cell)}
    titles = exercise_titles(teachers)
    points, max_points, failures = 0, 0, []
    for cell in teachers.cells:
        if not is_check(cell):
            continue
        grade_id, worth = nbgrader_of(cell)['grade_id'], nbgrader_of(cell)['points']
        max_points += worth
        failed = failure(done[grade_id]) if grade_id in done else ('the check cell is missing from the notebook', False)
        if failed is None:
            points += worth
        else:
            why, in_hidden = failed
            failures.append((titles[grade_id], worth, f'{why} (a check kept for grading)' if in_hidden else why))
    return points, max_points, failures


def check(notebook_path):
    """Grades one learners' exercise notebook: (points, max_points, failures),
    as score() gives them."""
    return score(*run_graded(notebook_path))


def report(notebook_path, points, max_points, failures):
    """What `make check` prints for one notebook."""
    path = Path(notebook_path).resolve()
    shown = path.relative_to(COURSE_ROOT) if COURSE_ROOT in path.parents else notebook_path
    lines = [f'{shown}: {points:g} / {max_points:g}']
    lines += [f'  {title}, {worth:g} lost: {why}' for title, worth, why in failures]
    return '\n'.join(lines)


def main(arguments=None):
    """make check: grades the notebooks named (default: every learners' version); 2 for bad input."""
    arguments = sys.argv[1:] if arguments is None else arguments
    paths = [Path(argument) for argument in arguments] or [COURSE_ROOT / learners_version(e) for e in EXERCISES]
    try:
        for path in paths:
            teachers_version(path)
            if not path.is_file():
                raise ValueError(f'{path} does not exist')
            try:
                read(path)
            except ValueError as error:
                raise ValueError(f'{path} is not a notebook that can be read ({error}); '
                                 f'take it back from git, or from a copy you saved') from None
    except ValueError as error:
        print(f'make check: {error}', file=sys.stderr)
        return 2
    for path in paths:
        print(report(path, *check(path)), flush=True)
    print('Written answers are graded by a teacher; they are not counted here.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
