"""The class's grades, computed in one place for everything that shows or
sends them: the grade files (export.py: grades.csv, grades_by_assignment.csv,
the learning platforms' lms/canvas.csv and lms/moodle.csv), the summary of
`make grade`, and a grade passback to the platform.

For each student of the gradebook and each assignment, in the course's
order, a FinalGrade: the score after the late penalty (late_penalty.py's
notebook_penalty, with the score and due date as they are now, as the
feedback computes it), the maximum, and the status:

- MISSING: nothing handed in;
- NOT_GRADED: handed in, but not graded (a hand-in that could not be read,
  or whose autograding failed: make grade's report says why); nothing to
  count;
- BLANK: handed in without a single answer (every answer as released);
- LATE or ON_TIME.

`waiting` says that hand grades are still due (a written answer not graded
yet, or changed since its hand grade): the score counts what is graded so
far and is not final until the teacher grades the rest.
"""
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.api import MissingEntry

from classroom.grading.late_penalty import notebook_penalty

MISSING, NOT_GRADED, BLANK, LATE, ON_TIME = 'missing', 'not graded', 'blank', 'late', 'on time'
NO_RESPONSE = 'No response.'  # nbgrader's comment on an answer left as released


@dataclass(frozen=True)
class FinalGrade:
    """One student's grade for one assignment (see the module's docstring)."""
    student_id: str
    assignment: str
    status: str
    score: float | None  # after the late penalty; None when MISSING or NOT_GRADED
    max_score: float
    raw_score: float | None = None  # before the late penalty
    late_penalty: float | None = None
    seconds_late: float | None = None
    timestamp: datetime | None = None  # when it was handed in, UTC
    duedate: datetime | None = None  # UTC
    waiting: bool = False  # hand grades still due

    @property
    def final(self):
        """Whether the score is the one to record: handed in, graded, and no
        hand grade waiting."""
        return self.score is not None and not self.waiting


def course_order(names):
    """Assignment names in the course's order: their numbers compared as
    numbers (01, 02, ..., 10), whatever the order nbgrader lists them in."""
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)])


def is_blank(submission):
    """Whether a submission holds no answer at all: every answer cell left
    as released (nbgrader commented each "No response.")."""
    comments = [comment for notebook in submission.notebooks for comment in notebook.comments]
    return bool(comments) and all(comment.auto_comment == NO_RESPONSE for comment in comments)


def final_grades(gradebook, share_per_day, course_folder=None, assignments=None, students=None):
    """FinalGrade of each student (by id) and assignment (in the course's
    order) of an open nbgrader Gradebook, or of those named; with
    `course_folder`, a hand-in there that has no autograded folder is
    NOT_GRADED."""
    by_name = {assignment.name: assignment for assignment in gradebook.assignments}
    names = course_order(name for name in by_name if assignments is None or name in assignments)
    for student in sorted(gradebook.students, key=lambda student: student.id):
        if students is not None and student.id not in students:
            continue
        for name in names:
            yield final_grade(gradebook, by_name[name], student.id, share_per_day, course_folder)


def final_grade(gradebook, assignment, student_id, share_per_day, course_folder=None):
    """The FinalGrade of one student's assignment (nbgrader's Assignment)."""
    graded = dict(student_id=student_id, assignment=assignment.name, max_score=assignment.max_score,
                  duedate=assignment.duedate)
    handed_in = course_folder is not None and any(
        (Path(course_folder) / 'submitted' / student_id / assignment.name).glob('*.ipynb'))
    try:
        submission = gradebook.find_submission(assignment.name, student_id)
    except MissingEntry:
        return FinalGrade(status=NOT_GRADED if handed_in else MISSING, score=None, **graded)
    if course_folder is not None and not (Path(course_folder) / 'autograded' / student_id / assignment.name).is_dir():
        return FinalGrade(status=NOT_GRADED, score=None, timestamp=submission.timestamp, **graded)
    seconds_late = submission.total_seconds_late
    lost = sum(notebook_penalty(notebook, share_per_day) for notebook in submission.notebooks)
    status = BLANK if is_blank(submission) else LATE if seconds_late > 0 else ON_TIME
    return FinalGrade(status=status, score=submission.score - lost, raw_score=submission.score, late_penalty=lost,
                      seconds_late=seconds_late, timestamp=submission.timestamp,
                      waiting=bool(submission.needs_manual_grade), **graded)
