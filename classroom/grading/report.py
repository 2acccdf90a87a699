"""The one summary that `make grade` ends with, and saves as
build/course/grading-report.txt: what went wrong, what the teacher has to
do, and what the platforms' files leave out. It reads what the run did
(hand_ins.prepare's HandIns, nbgrader's logs, whose reports of our rules
have fixed forms: tampering.py, resubmissions.py) and what it wrote (the
grade files of export.py, the feedback pages of feedback.py, the class
list of roster.py).
"""
import csv
import re
from pathlib import Path

from classroom.grading.export import PLATFORM_FILES, left_out, points
from classroom.grading.feedback import shown_grade
from classroom.grading.grades import NOT_GRADED, course_order
from classroom.grading.resubmissions import SET_ASIDE, SET_ASIDE_REPORT
from classroom.grading.roster import CLASS_LIST, read_class_list
from classroom.grading.tampering import EDITED_REPORT, RESTORED_REPORT

REPORT_NAME = 'grading-report.txt'
# nbgrader's own words when one submission fails and the others go on
FAILED = re.compile(r'There was an error processing assignment: (.+?)\s*$', re.MULTILINE)
# nbgrader's summary at the end of a run that failed on some submissions and
# went on with the others: one line per submission, (assignment, student),
# then the last line
LISTED = re.compile(r"There was an error processing assignment '(.+)' for student '(.+)'\s*$", re.MULTILINE)
LISTED_LAST = 'errors on the above failures.'
NEEDS = {'canvas.csv': 'no lms_user_id, sis_user_id or sis_login_id', 'moodle.csv': 'no e-mail'}


def failures(log):
    """{(student, assignment): the error} of each submission nbgrader failed
    on, from its log: the last line of the traceback it logged next."""
    found, lines = {}, log.splitlines()
    for index, line in enumerate(lines):
        failed = FAILED.search(line)
        if not failed:
            continue
        # The traceback's lines follow, indented, until nbgrader's next record
        traceback = []
        for following in lines[index + 2:]:
            if following.startswith('['):
                break
            traceback.append(following.strip())
        error = next((line for line in reversed(traceback) if line), 'see nbgrader\'s log above')
        folder = Path(failed.group(1))
        found[(folder.parent.name, folder.name)] = error
    return found


def ran_to_its_end(log):
    """Whether an nbgrader conversion (autograde, generate_feedback) that
    exited with an error failed on some submissions only and went on with
    the others to its end, from its log: it ends with its summary, which
    lists every submission the log says it failed on. A run that stopped
    on the way (a crash after a failed submission) has no summary."""
    listed = {(student, assignment) for assignment, student in LISTED.findall(log)}
    return LISTED_LAST in log and bool(listed) and set(failures(log)) <= listed


def read_details(course_folder):
    """grades_by_assignment.csv's rows."""
    with open(Path(course_folder) / 'grades_by_assignment.csv', newline='', encoding='utf-8') as file:
        return list(csv.DictReader(file))


def stale_feedback(course_folder, details):
    """[(student, assignment)] whose feedback pages show another score or
    late penalty than the grade files (or predate the pages that say)."""
    rows = {(row['student_id'], row['assignment']): row for row in details}
    stale = []
    for folder in sorted(Path(course_folder).glob('feedback/*/*/')):
        key = (folder.parent.name, folder.name)
        shown = [shown_grade(page) for page in sorted(folder.glob('*.html'))]
        if not shown:
            continue
        row = rows.get(key)
        if row is None or not row['score'] or None in shown:
            stale.append(key)
            continue
        score, penalty = (sum(values) for values in zip(*shown))
        if (points(score), points(penalty)) != (row['score'], row['late_penalty']):
            stale.append(key)
    return stale


def section(title, lines, empty=None):
    """A titled list; `empty` (or nothing) where there is nothing to list."""
    if not lines:
        return [f'{title}: {empty}'] if empty else []
    return [f'{title}:', *(f'  {line}' for line in lines)]


