"""`make ddp`: trains the chapter's model data-parallel on this machine with
torchrun (model_training/data_parallel.py), one run folder per run.

Before torchrun starts, it checks the number of processes, the device and the
program's options, and reports a mistake once. Each run gets a folder of its
own under runs/data_parallel/ (checkpoint and TensorBoard logs), named by its
run id, locked until every process of the run has ended. Ctrl-C, SIGTERM and
SIGHUP stop the run at the end of the epoch, after a checkpoint, and so does
the end of make ddp itself, even by SIGKILL (classroom/tied_torchrun.py); a
signal ignored when make ddp starts stays ignored (nohup make ddp survives a
logout). When torchrun alone dies (killed, out of memory), its processes,
which Linux then tells to stop, come back to make ddp, which waits for them
to save their checkpoint and end before it starts again.
A failed attempt is started again, up to --max-restarts times, only when that
can help: after a lost process, or when it saved a newer checkpoint; never
after a configuration error. A stopped or failed run continues with --resume
(make ddp RESUME=1 for the last run, RESUME=RUN_ID for another).
"""
import argparse
import ctypes
import fcntl
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from classroom.course import COURSE_ROOT

PROGRAM = 'model_training/data_parallel.py'
RUNS_FOLDER = 'runs/data_parallel'
# The run ids that make ddp gives: its start in UTC, to the second (in the
# order of starts across a change of daylight saving time or time zone,
# which RESUME=1's last run needs), and 6 random hex digits. Other folders
# beside them (the notebook's runs) are not its own
RUN_ID = re.compile(r'\d{8}-\d{6}-[0-9a-f]{6}')
# What stops a run on purpose: Ctrl-C, kill's default, a closed terminal
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What a refusal to continue a run says would work: an order, not news that
# a run is starting
NEW_RUN = 'start a new run with make ddp, without RESUME'


def say(message):
    """Prints one of make ddp's own lines on stderr. Neither a terminal that
    is gone (SIGHUP) nor a line said by a signal's handler while another is
    being printed (a RuntimeError: reentrant call) stops make ddp from
    stopping the run: the line is lost instead."""
    try:
        print(f'make ddp: {message}', file=sys.stderr, flush=True)
    except (OSError, RuntimeError):
        pass


def cpu_cores():
    """The CPU cores this process may run on: in a container, or under
    taskset, fewer than the machine has."""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def number_of_processes(nproc, global_batch_size, device):
    """NPROC as a number: a whole number of at least 1 that shares
    `global_batch_size` equally, or `auto`, the largest such number up to one
    per accelerator (one per CPU core with DEVICE=cpu or no accelerator).
    Raises a ValueError naming NPROC and what would work."""
    import torch  # here, not above: a Ctrl-C while torch loads is one make ddp answers

    n_devices = torch.accelerator.device_count() if torch.accelerator.is_available() else 0
    if nproc == 'auto':
        on_the_cpu = device == 'cpu' or not n_devices
        limit = cpu_cores() if on_the_cpu else n_devices
        number = max(n for n in range(1, min(limit, global_batch_size) + 1) if global_batch_size % n == 0)
        what = f'{limit} CPU core(s)' if on_the_cpu else (
            f'{limit} {torch.accelerator.current_accelerator().type} device(s)')
        say(f'NPROC=auto: {number} processes, the most, up to this machine\'s {what}, that share a global '
            f'mini-batch of {global_batch_size} equally')
        return number
    try:
        number = int(nproc)
    except ValueError:
        number = None
    if number is None or number < 1:
        raise ValueError(f'NPROC={nproc}: the number of processes is a whole number, at least 1 (or auto)')
    if global_batch_size % number:
        working = [n for n in range(1, global_batch_size + 1) if global_batch_size % n == 0]
        raise ValueError(
            f'NPROC={nproc}: {number} processes cannot share a global mini-batch of {global_batch_size} points '
            f'equally; NPROC must divide it: one of {", ".join(map(str, working))}'
        )
    return number


