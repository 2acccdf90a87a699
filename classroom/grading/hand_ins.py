"""The hand-ins in a course folder's submitted/ made ready for autograding,
before `make grade` runs nbgrader, and the ones it must leave out, so that
one bad hand-in never stops the class's grading.

- A submission copied in by hand, without the timestamp.txt that nbgrader's
  collect writes, gets the time its newest notebook was written.
- A notebook renamed on the way (`01_training_loop_exercises (1).ipynb`, as
  a browser or a platform's download names a second copy) is given its
  released name, when the submission lacks a notebook of that name: the
  same file, renamed in its folder, and said so.
- A submission nbgrader cannot grade is named, with the reason: a notebook
  nbformat cannot read, nbgrader metadata that is no mapping or of another
  version, no notebook of the assignment, or an assignment that was never
  released. nbgrader fails
  on each of these alone and goes on with the others, but for the metadata
  of another version, which stops its whole run: those must be left out of
  it (HandIns.unsafe).
"""
import datetime
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

RELEASED_METADATA_VERSION = 3  # nbgrader 0.9's schema_version of a cell's nbgrader metadata


@dataclass
class HandIns:
    """What prepare() found: renamed [(student, assignment, old name, new
    name)], not gradable {(student, assignment): why}, among them those that
    would stop nbgrader's whole run {(student, assignment)}, the extra
    notebooks left beside a released one [(student, assignment, name)]."""
    renamed: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)
    unsafe: set = field(default_factory=set)
    extra: list = field(default_factory=list)


def matching_notebook(file_name, released):
    """The released notebook name (among `released`) that a handed-in or
    downloaded file is, judged by its name: the longest released name whose
    stem the file's stem contains; None if none does."""
    stem = Path(file_name).stem
    candidates = [name for name in released if Path(name).stem in stem]
    return max(candidates, key=len) if candidates else None


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


def unreadable(notebook):
    """(why nbgrader cannot grade a handed-in notebook file, whether that
    would stop its whole run); (None, False) when it can."""
    try:
        read = nbformat.read(notebook, as_version=4)
    except Exception as error:  # whatever nbformat raises on a file that is no notebook
        reason = f'{notebook.name} is not a notebook that can be read ({type(error).__name__}: {error})'
        return reason.split('\n')[0], False
    for cell in read.cells:
        metadata = cell.get('metadata', {})
        nbgrader = metadata.get('nbgrader', {}) if isinstance(metadata, dict) else metadata
        if not isinstance(nbgrader, dict):
            # nbformat reads it; nbgrader fails on this submission alone
            return (f'{notebook.name} is not a notebook that can be graded: a cell\'s nbgrader metadata is '
                    f'{nbgrader!r}, not the mapping the released notebook has (hand in the released '
                    f'notebook\'s cells again)'), False
        version = nbgrader.get('schema_version', RELEASED_METADATA_VERSION)
        if version != RELEASED_METADATA_VERSION:
            return (f'{notebook.name} carries nbgrader metadata of version {version}, not the released '
                    f'{RELEASED_METADATA_VERSION} (its cells came from another nbgrader)'), True
    return None, False


def prepare(course_folder, assignment='*', student=None):
    """Readies the submissions of `assignment` (a name or '*') by `student`
    (or everyone) for autograding as the module's docstring says; returns
    HandIns."""
    course_folder = Path(course_folder)
    stamp_hand_copied_submissions(course_folder)
    found = HandIns()
    for folder in sorted(course_folder.glob(f'submitted/{student or "*"}/{assignment}/')):
        who, what = folder.parent.name, folder.name
        released = sorted(path.name for path in (course_folder / 'release' / what).glob('*.ipynb'))
        if not released:
            found.skipped[(who, what)] = f'{what} was never released (make release); nothing of it is graded'
            continue
        handed_in = sorted(path.name for path in folder.glob('*.ipynb'))
        for name in released:
            if name in handed_in:
                continue
            copies = [other for other in handed_in if other not in released and matching_notebook(other, released)
                      == name]
            if copies:
                # The newest copy is the one handed in last
                newest = max(copies, key=lambda other: (folder / other).stat().st_mtime)
                os.replace(folder / newest, folder / name)
                found.renamed.append((who, what, newest, name))
                handed_in = sorted(path.name for path in folder.glob('*.ipynb'))
        found.extra += [(who, what, name) for name in handed_in if name not in released]
        present = [folder / name for name in released if name in handed_in]
        if not present:
            found.skipped[(who, what)] = (f'no notebook of {what} was handed in (the folder holds '
                                          f'{", ".join(handed_in) or "no notebook"})')
            continue
        problems = [problem for problem in map(unreadable, present) if problem[0]]
        if problems:
            found.skipped[(who, what)] = '; '.join(reason for reason, _ in problems)
            if any(stops for _, stops in problems):
                found.unsafe.add((who, what))
    return found
