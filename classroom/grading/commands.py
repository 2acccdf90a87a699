"""The course's grading loop with nbgrader, one command per step of a term.

    course-grading release [--course FOLDER]              # make release
    course-grading roster CLASS.csv                       # make roster FILE=CLASS.csv
    course-grading due ASSIGNMENT WHEN                    # make due ASSIGNMENT=... DUE='2027-01-15 17:00 Europe/Paris'
    course-grading grade [--assignment A] [--student S]   # make grade [ASSIGNMENT=...] [STUDENT=...]

`release` makes FOLDER (default build/course/) an nbgrader course: one
assignment per exercise notebook, named after the notebook, whose source
folder holds the teacher's version and what it needs (LEARNER_FILES), then
runs `nbgrader generate_assignment` for all of them at once, which writes the
learners' versions into release/<assignment>/ and records the assignments in
FOLDER/gradebook.db. A second `release` brings source/ up to date with the
repository without losing the teacher's edits there, or stops, saying which
files both sides changed (course_source.py); it rebuilds release/ and keeps
everything else (submissions, grades).

`roster` imports the class list (classroom/grading/roster.py): names and e-mails.
`due` sets an assignment's due date; work handed in later loses a share of
its score per day started (classroom/grading/late_penalty.py).

`grade` autogrades the submissions in submitted/<student>/<assignment>/ that
are new or handed in again, in one nbgrader run (a submission graded before
keeps its grades, hand grades included), then writes the feedback
(feedback/<student>/<assignment>/, HTML, without the hidden tests) and the
class's grades: grades.csv, a row per student, and grades_by_assignment.csv
(classroom/grading/export.py). --assignment and --student grade one assignment,
or one student's work, only; the grade files always cover the class.

nbgrader reads the course's nbgrader_config.py, since it runs in the course's
root folder; --course overrides the course folder that file names.
Needs requirements.txt and requirements-teacher.txt: autograding executes the
notebooks.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

from classroom.course import COURSE_ROOT, EXERCISES, write_atomically
from classroom.grading.course_source import ReleaseStopped, repository_files, sync_source
from classroom.grading.roster import import_and_report

DEFAULT_COURSE_FOLDER = COURSE_ROOT / 'build' / 'course'
# What classroom/grading/tampering.py logs for each locked cell a student edited
EDITED_CELL = re.compile(r'(\S+) edited the locked cell (\S+) of (\S+):')
ALL = '*'


def assignment_name(exercise_notebook):
    """The nbgrader assignment an exercise notebook becomes: its file name
    without .ipynb, e.g. 01_training_loop_exercises."""
    return Path(exercise_notebook).stem


def nbgrader(course_folder, *arguments):
    """Runs one nbgrader command from the course's root (so that it reads
    nbgrader_config.py) on `course_folder`; fails if nbgrader does, else
    returns its log."""
    command = [
        sys.executable, '-m', 'nbgrader', *arguments,
        f'--CourseDirectory.root={Path(course_folder).resolve()}',
    ]
    # nbgrader runs alembic, installed beside it, to create its database
    environment = {**os.environ, 'PATH': os.pathsep.join([str(Path(sys.executable).parent), os.environ['PATH']])}
    print('$', ' '.join(command[2:]), flush=True)
    # nbgrader logs to stderr: shown as it comes, and kept for the summary
    process = subprocess.Popen(command, cwd=COURSE_ROOT, env=environment, stderr=subprocess.PIPE, text=True)
    log = []
    for line in process.stderr:
        sys.stderr.write(line)
        log.append(line)
    if process.wait():
        raise subprocess.CalledProcessError(process.returncode, command)
    return ''.join(log)


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
COURSE_CONFIG_MARK = '# Written by classroom/grading/commands.py release'


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


def released_assignments(course_folder):
    """The names of the assignments released in `course_folder`."""
    return sorted(path.name for path in Path(course_folder).glob('release/*/') if path.is_dir())


def check_assignment(course_folder, assignment):
    """Fails, naming the ones there are, unless `assignment` was released."""
    names = released_assignments(course_folder)
    if not names:
        raise ValueError(f'{course_folder} has no released assignment: run make release first')
    if assignment not in names:
        raise ValueError(f'no assignment {assignment!r} in {course_folder}; the assignments are {", ".join(names)}')


def set_due_date(course_folder, assignment, when):
    """Sets `assignment`'s due date to `when`, a date and time with its time
    zone ('2027-01-15 17:00 Europe/Paris', '2027-01-15 16:00 UTC'); returns
    it in UTC, as nbgrader stores it."""
    import dateutil.tz
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    check_assignment(course_folder, assignment)
    example = "'2027-01-15 17:00 Europe/Paris' or '2027-01-15 16:00 UTC'"
    parts = when.split()
    if len(parts) != 3 or not dateutil.tz.gettz(parts[2]):
        raise ValueError(f'{when!r}: give the due date as a day, a time and a time zone, e.g. {example}')
    try:
        due = parse_utc(when)
    except (ValueError, OverflowError):
        raise ValueError(f'{when!r} is not a date and time that exists; e.g. {example}') from None
    with Gradebook(f'sqlite:///{(Path(course_folder) / "gradebook.db").resolve()}') as gradebook:
        gradebook.update_or_create_assignment(assignment, duedate=due)
    return due


def grade(course_folder=DEFAULT_COURSE_FOLDER, assignment=ALL, student=None):
    """Autogrades the submissions (of one assignment, of one student, or
    all), writes their feedback files, then the class's grade files; returns
    the path of grades.csv."""
    course_folder = Path(course_folder)
    if assignment != ALL:
        check_assignment(course_folder, assignment)
    handed_in = f'submitted/{student or "*"}/{assignment}/*.ipynb'
    if not list(course_folder.glob(handed_in)):
        raise FileNotFoundError(
            f'no submission in {course_folder}/{handed_in.rsplit("/", 1)[0]}/: '
            f'collect the learners\' notebooks there first'
        )
    stamp_hand_copied_submissions(course_folder)
    only = [f'--student={student}'] if student else []
    # Without --force, nbgrader autogrades only what is new, or handed in
    # again (a newer timestamp.txt): a submission graded before keeps its
    # grades, the ones given by hand too
    log = nbgrader(course_folder, 'autograde', assignment, *only)
    # Feedback is made again: it shows the hand grades given since
    nbgrader(course_folder, 'generate_feedback', assignment, *only, '--force')
    grades = course_folder / 'grades.csv'
    nbgrader(course_folder, 'export', f'--to={grades.resolve()}')
    edits = EDITED_CELL.findall(log)
    if edits:
        # nbgrader's log is long: the teacher reads this at its end
        print('Locked cells edited by a student (graded as released, the edits ignored):')
        for editor, cell, notebook in edits:
            print(f'  {editor}: {cell} in {notebook}')
    return grades


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--course', type=Path, default=DEFAULT_COURSE_FOLDER, help='the nbgrader course folder')
    steps = parser.add_subparsers(dest='step', required=True)
    steps.add_parser('release', help='makes the course folder and releases every assignment')
    roster_step = steps.add_parser('roster', help='imports the class list (classroom/grading/roster.py)')
    roster_step.add_argument('file', type=Path)
    due_step = steps.add_parser('due', help="sets an assignment's due date")
    due_step.add_argument('assignment')
    due_step.add_argument('when', help="a day, a time and a time zone: '2027-01-15 17:00 Europe/Paris'")
    grade_step = steps.add_parser('grade', help='autogrades, writes feedback and the grade files')
    grade_step.add_argument('--assignment', default=ALL, help='grade this assignment only')
    grade_step.add_argument('--student', help="grade this student's work only")
    args = parser.parse_args()
    try:
        if args.step == 'release':
            for name in release(args.course):
                print(args.course / 'release' / name)
        elif args.step == 'roster':
            import_and_report(args.file, args.course)
        elif args.step == 'due':
            print(f'{args.assignment} is due {set_due_date(args.course, args.assignment, args.when)} UTC')
        else:
            grades = grade(args.course, args.assignment, args.student)
            print(grades, grades.with_name('grades_by_assignment.csv'), sep='\n')
    except ReleaseStopped as stopped:
        sys.exit(str(stopped))
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f'{args.step}: {error}')


if __name__ == '__main__':
    main()
