"""Every notebook of the learners' copy (classroom/student_copies.py) runs
top to bottom in a fresh kernel, in the copy's own folder, as a learner
starts it: the copy must hold everything the notebooks use.

The chapters are copied as they are, so their outputs must be the stored
ones: each is re-executed under strict nbval once more, on other CPU kernels
than this machine's own (tools/cpu_kernel_sets.py), which also proves that no
stored output depends on the processor or the number of threads.

In the exercise notebooks, the only errors allowed are those of cells tagged
`raises-exception` and those an empty answer causes: the answer cell's own
NotImplementedError, the checks that fail on it, and the cells that use what
the answer was meant to define. The exercise notebooks run as the learners'
versions in notebooks/exercises/ (tests/test_exercises.py proves them equal to
the student copies), graded as `make check` grades them: with the hidden
tests, in a scratch copy of the course; every check fails in its visible part,
and `make check` gives 0 of every autograded point without showing a hidden
test."""
import ast

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from classroom.course import CHAPTERS, COURSE_ROOT, EXERCISES, is_check, learners_version, nbgrader_of, read
from tools.cpu_kernel_sets import KERNEL_SETS, SECOND_KERNEL_SET, nbval_under


def errors(cell):
    """The error outputs of an executed code cell."""
    return [output for output in cell.get('outputs', []) if output.output_type == 'error']


def names_defined_by(cell):
    """The names a code cell defines (functions, classes, variables)."""
    names = set()
    for node in ast.walk(ast.parse(TransformerManager().transform_cell(cell.source))):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


@pytest.fixture(scope='module')
def student_folder(tmp_path_factory):
    from classroom.student_copies import build_student_copies

    folder = tmp_path_factory.mktemp('student')
    build_student_copies(folder)
    return folder


@pytest.mark.parametrize('notebook', CHAPTERS, ids=lambda path: path.name)
def test_every_chapter_of_the_student_copy_is_the_chapter(notebook, student_folder):
    copy = student_folder / notebook.relative_to(COURSE_ROOT)
    assert copy.read_bytes() == notebook.read_bytes(), f'the student copy of {notebook.name} is not the chapter'


@pytest.mark.parametrize('notebook', CHAPTERS, ids=lambda path: path.name)
def test_every_chapter_of_the_student_copy_gives_the_stored_outputs_on_other_kernels(notebook, student_folder):
    settings = ' '.join(f'{name}={value}' for name, value in KERNEL_SETS[SECOND_KERNEL_SET].items())
    passed, report = nbval_under(SECOND_KERNEL_SET, student_folder / notebook.relative_to(COURSE_ROOT))
    assert passed, (f'{notebook.name} run with {settings} differs from its stored outputs '
                    f"(nbval's diff: '+' stored, '-' this run):\n{report}")


@pytest.mark.parametrize('notebook', EXERCISES, ids=lambda path: path.name)
def test_every_exercise_notebook_of_the_student_copy_runs_and_fails_every_check(notebook):
    from classroom.check import failure, hidden_line_numbers, report, run_graded, score

    path = COURSE_ROOT / learners_version(notebook)
    before = path.read_bytes()
    executed, teachers = run_graded(path)
    assert path.read_bytes() == before, 'make check changed the learner\'s notebook'
    # With empty answers, what the model answers define is missing, and so
    # is what a cell that failed on them would have defined
    missing_names = set().union(*(names_defined_by(cell) for cell in read(notebook).cells
                                  if cell.cell_type == 'code' and nbgrader_of(cell).get('solution')))
    answered = False
    for index, cell in enumerate(executed.cells):
        grade_id = nbgrader_of(cell).get('grade_id', f'cell {index}')
        answered = answered or bool(nbgrader_of(cell).get('solution'))
        if is_check(cell):
            # A check whose visible part passed on an empty answer would check nothing
            failed = failure(cell)
            assert failed and not failed[1], f'{grade_id} passes on an empty answer: it checks nothing'
            assert all(error.ename != 'SyntaxError' for error in errors(cell)), grade_id
        elif 'raises-exception' in cell.metadata.get('tags', []):
            continue
        elif not answered:
            assert not errors(cell), f'the set-up fails in the student copy, {grade_id}: {errors(cell)}'
        else:
            for error in errors(cell):
                missing = error.ename == 'NameError' and error.evalue.split("'")[1] in missing_names
                assert error.ename == 'NotImplementedError' or missing, (
                    f'{grade_id} fails for another reason than an empty answer: {error.ename}: {error.evalue}')
        if errors(cell):
            missing_names |= names_defined_by(cell)

    points, max_points, failures = score(executed, teachers)
    checks = [nbgrader_of(cell) for cell in teachers.cells if is_check(cell)]
    assert (points, max_points, len(failures)) == (0, sum(check['points'] for check in checks), len(checks))
    printed = report(path, points, max_points, failures)
    assert printed.startswith(f'{learners_version(notebook)}: 0 / {max_points:g}\n')
    hidden = {line.strip() for cell in teachers.cells if is_check(cell)
              for number, line in enumerate(cell.source.splitlines(), start=1)
              if number in hidden_line_numbers(cell.source) and line.strip()}
    shown = {line.strip() for line in printed.replace(': ', '\n').splitlines()}
    assert hidden and not hidden & shown, f'make check shows hidden tests: {sorted(hidden & shown)}'
