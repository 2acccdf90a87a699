"""The class's grade files, as `nbgrader export` writes them for this course
(rules.py sets ClassGradesExport as nbgrader's exporter), every number from
grades.py's final_grades, in the course's order of assignments.

For the teacher, beside `grades.csv` (or the path given with `--to`):

- `grades.csv`: one row per student of the gradebook: `student_id,
  last_name, first_name, email`, each assignment's score (its late penalty
  taken off; empty when nothing was handed in or it could not be graded),
  the `total`, and `waiting`: the assignments whose hand grades are still due
  (their scores count what is graded so far).
- `grades_by_assignment.csv`: one row per student and assignment: the status
  (missing, not graded, blank, late, on time), the due date, the time handed in,
  the hours late, the score before and after the late penalty, the maximum,
  and whether hand grades are still due.

For the school's learning platform, in `lms/` beside them (PLATFORM_FILES),
only students on the class list (roster.py) who have what the platform
matches students on, a final score or nothing per assignment (a blank cell:
nothing handed in, not gradable, or hand grades still due), and no total (a
platform computes its own; an unknown column would become an assignment):

- `lms/canvas.csv`: Canvas's gradebook import: `Student, ID, SIS User ID,
  SIS Login ID, Section`, a column per assignment, then a `Points Possible`
  row with each maximum; a student needs an id Canvas matches on
  (lms_user_id, sis_user_id or sis_login_id).
- `lms/moodle.csv`: Moodle's CSV grade import: `Email address, First name,
  Last name`, a column per assignment; a student needs an e-mail.

Every file is written whole, then put in place.
"""
import csv
from pathlib import Path

from nbgrader.plugins import ExportPlugin

from classroom.course import write_atomically
from classroom.grading.grades import final_grades
from classroom.grading.late_penalty import LatePenaltyPerDay
from classroom.grading.roster import read_class_list

NAMES = ('student_id', 'last_name', 'first_name', 'email')
DETAILS = (
    'assignment', 'duedate', *NAMES, 'status', 'timestamp', 'hours_late', 'raw_score', 'late_penalty',
    'score', 'max_score', 'needs_manual_grade',
)
CANVAS_STUDENT_COLUMNS = ('Student', 'ID', 'SIS User ID', 'SIS Login ID', 'Section')
MOODLE_STUDENT_COLUMNS = ('Email address', 'First name', 'Last name')
POINTS_POSSIBLE = 'Points Possible'
LMS_FOLDER = 'lms'


def points(value):
    """A score as the files show it: at most two decimals, no trailing zeros;
    empty for None."""
    return '' if value is None else f'{round(value, 2):g}'


def canvas_can_match(listed):
    """Whether Canvas's import can find a student of the class list: by its
    user id or an SIS id (a name alone may match the wrong one)."""
    return any(listed[column] for column in ('lms_user_id', 'sis_user_id', 'sis_login_id'))


def moodle_can_match(listed):
    """Whether Moodle's import can find a student of the class list: by e-mail."""
    return bool(listed['email'])


# {file in lms/: whether a student of the class list can go in it}
PLATFORM_FILES = {'canvas.csv': canvas_can_match, 'moodle.csv': moodle_can_match}


def left_out(class_list):
    """{file in lms/: ids of the class list's students it leaves out, for
    want of what that platform matches on}."""
    return {name: sorted(student_id for student_id, listed in class_list.items() if not can_match(listed))
            for name, can_match in PLATFORM_FILES.items()}


def write_csv(path, header, rows):
    """Writes a CSV file (rows as dicts, or as lists) whole, then puts it in place."""
    def write(partial):
        with open(partial, 'w', newline='', encoding='utf-8') as file:
            if rows and not isinstance(rows[0], dict):
                writer = csv.writer(file)
                writer.writerow(header)
            else:
                writer = csv.DictWriter(file, fieldnames=header)
                writer.writeheader()
            writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, write)


