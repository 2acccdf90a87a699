"""Imports the class list into an nbgrader course, so that grades carry names,
e-mails and the learning platform's ids, and a student who handed in nothing
shows as missing.

    course-roster CLASS.csv [--course FOLDER]   # make roster FILE=CLASS.csv
    course-roster CLASS.csv                              # a teacher on the class's hub

CLASS.csv has a header row and one row per student: `id` (the name of the
student's submission folders; on the hub, the user name they sign in with),
then, each optional, `first_name`, `last_name`, `email`, and the platform's
ids that its grade import matches students on (PLATFORM_IDS): `lms_user_id`
(Canvas's user id, nbgrader's own field of that name), `sis_user_id`,
`sis_login_id` and `section`. Other columns are ignored.

The whole file is checked before anything is written: a row without an id,
an id that cannot be one (on the hub: that is no user name), an id twice, an
e-mail without an @, or an e-mail or platform id that two students would
share stops the import with every such row named, and nothing changes.

The class list is kept in the course folder (CLASS_LIST, written whole, then
put in place) and the names, e-mails and lms_user_id in its gradebook.
Importing again updates the students it lists, in the columns it has: a
column the new file lacks keeps what was imported before, and nobody is
removed (their grades stay). The course folder is FOLDER, or else ~/teaching
(the teacher's course on the hub). Needs nbgrader only.
"""
import argparse
import csv
import re
import sys
from pathlib import Path

from classroom.course import write_atomically

# On the hub, a student id is a user name, and a Unix account name too
# (jupyterhub_config.py): 2 to 31 lower-case letters, digits or dashes,
# starting with a letter
USER_NAME = re.compile(r'^[a-z][a-z0-9-]{1,30}$')
# Elsewhere, the name of a folder in submitted/: letters, digits, dots,
# dashes and underscores, starting with a letter or digit
FOLDER_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
NAMES = ('first_name', 'last_name', 'email')
# What a learning platform's grade import matches its students on
PLATFORM_IDS = ('lms_user_id', 'sis_user_id', 'sis_login_id', 'section')
COLUMNS = ('id', *NAMES, *PLATFORM_IDS)
# What names one student only: two students sharing one would get each
# other's grades on the platform
UNIQUE = ('email', 'lms_user_id', 'sis_user_id', 'sis_login_id')
# The class list as last imported, in the course folder
CLASS_LIST = 'class_list.csv'
TEACHING = Path.home() / 'teaching'


def read_roster(path, ids=FOLDER_NAME):
    """The students of a class list file, [{column: value}] with every
    column of COLUMNS ('' where the file says nothing), checked whole (each id
    must match `ids`); raises ValueError naming every row that is wrong and
    how to fix it."""
    students, _ = _read_checked(path, ids)
    return students


def _read_checked(path, ids):
    """(students as read_roster returns them, the COLUMNS the file has)."""
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
    problems += _shared_values(students, lambda position, student: f'line {position + 2}')
    if problems:
        raise ValueError(f'{path}: nothing imported, fix these rows first:\n  ' + '\n  '.join(problems))
    if not students:
        raise ValueError(f'{path} lists no student: one row per student below the header')
    return students, [column for column in COLUMNS if column in header]


def _shared_values(students, where):
    """A problem for each value of UNIQUE that a second student has too;
    where(position, student) says how a message names a student."""
    problems = []
    for column in UNIQUE:
        first = {}
        for position, student in enumerate(students):
            # E-mails are matched without regard to case by people, if not by every platform
            value = student[column].casefold()
            if value and value in first:
                problems.append(f'{where(position, student)}: {column} {student[column]} already belongs to '
                                f'{where(*first[value])}')
            elif value:
                first[value] = (position, student)
    return problems


def read_class_list(course_folder):
    """The course's class list as last imported: {student id: {column:
    value}} for every column of COLUMNS; {} before the first import."""
    path = Path(course_folder) / CLASS_LIST
    if not path.is_file():
        return {}
    with open(path, newline='', encoding='utf-8') as file:
        return {row['id']: {column: row.get(column) or '' for column in COLUMNS} for row in csv.DictReader(file)}


def merge(kept, students, columns):
    """The class list `kept` ({id: row}) updated with `students` (rows of a
    new file that has `columns`): the file's columns win, the others keep
    their values, and students the file does not list stay."""
    merged = {student_id: dict(row) for student_id, row in kept.items()}
    for student in students:
        row = merged.setdefault(student['id'], dict.fromkeys(COLUMNS, ''))
        row.update({column: student[column] for column in columns})
    return merged


def write_class_list(course_folder, class_list):
    """Writes the class list whole, then puts it in place."""
    def write(path):
        with open(path, 'w', newline='', encoding='utf-8') as file:
            writer = csv.DictWriter(file, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(class_list[student_id] for student_id in sorted(class_list))
    write_atomically(Path(course_folder) / CLASS_LIST, write)


def import_roster(path, course_folder, ids=FOLDER_NAME):
    """Checks a class list (each id must match `ids`; merged with the one
    kept, no e-mail or platform id shared), keeps it in the course folder,
    then writes it into `course_folder`'s gradebook; returns (students
    imported, ids of students with a submission who are not on the list)."""
    from nbgrader.api import Gradebook

    students, columns = _read_checked(path, ids)
    database = Path(course_folder) / 'gradebook.db'
    if not database.is_file():
        raise ValueError(f'{course_folder} holds no gradebook.db: release the assignments first (make release)')
    class_list = merge(read_class_list(course_folder), students, columns)
    # Against the students kept from an earlier import too, named by id
    shared = _shared_values(list(class_list.values()), lambda position, student: student['id'])
    if shared:
        raise ValueError(f'{path}: nothing imported; with the class list kept in {Path(course_folder) / CLASS_LIST}, '
                         f'students would share these:\n  ' + '\n  '.join(shared))
    write_class_list(course_folder, class_list)
    with Gradebook(f'sqlite:///{database.resolve()}') as gradebook:
        for student_id, row in class_list.items():
            # nbgrader's own fields; the other platform ids live in the class list
            details = {column: row[column] or None for column in (*NAMES, 'lms_user_id')}
            gradebook.update_or_create_student(student_id, **details)
        unlisted = sorted(s.id for s in gradebook.students if s.id not in class_list and s.submissions)
    return students, unlisted


def import_and_report(path, course_folder, ids=FOLDER_NAME):
    """import_roster(), then says what it did."""
    students, unlisted = import_roster(path, course_folder, ids)
    print(f'{len(students)} students imported into the class list of {course_folder} '
          f'({len(read_class_list(course_folder))} on it)')
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
