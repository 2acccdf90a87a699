"""Starting, watching and stopping torchrun jobs that run the course's
data-parallel program, for the tests and for the restart stress script, and
the reference they must end like: the same stage scripts in one process.

Every job runs in a session of its own and every process it starts is
remembered, so that a job can be stopped completely, and so that a test can
check that nothing it started outlived it."""
import errno
import os
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import time

import psutil
import torch
import torch.distributed as dist

from classroom.course import COURSE_ROOT, run_stages

PROGRAM = 'model_training/data_parallel.py'
STAGES = ['data_generation/simple_linear_regression.py', 'data_preparation/v8.py',
          'model_configuration/v6.py', 'model_training/v7.py']


def run_in_this_process(run_dir, n_epochs, checkpoint_every, run_id='reference'):
    """The program's stage scripts in a process group of one inside this
    process, as notebook 04 runs them (one process of 16 points per step);
    returns their names, the final `model` among them."""
    names = runpy.run_path(str(COURSE_ROOT / PROGRAM))
    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)
    try:
        names.update(rank=0, world_size=1, device=torch.device('cpu'), run_id=run_id, global_batch_size=16,
                     n_epochs=n_epochs, checkpoint_every=checkpoint_every, checkpoint_group=None,
                     checkpoint_path=str(run_dir / 'checkpoint.pth'), log_dir=str(run_dir),
                     stop_request=names['StopRequest']())
        return run_stages(names, *STAGES)
    finally:
        dist.destroy_process_group()


def listening(port, host='127.0.0.1'):
    """Whether something accepts connections on `port` now."""
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def ddp_command(*args):
    """The command `make ddp` runs (classroom/ddp.py), with its options."""
    return [sys.executable, '-m', 'classroom.ddp', *[str(arg) for arg in args]]


def torchrun_command(nproc, program_args=(), torchrun_args=('--standalone',), max_restarts=0):
    """The torchrun command line for `nproc` processes of the program."""
    return [
        sys.executable, '-m', 'torch.distributed.run', *torchrun_args,
        f'--nproc_per_node={nproc}', f'--max-restarts={max_restarts}',
        PROGRAM, *[str(arg) for arg in program_args],
    ]


def job_environment():
    """The environment torchrun gets: a restarted group builds a fresh
    rendezvous store instead of reusing the failed round's, and each process
    uses one thread (two cores, two processes)."""
    return dict(os.environ, TORCH_DISABLE_SHARE_RDZV_TCP_STORE='1', OMP_NUM_THREADS='1')


class Job:
    """One command (torchrun, make ddp's launcher, a script), started at once
    in a session of its own; `workers()` lists the program's live processes.
    Its output goes to files, so that a test can read it while it runs, and
    a command that writes much never waits for a reader."""

    def __init__(self, command, environment=None, cwd=COURSE_ROOT):
        self.outputs = [tempfile.TemporaryFile('w+') for _ in range(2)]
        self.process = subprocess.Popen(
            command, cwd=cwd, env=environment or job_environment(), text=True,
            stdout=self.outputs[0], stderr=self.outputs[1], start_new_session=True,
        )
        self.seen = {self.process.pid}

    def output(self):
        """(stdout, stderr) so far."""
        written = []
        for output in self.outputs:
            output.seek(0)
            written.append(output.read())
        return tuple(written)

    def workers(self):
        """The processes torchrun runs now, as {rank: psutil.Process}."""
        found = {}
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return found
        for child in children:
            self.seen.add(child.pid)
            try:
                found[int(child.environ()['RANK'])] = child
            except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError):
                pass
        return found

    def wait_until(self, condition, timeout, what):
        """Polls `condition` (and notes the workers) until it holds; fails
        after `timeout` seconds or when torchrun has ended first."""
        deadline = time.monotonic() + timeout
        while not condition():
            self.workers()
            if self.process.poll() is not None:
                raise AssertionError(f'{self.process.args[:4]} ended (exit {self.process.returncode}) before '
                                     f'{what}:\n{self.output()[1][-3000:]}')
            if time.monotonic() > deadline:
                raise AssertionError(f'no {what} after {timeout} s')
            time.sleep(0.01)

    def finish(self, timeout):
        """Waits for torchrun to end, noting its workers on the way, and
        returns (exit code, stdout, stderr); stops everything on a timeout."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.workers()
            time.sleep(0.05)
        if self.process.poll() is None:
            self.stop()
            raise AssertionError(f'{self.process.args[:4]} still running after {timeout} s: stopped')
        return (self.process.returncode, *self.output())

    def left_behind(self):
        """The processes this job started that still run."""
        alive = []
        for pid in self.seen:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        return alive

    def stop(self):
        """Kills torchrun's session and every process it was seen to start."""
        self.workers()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in self.left_behind():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()


HOOKS = COURSE_ROOT / 'tests' / 'process_hooks'


def hooked_environment(**hooks):
    """job_environment() with tests/process_hooks on PYTHONPATH, so that every
    Python process of the job imports it, and its hooks' variables set."""
    return dict(job_environment(), **{name: str(value) for name, value in hooks.items()},
                PYTHONPATH=os.pathsep.join([str(HOOKS), os.environ.get('PYTHONPATH', '')]))


def held_job(command, fifo, timeout, **hooks):
    """A job of `command` whose first checkpoint write (HOLD_CHECKPOINT_WRITE_AT
    in `hooks`: a later one) is held open; returns it once the write is held."""
    os.mkfifo(fifo)
    job = Job(command, hooked_environment(HOLD_CHECKPOINT_WRITE=fifo, **hooks))
    job.wait_until(lambda: os.path.exists(f'{fifo}.held'), timeout, 'a held checkpoint write')
    return job


def release(fifo, timeout=60):
    """Lets a held write go on: opening the fifo for writing ends the wait of
    the process that holds it (retried: it may not be waiting quite yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError as error:
            # ENXIO: nobody has the fifo open for reading yet
            if error.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