def checkpoint_of(run_dir, load_checkpoint):
    """The checkpoint in `run_dir`, or None where there is none."""
    path = Path(run_dir) / 'checkpoint.pth'
    return load_checkpoint(path) if path.is_file() else None


def saved_epoch(run_dir, load_checkpoint):
    """The epoch of the checkpoint in `run_dir`, or None where there is none."""
    checkpoint = checkpoint_of(run_dir, load_checkpoint)
    return None if checkpoint is None else checkpoint['epoch']


def why_not_continued(run_dir, n_epochs, load_checkpoint):
    """Why make ddp cannot continue the run in `run_dir`, or None if it can."""
    try:
        checkpoint = checkpoint_of(run_dir, load_checkpoint)
    except Exception as error:
        return f'its checkpoint cannot be read ({error})'
    if checkpoint is None:
        return 'ended before its first checkpoint: there is nothing to continue'
    if checkpoint.get('run_id') != run_dir.name:
        return f'holds a checkpoint of run {checkpoint.get("run_id")!r}, not its own'
    if checkpoint['epoch'] >= n_epochs:
        return f'is finished: its checkpoint holds all {checkpoint["epoch"]} epochs'
    return None


def not_made_by_make_ddp(resume, run_dir, load_checkpoint):
    """The refusal of a folder that make ddp did not make (the notebook's,
    or plain torchrun's), with the command that continues it."""
    try:
        checkpoint = checkpoint_of(run_dir, load_checkpoint)
    except Exception as error:
        return f'RESUME={resume}: {run_dir} was not made by make ddp, and its checkpoint cannot be read ({error})'
    if checkpoint is None or 'run_id' not in checkpoint:
        return f'RESUME={resume}: {run_dir} was not made by make ddp and holds no checkpoint of a run to continue'
    n_processes = len(checkpoint.get('random_states', [])) or 'N'
    return (
        f'RESUME={resume}: {run_dir} was not made by make ddp: its checkpoint (epoch {checkpoint["epoch"]}) '
        f'belongs to run {checkpoint["run_id"]!r}, started by torchrun or a notebook. Continue it under its own id: '
        f'torchrun --rdzv-backend=c10d --rdzv-endpoint=localhost:0 --rdzv-id={checkpoint["run_id"]} '
        f'--nproc-per-node={n_processes} {PROGRAM} --run-dir {run_dir}'
    )


def run_folder(runs_folder, resume, n_epochs, load_checkpoint):
    """The folder of the run to start (`resume` None: a new one, named by a
    new run id that sorts by its start, in UTC) or to continue (`resume` 'last', the last
    run make ddp started, or a run id). A run that cannot be continued is
    refused with a ValueError that says why and what would work: make ddp
    never continues another run than the one asked for."""
    runs_folder = Path(runs_folder)
    if resume is None:
        return runs_folder / f'{time.strftime("%Y%m%d-%H%M%S", time.gmtime())}-{uuid.uuid4().hex[:6]}'
    if resume == '0':
        raise ValueError('RESUME=0: to start a new run, leave RESUME out (make ddp); RESUME=1 continues the last '
                         'run, RESUME=RUN_ID the run of that id')
    runs = sorted(path for path in runs_folder.glob('*') if RUN_ID.fullmatch(path.name) and path.is_dir())
    if resume == 'last':
        if not runs:
            raise ValueError(f'RESUME=1: {runs_folder}/ holds no run of make ddp to continue; {NEW_RUN}')
        run_dir = runs[-1]
        reason = why_not_continued(run_dir, n_epochs, load_checkpoint)
        if reason is None:
            say(f'continuing the last run, {run_dir.name}')
            return run_dir
        older = [run for run in reversed(runs[:-1]) if why_not_continued(run, n_epochs, load_checkpoint) is None]
        other = f'; RESUME={older[0].name} would continue the run before it that can be' if older else ''
        raise ValueError(f'RESUME=1: the last run, {run_dir.name}, {reason}; {NEW_RUN}{other}')
    run_dir = runs_folder / resume
    if not run_dir.is_dir():
        known = f': its runs are {", ".join(run.name for run in runs)}' if runs else ', which holds no run yet'
        raise ValueError(f'RESUME={resume}: there is no run {resume} in {runs_folder}/{known}')
    if not RUN_ID.fullmatch(resume):
        raise ValueError(not_made_by_make_ddp(resume, run_dir, load_checkpoint))
    reason = why_not_continued(run_dir, n_epochs, load_checkpoint)
    if reason is not None:
        raise ValueError(f'RESUME={resume}: run {resume} {reason}; {NEW_RUN}')
    return run_dir


