"""Submissions downloaded from a learning platform, collected by nbgrader's
zip_collect: run in the course folder (build/course/), with the platform's
archives in downloaded/ASSIGNMENT/archive/,

    nbgrader zip_collect ASSIGNMENT

copies each notebook to submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb with its
timestamp.txt. rules.py makes it use:

- ArchiveTimesExtractor: unpacks each zip archive keeping the time each file
  has in it (nbgrader's own extractor gives every file the time it was
  unpacked, and the hand-in time would be lost);
- PlatformDownloadCollector: tells who handed in what from the names the
  platforms give the files:
  - Canvas (Assignments > Download Submissions):
    `<name>[_LATE]_<user id>_<submission id>_<file name>`, the file name
    with `-1`, `-2`, ... when a student uploaded it again; the user id is the
    class list's lms_user_id (roster.py);
  - Moodle (Assignment > Download all submissions):
    `<First Last>_<participant id>_assignsubmission_file_<file name>`, or a
    folder of that name holding the file; the full name is matched with the
    class list's first and last names, which must name one student only.
    The student is read from the first part of the file's path under the
    extracted folder that has Moodle's form, the part Moodle writes: a
    student's own file name never decides who handed it in, and a file whose
    own name names another student than its folder is skipped, and named.
  The notebook is the released one whose name the file's name contains
  (hand_ins.matching_notebook); the hand-in time, the time the file has in
  the archive, read as this machine's local time, as `unzip` reads it. A
  file that names nobody on the class list is skipped, and named.
"""
import datetime
import os
import re
import shutil
import time
import zipfile
from pathlib import Path

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from nbgrader.utils import unzip

from classroom.grading.hand_ins import matching_notebook
from classroom.grading.roster import read_class_list

CANVAS_NAME = re.compile(r'^[^_]*?(?:_late)?_(?P<user_id>\d+)_\d+_(?P<file>.+)$', re.IGNORECASE)
MOODLE_NAME = re.compile(r'^(?P<full_name>.+?)_\d+_assignsubmission_file_(?P<file>.*)$')


class ArchiveTimesExtractor(ExtractorPlugin):
    """nbgrader's extractor, but a zip archive's files keep their times."""

    def extract(self, archive_path, extracted_path):
        for archive in sorted(Path(archive_path).rglob('*')):
            if not archive.is_file():
                continue
            folder = Path(extracted_path) / archive.parent.relative_to(archive_path)
            folder.mkdir(parents=True, exist_ok=True)
            if archive.suffix in self.zip_ext and zipfile.is_zipfile(archive):
                self.log.info('Extracting %s into %s, with the times of its files', archive, folder / archive.stem)
                with zipfile.ZipFile(archive) as zipped:
                    for entry in zipped.infolist():
                        # ZipFile.extract keeps every path inside the folder
                        extracted = zipped.extract(entry, folder / archive.stem)
                        if not entry.is_dir():
                            written = time.mktime((*entry.date_time, 0, 0, -1))
                            os.utime(extracted, (written, written))
            elif archive.suffix in self.zip_ext:
                unzip(str(archive), str(folder), zip_ext=self.zip_ext, create_own_folder=True, tree=True)
            else:
                shutil.copy2(archive, folder / archive.name)


class PlatformDownloadCollector(FileNameCollectorPlugin):
    """Who handed in which notebook, from a Canvas or Moodle download's file
    names and the course's class list (see the module's docstring)."""

    def collect(self, submitted_file):
        path = Path(submitted_file)
        if path.suffix not in self.valid_ext:
            return None
        coursedir = self.parent.coursedir
        class_list = read_class_list(coursedir.root)
        released = [notebook.name for notebook in Path(coursedir.format_path(
            coursedir.release_directory, '.', coursedir.assignment_id)).glob('*.ipynb')]
        extracted = Path(self.parent._format_collect_path(self.parent.extracted_directory))
        student_id, file_name, reason = self.student_and_file(path.relative_to(extracted), class_list)
        notebook = matching_notebook(file_name, released) if student_id else None
        if notebook is None:
            self.log.warning('Skipped %s: %s', submitted_file, reason or
                             f'its name holds the name of no notebook of {coursedir.assignment_id} '
                             f'({", ".join(released)})')
            return None
        handed_in = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
        return {'student_id': student_id, 'file_id': notebook,
                'timestamp': handed_in.strftime('%Y-%m-%d %H:%M:%S.%f UTC')}

    def student_and_file(self, path, class_list):
        """(student id or None, the file's own name, why no student) of a
        file at `path`, relative to the extracted folder."""
        matches = [MOODLE_NAME.match(part) for part in path.parts]
        moodle = next(filter(None, matches), None)
        if moodle:
            full_name = moodle.group('full_name')
            named = [student_id for student_id, listed in class_list.items()
                     if f'{listed["first_name"]} {listed["last_name"]}'.casefold() == full_name.casefold()]
            if len(named) != 1:
                return None, path.name, (f'Moodle names its student {full_name!r}, and '
                                         f'{len(named) or "no"} students of the class list have that name')
            own = matches[-1]
            if own not in (None, moodle) and own.group('full_name').casefold() != full_name.casefold():
                return None, path.name, (f'Moodle names its student {full_name!r}, but the file\'s own name '
                                         f'names {own.group("full_name")!r} (if it is theirs, copy it into '
                                         f'their submitted/ folder by hand)')
            return named[0], moodle.group('file') or path.name, None
        canvas = CANVAS_NAME.match(path.name)
        if canvas:
            named = [student_id for student_id, listed in class_list.items()
                     if listed['lms_user_id'] == canvas.group('user_id')]
            if not named:
                return None, path.name, (f'Canvas names its student by the user id {canvas.group("user_id")}, '
                                         f'which no lms_user_id of the class list is')
            return named[0], canvas.group('file'), None
        return None, path.name, 'its name is not one Canvas or Moodle gives a downloaded submission'
