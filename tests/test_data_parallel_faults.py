"""The data-parallel program and `make ddp` (classroom/ddp.py) under faults:
ranks that would resume from different epochs, bad NPROC, DEVICE, RESUME and
options refused before any process starts, when a failed attempt is started
again, a launcher stopped by signals or killed, the run lock, signals while a
checkpoint is being written (held open by tests/process_hooks), and the
Slurm script's stop, requeue and resume with dropout."""
import calendar
import fcntl
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from classroom import ddp
import helpers
from classroom.course import COURSE_ROOT, free_port, wait_for
from tests.torchrun_jobs import (
    Job, ddp_command, held_job, hooked_environment, release, run_in_this_process, torchrun_command,
)

N_EPOCHS = 40
CHECKPOINT_EVERY = 5
TIMEOUT = 120
@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    return run_in_this_process(tmp_path_factory.mktemp('reference'), N_EPOCHS, CHECKPOINT_EVERY)['model'].state_dict()


def saved(run_dir):
    return torch.load(run_dir / 'checkpoint.pth', weights_only=True)


def assert_same_parameters(expected, found):
    assert expected.keys() == found.keys()
    for name in expected:
        assert torch.allclose(expected[name], found[name], rtol=0, atol=1e-6), (name, expected[name], found[name])


def checkpoint_of(run_id, epoch):
    """A checkpoint as the program saves it, of run `run_id` at `epoch`."""
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return {'epoch': epoch, 'model_state_dict': model.state_dict(), 'optimizer_state_dict': optimizer.state_dict(),
            'loss': [1.0] * epoch, 'val_loss': [1.0] * epoch, 'run_id': run_id,
            'random_states': [{'cpu': torch.get_rng_state()}] * 2}


def temporaries(run_dir):
    return sorted(path.name for path in run_dir.glob('.tmp-*'))


def test_machines_that_would_resume_from_different_epochs_stop_and_name_both(tmp_path):
    # Two simulated machines that do not share a folder: the first holds a
    # checkpoint of this run at epoch 5, the second none
    run_id = str(uuid.uuid4())
    helpers.save_checkpoint(tmp_path / 'a' / 'checkpoint.pth', checkpoint_of(run_id, 5))
    before = (tmp_path / 'a' / 'checkpoint.pth').read_bytes()
    rendezvous = ['--nnodes=2', '--rdzv-backend=c10d', f'--rdzv-endpoint=127.0.0.1:{free_port()}',
                  f'--rdzv-id={run_id}']
    # A collective timeout far beyond the test's: processes that trained on
    # from different epochs would hang in a collective, and the test fail
    nodes = [Job(torchrun_command(1, ['--n-epochs', N_EPOCHS, '--run-dir', tmp_path / folder, '--timeout', 600],
                                  [*rendezvous, f'--local-addr=127.0.0.{number}']))
             for number, folder in [(1, 'a'), (2, 'b')]]
    try:
        results = [node.finish(TIMEOUT) for node in nodes]
    finally:
        for node in nodes:
            node.stop()
    assert all(code != 0 for code, _, _ in results)
    message = (rf"the processes would resume from different epochs: rank 0 from epoch 5 \({tmp_path}/a/checkpoint.pth "
               rf"on .*\), rank 1 from epoch 0 \({tmp_path}/b/checkpoint.pth on .*\)")
    assert re.search(message, results[0][2]) and re.search(message, results[1][2])
    # Nothing printed, nothing saved
    assert not any('OrderedDict' in stdout for _, stdout, _ in results)
    assert (tmp_path / 'a' / 'checkpoint.pth').read_bytes() == before
    assert not (tmp_path / 'b' / 'checkpoint.pth').exists()