def alive(pid):
    """Whether process `pid` runs (a zombie, ended but not yet waited for,
    does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f'/proc/{pid}/stat')
    try:
        # The state is the field after the name, which ends with ')'
        return stat.read_text().rpartition(')')[2].split()[0] != 'Z'
    except (OSError, IndexError):
        return True


def lock_run(run_dir):
    """Locks the run folder for this make ddp and returns the open lock file,
    or None when another make ddp is training the run. Waits while the
    processes of a make ddp that has ended, and so is stopping them, still
    hold it: a resume right after a stop then continues from the checkpoint
    that they save last."""
    lock = open(run_dir / '.lock', 'a+')
    said = False
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip()
            if not holder.isdigit() or alive(int(holder)):
                # Another make ddp trains the run, or is starting to
                lock.close()
                return None
            # Its make ddp has ended, and the processes it started are ending
            if not said:
                say(f'the processes of run {run_dir.name} are still ending (their make ddp, process {holder}, '
                    f'has ended): waiting for them')
                said = True
            time.sleep(0.05)
    lock.seek(0)
    lock.truncate()
    lock.write(f'{os.getpid()}\n')
    lock.flush()
    return lock


def torchrun_command(nproc, run_dir, program_args):
    """torchrun on this machine for one attempt of the run, tied to make ddp
    (classroom/tied_torchrun.py) through a pipe's read end, added in front:
    the c10d rendezvous on a free port of this machine, the run id being the
    folder's name, so that a later attempt resumes its checkpoint."""
    return [
        '--nnodes=1', '--rdzv-backend=c10d', '--rdzv-endpoint=localhost:0', f'--rdzv-id={run_dir.name}',
        f'--nproc-per-node={nproc}', '--max-restarts=0', PROGRAM, '--run-dir', str(run_dir), *program_args,
    ]


def read_reports(folder):
    """What each process of an attempt said it died of, {rank: (kind,
    message)}; a process that wrote nothing was killed, or ended well."""
    reports = {}
    for path in Path(folder).glob('rank-*.txt'):
        kind, _, message = path.read_text().partition('\n')
        reports[int(path.stem.removeprefix('rank-'))] = (kind, message.strip())
    return reports


def hint(run_id, epoch, n_epochs):
    """How to continue the run from its checkpoint's `epoch` (None: there is
    none), said only when there is something to continue."""
    if epoch is None:
        return f'it saved no checkpoint, so there is nothing to continue: {NEW_RUN}'
    if epoch >= n_epochs:
        return f'it had finished all {epoch} epochs'
    return f'continue it from its checkpoint of epoch {epoch} with make ddp RESUME={run_id}'


def after_a_failure(nproc, died_of, before, after, restarts, max_restarts, run_id, n_epochs):
    """What make ddp does after a failed attempt of `nproc` processes, which
    said what they died of (`died_of`, read_reports), and whose checkpoint was
    at epoch `before` and is at `after` (None: none). Returns (start again?,
    what make ddp says, exit code if not). Starting again can only help after
    a lost process (a rank that ended without an error of its own: killed, out
    of memory, its machine gone) or when the attempt saved a newer checkpoint;
    an error in the program or its set-up would happen again."""
    configuration = [message for kind, message in died_of.values() if kind == 'configuration']
    if configuration:
        return False, f'not started again, since it would fail the same way: {configuration[0]}', 2
    lost = [str(rank) for rank in range(nproc) if rank not in died_of]
    moved_on = after is not None and (before is None or after > before)
    if not lost and not moved_on:
        rank, (_, message) = min(died_of.items())
        return False, (f'not started again: the program failed (rank {rank}: {message}) without saving a new '
                       f'checkpoint, so it would fail the same way; {hint(run_id, after, n_epochs)}'), 1
    if restarts == max_restarts:
        return False, f'the run failed {restarts + 1} times; {hint(run_id, after, n_epochs)}', 1
    if len(lost) == 1:
        why = f'rank {lost[0]} ended without an error of its own (a lost process: killed?)'
    elif lost:
        why = f'ranks {", ".join(lost)} ended without an error of their own (lost processes: killed?)'
    else:
        why = f'the run failed after saving its checkpoint of epoch {after}'
    then = (f'it resumes from its checkpoint of epoch {after}' if after is not None
            else 'it starts over, since it saved no checkpoint yet')
    return True, f'{why}; starting it again (restart {restarts + 1} of {max_restarts}): {then}', None


