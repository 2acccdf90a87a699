"""`make check` (classroom/check.py) grades a learner's exercise notebooks
with the hidden tests: the model answers score their autograded points, each
of the other plausible wrong answers (MORE_WRONG_ANSWERS of tests/wrong_answers/)
loses its exercise's points with a message that says what is wrong, and a
learner's edit of a locked check does not count. (The untouched learners'
versions score 0 and no hidden test is shown: tests/test_student_copy_runs.py,
which runs them that way.)"""
import re

import nbformat
import pytest

from classroom.check import check, exercise_titles, failure, graded_version, main, run_graded, score
from classroom.course import COURSE_ROOT, EXERCISES, is_check, learners_version, nbgrader_of, read
from tests.submissions import WARNING_ANSWERS, submission, wrong_answers

by_name = pytest.mark.parametrize('notebook', EXERCISES, ids=lambda path: path.name)


def autograded_points(notebook):
    return sum(nbgrader_of(cell)['points'] for cell in read(notebook).cells if is_check(cell))


@by_name
def test_the_checks_graded_are_the_teachers_with_their_hidden_tests(notebook):
    learners = read(COURSE_ROOT / learners_version(notebook))
    for cell in learners.cells:
        if is_check(cell):
            cell.source = 'assert True  # a learner edited the locked check'
    graded = graded_version(learners, read(notebook))
    teachers = {nbgrader_of(cell)['grade_id']: cell.source for cell in read(notebook).cells if is_check(cell)}
    assert {nbgrader_of(cell)['grade_id']: cell.source for cell in graded.cells if is_check(cell)} == teachers
    assert all('BEGIN HIDDEN TESTS' in source for source in teachers.values())


def points_lost(notebook, wrong):
    """{exercise title: points} of the checks that follow an answer whose
    grade_id is in `wrong`."""
    teachers = read(notebook)
    titles, lost, wrong_since_last_check = exercise_titles(teachers), {}, False
    for cell in teachers.cells:
        wrong_since_last_check |= nbgrader_of(cell).get('grade_id') in wrong
        if is_check(cell):
            if wrong_since_last_check:
                lost[titles[nbgrader_of(cell)['grade_id']]] = nbgrader_of(cell)['points']
            wrong_since_last_check = False
    return lost


@by_name
def test_make_check_gives_the_model_answers_their_points_and_says_why_each_wrong_one_lost_its(notebook, tmp_path):
    # The model answers, with other plausible wrong answers in some
    # exercises, mistakes the checks once let pass among them: one run
    answered = submission(read(COURSE_ROOT / learners_version(notebook)), notebook, 'more_wrong_answers')
    path = tmp_path / notebook.name
    nbformat.write(answered, path)
    lost = points_lost(notebook, wrong_answers(notebook, 'MORE_WRONG_ANSWERS'))
    assert lost
    points, max_points, failures = check(path)
    assert (points, max_points) == (autograded_points(notebook) - sum(lost.values()), autograded_points(notebook))
    assert {title: worth for title, worth, _ in failures} == lost
    for title, _, why in failures:
        # what is wrong, in words: never a bare AssertionError, hidden check or not
        assert re.fullmatch(r'\w+: \S.*', why, flags=re.S), f'{title}: {why}'


@pytest.mark.parametrize('notebook', [e for e in EXERCISES if e.stem in WARNING_ANSWERS], ids=lambda path: path.name)
def test_a_right_answer_that_warns_scores_every_point(notebook, tmp_path):
    # nbgrader fails a check that writes to stderr: the warning must go to
    # stdout (classroom/grading/rules.py), and still be shown
    answered = submission(read(COURSE_ROOT / learners_version(notebook)), notebook, 'warned_answers')
    path = tmp_path / notebook.name
    nbformat.write(answered, path)
    graded, teachers = run_graded(path)
    assert score(graded, teachers) == (autograded_points(notebook), autograded_points(notebook), [])
    shown = [output.text for cell in graded.cells for output in cell.get('outputs', [])
             if output.output_type == 'stream']
    assert any('UserWarning' in text for text in shown), 'the answer did not warn: the test proves nothing'


@pytest.mark.parametrize('written, why', [
    (['\n'], 'blank lines only'),
    (['\n', '  \n', 'UserWarning: lr is large\n', '  warnings.warn(message)\n'], 'UserWarning: lr is large'),
])
def test_a_check_that_writes_to_stderr_fails_with_its_first_line_that_is_not_blank(written, why):
    # A check that wrote only a newline to stderr crashed make check
    cell = nbformat.v4.new_code_cell('assert True', execution_count=1, outputs=[
        nbformat.v4.new_output('stream', name='stderr', text=text) for text in written])
    assert failure(cell) == (f'wrote to stderr, which fails a check: {why}', False)


def test_a_notebook_that_is_not_an_exercise_or_not_readable_gets_one_clear_error(tmp_path, capsys):
    chapter = 'notebooks/01_rethinking_the_training_loop.ipynb'
    assert main([chapter]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f'make check: {chapter} is not an exercise notebook of the course')
    assert str(learners_version(EXERCISES[0])) in error

    broken = tmp_path / EXERCISES[0].name
    broken.write_text('{"cells": [')
    assert main([str(broken)]) == 2
    assert capsys.readouterr().err.startswith(f'make check: {broken} is not a notebook that can be read')
