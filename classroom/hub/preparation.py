"""What the class's JupyterHub needs on this machine, made by `make hub` (as
root) and by the hub itself before it starts a user's server.

jupyterhub_config.py calls `prepare` each time the hub starts: it writes,
under the class's folder (readable by every user), the learners' course (no
solutions), the nbgrader settings that every server reads into the
environment the servers run from, the settings only students' servers read
(no formgrader), and the exchange folder, with the permissions nbgrader
documents. The course's own clone must stay private to
root: it holds the teachers' solutions, so `prepare` refuses to go on while
another user could read them.

Before the hub starts someone's server (jupyterhub_config.py's
pre_spawn_hook), `open_account` makes their Unix account if it is missing
(a home folder readable by them alone; in the course's group), copies the
learners' course into ~/course (only files that are not there yet: a
learner's work is never overwritten) and, for a teacher, makes the nbgrader
course ~/teaching (source/ and release/ of every exercise) on first start.
Nothing root does for a user goes through a path the user controls: the copy
runs as the user (home_copy.py), the teacher's course is built where only
root reaches it, and moved into the home by the teacher's own account.
"""
import grp
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from classroom.course import COURSE_ROOT, EXERCISES

LEARNERS_COURSE = 'learners-course'
# The nbgrader settings of every server (beside this file): they import the
# grading rules from the course's package, installed in the servers' environment
NBGRADER_SETTINGS = Path(__file__).with_name('nbgrader_config.py')
# The settings of every Jupyter program on the hub (beside this file): kernels over Unix sockets
JUPYTER_SETTINGS = Path(__file__).with_name('jupyter_config.py')
# The course's Jupyter settings (.jupyter/README.md) that every server gets too
QUIET_START = ['jupyter_server_config.json', 'labconfig/default_setting_overrides.json']
# The Jupyter settings only students' servers read (jupyterhub_config.py puts
# this folder, under the class's folder, in their JUPYTER_CONFIG_PATH)
STUDENTS_SETTINGS = 'students-jupyter'
# What only a teacher's server offers: nbgrader's formgrader and list of
# courses to grade (server extensions), and the JupyterLab plugins that open
# them or the Create Assignment sidebar. A student's Nbgrader menu then keeps
# only Assignment List: the menu plugin adds an item for every command, and
# JupyterLab hides the items whose command no plugin defined
TEACHERS_SERVER_EXTENSIONS = ['nbgrader.server_extensions.formgrader', 'nbgrader.server_extensions.course_list']
TEACHERS_LAB_PLUGINS = ['@jupyter/nbgrader:formgrader', '@jupyter/nbgrader:course-list',
                        '@jupyter/nbgrader:create-assignment']
# Where a learner's copy of the course and a teacher's nbgrader course lie
COURSE_IN_HOME = 'course'
TEACHING_IN_HOME = 'teaching'
# The exchange root is shared by every user, as /tmp is: anyone may create,
# nobody may delete what another made (nbgrader asks for ugo+rw)
EXCHANGE_MODE = 0o1777


def settings_folder(environment):
    """Where an environment's Jupyter reads settings for every user."""
    return Path(environment) / 'etc' / 'jupyter'


def readable_by_others(path):
    """Whether any user of this machine can read `path`: every folder above it
    can be crossed, and `path` read, by 'others' (permission bits)."""
    path = Path(path).resolve()
    for parent in reversed(path.parents):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def refuse_readable_solutions(course_root=COURSE_ROOT):
    """Fails, saying how to fix it, where a student's Unix account could read
    the teachers' versions of the exercises (their solutions and hidden tests)."""
    readable = [path for path in EXERCISES if readable_by_others(Path(course_root) / path.relative_to(COURSE_ROOT))]
    if readable:
        raise PermissionError(
            f'{readable[0]} (and {len(readable) - 1} more) can be read by every user of this machine, students '
            f'included: it holds solutions. Make the clone private first: chmod -R go-rwx {course_root}'
        )


def learners_course(folder):
    """Writes the learners' version of the course (no solutions) into `folder`.
    The one place the hub depends on the course's layout."""
    from classroom.student_copies import build_student_copies

    build_student_copies(folder)


