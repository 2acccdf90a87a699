"""What the grading rules keep beside an nbgrader course's gradebook, in the
folder of its gradebook.db: one JSON file each, read whole and written whole,
then put in place (a run stopped halfway leaves the last complete version).

- RELEASED_CELLS (tampering.py): the locked cells of every release, so that a
  hand-in is compared with the release it came from.
- GRADED_ANSWERS (resubmissions.py): each handed-in answer as it was last
  autograded (a sha256), so that a hand grade is kept only for the answer it
  was given on.

nbgrader passes its preprocessors the gradebook's address only; a gradebook
that is not an SQLite file (a database server) has no folder, and the rules
then fall back to nbgrader's own behaviour.
"""
import hashlib
import json
from pathlib import Path

from classroom.course import write_atomically

RELEASED_CELLS = 'released_cells.json'
GRADED_ANSWERS = 'graded_answers.json'


def beside_gradebook(db_url, name):
    """The path of the file `name` in the folder of the SQLite gradebook at
    `db_url` (nbgrader's sqlite:///PATH); None for another kind of database."""
    prefix = 'sqlite:///'
    if not db_url.startswith(prefix) or db_url == prefix:
        return None
    return Path(db_url[len(prefix):]).parent / name


def read_record(path):
    """A record as a dict; {} where there is none yet. A file that is not a
    record stops with a ValueError saying so, rather than being replaced."""
    if path is None or not Path(path).is_file():
        return {}
    try:
        record = json.loads(Path(path).read_text())
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise ValueError(f'{path} is not a record the grading rules wrote: move it away (nothing reads it but them), '
                         f'and they start a new one')
    return record


def write_record(path, record):
    """Writes a record whole, then puts it in place."""
    write_atomically(Path(path), lambda partial: partial.write_text(json.dumps(record, indent=1, sort_keys=True)))


def digest(text):
    """The sha256 of a cell's source, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()
