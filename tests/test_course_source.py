"""How `make release` fills a course folder's source/ (classroom/grading/course_source.py):
the teacher's edits there survive a second release, the repository's changes
reach the files the teacher left alone, and a file both changed stops the
release before anything changes. On a small repository of its own, without
nbgrader: tests/test_grading_loop.py runs the real release."""
import json

import pytest

from classroom.grading.course_source import MANIFEST_NAME, ReleaseStopped, SourceConflict, sync_source

NOTEBOOK = 'exercise/exercise.ipynb'
HELPERS = 'exercise/helpers.py'


@pytest.fixture
def released(tmp_path):
    """(course folder, wanted, repository folder): a repository of two files,
    released once into the course folder."""
    repository = tmp_path / 'repository'
    repository.mkdir()
    wanted = {}
    for name, text in ((NOTEBOOK, '{"the": "teacher\'s notebook"}'), (HELPERS, 'def helper(): pass\n')):
        wanted[name] = repository / name.replace('/', '_')
        wanted[name].write_text(text)
    course = tmp_path / 'course'
    assert sync_source(course, wanted) == []
    assert {name: (course / 'source' / name).read_text() for name in wanted} == \
        {name: path.read_text() for name, path in wanted.items()}
    return course, wanted, repository


def snapshot(folder):
    """{path: bytes} of every file under `folder`."""
    return {path: path.read_bytes() for path in folder.rglob('*') if path.is_file()}


def test_the_teachers_edits_stay_and_the_repositorys_changes_reach_the_other_files(released):
    course, wanted, _ = released
    source = course / 'source'
    # In the formgrader: the notebook edited, a data file added
    (source / NOTEBOOK).write_text('{"the": "teacher\'s edit"}')
    (source / 'exercise' / 'data.csv').write_text('x,y\n')
    # Meanwhile the repository's helpers changed
    wanted[HELPERS].write_text('def helper(): return 1\n')

    kept = sync_source(course, wanted)

    assert (source / NOTEBOOK).read_text() == '{"the": "teacher\'s edit"}'
    assert (source / 'exercise' / 'data.csv').read_text() == 'x,y\n'
    assert (source / HELPERS).read_text() == 'def helper(): return 1\n'
    assert kept == ['exercise/data.csv', NOTEBOOK]
    # The edit stays through any number of releases
    sync_source(course, wanted)
    assert (source / NOTEBOOK).read_text() == '{"the": "teacher\'s edit"}'


def test_a_file_changed_on_both_sides_stops_the_release_and_nothing_changes(released):
    course, wanted, _ = released
    (course / 'source' / NOTEBOOK).write_text('{"the": "teacher\'s edit"}')
    wanted[NOTEBOOK].write_text('{"the": "repository\'s new version"}')
    # A change that alone would be taken: it waits too
    wanted[HELPERS].write_text('def helper(): return 1\n')
    before = snapshot(course)

    with pytest.raises(SourceConflict) as stopped:
        sync_source(course, wanted)

    assert snapshot(course) == before
    message = str(stopped.value)
    assert f'{course / "source" / NOTEBOOK}  (the repository\'s: {wanted[NOTEBOOK]})' in message
    assert HELPERS not in message
    assert 'copy it over the repository\'s' in message and 'move yours out of the course folder' in message


def test_once_the_teacher_copies_their_edit_into_the_repository_it_is_the_source(released):
    course, wanted, _ = released
    edit = '{"the": "teacher\'s edit"}'
    (course / 'source' / NOTEBOOK).write_text(edit)
    # As the refusal advises
    wanted[NOTEBOOK].write_text(edit)
    assert sync_source(course, wanted) == []
    # From now on the notebook follows the repository again
    wanted[NOTEBOOK].write_text('{"the": "next version"}')
    sync_source(course, wanted)
    assert (course / 'source' / NOTEBOOK).read_text() == '{"the": "next version"}'


def test_what_the_repository_dropped_goes_unless_the_teacher_changed_it(released):
    course, wanted, repository = released
    other = {f'other/{name}': repository / f'other_{name}' for name in ('other.ipynb', 'helpers.py')}
    for path in other.values():
        path.write_text('an assignment dropped later')
    sync_source(course, {**wanted, **other})
    (course / 'source' / 'other' / 'helpers.py').write_text('the teacher\'s helpers')

    with pytest.raises(SourceConflict, match='the repository no longer has it'):
        sync_source(course, wanted)
    (course / 'source' / 'other' / 'helpers.py').unlink()
    sync_source(course, wanted)

    # An assignment folder left behind, even empty, would be released again
    assert not (course / 'source' / 'other').exists()


def test_a_course_folder_released_before_the_record_stops_only_on_files_that_differ(released):
    course, wanted, _ = released
    (course / MANIFEST_NAME).unlink()
    assert sync_source(course, wanted) == []
    assert set(json.loads((course / MANIFEST_NAME).read_text())['files']) == set(wanted)

    (course / MANIFEST_NAME).unlink()
    (course / 'source' / NOTEBOOK).write_text('{"the": "teacher\'s edit, or the repository\'s old version"}')
    with pytest.raises(SourceConflict, match=f'{MANIFEST_NAME}, the record .* is missing'):
        sync_source(course, wanted)


def test_a_record_that_is_not_ours_is_refused_saying_what_to_do(released):
    course, wanted, _ = released
    (course / MANIFEST_NAME).write_text('{"files": ')
    with pytest.raises(ReleaseStopped, match=f'{MANIFEST_NAME} is not the record that release writes: delete it'):
        sync_source(course, wanted)
