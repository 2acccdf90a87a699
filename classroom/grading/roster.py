"""Imports the class list into an nbgrader course's gradebook, so that grades
carry names and e-mails and a student who handed in nothing shows as missing.

    course-roster CLASS.csv [--course FOLDER]   # make roster FILE=CLASS.csv
    course-roster CLASS.csv                              # a teacher on the class's hub

CLASS.csv has a header row and one row per student: `id` (the name of the
student's submission folders; on the hub, the user name they sign in with),
and `first_name`, `last_name`, `email`, each optional; other columns are
ignored. The whole file is checked before anything is written: a row without
an id, an id that cannot be one (on the hub: that is no user name), an id
twice, or an e-mail without an @ stops the import with every such row
named, and the gradebook is left as it was. A student
already in the gradebook gets the file's names; nobody is removed (their
grades stay). The course folder is FOLDER, or else ~/teaching (the
teacher's course on the hub). Needs nbgrader only.
"""
import argparse
import csv
import re
import sys
from pathlib import Path

# On the hub, a student id is a user name, and a Unix account name too
# (jupyterhub_config.py): 2 to 31 lower-case letters, digits or dashes,
# starting with a letter
USER_NAME = re.compile(r'^[a-z][a-z0-9-]{1,30}$')
# Elsewhere, the name of a folder in submitted/: letters, digits, dots,
# dashes and underscores, starting with a letter or digit
FOLDER_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
COLUMNS = ('id', 'first_name', 'last_name', 'email')
TEACHING = Path.home() / 'teaching'


def read_roster(path, ids=FOLDER_NAME):
    """The students of a class list, [{column: value}], checked whole (each
    id must match `ids`); raises ValueError naming every row that is wrong
    and how to fix it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f'{path} does not exist: give the path of the class list (CSV)')
    # utf-8-sig: a spreadsheet's CSV often starts with a byte-order mark
    with open(path, newline='', encoding='utf-8-sig') as file:
        reader = csv.DictReader(file)
        header = [name.strip() for name in reader.fieldnames or []]
        if 'id' not in header:
            raise ValueError(f'{path} has no id column (its header is {", ".join(header) or "empty"}): the '
                             f'first row must name the columns, among them {", ".join(COLUMNS)}')
        reader.fieldnames = header
        rows = list(reader)
    students, problems, seen = [], [], {}
    for line, row in enumerate(rows, start=2):
        student = {column: (row.get(column) or '').strip() for column in COLUMNS}
        if not student['id']:
            problems.append(f'line {line}: no id')
        elif not ids.match(student['id']):
            rule = ('a user name: 2 to 31 lower-case letters, digits or dashes, starting with a letter'
                    if ids is USER_NAME else 'letters, digits, dots, dashes or underscores, up to 64')
            problems.append(f'line {line}: {student["id"]!r} cannot be a student id ({rule})')
        elif student['id'] in seen:
            problems.append(f'line {line}: {student["id"]} again (first on line {seen[student["id"]]})')
        else:
            seen[student['id']] = line
        if student['email'] and student['email'].count('@') != 1:
            problems.append(f'line {line}: {student["email"]!r} is not an e-mail address')
        students.append(student)
    if problems:
        raise ValueError(f'{path}: nothing imported, fix these rows first:\n  ' + '\n  '.join(problems))
    if not students:
        raise ValueError(f'{path} lists no student: one row per student below the header')
    return students


def import_roster(path, course_folder, ids=FOLDER_NAME):
    """Checks a class list (each id must match `ids`), then writes it into
    `course_folder`'s gradebook; returns (students imported, ids of students
    with a submission who are not on the list)."""
    from nbgrader.api import Gradebook

    students = read_roster(path, ids)
    database = Path(course_folder) / 'gradebook.db'
    if not database.is_file():
        raise ValueError(f'{course_folder} holds no gradebook.db: release the assignments first (make release)')
    with Gradebook(f'sqlite:///{database.resolve()}') as gradebook:
        for student in students:
            details = {column: student[column] or None for column in COLUMNS if column != 'id'}
            gradebook.update_or_create_student(student['id'], **details)
        listed = {student['id'] for student in students}
        unlisted = sorted(s.id for s in gradebook.students if s.id not in listed and s.submissions)
    return students, unlisted


def import_and_report(path, course_folder, ids=FOLDER_NAME):
    """import_roster(), then says what it did."""
    students, unlisted = import_roster(path, course_folder, ids)
    print(f'{len(students)} students on the roster of {course_folder}')
    if unlisted:
        print(f'Not on the list but with submissions (kept): {", ".join(unlisted)}')


def main(arguments=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('roster', type=Path, help='the class list, a CSV file')
    parser.add_argument('--course', type=Path, default=TEACHING, help='the nbgrader course folder')
    args = parser.parse_args(arguments)
    try:
        # The hub's teachers run this: their students are the hub's users
        import_and_report(args.roster, args.course, ids=USER_NAME)
    except ValueError as error:
        print(f'roster: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
