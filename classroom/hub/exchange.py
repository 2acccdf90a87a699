"""nbgrader's exchange as the class uses it: a hand-in is its account's,
whatever name it carries.

nbgrader 0.9.6's exchange trusts names: `nbgrader submit --student=alice`
hands in as alice whoever runs it, a folder written straight into the
inbound folder under alice's name is collected as hers (with a log
warning), and the time in its name and its timestamp.txt, which the writer
chooses, decide which hand-in counts and whether it was late. Here:

- PrivateSubmit hands in as the account running it only, and leaves the
  hand-in readable by that account and the teacher alone (nbgrader's makes it
  readable by every user who learns its name).
- VerifiedCollect collects a hand-in only if the Unix account named in it
  wrote it (the owner of its folder and of every file in it, read without
  following a link), its name and timestamp.txt say the same time, that time
  is not in the future, and the files were not written later than it says
  (their ctime, which no user can set back; checked again on each file as
  it is copied), and no file is bigger than nbgrader's max_file_size (copied
  a chunk at a time). Anything else is refused, named in the teacher's log
  and in a list at the end, and never collected; a hand-in gone meanwhile
  too, and the collect goes on.

The inbound folder's sticky bit (preparation.py makes the course's folder
in the exchange for the teacher, as root) keeps a student from renaming or
deleting another's hand-in. classroom/hub/nbgrader_config.py makes these the
exchange's submit and collect."""
import datetime
import glob
import os
import pwd
import shutil
import stat
from collections import defaultdict
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import get_osusername, parse_utc

# How long a submit may take from the time it records to its last write (it
# copies the assignment twice: nbgrader's copy, then PrivateSubmit's)
SUBMIT_TAKES_AT_MOST = datetime.timedelta(minutes=2)
# Clocks read by two processes of one machine: a little slack
CLOCK_SLACK = datetime.timedelta(seconds=5)
# Opening a hand-in's files: never through a link; a FIFO must not block
NO_LINK = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


