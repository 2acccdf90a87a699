"""The exercise notebooks are nbgrader assignments whose checks are real: the
solutions pass them (nbval re-runs the notebooks), and the learners' copies,
built with the solutions and hidden tests removed, hold neither (running them,
where every check must fail, is tests/test_student_copy_runs.py)."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from classroom.course import COURSE_ROOT, EXERCISES, hidden_line_numbers, is_check, learners_version, nbgrader_of

SOLUTION = ('### BEGIN SOLUTION', '### END SOLUTION')
HIDDEN_TESTS = ('### BEGIN HIDDEN TESTS', '### END HIDDEN TESTS')
MARKERS = ('BEGIN SOLUTION', 'END SOLUTION', 'BEGIN HIDDEN TESTS', 'END HIDDEN TESTS')
by_name = pytest.mark.parametrize('notebook', EXERCISES, ids=lambda path: path.name)
HELPER_NAMES = {
    name
    for node in ast.parse((COURSE_ROOT / 'helpers.py').read_text()).body
    for name in ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                 [target.id for target in node.targets] if isinstance(node, ast.Assign) else [])
}


def read(path):
    return json.loads(path.read_text())


def source_of(cell):
    return ''.join(cell['source'])


def split_regions(source, markers):
    """(lines inside the marked regions, lines outside them)."""
    begin, end = markers
    inside, outside, in_region = [], [], False
    for line in source.splitlines():
        if begin in line:
            in_region = True
        elif end in line:
            in_region = False
        elif line.strip():
            (inside if in_region else outside).append(line.strip())
    return inside, outside


def removed_lines(notebook, markers):
    """The lines a learner must not see: those inside the marked regions,
    and every line of a markdown answer, less any line the notebook also
    shows outside them (a bare `)` is no secret)."""
    inside, outside = [], []
    for cell in notebook['cells']:
        source = source_of(cell)
        if markers == SOLUTION and cell['cell_type'] == 'markdown' and nbgrader_of(cell).get('solution'):
            inside += [line.strip() for line in source.splitlines() if line.strip()]
            continue
        cell_inside, cell_outside = split_regions(source, markers)
        inside += cell_inside
        outside += cell_outside
    return set(inside) - set(outside)


def python_of(cell):
    # What IPython runs: `%run -i ...` becomes a plain function call
    return TransformerManager().transform_cell(source_of(cell))


@pytest.fixture(scope='module')
def nbgrader():
    # A teachers' requirement: fail and say so, rather than skip in silence
    try:
        import nbgrader
    except ModuleNotFoundError:
        pytest.fail('nbgrader is not installed: the exercise tests need '
                    'requirements-teacher.txt (make test installs it)')
    return nbgrader


@pytest.fixture(scope='module')
def build_student_copies(nbgrader):
    from classroom.student_copies import build_student_copies

    return build_student_copies


@pytest.fixture(scope='module')
def student_folder(build_student_copies, tmp_path_factory):
    folder = tmp_path_factory.mktemp('student')
    build_student_copies(folder)
    return folder


def student_copy_of(notebook, student_folder):
    return student_folder / learners_version(notebook)


def test_there_are_at_least_seven_autograded_exercises():
    assert EXERCISES, 'no exercise notebook under source/'
    checks = [cell for path in EXERCISES for cell in read(path)['cells'] if is_check(cell)]
    assert len(checks) >= 7, f'{len(checks)} autograded cells; the course promises at least seven exercises'


@by_name
def test_the_nbgrader_metadata_is_valid(notebook, nbgrader):
    from nbgrader.nbgraderformat import MetadataValidator

    MetadataValidator().validate_nb(nbformat.read(notebook, as_version=4))
    for cell in read(notebook)['cells']:
        source, meta = source_of(cell), nbgrader_of(cell)
        if SOLUTION[0] in source:
            assert meta.get('solution'), f'a solution region outside a solution cell:\n{source}'
        if HIDDEN_TESTS[0] in source:
            assert is_check(cell), f'hidden tests outside an autograder cell:\n{source}'
        if is_check(cell):
            assert meta['points'] > 0 and meta['locked'], f'{meta["grade_id"]}: give it points and lock it'
            assert any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(python_of(cell)))), (
                f'{meta["grade_id"]} checks nothing: it has no assert')


@by_name
def test_every_check_says_what_is_wrong(notebook):
    # `make check` and the feedback show a failing check's message, never its
    # code: an assert without a message, above all a hidden one, would leave
    # a learner with a bare AssertionError
    for cell in read(notebook)['cells']:
        if not is_check(cell):
            continue
        hidden = hidden_line_numbers(source_of(cell))
        for node in ast.walk(ast.parse(python_of(cell))):
            silent = (isinstance(node, ast.Assert) and node.msg is None) or (
                isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and getattr(node.exc.func, 'id', None) == 'AssertionError' and not node.exc.args)
            if silent:
                where = 'a hidden' if node.lineno in hidden else 'a'
                raise AssertionError(f'{nbgrader_of(cell)["grade_id"]}, line {node.lineno}: {where} check without a '
                                     "message; say what is wrong in the learner's terms, without giving the test away")


@by_name
def test_exercises_write_no_stage_script_and_tag_no_helper(notebook):
    for cell in read(notebook)['cells']:
        assert '%%writefile' not in source_of(cell), 'stage scripts are written by the chapters only'
        assert 'helpers' not in cell['metadata'].get('tags', []), 'helpers are shown in the chapters only'


@by_name
def test_what_learners_write_cannot_fall_back_on_helpers_py(notebook):
    # A learner's `mini_batch` would be shadowed by an import of the
    # course's, and its checks would pass whatever the learner wrote
    for cell in read(notebook)['cells']:
        if cell['cell_type'] == 'code' and nbgrader_of(cell).get('solution'):
            defined = {
                node.name for node in ast.walk(ast.parse(python_of(cell)))
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))
            }
            assert not defined & HELPER_NAMES, f'{sorted(defined & HELPER_NAMES)} are names of helpers.py'


@by_name
def test_the_solutions_passed_every_check_as_stored(notebook):
    # nbval re-runs every cell and compares; this makes sure no check was
    # excused from failing, and that each one ran when the outputs were stored
    for cell in read(notebook)['cells']:
        if is_check(cell):
            grade_id = nbgrader_of(cell)['grade_id']
            assert 'raises-exception' not in cell['metadata'].get('tags', []), grade_id
            assert cell['execution_count'] is not None, f'{grade_id} was not run'
            assert all(output['output_type'] != 'error' for output in cell['outputs']), grade_id


@by_name
def test_student_copies_hold_no_solution_no_hidden_test_and_no_output(notebook, student_folder):
    source = read(notebook)
    student = read(student_copy_of(notebook, student_folder))
    student_lines = {line.strip() for cell in student['cells'] for line in source_of(cell).splitlines()}
    student_text = ''.join(source_of(cell) for cell in student['cells'])

    for marker in MARKERS:
        assert marker not in student_text
    for markers in (SOLUTION, HIDDEN_TESTS):
        secret = removed_lines(source, markers)
        assert secret, f'{notebook.name} has no {markers[0]} region'
        assert not secret & student_lines, f'left in the student copy: {sorted(secret & student_lines)}'

    assert [cell['id'] for cell in student['cells']] == [cell['id'] for cell in source['cells']]
    for source_cell, student_cell in zip(source['cells'], student['cells']):
        if student_cell['cell_type'] == 'code':
            assert student_cell['outputs'] == [] and student_cell['execution_count'] is None
        if is_check(source_cell):
            # The visible checks are all there, and the learner cannot edit them
            _, visible = split_regions(source_of(source_cell), HIDDEN_TESTS)
            assert visible == split_regions(source_of(student_cell), HIDDEN_TESTS)[1]
            assert student_cell['metadata']['editable'] is False


def test_a_student_copy_whose_check_was_changed_fails_nbgrader_validate(student_folder):
    # As generate_assignment's releases do: the copy carries the checksums
    # of its locked cells, so a check replaced by a print is named, not passed
    from nbgrader.validator import Validator

    notebook = EXERCISES[-1]
    student = read(student_copy_of(notebook, student_folder))
    check = next(cell for cell in student['cells'] if is_check(cell))
    check['source'] = "print('the checks passed')"
    tampered = student_copy_of(notebook, student_folder).with_name('tampered.ipynb')
    nbformat.write(nbformat.from_dict(student), tampered)
    assert Validator().validate(str(tampered)).get('changed') == [{'source': "print('the checks passed')"}]


@by_name
def test_every_code_cell_of_the_student_copies_compiles(notebook, student_folder):
    student = read(student_copy_of(notebook, student_folder))
    for cell in student['cells']:
        if cell['cell_type'] == 'code':
            compile(python_of(cell), f'{notebook.name}, cell {cell["id"]}', 'exec')


def test_nothing_a_learner_opens_under_notebooks_holds_a_solution_or_a_hidden_test():
    # What `make lab` shows first: the chapters and the learners' versions
    teachers = {notebook.name: read(notebook) for notebook in EXERCISES}
    for path in (COURSE_ROOT / 'notebooks').rglob('*.ipynb'):
        text = ''.join(source_of(cell) for cell in read(path)['cells'])
        assert not any(marker in text for marker in MARKERS), path
        if path.name in teachers:
            # (the chapters teach what some model answers do, in lines of their own)
            secret = removed_lines(teachers[path.name], SOLUTION) | removed_lines(teachers[path.name], HIDDEN_TESTS)
            shown = secret & {line.strip() for line in text.splitlines()}
            assert not shown, f'{path} shows {sorted(shown)[:3]}'


def test_the_learners_versions_are_generated_from_the_teachers(build_student_copies):
    from classroom.student_copies import student_copy

    committed = sorted(path.name for path in (COURSE_ROOT / 'notebooks' / 'exercises').glob('*.ipynb'))
    assert committed == [notebook.name for notebook in EXERCISES], (
        'notebooks/exercises/ should hold one learners\' version per teacher\'s version in source/')
    for notebook in EXERCISES:
        expected = nbformat.writes(student_copy(nbformat.read(notebook, as_version=4)))
        assert (COURSE_ROOT / learners_version(notebook)).read_text().rstrip('\n') == expected.rstrip('\n'), (
            f'{learners_version(notebook)} differs from what {notebook.relative_to(COURSE_ROOT)} gives: '
            f'run `make exercises` after changing a teacher\'s version')


def test_making_the_learners_versions_never_overwrites_a_learners_work(build_student_copies, tmp_path):
    from classroom.student_copies import write_learners_versions

    first, *_ = write_learners_versions(tmp_path)
    answered = nbformat.read(first, as_version=4)
    answer = next(cell for cell in answered.cells if nbgrader_of(cell).get('solution'))
    answer.source = 'my_answer = 42'
    nbformat.write(answered, first)
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        write_learners_versions(tmp_path)
    assert 'my_answer = 42' in first.read_text()


def test_the_solutions_hold_the_model_answers_and_no_hidden_test_and_need_no_teachers_tools(tmp_path):
    # make solutions runs in a learner's .venv, which has no nbgrader: here,
    # in a Python where importing it fails
    out = tmp_path / 'solutions'
    script = ('import sys; sys.modules["nbgrader"] = None\n'
              'from classroom.solutions import write_solutions\n'
              f'print(*write_solutions({str(out)!r}), sep="\\n")')
    result = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.splitlines()]
    assert [path.name for path in written] == [notebook.name for notebook in EXERCISES]
    for notebook, path in zip(EXERCISES, written):
        lines = {line.strip() for cell in read(path)['cells'] for line in source_of(cell).splitlines()}
        assert removed_lines(read(notebook), SOLUTION) <= lines
        assert not removed_lines(read(notebook), HIDDEN_TESTS) & lines
        assert not any(marker in line for marker in HIDDEN_TESTS for line in lines)
        # the visible checks and the outputs stay
        teachers, solution = read(notebook)['cells'], read(path)['cells']
        assert [cell.get('outputs') for cell in solution] == [cell.get('outputs') for cell in teachers]
        for teachers_cell, solution_cell in zip(teachers, solution):
            if is_check(teachers_cell):
                assert split_regions(source_of(solution_cell), HIDDEN_TESTS)[1] == split_regions(
                    source_of(teachers_cell), HIDDEN_TESTS)[1]
    from classroom.solutions import write_solutions

    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        write_solutions(COURSE_ROOT / 'notebooks')


def test_the_build_refuses_a_folder_it_did_not_make(build_student_copies, tmp_path):
    own_work = tmp_path / 'notes.txt'
    own_work.write_text('not a student copy')
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        build_student_copies(tmp_path)
    assert own_work.read_text() == 'not a student copy'


def test_the_build_replaces_its_own_previous_copy(build_student_copies, tmp_path):
    build_student_copies(tmp_path / 'student')
    stale = tmp_path / 'student' / 'notebooks' / 'exercises' / 'renamed_since.ipynb'
    stale.write_text('{}')
    build_student_copies(tmp_path / 'student')
    assert not stale.exists()
    assert (tmp_path / 'student' / 'helpers.py').read_text() == (COURSE_ROOT / 'helpers.py').read_text()