def make_world_readable(folder):
    """Lets every user read `folder` (files) and enter its folders."""
    for path in [Path(folder), *Path(folder).rglob('*')]:
        extra = stat.S_IROTH | stat.S_IRGRP | (stat.S_IXOTH | stat.S_IXGRP if path.is_dir() else 0)
        path.chmod(path.stat().st_mode | extra)


def students_settings(folder):
    """Writes into `folder` the Jupyter settings that turn the teachers' parts
    of nbgrader off (server extensions and JupyterLab plugins); the assignment
    list and the Validate button stay."""
    folder = Path(folder)
    (folder / 'labconfig').mkdir(parents=True, exist_ok=True)
    server = {'ServerApp': {'jpserver_extensions': {name: False for name in TEACHERS_SERVER_EXTENSIONS}}}
    (folder / 'jupyter_server_config.json').write_text(json.dumps(server, indent=2) + '\n')
    lab = {'disabledExtensions': {name: True for name in TEACHERS_LAB_PLUGINS}}
    (folder / 'labconfig' / 'page_config.json').write_text(json.dumps(lab, indent=2) + '\n')


def prepare(prefix, exchange, environment=sys.prefix):
    """Everything the hub needs besides its environment (`environment`, the
    one the servers run from): the learners' course under `prefix`, the
    servers' nbgrader settings, the students' own settings and the exchange
    folder."""
    refuse_readable_solutions()
    prefix = Path(prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    prefix.chmod(0o755)
    course = prefix / LEARNERS_COURSE
    learners_course(course)
    make_world_readable(course)
    settings = settings_folder(environment)
    copy_nbgrader_settings(settings)
    # The course's quiet start (no news, no update checks), as make lab has it
    for name in QUIET_START:
        (settings / name).parent.mkdir(exist_ok=True)
        shutil.copy(COURSE_ROOT / '.jupyter' / name, settings / name)
    kernels_over_unix_sockets(settings)
    make_world_readable(settings)
    # Root's: a student reads them, and cannot change them for every student
    students_settings(prefix / STUDENTS_SETTINGS)
    make_world_readable(prefix / STUDENTS_SETTINGS)
    make_exchange(exchange)


def kernels_over_unix_sockets(folder):
    """Copies the settings of every Jupyter program (jupyter_config.py: kernels
    over Unix sockets, which no other user can reach) into `folder`."""
    shutil.copy(JUPYTER_SETTINGS, Path(folder) / JUPYTER_SETTINGS.name)


def copy_nbgrader_settings(folder):
    """Copies the servers' nbgrader settings into `folder`."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(NBGRADER_SETTINGS, Path(folder) / NBGRADER_SETTINGS.name)


def make_exchange(exchange):
    """The exchange root, with the permissions nbgrader documents."""
    exchange = Path(exchange)
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(EXCHANGE_MODE)


# The course's folder in the exchange and what is in it, made by root for a
# teacher: the released assignments readable by all; the hand-ins' folder
# writable by all but listed by the teacher alone, its files taking the
# teacher's group (set-group-id), and sticky: only a hand-in's owner (and the
# teacher) may rename or delete it
COURSE_EXCHANGE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = 0o3733


# How many times open_course_exchange moves aside a folder a student makes
# again as fast as it is moved, before it gives up
MOVES_ASIDE = 5


def open_course_exchange(exchange, course_id, teacher, teachers):
    """The course's folder in the exchange (`exchange`/`course_id`), made for
    the account `teacher` with its outbound and inbound folders, so that no
    student can make it first and block the teachers' release. One made by an
    account outside `teachers` (names), or a link, is moved aside (to a
    hidden name beside it that nobody can guess beforehand, reported), never
    followed. Root works through descriptors opened without following links,
    in the exchange root, which is root's (sticky: no user can move what root
    made)."""
    account = pwd.getpwnam(teacher)
    teacher_ids = {entry.pw_uid for entry in pwd.getpwall() if entry.pw_name in set(teachers)}
    root = os.open(exchange, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        # A student may make the folder again between its move and root's mkdir: tried again, a few times
        for _ in range(MOVES_ASIDE):
            try:
                found = os.stat(course_id, dir_fd=root, follow_symlinks=False)
            except FileNotFoundError:
                found = None
            if found is not None and not (stat.S_ISDIR(found.st_mode) and found.st_uid in teacher_ids):
                _move_aside(exchange, root, course_id, found, teacher)
                found = None
            if found is not None and found.st_uid != account.pw_uid:
                return  # another teacher's: nbgrader's release wants one owner
            try:
                course = _owned_folder(root, course_id, account, COURSE_EXCHANGE_MODE, make=found is None)
            except FileExistsError:
                continue
            break
        else:
            raise PermissionError(f'{Path(exchange) / course_id} was made again by another user each time it was '
                                  f'moved aside ({MOVES_ASIDE} times): look at who makes it (ls -la {exchange}), '
                                  f'then start the server of {teacher} again')
        try:
            for name, mode in (('outbound', OUTBOUND_MODE), ('inbound', INBOUND_MODE)):
                os.close(_owned_folder(course, name, account, mode))
        finally:
            os.close(course)
    finally:
        os.close(root)


def _move_aside(exchange, root, course_id, found, teacher):
    """Moves `course_id` (a name in the folder open as `root`, whose status is
    `found`) aside to a hidden name of its own nobody could make beforehand
    (random), and says so."""
    aside = f'.{course_id}.refused-{found.st_uid}-{secrets.token_hex(8)}'
    try:
        os.rename(course_id, aside, src_dir_fd=root, dst_dir_fd=root)
    except FileNotFoundError:
        return  # gone meanwhile: made again below
    except OSError as error:
        raise PermissionError(f'{Path(exchange) / course_id} was made by user id {found.st_uid}, not by a teacher, '
                              f'and could not be moved aside ({error.strerror}): remove it (as root), then start the '
                              f'server of {teacher} again') from None
    print(f'{Path(exchange) / course_id} was made by user id {found.st_uid}, not by a teacher: moved '
          f'aside to {Path(exchange) / aside}, and made again for {teacher}', flush=True)


def _owned_folder(parent, name, account, mode, make=None):
    """A descriptor of the folder `name` in the folder open as `parent`,
    made for `account` with `mode` if missing (or if `make`); an existing
    one, if `account`'s, gets `mode`'s special bits (a release by nbgrader
    makes inbound without the sticky one)."""
    if make is None:
        try:
            os.stat(name, dir_fd=parent, follow_symlinks=False)
            make = False
        except FileNotFoundError:
            make = True
    if make:
        os.mkdir(name, 0o700, dir_fd=parent)
        os.chown(name, account.pw_uid, account.pw_gid, dir_fd=parent, follow_symlinks=False)
    folder = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    status = os.fstat(folder)
    if make:
        os.fchmod(folder, mode)
    elif status.st_uid == account.pw_uid:
        os.fchmod(folder, stat.S_IMODE(status.st_mode) | (mode & 0o7000))
    return folder


# Held while an account is checked or made (ensure_account)
ACCOUNTS_BEING_MADE = threading.Lock()


def ensure_group(group):
    """Makes the Unix group `group` if it is missing."""
    try:
        grp.getgrnam(group)
    except KeyError:
        subprocess.run(['groupadd', group], check=True)


def ensure_account(name, group):
    """The Unix account `name` (its pwd entry), made if missing: a group of its
    own, a home folder only its owner can read, and a member of `group`. An
    account that exists outside `group` is not the course's: refused (a hub
    user named root or daemon must never get a server)."""
    # One at a time: the hub makes accounts in threads, one per server
    # starting, and two of them could both find the group missing and make
    # it (the second groupadd fails), or both edit /etc/group at once
    with ACCOUNTS_BEING_MADE:
        ensure_group(group)
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(['useradd', '--create-home', '--shell', '/bin/bash', '--groups', group, name], check=True)
            account = pwd.getpwnam(name)
            Path(account.pw_dir).chmod(0o700)
            return account
    if name not in grp.getgrnam(group).gr_mem:
        raise PermissionError(f'the Unix account {name} exists and is not in the course group {group}: '
                              f'refusing to start a server as it; choose another user name')
    return account


# How long a command run as a user before their server starts (as_account)
# may take: it runs outside the server's limits, and the hub waits for it
AS_ACCOUNT_TIMEOUT = 300


def as_account(account, *command, timeout=AS_ACCOUNT_TIMEOUT):
    """Runs `command` as `account` (its own groups only, in its home), from
    the servers' environment; returns its output, or fails with it, or after
    `timeout` seconds."""
    try:
        done = subprocess.run(
            command, user=account.pw_uid, group=account.pw_gid,
            extra_groups=os.getgrouplist(account.pw_name, account.pw_gid), umask=0o022, cwd=account.pw_dir,
            env={'HOME': account.pw_dir, 'USER': account.pw_name,
                 'PATH': f'{Path(sys.executable).parent}:/usr/bin:/bin'},
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f'{" ".join(command)} as {account.pw_name} did not end within {timeout} s: stopped, and '
                           f'their server not started; look for what in their home makes it hang, then start it '
                           f'again') from None
    if done.returncode:
        raise RuntimeError(f'{" ".join(command)} as {account.pw_name} failed: {done.stderr or done.stdout}')
    return done.stdout


def copy_missing(source, target, account):
    """Copies every file of `source` that `target` (in `account`'s home)
    lacks, as `account` itself (home_copy.py says why); returns the files copied.
    Python in isolated mode (-I): run from the home, it would otherwise import
    a ~/classroom package, or a .pth file of ~/.local, that the user wrote,
    before their server's limits apply."""
    copied = as_account(account, sys.executable, '-I', '-m', 'classroom.hub.home_copy', str(source), str(target))
    return [Path(line) for line in copied.splitlines()]


def give_tree(folder, account):
    """Gives `folder`, a tree root made and still holds, to `account`: deepest
    first, so that every path root changes runs through folders that are
    still root's (a link the new owner put in would be followed otherwise)."""
    for parent, folders, files in os.walk(folder, topdown=False):
        for name in folders + files:
            os.chown(Path(parent) / name, account.pw_uid, account.pw_gid, follow_symlinks=False)
    os.chown(folder, account.pw_uid, account.pw_gid, follow_symlinks=False)


def teaching_course(folder, account, prefix):
    """The teacher's nbgrader course (source/, release/ and gradebook.db of
    every exercise) at `folder`, in their home, made once: anything already
    there (even a broken symlink) is the teacher's. Built by root where only
    root can reach it (under `prefix`), given to the teacher, then moved into
    the home by the teacher's own account: root never writes in the home."""
    from classroom.grading.commands import release

    if os.path.lexists(folder):
        return
    building = Path(tempfile.mkdtemp(prefix='teaching-', dir=prefix))
    try:
        # The hub hands the servers nbgrader's settings (classroom/hub/); a
        # course config pointing into the teacher's clone could not be read there
        release(building / 'teaching', course_config=False)
        give_tree(building, account)
        # mv -n: never over what the teacher made there meanwhile
        as_account(account, 'mv', '--no-clobber', '--no-target-directory', str(building / 'teaching'), str(folder))
    finally:
        # Symlink-safe (file descriptors, never following links)
        shutil.rmtree(building)


def teachers_group(group):
    """The Unix group of the teachers of the class whose accounts are in
    `group`: it may read what only teachers may (the LTI folder)."""
    return f'{group}-teachers'


def set_teacher(name, group, teacher):
    """Puts the account `name` in the teachers' group of `group` (made if
    missing), or takes it out, as `teacher` says: a teacher who lost the role
    loses the group at their next start."""
    teachers = teachers_group(group)
    with ACCOUNTS_BEING_MADE:
        ensure_group(teachers)
        member = name in grp.getgrnam(teachers).gr_mem
        if teacher != member:
            subprocess.run(['gpasswd', '--add' if teacher else '--delete', name, teachers], check=True,
                           capture_output=True)


def open_account(name, group, prefix, teacher=False, teachers_group_too=False):
    """Makes `name`'s account and home ready for their server (see the module's
    docstring); with `teachers_group_too`, puts a teacher in the teachers'
    group and takes anyone else out of it. Returns the account's pwd entry."""
    account = ensure_account(name, group)
    if teachers_group_too:
        set_teacher(name, group, teacher)
    home = Path(account.pw_dir)
    copy_missing(Path(prefix) / LEARNERS_COURSE, home / COURSE_IN_HOME, account)
    if teacher:
        teaching_course(home / TEACHING_IN_HOME, account, prefix)
    return account