class Stop:
    """Ctrl-C, SIGTERM and SIGHUP to make ddp while it trains. The first
    stops the run: make ddp closes its end of the attempt's pipe, and every
    process saves a checkpoint at the end of its epoch and ends. Later ones
    only say that the run is stopping (no traceback, nothing lost). A signal
    that make ddp was started ignoring stays ignored."""

    def __init__(self):
        self.signal = None
        self.pipe = None
        # nohup ignores SIGHUP so that a logout does not stop the run, and a
        # shell ignores SIGINT in a job it starts in the background
        self.previous = {number: signal.signal(number, self.stop) for number in STOP_SIGNALS
                         if signal.getsignal(number) != signal.SIG_IGN}

    def stop(self, number, frame=None):
        """The handler of the stop signals: signal `number` stops the run."""
        if self.signal is None:
            self.signal = number
            # First: the run stops whatever becomes of the line said
            self.close_pipe()
            say('stopping: every process saves a checkpoint at the end of its epoch, then ends')
        else:
            say('stopping already: the processes end after their epoch (torchrun kills them after 30 s)')

    def close_pipe(self):
        """Closes make ddp's end of the attempt's pipe, once, though a signal's
        handler may do so while train() is doing it."""
        # A statement without a call: Python runs no signal handler inside it
        pipe, self.pipe = self.pipe, None
        if pipe is not None:
            os.close(pipe)

    def restore(self):
        """Gives the stop signals back the handlers they had before."""
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def adopt_orphans():
    """Makes this process the one Linux gives the processes of its torchrun
    to when torchrun dies before them (a child subreaper), so that
    wait_for_orphans can wait for them. Elsewhere than on Linux, nothing."""
    if sys.platform == 'linux':
        # PR_SET_CHILD_SUBREAPER
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)


