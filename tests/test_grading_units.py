"""Units of classroom/grading tested alone, on files and gradebooks made in
tmp_path, without a grading run (tests/test_grading_loop.py runs a term)."""
import json
import os
import sys
from pathlib import Path, PurePath

import pytest

CLASS_LIST = {
    'alice': {'first_name': 'Alice', 'last_name': 'Jones', 'lms_user_id': '11'},
    'mal': {'first_name': 'Mal', 'last_name': 'Lory', 'lms_user_id': '22'},
}
NOTEBOOK = '01_training_loop_exercises.ipynb'


@pytest.mark.parametrize('path, expected', [
    # Moodle's folder names the student, whatever the file's own name says
    (f'moodle-download/Mal Lory_22_assignsubmission_file_/{NOTEBOOK}', ('mal', NOTEBOOK)),
    (f'moodle-download/Mal Lory_22_assignsubmission_file_/Mal Lory_22_assignsubmission_file_{NOTEBOOK}',
     ('mal', f'Mal Lory_22_assignsubmission_file_{NOTEBOOK}')),
    (f'moodle-download/Mal Lory_22_assignsubmission_file_/Alice Jones_11_assignsubmission_file_{NOTEBOOK}',
     (None, f'Alice Jones_11_assignsubmission_file_{NOTEBOOK}')),
    # Moodle's file name, without a folder: its first part is Moodle's
    (f'moodle-download/Mal Lory_22_assignsubmission_file_Alice Jones_11_assignsubmission_file_{NOTEBOOK}',
     ('mal', f'Alice Jones_11_assignsubmission_file_{NOTEBOOK}')),
    (f'submissions/lory_22_4242_{NOTEBOOK}', ('mal', NOTEBOOK)),
])
def test_a_download_is_the_student_s_the_platform_names(path, expected):
    """A student who uploads a file named as Moodle names another student's
    is not taken for that student: the part of the path Moodle made says
    who handed it in, and a file whose own name says otherwise is skipped,
    with the reason."""
    from classroom.grading.platform_downloads import PlatformDownloadCollector

    student, file_name, reason = PlatformDownloadCollector().student_and_file(PurePath(path), CLASS_LIST)

    assert (student, file_name) == expected
    assert (reason is None) == (student is not None)
    if student is None:
        assert "Moodle names its student 'Mal Lory', but the file's own name names 'Alice Jones'" in reason


@pytest.mark.parametrize('nbgrader', ['x', None, 3])
def test_a_hand_in_with_nbgrader_metadata_that_is_no_mapping_is_named_and_skipped(tmp_path, nbgrader):
    """A notebook nbformat reads whose cell carries nbgrader metadata that
    is no mapping is named, with the reason, like a notebook that cannot be
    read, rather than stopping make grade for the whole class."""
    import nbformat

    from classroom.grading.hand_ins import prepare

    (tmp_path / 'release' / 'assignment').mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / 'release' / 'assignment' / NOTEBOOK)
    folder = tmp_path / 'submitted' / 'mal' / 'assignment'
    folder.mkdir(parents=True)
    handed_in = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1 + 1')])
    handed_in.cells[0].metadata['nbgrader'] = nbgrader
    nbformat.write(handed_in, folder / NOTEBOOK, version=nbformat.NO_CONVERT)

    found = prepare(tmp_path)

    assert found.skipped == {('mal', 'assignment'): (
        f"{NOTEBOOK} is not a notebook that can be graded: a cell's nbgrader metadata is {nbgrader!r}, not the "
        f"mapping the released notebook has (hand in the released notebook's cells again)")}
    assert found.unsafe == set()


