"""The learners' course copied into a home folder, run AS THE HOME'S OWNER
(preparation.py starts it as that account at each start of their server).

Root never writes into a home a user controls: a symlink a student put in
~/course (to /etc/cron.d/..., to a root-owned program) would make root
write, or chown, where the link points. Run as the student, the copy can
only reach what the student could write anyway. It also refuses symlinks on
its own (a link in the home is never followed nor replaced), and copies only
what is missing: a learner's work is never overwritten.

    python -m classroom.hub.home_copy SOURCE TARGET   # prints each file copied, one a line
"""
import os
import shutil
import sys
from pathlib import Path


def copy_missing(source, target):
    """Copies every file of `source` that `target` lacks; anything already at
    a path in `target` (a learner's work, a folder, a symlink, even a broken
    one) is left as it is, and nothing below a symlink is entered. Returns
    the files copied."""
    source, target = Path(source), Path(target)
    copied = []
    if not os.path.lexists(target):
        target.mkdir()
    if target.is_symlink() or not target.is_dir():
        return copied
    for folder, folders, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        # Folders the home holds as something else (a link, a file) are not entered
        for name in list(folders):
            destination = target / relative / name
            if not os.path.lexists(destination):
                destination.mkdir()
            elif destination.is_symlink() or not destination.is_dir():
                folders.remove(name)
        for name in sorted(files):
            destination = target / relative / name
            if not os.path.lexists(destination):
                shutil.copy(source / relative / name, destination, follow_symlinks=False)
                copied.append(destination)
    return sorted(copied)


if __name__ == '__main__':
    for path in copy_missing(*sys.argv[1:3]):
        print(path)
