"""Units of classroom/grading tested alone, on files and gradebooks made in
tmp_path, without a grading run (tests/test_grading_loop.py runs a term)."""
from pathlib import PurePath

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
