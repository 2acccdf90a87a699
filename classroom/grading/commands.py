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

`grade` readies the hand-ins (classroom/grading/hand_ins.py: renamed
notebooks, unreadable ones left out), autogrades the submissions in
submitted/<student>/<assignment>/ that are new or handed in again (a
submission graded before keeps its grades, and its hand grades where the
answer is unchanged: resubmissions.py), writes the feedback
(feedback/<student>/<assignment>/, HTML, without the hidden tests) and the
class's grade files: grades.csv, grades_by_assignment.csv, and lms/canvas.csv
and lms/moodle.csv for the learning platforms (export.py). One submission
that fails is reported and skipped; the others are graded; an nbgrader run
that stops on the way (it does not end with its summary of the submissions
it failed on) stops `grade`, saying so. It ends with one
summary (report.py), saved as grading-report.txt. --assignment and --student
grade one assignment, or one student's work, only; the grade files always
cover the class.

nbgrader reads the course's nbgrader_config.py, since it runs in the course's
root folder, and the course folder's own (write_course_config), which loads
the same; --course overrides the course folder that file names.
Needs requirements.txt and requirements-teacher.txt: autograding executes the
notebooks.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

from classroom.course import COURSE_ROOT, EXERCISES, write_atomically
from classroom.grading.course_source import ReleaseStopped, repository_files, sync_source
from classroom.grading.hand_ins import prepare
from classroom.grading.report import REPORT_NAME, failures, ran_to_its_end, summary
from classroom.grading.roster import import_and_report

DEFAULT_COURSE_FOLDER = COURSE_ROOT / 'build' / 'course'
COURSE_SETTINGS = COURSE_ROOT / 'nbgrader_config.py'
ALL = '*'


def assignment_name(exercise_notebook):
    """The nbgrader assignment an exercise notebook becomes: its file name
    without .ipynb, e.g. 01_training_loop_exercises."""
    return Path(exercise_notebook).stem


def nbgrader(course_folder, *arguments, some_may_fail=False):
    """Runs one nbgrader command from the course's root (so that it reads
    nbgrader_config.py) on `course_folder` and returns its log; fails if
    nbgrader does, but, with `some_may_fail`, where it failed on some
    submissions only and went on with the others to its end
    (report.ran_to_its_end)."""
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
    log = ''.join(log)
    if process.wait() and not (some_may_fail and ran_to_its_end(log)):
        raise subprocess.CalledProcessError(process.returncode, command)
    return log


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
    # nbgrader reads it wherever it runs: first, in a course folder moved since
    if course_config:
        write_course_config(course_folder)
    nbgrader(course_folder, 'generate_assignment', ALL, '--force')
    return [assignment_name(notebook) for notebook in EXERCISES]


# The first line of the nbgrader_config.py that release writes into a course
# folder: a file without it is the teacher's own, and is left alone
COURSE_CONFIG_MARK = '# Written by classroom/grading/commands.py release'


def write_course_config(course_folder):
    """Writes `course_folder`/nbgrader_config.py, which loads the course's own
    settings, so that nbgrader run from inside the course folder (as its
    documentation and the teachers' guide run it) applies them too: the
    course id, the feedback without hidden tests, the 120 s limit per cell.
    Its paths are relative to its own folder: the course's settings where
    they lie from there, and the course folder itself, wherever the clone is
    moved to."""
    target = Path(course_folder) / 'nbgrader_config.py'
    if target.exists() and not is_ours(target):
        print(f'{target} is not ours: left as it is; it should load {COURSE_SETTINGS}')
        return
    settings = os.path.relpath(COURSE_SETTINGS, Path(course_folder).resolve())
    write_atomically(target, lambda partial: partial.write_text(
        f'{COURSE_CONFIG_MARK}; edit {settings} instead.\n'
        'import os\n\n'
        'c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)\n'
        'here = os.path.dirname(os.path.realpath(__file__))\n'
        f'course_settings = os.path.join(here, {settings!r})\n'
        '# A missing file would be passed over in silence, and an error logged and passed over too: nbgrader\n'
        '# would grade without the course\'s rules. This stops it\n'
        'if not os.path.isfile(course_settings):\n'
        '    raise SystemExit(f"{course_settings}, the course\'s nbgrader settings, is missing: "\n'
        '                     f"run make release in the course again")\n'
        'load_subconfig(course_settings)  # noqa: F821\n'
        'c.CourseDirectory.root = here\n'
    ))