def wait_for_orphans():
    """Waits for every process left of an attempt after its torchrun ended:
    the ones it started, if it died first (adopt_orphans; make ddp starts no
    other process while it trains)."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def train(nproc, run_dir, program_args, max_restarts, n_epochs, load_checkpoint, lock, stop):
    """Runs torchrun until the run ends, starting it again after a failure
    when that can help, and stopping it on `stop`'s signals; returns the exit
    code."""
    environment = dict(os.environ)
    # One thread per process; a restarted group builds a fresh rendezvous
    # store instead of reusing the failed round's (benchmarks/README.md)
    environment.setdefault('OMP_NUM_THREADS', '1')
    environment.setdefault('TORCH_DISABLE_SHARE_RDZV_TCP_STORE', '1')
    restarts = 0
    adopt_orphans()
    while stop.signal is None:
        before = saved_epoch(run_dir, load_checkpoint)
        reports = tempfile.mkdtemp(prefix='make-ddp-')
        read_end, stop.pipe = os.pipe()
        # Its own process group: a terminal's Ctrl-C reaches make ddp only,
        # which stops the run as above, instead of every process at once
        torchrun = subprocess.Popen(
            [sys.executable, '-m', 'classroom.tied_torchrun', str(read_end),
             *torchrun_command(nproc, run_dir, program_args)],
            cwd=COURSE_ROOT, env=dict(environment, DATA_PARALLEL_REPORTS=reports),
            pass_fds=(read_end, lock.fileno()), process_group=0,
        )
        os.close(read_end)
        if stop.signal is not None:
            # Asked to stop while the attempt was being started
            stop.close_pipe()
        code = torchrun.wait()
        stop.close_pipe()
        # Before anything reads the run folder or starts again: the processes
        # of a torchrun that died first are still saving their checkpoint
        wait_for_orphans()
        died_of = read_reports(reports)
        shutil.rmtree(reports)
        after = saved_epoch(run_dir, load_checkpoint)
        finished = after is not None and after >= n_epochs
        if stop.signal is not None:
            say(f'stopped; {hint(run_dir.name, after, n_epochs)}')
            return 0 if finished else 128 + stop.signal
        if code == 0:
            if finished:
                return 0
            say(f'the run stopped on request (a signal to one of its processes); '
                f'{hint(run_dir.name, after, n_epochs)}')
            return 1
        again, message, code = after_a_failure(nproc, died_of, before, after, restarts, max_restarts,
                                               run_dir.name, n_epochs)
        say(message)
        if not again:
            return code
        restarts += 1
    say(f'stopped before starting again; {hint(run_dir.name, saved_epoch(run_dir, load_checkpoint), n_epochs)}')
    return 128 + stop.signal


def main(argv=None):
    """make ddp (course-ddp): returns the exit code. While the run trains,
    Ctrl-C stops it (Stop). Before, Ctrl-C ends make ddp (130); once the run
    has ended, it stops nothing, and make ddp returns the run's exit code.
    make ddp says which it was."""
    # 'code': None from the run's start, then its exit code (None if an error ended it)
    run = {}
    try:
        return start(argv, run)
    except KeyboardInterrupt:
        if 'code' not in run:
            say('interrupted before the run started')
            return 130
        say('interrupted after the run had ended: nothing was stopped')
        return 130 if run['code'] is None else run['code']


def start(argv, run):
    """main's work: the checks, the run folder and its lock, then train,
    whose exit code it keeps in `run` before Stop's handlers are gone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog='Other options go to ' + PROGRAM)
    parser.add_argument('--nproc', default='2', help='processes on this machine: a whole number, or auto')
    parser.add_argument('--resume', nargs='?', const='last', help='continue the last run, or the run with this id')
    parser.add_argument('--runs-folder', default=RUNS_FOLDER, help='where run folders are made')
    parser.add_argument('--max-restarts', type=int, default=3, help='at most this many new starts after failures')
    args, program_args = parser.parse_known_args(argv)
    if args.max_restarts < 0:
        parser.error(f'--max-restarts {args.max_restarts}: 0 or more')
    # The program's own options, checked here, once, before any process starts
    program = runpy.run_path(str(COURSE_ROOT / PROGRAM))
    program['parser'].prog = f'make ddp ({PROGRAM})'
    options = program['parser'].parse_args(program_args)
    if options.run_dir:
        parser.error('--run-dir: make ddp chooses the run folder; see --runs-folder and --resume')
    load_checkpoint = program['load_checkpoint']
    try:
        nproc = number_of_processes(args.nproc, options.global_batch_size, options.device)
        # Says so when the processes outnumber the accelerators and use the CPU
        device, _ = program['device_and_backend'](0, nproc, options.device)
        run_dir = run_folder(COURSE_ROOT / args.runs_folder, args.resume, options.n_epochs, load_checkpoint)
    except ValueError as error:  # a ConfigurationError too
        say(error)
        return 2
    if device.type == 'cpu':
        # Decided, and said, once: the processes need not decide it again
        program_args = [*program_args, '--device', 'cpu']
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_run(run_dir)
    if lock is None:
        say(f'run {run_dir.name} is being trained by another make ddp right now; wait for it, or start a new run')
        return 2
    with lock:
        say(f'run {run_dir.name} in {run_dir}/, {nproc} processes, device {device.type}')
        stop = Stop()
        run['code'] = None
        try:
            run['code'] = train(nproc, run_dir, program_args, args.max_restarts, options.n_epochs, load_checkpoint,
                                lock, stop)
        finally:
            stop.restore()
    return run['code']


if __name__ == '__main__':
    sys.exit(main())
