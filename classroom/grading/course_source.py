"""How `make release` fills an nbgrader course folder's source/ from the
repository without losing what a teacher changed there.

nbgrader's formgrader edits the notebooks of <course>/source/<assignment>/ in
place, and a teacher may add files there, so release never copies over that
folder blindly. Each release records in <course>/MANIFEST_NAME the sha256 of
every file it took from the repository; the next one compares three versions
of each file, the recorded one, the course folder's and the repository's:

- left as recorded in the course folder: it takes the repository's version
  (and goes where the repository no longer has it);
- changed, added or deleted in the course folder alone: it stays as it is;
- changed on both sides, differently: release stops before it changes
  anything, naming the files and what to do (SourceConflict; ReleaseStopped
  for a record it cannot read).

A course folder released before the record was kept has none: there, a file
that differs from the repository's counts as changed on both sides.
"""
import hashlib
import json
import shutil
from pathlib import Path

from classroom.course import COURSE_ROOT, EXERCISES, learner_files, write_atomically

MANIFEST_NAME = 'source_manifest.json'
# Where each file is written before it takes its place: the course folder's
# root, which nbgrader never releases
PARTIAL_NAME = '.release.partial'
# What Jupyter and Python write beside the files, never the teacher's work
# (nbgrader does not release them either)
IGNORED = {'.ipynb_checkpoints', '__pycache__'}


class ReleaseStopped(Exception):
    """Release stopped before changing anything; the message says why and
    what to do."""


class SourceConflict(ReleaseStopped):
    """Files changed both in the course folder and in the repository since the
    last release; the message names them and says what to do."""


def repository_files(exercises=EXERCISES):
    """What each assignment's source folder gets from the repository:
    {path under source/: the repository's file}, the learner files (helpers,
    stage scripts...) beside every file of the repository's
    source/<assignment>/ (the teacher's notebook)."""
    wanted = {}
    for folder in sorted({Path(notebook).parent for notebook in exercises}):
        for name in learner_files():
            wanted[f'{folder.name}/{name.as_posix()}'] = COURSE_ROOT / name
        # The assignment's own files win over a learner file of the same name
        for name, path in files_in(folder).items():
            wanted[f'{folder.name}/{name}'] = path
    return wanted


def files_in(folder):
    """{path relative to `folder`, with forward slashes: the file} of every
    file under `folder` but the IGNORED; {} where there is no such folder."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(Path(folder).rglob('*'))
        if path.is_file() and not IGNORED & set(path.relative_to(folder).parts)
    }


def digest(path):
    """The sha256 of a file's bytes, in hex; None for a file that is not there."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def read_manifest(course_folder):
    """{path under source/: sha256} as the last release recorded it; {} where
    it recorded nothing."""
    manifest = Path(course_folder) / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    try:
        return dict(json.loads(manifest.read_text())['files'])
    except (ValueError, KeyError, TypeError):
        raise ReleaseStopped(f'{manifest} is not the record that release writes: delete it, and the next release '
                         f'stops on every file that differs from the repository\'s instead of guessing') from None


def compare(source_folder, wanted, recorded):
    """What a release does to `source_folder`: (files to take from the
    repository, files to delete, files kept as the teacher changed them
    though they differ from the repository's, files changed on both sides),
    each a sorted list of paths under source/."""
    take, delete, kept, conflicts = [], [], [], []
    for name in sorted(set(wanted) | set(recorded) | set(files_in(source_folder))):
        here, before = digest(Path(source_folder) / name), recorded.get(name)
        theirs = digest(wanted[name]) if name in wanted else None
        if here == theirs:
            continue
        if here == before:
            (take if theirs else delete).append(name)
        elif theirs == before:
            kept.append(name)
        else:
            conflicts.append(name)
    return take, delete, kept, conflicts


def conflict_message(source_folder, wanted, conflicts, recorded):
    """SourceConflict's message: which files, and the two ways out."""
    lines = [f'release stopped, and changed nothing: these files were changed both in {source_folder} '
             f'(in the formgrader, say) and in the repository since the last release:']
    for name in conflicts:
        here = Path(source_folder) / name
        theirs = f'the repository\'s: {wanted[name]}' if name in wanted else 'the repository no longer has it'
        lines.append(f'  {here}{"" if here.exists() else " (you deleted it)"}  ({theirs})')
    if not recorded:
        lines.append(f'({Path(source_folder).parent / MANIFEST_NAME}, the record of what the last release took from '
                     f'the repository, is missing: every file that differs from the repository\'s counts as changed '
                     f'on both sides.)')
    lines.append(
        'For each one, either keep yours: copy it over the repository\'s (into the repository\'s '
        'source/<assignment>/ where it has none), which makes your edit the course\'s source; or take the '
        'repository\'s: move yours out of the course folder (for one you deleted, copy the repository\'s '
        'back). Then release again.'
    )
    return '\n'.join(lines)


def sync_source(course_folder, wanted):
    """Brings `course_folder`/source/ up to date with `wanted` ({path under
    source/: the repository's file}) as the module's docstring says, and
    records what it took. Returns the files kept as the teacher changed them
    that differ from the repository's; raises SourceConflict, having changed
    nothing, where a file changed on both sides."""
    course_folder = Path(course_folder)
    source_folder = course_folder / 'source'
    recorded = read_manifest(course_folder)
    take, delete, kept, conflicts = compare(source_folder, wanted, recorded)
    partial = course_folder / PARTIAL_NAME
    if conflicts:
        raise SourceConflict(conflict_message(source_folder, wanted, conflicts, recorded))
    source_folder.mkdir(parents=True, exist_ok=True)
    for name in take:
        target = source_folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, lambda path, name=name: shutil.copy2(wanted[name], path), partial)
    for name in delete:
        (source_folder / name).unlink()
        # A folder the repository no longer has would still be an assignment to nbgrader
        for folder in (source_folder / name).parents:
            if folder == source_folder or any(folder.iterdir()):
                break
            folder.rmdir()
    files = {name: digest(path) for name, path in wanted.items()}
    write_atomically(course_folder / MANIFEST_NAME, lambda path: path.write_text(json.dumps(
        {'about': 'the sha256 of each file that classroom/grading/commands.py release last took from the repository '
                  'into source/: a file that differs from it there was changed in this folder',
         'files': files}, indent=1, sort_keys=True)), partial)
    return kept