def detail_row(grade, names):
    """The grades_by_assignment.csv row of a FinalGrade."""
    return {
        'assignment': grade.assignment, 'duedate': grade.duedate or '', **names, 'status': grade.status,
        'timestamp': grade.timestamp or '',
        'hours_late': '' if grade.seconds_late is None else points(max(grade.seconds_late, 0) / 3600),
        'raw_score': points(grade.raw_score), 'late_penalty': points(grade.late_penalty),
        'score': points(grade.score), 'max_score': points(grade.max_score),
        'needs_manual_grade': '' if grade.score is None else 'yes' if grade.waiting else 'no',
    }


def canvas_name(listed):
    """A student's name as Canvas sorts it: 'Last, First'."""
    return ', '.join(name for name in (listed['last_name'], listed['first_name']) if name) or listed['id']


class ClassGradesExport(ExportPlugin):
    """nbgrader's exporter for the course: the files of the module's
    docstring, with the late penalty's share of the course's rule."""

    def export(self, gradebook):
        target = Path(self.to or 'grades.csv').resolve()
        course_folder = Path(self.parent.coursedir.root) if self.parent is not None else None
        share_per_day = LatePenaltyPerDay(parent=self).share_per_day
        grades = list(final_grades(gradebook, share_per_day, course_folder, self.assignment or None,
                                   self.student or None))
        students = {student.id: student for student in gradebook.students}
        assignments = list(dict.fromkeys(grade.assignment for grade in grades))
        maxima = {grade.assignment: grade.max_score for grade in grades}
        by_student = {}
        for grade in grades:
            by_student.setdefault(grade.student_id, {})[grade.assignment] = grade

        details, rows = [], []
        for student_id, graded in by_student.items():
            student = students[student_id]
            names = dict(zip(NAMES, (student_id, student.last_name or '', student.first_name or '',
                                     student.email or '')))
            details += [detail_row(grade, names) for grade in graded.values()]
            rows.append({**names, **{name: points(grade.score) for name, grade in graded.items()},
                         'total': points(sum(grade.score or 0 for grade in graded.values())),
                         'waiting': ' '.join(name for name, grade in graded.items() if grade.waiting)})
        details_path = target.with_name(f'{target.stem}_by_assignment{target.suffix}')
        write_csv(target, [*NAMES, *assignments, 'total', 'waiting'], rows)
        write_csv(details_path, list(DETAILS), details)

        class_list = read_class_list(course_folder) if course_folder else {}
        on_the_list = {student_id: graded for student_id, graded in by_student.items() if student_id in class_list}

        def final(graded):
            return [points(graded[name].score) if graded[name].final else '' for name in assignments]

        lms = target.parent / LMS_FOLDER
        write_csv(lms / 'canvas.csv', [*CANVAS_STUDENT_COLUMNS, *assignments], [
            [POINTS_POSSIBLE, '', '', '', '', *(points(maxima[name]) for name in assignments)],
            *([canvas_name(class_list[student_id]), *(class_list[student_id][column] for column in (
                'lms_user_id', 'sis_user_id', 'sis_login_id', 'section')), *final(graded)]
              for student_id, graded in on_the_list.items() if canvas_can_match(class_list[student_id])),
        ])
        write_csv(lms / 'moodle.csv', [*MOODLE_STUDENT_COLUMNS, *assignments], [
            [class_list[student_id]['email'], class_list[student_id]['first_name'],
             class_list[student_id]['last_name'], *final(graded)]
            for student_id, graded in on_the_list.items() if moodle_can_match(class_list[student_id])
        ])
        self.log.info('Wrote %s (a row per student), %s (a row per student and assignment), and %s, %s for the '
                      'learning platforms', target, details_path, lms / 'canvas.csv', lms / 'moodle.csv')
        for name, ids in left_out(class_list).items():
            if ids:
                self.log.warning('Left out of %s (not what that platform matches students on): %s',
                                 lms / name, ', '.join(ids))
