"""`make hub-backup` and `make hub-restore`: the class's hub in one file,
and back onto a fresh machine. As root.

A backup holds the hub's own state (its user database with every sign-up
and password hash, and the cookie secret), the exchange (released
assignments, every hand-in, feedback) and the home folder of every account
of the course's group (the students' work; the teacher's ~/teaching with
the gradebook), with a list of those accounts. Each home is read and
written by its own account (tar run as that user): root never reads or
writes through a path a user controls. The exchange is read by root's tar,
which stores links as links and follows none.

A backup is written under a temporary name and linked to its own name,
which never replaces a file: no backup is ever overwritten.

Restoring is for a fresh machine (or one whose class was removed): it makes
each account again (new user ids perhaps: files take their owner by name),
then its home, the exchange and the hub's state. It refuses where any of
them already exists, rather than mixing two terms.

    python -m classroom.hub.backup create FOLDER    # prints the backup's path
    python -m classroom.hub.backup restore BACKUP
The class's folder and group come from COURSE_HUB_FOLDER and COURSE_HUB_GROUP,
as for the hub (jupyterhub_config.py).
"""
import argparse
import grp
import json
import os
import pwd
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from classroom.hub import preparation

STATE = 'hub-state'
DATABASE = 'jupyterhub.sqlite'
COOKIE_SECRET = 'jupyterhub_cookie_secret'
EXCHANGE = 'exchange'
MANIFEST = 'accounts.json'


def class_settings():
    """(the class's folder, the course's Unix group), as the hub reads them."""
    return (Path(os.environ.get('COURSE_HUB_FOLDER', '/srv/pytorch-course')),
            os.environ.get('COURSE_HUB_GROUP', 'pytorch-course'))


def accounts_of(group):
    """The pwd entries of the course group's members."""
    return [pwd.getpwnam(name) for name in sorted(grp.getgrnam(group).gr_mem)]


def home_archive(account, archive):
    """Writes `account`'s home into the tar file `archive`, read by the account itself."""
    with open(archive, 'wb') as out:
        done = subprocess.run(['tar', '--create', '--sparse', '--file=-', '--directory', account.pw_dir, '.'],
                              stdout=out, stderr=subprocess.PIPE, text=True, user=account.pw_uid,
                              group=account.pw_gid, extra_groups=[], cwd='/')
    if done.returncode:
        raise RuntimeError(f'the home of {account.pw_name} could not be read whole: {done.stderr}')


def create(folder, class_folder, group):
    """Writes a backup of the class into `folder`; returns its path."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f'pytorch-course-{time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}.tar'
    with tempfile.TemporaryDirectory(dir=folder, prefix='.partial-') as staging:
        staging = Path(staging)
        accounts = accounts_of(group)
        (staging / MANIFEST).write_text(json.dumps({'group': group, 'accounts': [
            {'name': account.pw_name} for account in accounts]}, indent=2))
        (staging / 'homes').mkdir()
        for account in accounts:
            home_archive(account, staging / 'homes' / f'{account.pw_name}.tar')
        # The hub's database as one consistent snapshot, even while the hub writes to it
        (staging / STATE).mkdir()
        state = class_folder / STATE
        with sqlite3.connect(state / DATABASE) as source, sqlite3.connect(staging / STATE / DATABASE) as copy:
            source.backup(copy)
        (staging / STATE / COOKIE_SECRET).write_bytes((state / COOKIE_SECRET).read_bytes())
        subprocess.run(['tar', '--create', '--sparse', f'--file={staging / "exchange.tar"}', '--directory',
                        str(class_folder / EXCHANGE), '.'], check=True)
        partial = staging / 'backup.tar'
        with tarfile.open(partial, 'w') as archive:
            for path in sorted(staging.iterdir()):
                if path != partial:
                    archive.add(path, arcname=path.name)
        os.chmod(partial, 0o600)
        # A link fails where the name is taken: an existing backup stays as it is
        os.link(partial, target)
    return target


def refuse_existing(class_folder, names):
    """Fails, saying what, where restoring would mix with what is there."""
    there = [name for name in names if _account_exists(name)]
    if there:
        raise SystemExit(f'the accounts {", ".join(there)} exist already: a backup is restored onto a fresh machine '
                         f'(or after removing them: userdel -r NAME)')
    for path in (class_folder / STATE / DATABASE, class_folder / EXCHANGE):
        if path.exists():
            raise SystemExit(f'{path} exists already: move it away first (a backup is restored onto a fresh hub)')


def _account_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def restore(backup, class_folder, group):
    """Brings the class of `backup` back (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix='course-restore-') as unpacked:
        unpacked = Path(unpacked)
        with tarfile.open(backup) as archive:
            # Our own layout: plain files and folders with plain relative names, nothing else
            strange = [member.name for member in archive if not (member.isfile() or member.isdir())
                       or member.name.startswith('/') or '..' in Path(member.name).parts]
            if strange:
                raise SystemExit(f'{backup} is not a backup of the class\'s hub (it holds {strange[0]})')
            archive.extractall(unpacked)
        manifest = json.loads((unpacked / MANIFEST).read_text())
        names = [account['name'] for account in manifest['accounts']]
        refuse_existing(class_folder, names)
        class_folder.mkdir(parents=True, exist_ok=True)
        class_folder.chmod(0o755)
        for name in names:
            account = preparation.ensure_account(name, group)
            # Read through a descriptor opened by root, written by the account: root writes nothing in the home
            with open(unpacked / 'homes' / f'{name}.tar', 'rb') as home:
                done = subprocess.run(['tar', '--extract', '--file=-', '--preserve-permissions', '--directory',
                                       account.pw_dir], stdin=home, capture_output=True, text=True,
                                      user=account.pw_uid, group=account.pw_gid, extra_groups=[], cwd='/')
            if done.returncode:
                raise RuntimeError(f'the home of {name} could not be restored: {done.stderr}')
        # Root's tar gives each file of the exchange to its owner, by name
        (class_folder / EXCHANGE).mkdir()
        subprocess.run(['tar', '--extract', f'--file={unpacked / "exchange.tar"}', '--same-owner',
                        '--preserve-permissions', '--directory', str(class_folder / EXCHANGE)], check=True)
        state = class_folder / STATE
        state.mkdir(mode=0o700, exist_ok=True)
        for name in (DATABASE, COOKIE_SECRET):
            (state / name).write_bytes((unpacked / STATE / name).read_bytes())
            (state / name).chmod(0o600)
    return names


def main(arguments=None):
    """The command line (the module's docstring): `arguments`, or sys.argv's."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('create', help='writes a backup into FOLDER').add_argument('folder')
    commands.add_parser('restore', help='restores BACKUP onto a fresh machine').add_argument('backup')
    arguments = parser.parse_args(arguments)
    if os.geteuid() != 0:
        sys.exit('Backups of the class\'s hub are made and restored as root (sudo make hub-backup).')
    class_folder, group = class_settings()
    if arguments.command == 'create':
        print(create(arguments.folder, class_folder, group))
    else:
        restored = restore(Path(arguments.backup), class_folder, group)
        print(f'restored {len(restored)} accounts, their homes, the exchange and the hub\'s state into {class_folder}')


if __name__ == '__main__':
    main()
