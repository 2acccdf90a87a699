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
  (their ctime, which no user can set back). Anything else is refused,
  named in the teacher's log and in a list at the end, and never collected.

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
        file's owner again as it is read: one changed since it was verified is
        not collected."""
        owner = os.lstat(src).st_uid
        partial = f'{dest}.partial'
        try:
            copy_owned_tree(src, partial, owner)
        except RefusedHandIn as why:
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


def read_owned_file(path, uid, folder_fd=None):
    """The bytes of the plain file `path` (a name in `folder_fd` if given) of
    the account `uid`, opened without following a link; RefusedHandIn if it
    is none, or changed while read."""
    try:
        descriptor = os.open(path, NO_LINK, dir_fd=folder_fd)
    except OSError as error:
        raise RefusedHandIn(f'{path} cannot be read as a plain file ({error.strerror})') from None
    with os.fdopen(descriptor, 'rb') as file:
        before = checked(os.fstat(descriptor), path, uid)
        if not stat.S_ISREG(before.st_mode):
            raise RefusedHandIn(f'{path} is not a plain file')
        content = file.read()
        if os.fstat(descriptor).st_ctime_ns != before.st_ctime_ns:
            raise RefusedHandIn(f'{path} changed while it was collected')
    return content


def copy_owned_tree(source, target, uid, source_fd=None):
    """Copies the folder `source` (a name in `source_fd` if given) into
    `target`, a new folder, reading every folder and file through a
    descriptor opened without following links and checking it is the
    account `uid`'s."""
    try:
        descriptor = os.open(source, NO_LINK | os.O_DIRECTORY, dir_fd=source_fd)
    except OSError as error:
        raise RefusedHandIn(f'{source} cannot be read as a folder ({error.strerror})') from None
    try:
        checked(os.fstat(descriptor), source, uid)
        os.mkdir(target)
        for entry in os.scandir(descriptor):
            inside = os.path.join(target, entry.name)
            if entry.is_dir(follow_symlinks=False):
                copy_owned_tree(entry.name, inside, uid, source_fd=descriptor)
            else:
                content = read_owned_file(entry.name, uid, folder_fd=descriptor)
                with open(inside, 'xb') as copy:
                    copy.write(content)
    finally:
        os.close(descriptor)