def summary(course_folder, hand_ins, autograde_log, failed, feedback_failed):
    """The report's text."""
    course_folder = Path(course_folder)
    details = read_details(course_folder)
    class_list = read_class_list(course_folder)
    errors = [f'{student}, {assignment}: not graded: {why}' for (student, assignment), why in hand_ins.skipped.items()]
    # nbgrader's error on a hand-in named above says less
    errors += [f'{student}, {assignment}: autograding failed, not graded: {why}'
               for (student, assignment), why in failed.items() if (student, assignment) not in hand_ins.skipped]
    errors += [f'{student}, {assignment}: no feedback made: {why}'
               for (student, assignment), why in feedback_failed.items() if (student, assignment) not in failed]
    errors += [f'{row["student_id"]}, {row["assignment"]}: not graded (in an earlier run: its report said why)'
               for row in details if row['status'] == NOT_GRADED
               and (row['student_id'], row['assignment']) not in {**hand_ins.skipped, **failed}]
    waiting, late = {}, []
    for row in details:
        if row['needs_manual_grade'] == 'yes':
            waiting.setdefault(row['assignment'], []).append(row['student_id'])
        if row['status'] == 'late':
            late.append(f'{row["student_id"]}, {row["assignment"]}: {row["hours_late"]} h late, '
                        f'{row["late_penalty"]} of {row["raw_score"]} points taken off')
    handed_in_by = sorted({folder.parent.name for folder in course_folder.glob('submitted/*/*/')})
    maxima = {row['assignment']: row['max_score'] for row in details}
    lines = [f'Grading report of {course_folder}', '']
    lines += section('Errors (each left ungraded; everyone else was graded)', errors, 'none')
    lines += section('Notebooks renamed to their released names',
                     [f'{student}, {assignment}: {old!r} is {new}'
                      for student, assignment, old, new in hand_ins.renamed])
    lines += section('Other notebooks beside the released ones (not graded)',
                     [f'{student}, {assignment}: {name}' for student, assignment, name in hand_ins.extra])
    lines += section('Locked cells edited (graded as released, the edits ignored)',
                     [f'{student}: {cell} in {notebook}' for student, cell, _, notebook in
                      EDITED_REPORT.findall(autograde_log)], 'none')
    lines += section('Graded cells missing from a hand-in (deleted or stripped), put back as released and graded',
                     [f'{student}: {cell} in {notebook}' for student, _, notebook, cell in
                      RESTORED_REPORT.findall(autograde_log)])
    lines += section(f'Hand grades set aside, their answer changed since (kept in {course_folder / SET_ASIDE})',
                     [f'{student}: {cell} in {notebook}' for student, cell, _, notebook in
                      SET_ASIDE_REPORT.findall(autograde_log)])
    lines += section('Hand grades waiting (the formgrader\'s Manual Grading; not final until given)',
                     [f'{name}: {", ".join(waiting[name])}' for name in course_order(waiting)], 'none')
    lines += section('Late', late, 'none')
    if class_list:
        lines += section(f'Not on the class list ({course_folder / CLASS_LIST}; in no file for a platform)',
                         [student for student in handed_in_by if student not in class_list])
    else:
        lines.append('No class list imported (make roster): the files for the platforms list nobody')
    for name, ids in left_out(class_list).items():
        lines += section(f'Left out of lms/{name} ({NEEDS[name]} on the class list)', ids)
    lines += section('Feedback that shows other grades than the grade files (make grade without ASSIGNMENT or '
                     'STUDENT makes it again)', [f'{student}, {assignment}' for student, assignment in
                                                 stale_feedback(course_folder, details)])
    lines += section('Maximum points of each assignment (each grade item\'s maximum on the platform)',
                     [f'{name}: {maxima[name]}' for name in course_order(maxima)])
    lines += ['Written: ' + ', '.join(f'{course_folder}/{name}' for name in (
        'grades.csv', 'grades_by_assignment.csv', *(f'lms/{platform}' for platform in PLATFORM_FILES),
        'feedback/', REPORT_NAME))]
    return '\n'.join(lines) + '\n'