def autograde_resubmission(tmp_path, monkeypatch, **hand_grades):
    """Autogrades, with resubmissions.py's rule, a resubmission of one
    notebook whose written answer `answer` changed since its last autograde,
    beside a check `check`; `hand_grades` {cell: {field: value}} are given
    before. Returns the gradebook's grades {cell: (manual_score,
    extra_credit)} after, and the hand grades set aside."""
    import csv

    import nbformat
    from nbgrader.api import Gradebook

    from classroom.grading.records import GRADED_ANSWERS, digest, write_record
    from classroom.grading.resubmissions import SET_ASIDE, SaveAutoGradesCheckingHandGrades

    # nbgrader runs alembic, installed beside it, to create its database
    monkeypatch.setenv('PATH', os.pathsep.join([str(Path(sys.executable).parent), os.environ['PATH']]))
    db_url = f'sqlite:///{tmp_path / "gradebook.db"}'
    with Gradebook(db_url) as gradebook:
        gradebook.add_assignment('assignment')
        gradebook.add_notebook('exercises', 'assignment')
        gradebook.add_grade_cell('answer', 'exercises', 'assignment', max_score=2, cell_type='markdown')
        gradebook.add_solution_cell('answer', 'exercises', 'assignment')
        gradebook.add_grade_cell('check', 'exercises', 'assignment', max_score=1, cell_type='code')
        gradebook.add_student('mal')
        gradebook.add_submission('assignment', 'mal')
        for cell, given in hand_grades.items():
            grade = gradebook.find_grade(cell, 'exercises', 'assignment', 'mal')
            for name, value in given.items():
                setattr(grade, name, value)
        gradebook.db.commit()
    write_record(tmp_path / GRADED_ANSWERS, {'mal': {'assignment': {'exercises': {'answer': digest('before')}}}})
    answer = nbformat.v4.new_markdown_cell('after', metadata={'nbgrader': {
        'grade': True, 'solution': True, 'locked': False, 'grade_id': 'answer', 'points': 2, 'schema_version': 3}})
    check = nbformat.v4.new_code_cell('assert True', metadata={'nbgrader': {
        'grade': True, 'solution': False, 'locked': True, 'grade_id': 'check', 'points': 1, 'schema_version': 3}})
    resources = {'nbgrader': {'notebook': 'exercises', 'assignment': 'assignment', 'student': 'mal',
                              'db_url': db_url}}

    SaveAutoGradesCheckingHandGrades().preprocess(nbformat.v4.new_notebook(cells=[answer, check]), resources)

    with Gradebook(db_url) as gradebook:
        grades = {cell: (grade.manual_score, grade.extra_credit) for cell in ('answer', 'check')
                  for grade in [gradebook.find_grade(cell, 'exercises', 'assignment', 'mal')]}
    if not (tmp_path / SET_ASIDE).is_file():
        return grades, []
    with open(tmp_path / SET_ASIDE, newline='', encoding='utf-8') as file:
        return grades, [{key: row[key] for key in ('cell', 'manual_score', 'extra_credit', 'comment')}
                        for row in csv.DictReader(file)]


def test_a_hand_grade_overriding_a_check_is_set_aside_when_the_answers_change(tmp_path, monkeypatch):
    """A check's result overridden by hand (a check has no comment in
    nbgrader) is set aside when the student hands in changed answers,
    rather than failing that submission's autograde every time."""
    grades, set_aside = autograde_resubmission(tmp_path, monkeypatch, check={'manual_score': 0.5})

    assert grades['check'] == (None, None)
    assert set_aside == [{'cell': 'check', 'manual_score': '0.5', 'extra_credit': '', 'comment': ''}]


def test_extra_credit_given_alone_is_set_aside_when_its_answer_changes(tmp_path, monkeypatch):
    """Extra credit given by hand without a manual score is a hand grade
    too: a changed answer does not keep it."""
    grades, set_aside = autograde_resubmission(tmp_path, monkeypatch, answer={'extra_credit': 1.0})

    assert grades['answer'] == (None, None)
    assert set_aside == [{'cell': 'answer', 'manual_score': '', 'extra_credit': '1.0', 'comment': ''}]


