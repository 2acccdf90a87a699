"""The class's grades as `nbgrader export` writes them for this course
(rules.py sets it as nbgrader's exporter): two CSV files.

- `grades.csv` (or the path given with `--to`): one row per student, the
  shape a learning platform's grade import reads (Moodle, Canvas: match the
  students on `email` or `student_id`, a grade item per assignment column):
  `student_id, last_name, first_name, email`, then each assignment's score
  (its late penalty taken off; empty when nothing was handed in), then the
  student's total.
- `grades_by_assignment.csv` beside it: one row per student and assignment,
  for the teacher: whether it was handed in (`missing`), handed in without a
  single answer (`blank`), late or on time; the due date, the time handed
  in, the hours late, the score before and after the late penalty, the
  maximum, and whether answers still wait for a hand grade.

The late penalty is computed here from the score as it is now, hand grades
included (late_penalty.py), with the due dates as they are now: a due date
moved after grading counts. Both files are written whole, then put in place.
"""
import csv
from pathlib import Path

from classroom.grading.late_penalty import LatePenaltyPerDay, penalty
from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin

NO_RESPONSE = 'No response.'  # nbgrader's comment on an answer left as released
NAMES = ('student_id', 'last_name', 'first_name', 'email')
DETAILS = (
    'assignment', 'duedate', *NAMES, 'status', 'timestamp', 'hours_late', 'raw_score', 'late_penalty',
    'score', 'max_score', 'needs_manual_grade',
)


def points(value):
    """A score as the files show it: at most two decimals, no trailing zeros."""
    return f'{round(value, 2):g}'


def is_blank(submission):
    """Whether a submission holds no answer at all: every answer cell left
    as released (nbgrader commented each "No response.")."""
    comments = [comment for notebook in submission.notebooks for comment in notebook.comments]
    return bool(comments) and all(comment.auto_comment == NO_RESPONSE for comment in comments)


def names(student):
    """The columns that name a student (empty where the roster says nothing)."""
    return dict(zip(NAMES, (student.id, student.last_name or '', student.first_name or '', student.email or '')))


def assignment_row(gradebook, assignment, student, share_per_day):
    """The by-assignment row of one student's assignment."""
    row = names(student)
    row.update(assignment=assignment.name, duedate=assignment.duedate or '', max_score=points(assignment.max_score))
    try:
        submission = gradebook.find_submission(assignment.name, student.id)
    except MissingEntry:
        return {**row, 'status': 'missing', 'timestamp': '', 'hours_late': '', 'raw_score': '', 'late_penalty': '',
                'score': '', 'needs_manual_grade': ''}
    seconds_late = submission.total_seconds_late
    lost = penalty(submission.score, seconds_late, share_per_day)
    status = 'blank' if is_blank(submission) else 'late' if seconds_late > 0 else 'on time'
    return {
        **row, 'status': status, 'timestamp': submission.timestamp or '', 'hours_late': points(seconds_late / 3600),
        'raw_score': points(submission.score), 'late_penalty': points(lost),
        'score': points(submission.score - lost),
        'needs_manual_grade': 'yes' if submission.needs_manual_grade else 'no',
    }


def write_csv(path, header, rows):
    """Writes a CSV file whole, then puts it in place of `path` (as
    course.write_atomically does; this module is copied to the hub's servers
    without course.py)."""
    partial = path.with_name(f'.{path.name}.partial')
    with open(partial, 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


class ClassGradesExport(ExportPlugin):
    """nbgrader's exporter for the course: grades.csv, one row per student,
    and grades_by_assignment.csv beside it (see the module's docstring)."""

    def export(self, gradebook):
        target = Path(self.to or 'grades.csv').resolve()
        details_path = target.with_name(f'{target.stem}_by_assignment{target.suffix}')
        share_per_day = LatePenaltyPerDay(parent=self).share_per_day
        assignments = [a for a in gradebook.assignments if not self.assignment or a.name in self.assignment]
        students = [s for s in gradebook.students if not self.student or s.id in self.student]
        details, totals = [], []
        for student in students:
            rows = [assignment_row(gradebook, assignment, student, share_per_day) for assignment in assignments]
            details += rows
            scores = {row['assignment']: row['score'] for row in rows}
            total = sum(float(score) for score in scores.values() if score)
            totals.append({**names(student), **scores, 'total': points(total)})
        write_csv(target, [*NAMES, *(a.name for a in assignments), 'total'], totals)
        write_csv(details_path, DETAILS, details)
        self.log.info('Wrote %s (a row per student) and %s (a row per student and assignment)', target, details_path)