def is_ours(course_config):
    """Whether a course folder's nbgrader_config.py is one release wrote."""
    return Path(course_config).read_text().startswith(COURSE_CONFIG_MARK)


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
    """Readies the hand-ins, autogrades the submissions (of one assignment, of
    one student, or all), writes their feedback files, then the class's grade
    files, and prints the summary it saves as grading-report.txt; returns the
    path of grades.csv. A submission that cannot be graded is skipped."""
    course_folder = Path(course_folder)
    if assignment != ALL:
        check_assignment(course_folder, assignment)
    handed_in = f'submitted/{student or "*"}/{assignment}/*.ipynb'
    if not list(course_folder.glob(handed_in)):
        raise FileNotFoundError(
            f'no submission in {course_folder}/{handed_in.rsplit("/", 1)[0]}/: '
            f'collect the learners\' notebooks there first'
        )
    # nbgrader reads the course folder's settings too: kept right in a course folder moved since the release
    if (course_folder / 'nbgrader_config.py').is_file() and is_ours(course_folder / 'nbgrader_config.py'):
        write_course_config(course_folder)
    hand_ins = prepare(course_folder, assignment, student)
    log = autograde(course_folder, assignment, student, hand_ins.unsafe)
    only = [f'--student={student}'] if student else []
    feedback_log = ''
    # Feedback is made again: it shows the hand grades given since (nbgrader
    # stops where there is nothing autograded)
    if list(course_folder.glob(f'autograded/{student or "*"}/{assignment}/*.ipynb')):
        feedback_log = nbgrader(course_folder, 'generate_feedback', assignment, *only, '--force', some_may_fail=True)
    grades = course_folder / 'grades.csv'
    nbgrader(course_folder, 'export', f'--to={grades.resolve()}')
    report = summary(course_folder, hand_ins, log, failures(log), failures(feedback_log))
    write_atomically(course_folder / REPORT_NAME, lambda partial: partial.write_text(report))
    # nbgrader's log is long: the teacher reads this at its end
    print(report, end='')
    return grades


def autograde(course_folder, assignment, student, unsafe):
    """Runs nbgrader's autograde on the submissions of `assignment` (or all)
    by `student` (or everyone) but the `unsafe` ones ({(student,
    assignment)}: they would stop its whole run); returns its log. Without
    --force, nbgrader autogrades only what is new, or handed in again (a
    newer timestamp.txt)."""
    only = [f'--student={student}'] if student else []
    if not unsafe:
        return nbgrader(course_folder, 'autograde', assignment, *only, some_may_fail=True)
    # nbgrader leaves out students, not single submissions: one run per
    # assignment that has submissions (nbgrader stops where it finds none)
    handed_in = {folder.name for folder in Path(course_folder).glob(f'submitted/{student or "*"}/{assignment}/')}
    log = []
    for name in sorted(handed_in & set(released_assignments(course_folder))):
        excluded = sorted(who for who, what in unsafe if what == name)
        if student in excluded:
            continue
        exclude = [f'--CourseDirectory.student_id_exclude={",".join(excluded)}'] if excluded else []
        log.append(nbgrader(course_folder, 'autograde', name, *only, *exclude, some_may_fail=True))
    return ''.join(log)


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
            grade(args.course, args.assignment, args.student)
    except ReleaseStopped as stopped:
        sys.exit(str(stopped))
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f'{args.step}: {error}')
    except subprocess.CalledProcessError as error:
        sys.exit(f'{args.step}: `{" ".join(error.cmd[2:])}` stopped (exit status {error.returncode}) before its '
                 f'end, and what it had not reached is not done: its log above says why; fix that and run '
                 f'{args.step} again')


if __name__ == '__main__':
    main()