@pytest.mark.parametrize('nproc, message', [
    ('0', 'NPROC=0: the number of processes is a whole number, at least 1'),
    ('-1', 'NPROC=-1: the number of processes is a whole number, at least 1'),
    ('abc', 'NPROC=abc: the number of processes is a whole number, at least 1'),
    ('3', 'NPROC=3: 3 processes cannot share a global mini-batch of 16 points equally; NPROC must divide it: '
          'one of 1, 2, 4, 8, 16'),
    ('32', 'NPROC=32: 32 processes cannot share'),
])
def test_a_bad_nproc_is_refused_with_what_would_work(nproc, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ddp.number_of_processes(nproc, 16, 'auto')


def fake_accelerators(monkeypatch, count, kind='cuda'):
    # As tests/process_hooks fakes them in other processes
    monkeypatch.setattr(torch.accelerator, 'is_available', lambda: count > 0)
    monkeypatch.setattr(torch.accelerator, 'current_accelerator', lambda check_available=False: torch.device(kind))
    monkeypatch.setattr(torch.accelerator, 'device_count', lambda: count)


@pytest.mark.parametrize('cores, expected', [(1, 1), (2, 2), (6, 4), (12, 8), (20, 16), (64, 16)])
def test_nproc_auto_is_the_largest_divisor_of_the_global_batch_up_to_the_cores(monkeypatch, capsys, cores, expected):
    fake_accelerators(monkeypatch, 0)
    monkeypatch.setattr(ddp, 'cpu_cores', lambda: cores)
    assert ddp.number_of_processes('auto', 16, 'auto') == expected
    assert f'NPROC=auto: {expected} processes' in capsys.readouterr().err


def test_nproc_auto_counts_accelerators_unless_the_device_is_the_cpu(monkeypatch):
    fake_accelerators(monkeypatch, 3)
    monkeypatch.setattr(ddp, 'cpu_cores', lambda: 12)
    assert ddp.number_of_processes('auto', 16, 'auto') == 2
    assert ddp.number_of_processes('auto', 16, 'cpu') == 8


def test_more_processes_than_accelerators_use_the_cpu_and_say_so(monkeypatch, capsys):
    fake_accelerators(monkeypatch, 1)
    device_and_backend = helpers.device_and_backend
    assert ddp.number_of_processes('2', 16, 'auto') == 2
    assert device_and_backend(0, 2, 'auto') == (torch.device('cpu'), 'gloo')
    assert capsys.readouterr().err == (
        '2 processes on this machine, but 1 cuda device(s), one per process at most: every process uses the CPU '
        'and Gloo (choose the device cpu to say so yourself, or 1 process(es) to use the cuda)\n')
    # Said once per machine, by its process 0; the device cpu is chosen without a word
    assert device_and_backend(1, 2, 'auto') == (torch.device('cpu'), 'gloo')
    assert device_and_backend(0, 2, 'cpu') == (torch.device('cpu'), 'gloo')
    assert capsys.readouterr().err == ''
    # One process has the GPU; asked for by name, two are refused
    assert device_and_backend(0, 1, 'auto') == (torch.device('cuda', 0), 'nccl')
    with pytest.raises(helpers.ConfigurationError, match="2 processes on this machine, but it has 1 cuda device"):
        device_and_backend(0, 2, 'cuda')
    with pytest.raises(helpers.ConfigurationError, match="device 'gpu': this machine offers 'auto', 'cpu', 'cuda'"):
        device_and_backend(0, 1, 'gpu')


@pytest.mark.parametrize('arguments, message', [
    (['--checkpoint-every', '0'], "argument --checkpoint-every: '0' is not a whole number of at least 1"),
    (['--global-batch-size', '0'], "argument --global-batch-size: '0' is not a whole number of at least 1"),
    (['--n-epochs', '2.5'], "argument --n-epochs: '2.5' is not a whole number of at least 1"),
    (['--timeout', '0'], "argument --timeout: '0' is not a number of seconds above 0"),
    (['--max-restarts', '-1'], '--max-restarts -1: 0 or more'),
])
def test_options_that_cannot_work_are_refused_before_any_process_starts(tmp_path, capsys, arguments, message):
    # They used to be started, and restarted, 4 times with the same traceback
    with pytest.raises(SystemExit) as exit:
        ddp.main([*arguments, '--runs-folder', str(tmp_path)])
    assert exit.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('arguments, message', [
    (['--resume', '0'], 'make ddp: RESUME=0: to start a new run, leave RESUME out (make ddp); RESUME=1 continues '
                        'the last run, RESUME=RUN_ID the run of that id'),
    (['--device', 'gpu'], "make ddp: device 'gpu': this machine offers 'auto', 'cpu'"),
    (['--nproc', '3'], 'make ddp: NPROC=3: 3 processes cannot share a global mini-batch of 16 points equally'),
])
def test_resume_device_and_nproc_that_cannot_work_are_refused_once(tmp_path, capsys, arguments, message):
    assert ddp.main([*arguments, '--runs-folder', str(tmp_path)]) == 2
    [said] = capsys.readouterr().err.splitlines()
    assert said.startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_make_ddp_with_a_bad_nproc_fails_once_before_torchrun(tmp_path):
    started = time.monotonic()
    done = subprocess.run(ddp_command('--nproc', 3, '--runs-folder', tmp_path), cwd=COURSE_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.monotonic() - started
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        'make ddp: NPROC=3: 3 processes cannot share a global mini-batch of 16 points equally; '
        'NPROC must divide it: one of 1, 2, 4, 8, 16']
    assert list(tmp_path.iterdir()) == []
    # Python and torch start, nothing else: seconds (a loaded 2-core machine took 3 s)
    assert seconds < 60, f'{seconds:.1f} s'


def test_a_failed_attempt_starts_again_only_when_that_can_help():
    decide = ddp.after_a_failure
    # A configuration error, in any rank: never
    again, message, code = decide(2, {0: ('configuration', 'bad'), 1: ('program', 'RuntimeError: closed')},
                                  None, None, 0, 3, 'run', 40)
    assert (again, code) == (False, 2) and message == 'not started again, since it would fail the same way: bad'
    # Every rank raised, and no checkpoint moved on: an error in the program
    both_raised = {0: ('program', 'ZeroDivisionError: division by zero'),
                   1: ('program', 'RuntimeError: Connection closed by peer')}
    again, message, code = decide(2, both_raised, 10, 10, 0, 3, 'run', 40)
    assert (again, code) == (False, 1)
    assert message == ('not started again: the program failed (rank 0: ZeroDivisionError: division by zero) without '
                       'saving a new checkpoint, so it would fail the same way; continue it from its checkpoint of '
                       'epoch 10 with make ddp RESUME=run')
    # The same error after a newer checkpoint: once more, from there
    again, message, code = decide(2, both_raised, 10, 20, 0, 3, 'run', 40)
    assert again and message == ('the run failed after saving its checkpoint of epoch 20; starting it again '
                                 '(restart 1 of 3): it resumes from its checkpoint of epoch 20')
    # A lost process (rank 1 wrote nothing: killed) before any checkpoint
    again, message, code = decide(2, {0: ('program', 'RuntimeError: closed')}, None, None, 1, 3, 'run', 40)
    assert again and message == ('rank 1 ended without an error of its own (a lost process: killed?); starting it '
                                 'again (restart 2 of 3): it starts over, since it saved no checkpoint yet')
    # The last restart used
    again, message, code = decide(2, {}, 5, 5, 3, 3, 'run', 40)
    assert (again, code) == (False, 1)
    assert message == ('the run failed 4 times; continue it from its checkpoint of epoch 5 with make ddp '
                       'RESUME=run')


def test_a_program_error_before_a_new_checkpoint_is_reported_once_not_retried(tmp_path):
    # Rank 0's first checkpoint write fails as on a full disk: every attempt would
    job = Job(ddp_command('--runs-folder', tmp_path, '--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY),
              hooked_environment(FAIL_CHECKPOINT_WRITE=1))
    try:
        code, _, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    assert code == 1, stderr[-3000:]
    assert stderr.count('make ddp: not started again: the program failed (rank 0: OSError: [Errno 28] No space left '
                        'on device') == 1
    assert ('it saved no checkpoint, so there is nothing to continue: start a new run with make ddp, without RESUME'
            in stderr)
    assert 'starting it again' not in stderr and 'RESUME=' not in stderr
    # @record: torchrun's summary shows the worker's traceback
    assert 'OSError' in stderr and 'To enable traceback' not in stderr
    [run_dir] = tmp_path.iterdir()
    assert not (run_dir / 'checkpoint.pth').exists() and temporaries(run_dir) == []


def scalars(run_dir, tag):
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def lock_is_free(run_dir):
    with open(run_dir / '.lock') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_a_stopped_or_killed_launcher_ends_its_run_and_a_resume_right_after_continues_it(reference, tmp_path):
    arguments = ['--runs-folder', tmp_path / 'runs', '--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY]
    # 1. SIGTERM to the launcher alone (as kill, docker stop, CI do) while
    # the second checkpoint (epoch 10) is being written, then Ctrl-C twice
    job = held_job(ddp_command(*arguments), tmp_path / 'term', TIMEOUT, HOLD_CHECKPOINT_WRITE_AT=2)
    try:
        workers = list(job.workers().values())
        job.process.send_signal(signal.SIGTERM)
        job.wait_until(lambda: 'stopping:' in job.output()[1], TIMEOUT, 'make ddp to stop the run')
        # Ctrl-C twice (one at a time: a signal sent before the last one was
        # handled would merge with it)
        for times in [1, 2]:
            job.process.send_signal(signal.SIGINT)
            job.wait_until(lambda: job.output()[1].count('stopping already') == times, TIMEOUT, 'a Ctrl-C')
        job.wait_until(lambda: (tmp_path / 'term.signalled').exists(), TIMEOUT, 'the stop to reach rank 0')
        release(tmp_path / 'term')
        code, stdout, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    [run_dir] = (tmp_path / 'runs').iterdir()
    # The write went on, and every process stopped after the next epoch
    assert code == 128 + signal.SIGTERM, stderr[-3000:]
    assert 'Traceback' not in stderr and 'stopped on request after epoch 11, with a checkpoint' in stdout
    assert stderr.count('make ddp: stopping: every process saves a checkpoint') == 1
    assert stderr.count('make ddp: stopping already') == 2
    assert f'make ddp: stopped; continue it from its checkpoint of epoch 11 with make ddp RESUME={run_dir.name}' in (
        stderr)
    assert saved(run_dir)['epoch'] == 11 and temporaries(run_dir) == []
    assert not psutil.wait_procs(workers, timeout=0)[1] and lock_is_free(run_dir)

    # 2. RESUME=1 continues it; SIGKILL to that launcher while it writes: its
    # processes stop, after a checkpoint, and hold the lock until they have
    job = held_job(ddp_command(*arguments, '--resume'), tmp_path / 'kill', TIMEOUT)
    resumed = None
    try:
        workers = list(job.workers().values())
        job.process.kill()
        job.process.wait()
        wait_for(lambda: (tmp_path / 'kill.signalled').exists(), TIMEOUT, 'the stop to reach rank 0')
        assert not lock_is_free(run_dir), 'the lock was released while the processes of the run still ran'
        # 3. A resume right after: it waits for them, then continues
        resumed = Job(ddp_command(*arguments, '--resume'))
        resumed.wait_until(lambda: 'are still ending' in resumed.output()[1], TIMEOUT, 'the resume to wait')
        release(tmp_path / 'kill')
        assert not psutil.wait_procs(workers, timeout=TIMEOUT)[1], 'processes outlived their killed launcher'
        code, stdout, stderr = resumed.finish(TIMEOUT)
    finally:
        job.stop()
        if resumed:
            resumed.stop()
    assert code == 0, stderr[-3000:]
    assert f'make ddp: continuing the last run, {run_dir.name}' in stderr
    assert 'resumed from the checkpoint of epoch 16' in stdout
    assert_same_parameters(reference, saved(run_dir)['model_state_dict'])
    assert not job.left_behind() and not resumed.left_behind() and temporaries(run_dir) == []
    # One TensorBoard run, each epoch once: epochs logged before a stop and
    # again after resuming are shown once (purge_step)
    assert scalars(run_dir, 'loss/training') == list(range(N_EPOCHS))


def test_torchrun_killed_alone_is_started_again_only_once_its_processes_have_ended(reference, tmp_path):
    run_dir_of = tmp_path / 'runs'
    job = held_job(ddp_command('--runs-folder', run_dir_of, '--n-epochs', N_EPOCHS, '--checkpoint-every',
                               CHECKPOINT_EVERY), tmp_path / 'hold', TIMEOUT)

    def attempts():
        found = []
        for child in psutil.Process(job.process.pid).children():
            try:
                if 'classroom.tied_torchrun' in child.cmdline():
                    found.append(child)
            except psutil.NoSuchProcess:  # ended meanwhile (a zombie too)
                pass
        return found

    try:
        workers = list(job.workers().values())
        [torchrun] = attempts()
        # torchrun alone dies (an out-of-memory kill) while rank 0 writes a checkpoint
        torchrun.kill()
        wait_for(lambda: (tmp_path / 'hold.signalled').exists(), TIMEOUT, 'the SIGTERM of Linux')
        # Its processes finish their epoch: no second attempt meanwhile, beside them
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            assert attempts() in ([], [torchrun]), 'started again while the processes of the first still ran'
            time.sleep(0.02)
        release(tmp_path / 'hold')
        assert not psutil.wait_procs(workers, timeout=TIMEOUT)[1]
        code, stdout, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    [run_dir] = run_dir_of.iterdir()
    assert code == 0, stderr[-3000:]
    assert re.search(r'resumed from the checkpoint of epoch \d+', stdout), stdout[-3000:]
    assert_same_parameters(reference, saved(run_dir)['model_state_dict'])
    assert not job.left_behind() and temporaries(run_dir) == []


def test_a_run_being_trained_is_not_resumed_by_a_second_make_ddp(tmp_path, capsys):
    busy = tmp_path / '20261201-061011-1f7b07'
    helpers.save_checkpoint(busy / 'checkpoint.pth', checkpoint_of(busy.name, 10))
    with open(busy / '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(f'{os.getpid()}\n')
        lock.flush()
        assert ddp.main(['--resume', '--runs-folder', str(tmp_path)]) == 2
    assert f'run {busy.name} is being trained by another make ddp right now' in capsys.readouterr().err
    assert ddp.run_folder(tmp_path, None, 40, helpers.load_checkpoint) != ddp.run_folder(
        tmp_path, None, 40, helpers.load_checkpoint), 'two new runs share a folder'


def test_the_lock_of_a_launcher_that_has_ended_is_waited_for(tmp_path, capsys):
    # The lock held by what a make ddp left, its own process gone
    gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    holder = open(tmp_path / '.lock', 'w')
    fcntl.flock(holder, fcntl.LOCK_EX)
    holder.write(gone.stdout)
    holder.flush()
    threading.Timer(0.5, holder.close).start()
    lock = ddp.lock_run(tmp_path)
    assert lock is not None
    lock.close()
    assert f'(their make ddp, process {gone.stdout.strip()}, has ended): waiting for them' in capsys.readouterr().err


def test_signals_that_make_ddp_starts_ignoring_do_not_stop_its_run():
    # nohup make ddp &: a logout's SIGHUP, and the shell's Ctrl-C (SIGINT,
    # ignored in a background job), must leave the run going; SIGTERM stops it
    program = ('import os, signal\n'
               'from classroom.ddp import Stop\n'
               'stop = Stop()\n'
               'for number in signal.SIGHUP, signal.SIGINT, signal.SIGTERM:\n'
               '    os.kill(os.getpid(), number)\n'
               '    print(stop.signal)\n'
               'stop.restore()\n'
               'print(signal.getsignal(signal.SIGHUP).name, signal.getsignal(signal.SIGINT).name)\n')
    done = subprocess.run(['sh', '-c', 'nohup "$0" -c "$1" & wait', sys.executable, program], cwd=COURSE_ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['None', 'None', str(int(signal.SIGTERM)), 'SIG_IGN SIG_IGN']
    assert done.stderr.count('make ddp: stopping: every process saves a checkpoint') == 1, done.stderr


@pytest.fixture
def stop():
    """make ddp's handlers of the stop signals, in this process while a test runs."""
    handlers = ddp.Stop()
    yield handlers
    handlers.restore()


def test_a_stop_signal_between_any_two_lines_of_closing_the_pipe_closes_it_once(stop):
    for when in range(100):
        read_end, stop.pipe = os.pipe()
        stop.signal = None
        seen = []

        def signal_arrives(frame, event, argument):
            # The signal's handler runs before the `when`-th line of train's
            # own call of close_pipe, as Python runs handlers between lines
            if event == 'line' and len(seen) == when and not stop.signal:
                stop.stop(signal.SIGTERM)
            seen.append(event)
            return signal_arrives

        sys.settrace(lambda frame, event, argument: signal_arrives if frame.f_code is ddp.Stop.close_pipe.__code__
                     and frame.f_back.f_code is not ddp.Stop.stop.__code__ else None)
        try:
            stop.close_pipe()
        finally:
            sys.settrace(None)
        assert stop.pipe is None and os.read(read_end, 1) == b'', when
        os.close(read_end)
        if not stop.signal:
            break
    assert when > 1, 'the handler never ran inside close_pipe'


def test_a_stop_signal_while_make_ddp_prints_a_line_still_stops_the_run(stop, monkeypatch):
    class Terminal(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            # Ctrl-C while this line is being written out
            if stop.signal is None:
                stop.stop(signal.SIGINT)
            return len(data)

    monkeypatch.setattr(sys, 'stderr', io.TextIOWrapper(io.BufferedWriter(Terminal())))
    read_end, stop.pipe = os.pipe()
    ddp.say('run 20261201-061011-1f7b07 in runs/data_parallel/20261201-061011-1f7b07/')
    assert stop.signal == signal.SIGINT and stop.pipe is None and os.read(read_end, 1) == b''
    os.close(read_end)


def test_a_ctrl_c_after_the_run_has_ended_says_so_and_keeps_its_exit_code(tmp_path, capsys, monkeypatch):
    class Lock:
        """The run's lock, over which a late Ctrl-C lands as make ddp ends."""
        def __init__(self, run_dir):
            self.file = open(run_dir / '.lock', 'a+')

        def fileno(self):
            return self.file.fileno()

        def __enter__(self):
            return self

        def __exit__(self, *exception):
            self.file.close()
            raise KeyboardInterrupt

    monkeypatch.setattr(ddp, 'lock_run', Lock)
    monkeypatch.setattr(ddp, 'train', lambda *arguments: 1)
    assert ddp.main(['--nproc', '1', '--device', 'cpu', '--runs-folder', str(tmp_path)]) == 1
    said = capsys.readouterr().err
    assert 'make ddp: interrupted after the run had ended: nothing was stopped' in said, said
    assert 'before the run started' not in said


def test_a_new_run_id_is_its_start_in_utc_whatever_the_time_zone(tmp_path, monkeypatch):
    # A learner 14 hours ahead of UTC (Kiribati): local ids would sort a run
    # started after a move (or a change of daylight saving time) before one
    # started earlier, and RESUME=1 would continue the wrong run
    monkeypatch.setenv('TZ', 'UTC-14')
    time.tzset()
    try:
        started = time.time()
        name = ddp.run_folder(tmp_path, None, 40, helpers.load_checkpoint).name
    finally:
        monkeypatch.undo()
        time.tzset()
    assert ddp.RUN_ID.fullmatch(name)
    assert abs(calendar.timegm(time.strptime(name[:15], '%Y%m%d-%H%M%S')) - started) < 60, name


def test_resume_continues_only_the_run_asked_for(tmp_path):
    def run_folder(resume):
        return ddp.run_folder(tmp_path, resume, 40, helpers.load_checkpoint)

    with pytest.raises(ValueError, match=re.escape(f'RESUME=1: {tmp_path}/ holds no run of make ddp to continue; '
                                                   'start a new run with make ddp, without RESUME')):
        run_folder('last')
    for name, epoch in [('20261201-061011-1f7b07', 10), ('20261201-071500-a0b1c2', 40)]:
        helpers.save_checkpoint(tmp_path / name / 'checkpoint.pth', checkpoint_of(name, epoch))
    helpers.save_checkpoint(tmp_path / 'notebook_2' / 'checkpoint.pth', checkpoint_of('c10d-abc', 200))
    # The last run finished: nothing to continue, and no other run instead
    with pytest.raises(ValueError, match=re.escape(
            'RESUME=1: the last run, 20261201-071500-a0b1c2, is finished: its checkpoint holds all 40 epochs; start '
            'a new run with make ddp, without RESUME; RESUME=20261201-061011-1f7b07 would continue the run before it '
            'that can be')):
        run_folder('last')
    assert run_folder('20261201-061011-1f7b07') == tmp_path / '20261201-061011-1f7b07'
    # Started, and stopped before its first checkpoint: still the last run
    (tmp_path / '20261201-080000-ffffff').mkdir()
    with pytest.raises(ValueError, match='RESUME=1: the last run, 20261201-080000-ffffff, ended before its first '
                                         'checkpoint: there is nothing to continue; start a new run with make ddp, '
                                         'without RESUME'):
        run_folder('last')
    with pytest.raises(ValueError, match='RESUME=20261201-071500-a0b1c2: run 20261201-071500-a0b1c2 is finished: '
                                         'its checkpoint holds all 40 epochs; start a new run with make ddp, '
                                         'without RESUME'):
        run_folder('20261201-071500-a0b1c2')
    with pytest.raises(ValueError, match='RESUME=nosuch: there is no run nosuch in .*: its runs are 20261201-061011'):
        run_folder('nosuch')
    # A folder of the notebook or plain torchrun: the command that continues it
    with pytest.raises(ValueError, match=re.escape(
            f"RESUME=notebook_2: {tmp_path / 'notebook_2'} was not made by make ddp: its checkpoint (epoch 200) "
            "belongs to run 'c10d-abc', started by torchrun or a notebook. Continue it under its own id: torchrun "
            "--rdzv-backend=c10d --rdzv-endpoint=localhost:0 --rdzv-id=c10d-abc --nproc-per-node=2 "
            f"model_training/data_parallel.py --run-dir {tmp_path / 'notebook_2'}")):
        run_folder('notebook_2')


def test_a_checkpoint_write_leaves_no_temporary_file_under_any_signal(tmp_path):
    def held_torchrun(fifo, *extra):
        return held_job(torchrun_command(2, ['--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY,
                                             '--run-dir', run_dir, *extra]), tmp_path / fifo, TIMEOUT)

    run_dir = tmp_path / 'run'
    # SIGKILL to rank 0 mid-write: nothing can clean up, so the next start does
    job = held_torchrun('kill')
    try:
        job.workers()[0].send_signal(signal.SIGKILL)
        assert job.finish(TIMEOUT)[0] != 0
    finally:
        job.stop()
    [leftover] = temporaries(run_dir)
    assert not (run_dir / 'checkpoint.pth').exists()

    # Rank 1 dies mid-write, held longer than the 5 s collective timeout:
    # rank 1 did not give up waiting, and torchrun's SIGTERM lets rank 0
    # finish the write, whole, before it ends
    job = held_torchrun('peer', '--timeout', 5)
    try:
        assert leftover not in temporaries(run_dir), 'the leftover of a SIGKILL was not removed at the next start'
        time.sleep(6)
        assert len(job.workers()) == 2, 'a process gave up waiting for the checkpoint write'
        job.workers()[1].send_signal(signal.SIGKILL)
        job.wait_until(lambda: (tmp_path / 'peer.signalled').exists(), TIMEOUT, "torchrun's SIGTERM to rank 0")
        release(tmp_path / 'peer')
        assert job.finish(TIMEOUT)[0] != 0
    finally:
        job.stop()
    assert temporaries(run_dir) == [] and saved(run_dir)['epoch'] == CHECKPOINT_EVERY

    # SIGKILL to torchrun, which cannot pass anything on: its processes
    # learn it from Linux (PR_SET_PDEATHSIG), finish the write, stop after
    # their epoch together, and none trains on alone (another run, another folder)
    run_dir = tmp_path / 'orphaned'
    job = held_torchrun('launcher')
    try:
        workers = list(job.workers().values())
        job.process.send_signal(signal.SIGKILL)
        wait_for(lambda: (tmp_path / 'launcher.signalled').exists(), TIMEOUT, 'the SIGTERM of Linux')
        release(tmp_path / 'launcher')
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, 'processes kept running after torchrun was killed'
    finally:
        job.stop()
    assert temporaries(run_dir) == [] and saved(run_dir)['epoch'] == CHECKPOINT_EVERY + 1


def slurm_commands(folder):
    """Stand-ins for srun, scontrol and scancel (Slurm is not installed here),
    as the script uses them on one machine: srun runs the step, scancel
    signals it, scontrol names the machine and notes a requeue."""
    commands = {
        'srun': 'echo $$ > "$SLURM_STAND_IN/step.pid"\nexec "$@"',
        'scancel': 'kill -s "${1#--signal=}" "$(cat "$SLURM_STAND_IN/step.pid")"',
        'scontrol': 'case "$1" in\n  show) echo 127.0.0.1 ;;\n'
                    '  requeue) echo "$2" >> "$SLURM_STAND_IN/requeued" ;;\nesac',
    }
    folder.mkdir()
    for name, body in commands.items():
        (folder / name).write_text(f'#!/bin/bash\n{body}\n')
        (folder / name).chmod(0o755)
    return folder


def test_the_slurm_script_stops_on_its_signal_requeues_and_ends_like_an_unbroken_run_with_dropout(tmp_path):
    program_args = ['--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY]
    # Dropout: every step draws random numbers, each process from its own stream
    dropout = {'DROPOUT_BEFORE_LINEAR': 0.5}
    unbroken = Job(torchrun_command(2, [*program_args, '--run-dir', tmp_path / 'unbroken']),
                   hooked_environment(**dropout))
    try:
        code, _, stderr = unbroken.finish(TIMEOUT)
    finally:
        unbroken.stop()
    assert code == 0, stderr[-3000:]

    # The script runs in a folder of its own, as in the course's root
    for name in ['.venv', 'model_training']:
        (tmp_path / name).symlink_to(COURSE_ROOT / name)
    stand_in = slurm_commands(tmp_path / 'slurm')
    slurm = dict(SLURM_JOB_ID='4242', SLURM_NNODES='1', SLURM_JOB_NODELIST='node1', SLURM_STAND_IN=str(stand_in),
                 RDZV_PORT=str(free_port()), PATH=f'{stand_in}{os.pathsep}{os.environ["PATH"]}')
    script = ['bash', COURSE_ROOT / 'model_training' / 'data_parallel.sbatch', *map(str, program_args)]
    run_dir = tmp_path / 'runs' / 'data_parallel' / 'slurm-4242'
    # Slurm's SIGUSR1 to the script (--signal=B:USR1@120) while the second checkpoint is written
    os.mkfifo(tmp_path / 'fifo')
    job = Job(script, dict(hooked_environment(HOLD_CHECKPOINT_WRITE=tmp_path / 'fifo', HOLD_CHECKPOINT_WRITE_AT=2,
                                              **dropout), **slurm), cwd=tmp_path)
    try:
        job.wait_until(lambda: (tmp_path / 'fifo.held').exists(), TIMEOUT, 'a held checkpoint write')
        job.process.send_signal(signal.SIGUSR1)
        job.wait_until(lambda: (tmp_path / 'fifo.signalled').exists(), TIMEOUT, 'the stop to reach rank 0')
        release(tmp_path / 'fifo')
        job.finish(TIMEOUT)
    finally:
        job.stop()
    assert (stand_in / 'requeued').read_text() == '4242\n'
    assert saved(run_dir)['epoch'] == 2 * CHECKPOINT_EVERY + 1 and not job.left_behind()

    # The requeued job: the same script, the same job id
    job = Job(script, dict(hooked_environment(**dropout), **slurm), cwd=tmp_path)
    try:
        code, stdout, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    assert code == 0, stderr[-3000:]
    assert f'resumed from the checkpoint of epoch {2 * CHECKPOINT_EVERY + 1}' in stdout
    # Bit for bit: each process went on drawing where its random stream had stopped
    expected, found = saved(tmp_path / 'unbroken'), saved(run_dir)
    assert found['epoch'] == N_EPOCHS
    for name, value in expected['model_state_dict'].items():
        assert torch.equal(value, found['model_state_dict'][name]), name
    assert expected['loss'] == found['loss']
    assert (stand_in / 'requeued').read_text() == '4242\n', 'a finished run was requeued'
