"""The course's grading loop with nbgrader, one command per step of a term.

    python tools/grading.py release [--course FOLDER]   # make release
    python tools/grading.py grade [--course FOLDER]     # make grade

`release` makes FOLDER (default build/course/) an nbgrader course: one
assignment per exercise notebook, named after the notebook, whose source
folder holds the teacher's version and what it needs (LEARNER_FILES), then
runs `nbgrader generate_assignment` for all of them at once, which writes the
learners' versions into release/<assignment>/ and records the assignments in
FOLDER/gradebook.db. A second `release` brings source/ up to date with the
repository without losing the teacher's edits there, or stops, saying which
files both sides changed (course_source.py); it rebuilds release/ and keeps
everything else (submissions, grades).

`grade` autogrades the submissions in submitted/<student>/<assignment>/ that
are new or handed in again, in one nbgrader run (a submission graded before
keeps its grades, hand grades included), then writes the feedback
(feedback/<student>/<assignment>/, HTML, without the hidden tests) and the
grade table, grades.csv.

nbgrader reads the course's nbgrader_config.py, since it runs in the course's
root folder; --course overrides the course folder that file names.
Needs requirements.txt and requirements-teacher.txt: autograding executes the
notebooks.
"""
import argparse
import datetime
import os
import subprocess
import sys
from pathlib import Path

from course import COURSE_ROOT, EXERCISES, write_atomically
from course_source import ReleaseStopped, repository_files, sync_source

DEFAULT_COURSE_FOLDER = COURSE_ROOT / 'build' / 'course'
ALL = '*'


def assignment_name(exercise_notebook):
    """The nbgrader assignment an exercise notebook becomes: its file name
    without .ipynb, e.g. 01_training_loop_exercises."""
    return Path(exercise_notebook).stem


def nbgrader(course_folder, *arguments):
    """Runs one nbgrader command from the course's root (so that it reads
    nbgrader_config.py) on `course_folder`; fails if nbgrader does."""
    command = [
        sys.executable, '-m', 'nbgrader', *arguments,
        f'--CourseDirectory.root={Path(course_folder).resolve()}',
    ]
    # nbgrader runs alembic, installed beside it, to create its database
    environment = {**os.environ, 'PATH': os.pathsep.join([str(Path(sys.executable).parent), os.environ['PATH']])}
    print('$', ' '.join(command[2:]), flush=True)
    subprocess.run(command, cwd=COURSE_ROOT, env=environment, check=True)


def release(course_folder=DEFAULT_COURSE_FOLDER, course_config=True):
    """Brings source/<assignment>/ of each exercise notebook up to date with
    the repository, keeping the teacher's edits there (course_source.py:
    SourceConflict, with nothing changed, where both sides changed a file),
    and generates every assignment's release version; with `course_config`,
    the course folder's nbgrader_config.py too (write_course_config). Returns
    the assignment names."""
    for name in sync_source(course_folder, repository_files()):
        print(f'{Path(course_folder) / "source" / name}: left as the course folder has it '
              f'(changed there since the last release; the repository\'s differs)')
    nbgrader(course_folder, 'generate_assignment', ALL, '--force')
    if course_config:
        write_course_config(course_folder)
    return [assignment_name(notebook) for notebook in EXERCISES]


# The first line of the nbgrader_config.py that release writes into a course
# folder: a file without it is the teacher's own, and is left alone
COURSE_CONFIG_MARK = '# Written by tools/grading.py release'


def write_course_config(course_folder):
    """Writes `course_folder`/nbgrader_config.py, which loads the course's own
    settings, so that nbgrader run from inside the course folder (as its
    documentation and the teachers' guide run it) applies them too: the
    feedback without hidden tests, the 120 s limit per cell."""
    target = Path(course_folder) / 'nbgrader_config.py'
    if target.exists() and not target.read_text().startswith(COURSE_CONFIG_MARK):
        print(f'{target} is not ours: left as it is; it should load {COURSE_ROOT / "nbgrader_config.py"}')
        return
    write_atomically(target, lambda partial: partial.write_text(
        f'{COURSE_CONFIG_MARK}; edit {COURSE_ROOT / "nbgrader_config.py"} instead.\n'
        'c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)\n'
        f'load_subconfig({str(COURSE_ROOT / "nbgrader_config.py")!r})  # noqa: F821\n'
        f'c.CourseDirectory.root = {str(Path(course_folder).resolve())!r}\n'
    ))


def stamp_hand_copied_submissions(course_folder):
    """Gives each submission without a timestamp.txt (one copied in by hand
    rather than collected) the time its newest notebook was written, in
    nbgrader's format: nbgrader needs it to tell a resubmission from one it
    graded before. A timestamp a collect wrote is never changed."""
    for folder in Path(course_folder).glob('submitted/*/*/'):
        stamp = folder / 'timestamp.txt'
        notebooks = list(folder.glob('*.ipynb'))
        if notebooks and not stamp.exists():
            written = max(notebook.stat().st_mtime for notebook in notebooks)
            when = datetime.datetime.fromtimestamp(written, datetime.timezone.utc)
            stamp.write_text(when.strftime('%Y-%m-%d %H:%M:%S.%f %Z'))


def grade(course_folder=DEFAULT_COURSE_FOLDER):
    """Autogrades every submission, writes every feedback file and the
    grade table; returns the grade table's path."""
    course_folder = Path(course_folder)
    if not list(course_folder.glob('submitted/*/*/*.ipynb')):
        raise FileNotFoundError(
            f'no submission in {course_folder}/submitted/<student>/<assignment>/: '
            f'collect the learners\' notebooks there first'
        )
    stamp_hand_copied_submissions(course_folder)
    # Without --force, nbgrader autogrades only what is new, or handed in
    # again (a newer timestamp.txt): a submission graded before keeps its
    # grades, the ones given by hand too
    nbgrader(course_folder, 'autograde', ALL)
    # Feedback is made again for all: it shows the hand grades given since
    nbgrader(course_folder, 'generate_feedback', ALL, '--force')
    grades = course_folder / 'grades.csv'
    nbgrader(course_folder, 'export', f'--to={grades.resolve()}')
    return grades


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('step', choices=['release', 'grade'])
    parser.add_argument('--course', type=Path, default=DEFAULT_COURSE_FOLDER, help='the nbgrader course folder')
    args = parser.parse_args()
    if args.step == 'release':
        try:
            names = release(args.course)
        except ReleaseStopped as stopped:
            sys.exit(str(stopped))
        for name in names:
            print(args.course / 'release' / name)
    else:
        print(grade(args.course))


if __name__ == '__main__':
    main()
