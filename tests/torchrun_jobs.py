"""Starting, watching and stopping torchrun jobs that run the course's
data-parallel program, for the tests and for the restart stress script.

Every job runs in a session of its own and every process it starts is
remembered, so that a job can be stopped completely, and so that a test can
check that nothing it started outlived it."""
import os
import signal
import socket
import subprocess
import sys
import time

import psutil

from classroom.course import COURSE_ROOT

PROGRAM = 'model_training/data_parallel.py'


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
    """One torchrun, started at once; `workers()` lists its live processes."""

    def __init__(self, command, environment=None):
        self.process = subprocess.Popen(
            command, cwd=COURSE_ROOT, env=environment or job_environment(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        self.seen = {self.process.pid}

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
                raise AssertionError(f'torchrun ended (exit {self.process.returncode}) before {what}')
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
            raise AssertionError(f'torchrun still running after {timeout} s: stopped')
        stdout, stderr = self.process.communicate()
        return self.process.returncode, stdout, stderr

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
        self.process.communicate()