class PrivateSubmit(ExchangeSubmit):
    """ExchangeSubmit that hands in as the account running it only, and whose
    copy in the exchange only its owner and the inbound folder's group (the
    teacher's) can read."""

    def init_dest(self):
        account = get_osusername()
        if self.coursedir.student_id not in ('*', account):
            self.fail(f'You are {account}: you can hand in as yourself only, not as {self.coursedir.student_id}. '
                      f'Leave out --student.')
        super().init_dest()

    def copy_files(self):
        super().copy_files()
        inbound = Path(self.inbound_path)
        submission = inbound / self.assignment_filename
        # nbgrader's copy lost the inbound folder's group on the way (its
        # timestamp and secret are the student's group), and an owner outside
        # a group cannot give a file to it: copied again into a folder made in
        # inbound, whose files take inbound's group, then put in its place
        fresh = inbound / f'{self.assignment_filename}.private'
        shutil.copytree(submission, fresh, copy_function=shutil.copyfile)
        for path in [fresh, *fresh.rglob('*')]:
            # Folders stay writable by the group: the teacher may remove them
            path.chmod(stat.S_IRWXU | stat.S_IRWXG if path.is_dir() else stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
        shutil.rmtree(submission)
        fresh.rename(submission)
        wrong_group = [path for path in submission.rglob('*') if path.stat().st_gid != inbound.stat().st_gid]
        if wrong_group:
            self.fail(f'{wrong_group[0]} did not take the group of {inbound}: the teacher could not read it')


class RefusedHandIn(Exception):
    """A hand-in in the exchange that its name's student did not make as it says."""


class VerifiedCollect(ExchangeCollect):
    """ExchangeCollect that collects only the hand-ins the account they name
    wrote, at the time they say (module docstring); the others are refused,
    reported and left where they are."""

    def _path_to_record(self, path):
        # nbgrader's own pass over the inbound folder (in init_src) fails
        # on a name it cannot read: here the hand-ins are verified afterwards
        try:
            return super()._path_to_record(path)
        except Exception:
            return {'username': None, 'filename': os.path.basename(path), 'timestamp': datetime.datetime.min}

    def init_src(self):
        super().init_src()
        student = self.coursedir.student_id or '*'
        pattern = os.path.join(self.inbound_path, f'{student}+{self.coursedir.assignment_id}+*')
        self.refused = []
        verified = defaultdict(list)
        for path in sorted(glob.glob(pattern)):
            try:
                record = verified_hand_in(path)
            except RefusedHandIn as why:
                self.refused.append(f'{os.path.basename(path)}: {why}')
                self.log.error('Refused, not collected: %s', self.refused[-1])
            else:
                verified[record['username']].append(record)
        self.src_records = [self.chosen(records) for records in verified.values()]

    def chosen(self, records):
        """The hand-in that counts among a student's verified ones, as
        nbgrader chooses: the last, or with --before-duedate the last on time."""
        records = self._sort_by_timestamp(records)
        if self.duedate is not None and self.before_duedate:
            return ([record for record in records if record['timestamp'] <= self.duedate] or records)[0]
        return records[0]

    def do_copy(self, src, dest, log=None):
        """Copies a verified hand-in without following a link, checking each
        file's owner, size and time of writing again as it is read: one
        changed since it was verified, gone, or over nbgrader's
        max_file_size, is not collected."""
        partial = f'{dest}.partial'
        # Left by a collect that stopped half-way: the copy starts again
        shutil.rmtree(partial, ignore_errors=True)
        try:
            handed_in = parse_utc(os.path.basename(src).split('+')[2])
            written_by = (handed_in + SUBMIT_TAKES_AT_MOST).replace(tzinfo=datetime.timezone.utc).timestamp()
            copy_owned_tree(src, partial, os.lstat(src).st_uid, written_by, self.coursedir.max_file_size * 1024)
        except (RefusedHandIn, OSError) as why:
            shutil.rmtree(partial, ignore_errors=True)
            self.refused.append(f'{os.path.basename(src)}: {why}')
            self.log.error('Refused, not collected: %s', self.refused[-1])
            return
        os.rename(partial, dest)

    def copy_files(self):
        super().copy_files()
        if self.refused:
            self.log.error('%d hand-in(s) in the exchange refused and not collected (written by another account '
                           'than the one named, or not when they say):\n  %s',
                           len(self.refused), '\n  '.join(self.refused))


def verified_hand_in(path):
    """nbgrader's record ({'username', 'filename', 'timestamp'}) of the hand-in
    at `path`, a folder of the inbound folder; RefusedHandIn, saying why,
    unless its student's account wrote it when it says."""
    name = os.path.basename(path)
    parts = name.split('+')
    if len(parts) not in (3, 4):
        raise RefusedHandIn('not a name nbgrader gives a hand-in (student+assignment+time+random)')
    student, when = parts[0], parts[2]
    try:
        handed_in = parse_utc(when)
    except (ValueError, OverflowError):
        raise RefusedHandIn(f'{when!r} in its name is not a time') from None
    try:
        account = pwd.getpwnam(student)
    except KeyError:
        raise RefusedHandIn(f'no account is named {student}') from None
    written = owned_tree_times(path, account.pw_uid)
    stamp = read_owned_file(os.path.join(path, 'timestamp.txt'), account.pw_uid).decode(errors='replace').strip()
    try:
        stamped = parse_utc(stamp)
    except (ValueError, OverflowError):
        raise RefusedHandIn(f'its timestamp.txt holds {stamp[:40]!r}, not a time') from None
    if stamped != handed_in:
        raise RefusedHandIn(f'its timestamp.txt says {stamp}, its name {when}')
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if handed_in > now + CLOCK_SLACK:
        raise RefusedHandIn(f'handed in at {when}, a time still to come')
    last_written = max(written)
    if last_written - handed_in > SUBMIT_TAKES_AT_MOST:
        raise RefusedHandIn(f'says it was handed in at {when}, but its files were written until {last_written} UTC '
                            f'(backdated, or changed after handing in)')
    return {'username': student, 'filename': name, 'timestamp': handed_in}


def owned_tree_times(path, uid):
    """The times (UTC) each folder and file under `path` was last changed
    (ctime), path included; RefusedHandIn if one is a link, not a folder or
    a plain file, or not the account `uid`'s."""
    def unreadable(error):
        raise RefusedHandIn(f'{error.filename} cannot be read ({error.strerror})')

    times = []
    for folder, folders, files in os.walk(path, onerror=unreadable):
        for entry in [folder, *(os.path.join(folder, name) for name in folders + files)]:
            times.append(checked(os.lstat(entry), entry, uid).st_ctime)
    return [datetime.datetime.fromtimestamp(time, datetime.timezone.utc).replace(tzinfo=None) for time in times]


def checked(status, path, uid):
    """`status` (os.stat_result of `path`) if it is a folder or a plain file
    of the account `uid`; else RefusedHandIn."""
    if not (stat.S_ISDIR(status.st_mode) or stat.S_ISREG(status.st_mode)):
        raise RefusedHandIn(f'{path} is a link or a special file')
    if status.st_uid != uid:
        try:
            writer = pwd.getpwuid(status.st_uid).pw_name
        except KeyError:
            writer = f'user id {status.st_uid}'
        raise RefusedHandIn(f'{path} was written by {writer}, not by the student it names')
    return status


def open_owned_file(path, uid, folder_fd=None, max_size=None):
    """(a file object, its os.stat_result) of the plain file `path` (a name
    in `folder_fd` if given) of the account `uid`, opened without following a
    link; RefusedHandIn if it is none, or is bigger than `max_size` bytes."""
    try:
        descriptor = os.open(path, NO_LINK, dir_fd=folder_fd)
    except OSError as error:
        raise RefusedHandIn(f'{path} cannot be read as a plain file ({error.strerror})') from None
    file = os.fdopen(descriptor, 'rb')
    try:
        status = checked(os.fstat(descriptor), path, uid)
        if not stat.S_ISREG(status.st_mode):
            raise RefusedHandIn(f'{path} is not a plain file')
        if max_size is not None and status.st_size > max_size:
            raise RefusedHandIn(too_big(path, status.st_size, max_size))
    except BaseException:
        file.close()
        raise
    return file, status


def too_big(path, size, max_size):
    """Why a file of `size` bytes at `path` is refused."""
    return (f"{path} holds {size} bytes, more than the {max_size} a hand-in's file may hold "
            f"(nbgrader's CourseDirectory.max_file_size)")


def unchanged(file, before, path, written_by=None):
    """RefusedHandIn if the file open as `file` changed since `before` (its
    status when opened), or was written after `written_by` (a POSIX time)."""
    after = os.fstat(file.fileno())
    if after.st_ctime_ns != before.st_ctime_ns:
        raise RefusedHandIn(f'{path} changed while it was collected')
    if written_by is not None and after.st_ctime > written_by:
        when = datetime.datetime.fromtimestamp(after.st_ctime, datetime.timezone.utc)
        raise RefusedHandIn(f'{path} was written at {when:%Y-%m-%d %H:%M:%S} UTC, after its hand-in '
                            f'(changed after handing in)')


# timestamp.txt holds one time; anything bigger is not nbgrader's
TIMESTAMP_AT_MOST = 1024


def read_owned_file(path, uid, folder_fd=None):
    """The bytes of the small plain file `path` (a name in `folder_fd` if
    given) of the account `uid`, opened without following a link;
    RefusedHandIn if it is none, bigger than TIMESTAMP_AT_MOST, or changed
    while read."""
    file, before = open_owned_file(path, uid, folder_fd, TIMESTAMP_AT_MOST)
    with file:
        content = file.read(TIMESTAMP_AT_MOST + 1)
        if len(content) > TIMESTAMP_AT_MOST:
            raise RefusedHandIn(too_big(path, len(content), TIMESTAMP_AT_MOST))
        unchanged(file, before, path)
    return content


# Files are copied a chunk at a time: a hand-in's size never sits in memory
CHUNK = 1 << 20


def copy_owned_file(name, target, uid, folder_fd, written_by, max_size):
    """Copies the plain file `name` in the folder open as `folder_fd` into the
    new file `target`, a chunk at a time, as open_owned_file and unchanged
    check it; RefusedHandIn if it grows past `max_size` bytes while read."""
    file, before = open_owned_file(name, uid, folder_fd, max_size)
    with file, open(target, 'xb') as copy:
        copied = 0
        while chunk := file.read(CHUNK):
            copied += len(chunk)
            if copied > max_size:
                raise RefusedHandIn(too_big(name, copied, max_size))
            copy.write(chunk)
        unchanged(file, before, name, written_by)


def copy_owned_tree(source, target, uid, written_by, max_size, source_fd=None):
    """Copies the folder `source` (a name in `source_fd` if given) into
    `target`, a new folder, reading every folder and file through a
    descriptor opened without following links and checking it is the
    account `uid`'s, written no later than `written_by` (a POSIX time) and,
    for a file, no bigger than `max_size` bytes; else RefusedHandIn."""
    try:
        descriptor = os.open(source, NO_LINK | os.O_DIRECTORY, dir_fd=source_fd)
    except OSError as error:
        raise RefusedHandIn(f'{source} cannot be read as a folder ({error.strerror})') from None
    try:
        status = checked(os.fstat(descriptor), source, uid)
        if status.st_ctime > written_by:
            raise RefusedHandIn(f'{source} was changed after its hand-in')
        os.mkdir(target)
        for entry in os.scandir(descriptor):
            inside = os.path.join(target, entry.name)
            if entry.is_dir(follow_symlinks=False):
                copy_owned_tree(entry.name, inside, uid, written_by, max_size, source_fd=descriptor)
            else:
                copy_owned_file(entry.name, inside, uid, descriptor, written_by, max_size)
    finally:
        os.close(descriptor)