def test_a_failed_submission_in_a_course_folder_with_a_space_is_named(tmp_path):
    """nbgrader's log of a submission it failed on names the submission's
    whole path, spaces included; the report names its student and
    assignment."""
    from classroom.grading.report import failures

    folder = tmp_path / 'Deep Learning 2027' / 'submitted' / 'mal' / 'assignment'
    log = (f'[AutogradeApp | ERROR] There was an error processing assignment: {folder}\n'
           '[AutogradeApp | ERROR] Traceback (most recent call last):\n'
           '      raise ValueError("the kernel died")\n'
           '    ValueError: the kernel died\n'
           '[AutogradeApp | INFO] Autograding the next one\n')

    assert failures(log) == {('mal', 'assignment'): 'ValueError: the kernel died'}


def test_no_output_of_any_kind_quotes_a_hidden_test_in_the_feedback():
    """A student's code that displays a hidden test's line as SVG, as
    JavaScript or as JSON (every kind of output the feedback shows) does not
    get it into the feedback; image data in base64 is left as it is."""
    import nbformat

    from classroom.grading.feedback import HIDDEN_LINE, scrub_output

    hidden = 'assert torch.allclose(model(x), expected_hidden_output)'
    png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
    output = nbformat.v4.new_output('display_data', data={
        'image/svg+xml': f'<svg><text>\n{hidden}\n</text></svg>',
        'application/javascript': f'console.log("x");\n{hidden}',
        'application/json': {'quoted': [f'{hidden}'], 'nested': {'line': hidden}},
        'image/png': png,
    })

    scrub_output(output, {hidden})

    assert hidden not in json.dumps(output)
    assert output.data['image/svg+xml'] == f'<svg><text>\n{HIDDEN_LINE}\n</text></svg>'
    assert output.data['application/json'] == {'quoted': [HIDDEN_LINE], 'nested': {'line': HIDDEN_LINE}}
    assert output.data['image/png'] == png


FAILED_ON_ONE = (
    '[AutogradeApp | ERROR] There was an error processing assignment: /course/submitted/mal/assignment\n'
    '[AutogradeApp | ERROR] Traceback (most recent call last):\n'
    '    ValueError: the kernel died\n'
)
NBGRADER_SUMMARY = (
    "[AutogradeApp | ERROR] There was an error processing assignment 'assignment' for student 'mal'\n"
    '[AutogradeApp | ERROR] Please see the the above traceback for details on the specific errors on the above '
    'failures.\n'
)
CRASH = (
    'Traceback (most recent call last):\n'
    '  File "nbgrader/converters/base.py", line 409, in convert_notebooks\n'
    'sqlalchemy.exc.OperationalError: database is locked\n'
)


@pytest.mark.parametrize('log, stopped', [
    (FAILED_ON_ONE + NBGRADER_SUMMARY, False),
    (FAILED_ON_ONE + CRASH, True),
    (FAILED_ON_ONE + '[AutogradeApp | INFO] Autograding the next one\n' + CRASH, True),
])
def test_make_grade_says_the_run_stopped_when_nbgrader_crashed_after_a_failed_submission(monkeypatch, log, stopped):
    """A whole nbgrader run that crashed after failing on one submission is
    not taken for a run that failed on that one and went on to its end: only
    a run that ends with nbgrader's summary of its failures is."""
    import io
    import subprocess

    from classroom.grading import commands

    class Process:
        """nbgrader's process, as Popen gives it, exiting with status 1 after `log`."""
        returncode = 1

        def __init__(self, command, **options):
            self.stderr = io.StringIO(log)

        def wait(self):
            return self.returncode

    monkeypatch.setattr(commands.subprocess, 'Popen', Process)
    if stopped:
        with pytest.raises(subprocess.CalledProcessError):
            commands.nbgrader('course', 'autograde', 'assignment', some_may_fail=True)
    else:
        assert commands.nbgrader('course', 'autograde', 'assignment', some_may_fail=True) == log
