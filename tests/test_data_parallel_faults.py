"""The data-parallel program and `make ddp` (classroom/ddp.py) under faults: ranks
that would resume from different epochs, bad NPROC, configuration errors that
must not be retried, Ctrl-C then resume, concurrent runs, and signals while
a checkpoint is being written (held open by tests/hold_checkpoint_write)."""
import fcntl
import os
import re
import runpy
import signal
import subprocess
import time
import uuid

import psutil
import pytest
import torch
import torch.distributed as dist
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from classroom import ddp
import helpers
from classroom.course import COURSE_ROOT, free_port, run_stages
from tests.torchrun_jobs import Job, ddp_command, job_environment, torchrun_command

N_EPOCHS = 40
CHECKPOINT_EVERY = 5
TIMEOUT = 120
STAGES = ['data_generation/simple_linear_regression.py', 'data_preparation/v8.py',
          'model_configuration/v6.py', 'model_training/v7.py']


def run_in_this_process(run_dir, run_id='reference'):
    """The program's stage scripts in a group of one inside this process, as
    notebook 04 runs them; returns their names."""
    names = runpy.run_path(str(COURSE_ROOT / 'model_training/data_parallel.py'))
    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)
    try:
        names.update(rank=0, world_size=1, device=torch.device('cpu'), run_id=run_id, global_batch_size=16,
                     n_epochs=N_EPOCHS, checkpoint_every=CHECKPOINT_EVERY, checkpoint_group=None,
                     checkpoint_path=str(run_dir / 'checkpoint.pth'), log_dir=str(run_dir))
        return run_stages(names, *STAGES)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    return run_in_this_process(tmp_path_factory.mktemp('reference'))['model'].state_dict()


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
            'loss': [1.0] * epoch, 'val_loss': [1.0] * epoch, 'run_id': run_id}


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
        ddp.number_of_processes(nproc, 16)


def test_more_processes_than_accelerators_are_refused(monkeypatch):
    monkeypatch.setattr(torch.accelerator, 'is_available', lambda: True)
    monkeypatch.setattr(torch.accelerator, 'device_count', lambda: 1)
    with pytest.raises(ValueError, match='NPROC=2: this machine has 1 accelerator'):
        ddp.number_of_processes('2', 16)
    assert ddp.number_of_processes('auto', 16) == 1


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


def test_a_configuration_error_inside_the_workers_is_reported_once_not_retried(tmp_path):
    # A run folder whose checkpoint belongs to another run: every restart
    # would meet it again
    folder = tmp_path / 'borrowed'
    helpers.save_checkpoint(folder / 'checkpoint.pth', checkpoint_of('another-run', 10))
    before = (folder / 'checkpoint.pth').read_bytes()
    started = time.monotonic()
    job = Job(ddp_command('--resume', 'borrowed', '--runs-folder', tmp_path, '--max-restarts', 3))
    try:
        code, stdout, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    seconds = time.monotonic() - started
    assert code == 2, stderr[-3000:]
    assert stderr.count("make ddp: not started again, since it would fail the same way: rank 0, 1: ") == 1
    assert "holds epoch 10 of another run, 'another-run'" in stderr
    assert 'starting the run again' not in stderr
    # @record: torchrun's summary shows the worker's traceback
    assert 'ConfigurationError' in stderr and 'To enable traceback' not in stderr
    assert (folder / 'checkpoint.pth').read_bytes() == before
    # One torchrun, failing at start-up: seconds (a loaded 2-core machine took 9 to 11 s), where 4
    # attempts used to take 4 start-ups, or 4 collective timeouts of 60 s
    assert seconds < 90, f'{seconds:.1f} s'


def scalars(run_dir, tag):
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def test_ctrl_c_then_resume_ends_like_an_unbroken_run_and_logs_each_epoch_once(reference, tmp_path):
    arguments = ['--nproc', 2, '--runs-folder', tmp_path / 'runs', '--n-epochs', N_EPOCHS, '--checkpoint-every',
                 CHECKPOINT_EVERY]
    # Ctrl-C while the second checkpoint (epoch 10) is being written: the
    # first one (epoch 5) is on disk, the logs of epochs 5 to 9 too
    job = held_job(ddp_command(*arguments), tmp_path / 'fifo', HOLD_CHECKPOINT_WRITE_AT='2')
    try:
        # A terminal's Ctrl-C reaches every process in the foreground
        os.killpg(job.process.pid, signal.SIGINT)
        code, _, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    [run_dir] = (tmp_path / 'runs').iterdir()
    assert code == 130 and f'continue this run with make ddp RESUME={run_dir.name}' in stderr
    assert saved(run_dir)['epoch'] == CHECKPOINT_EVERY
    assert scalars(run_dir, 'loss/training') == list(range(2 * CHECKPOINT_EVERY))
    assert temporaries(run_dir) == []

    job = Job(ddp_command(*arguments, '--resume'))
    try:
        code, stdout, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    assert code == 0, stderr[-3000:]
    assert f'resumed from the checkpoint of epoch {CHECKPOINT_EVERY}' in stdout
    assert saved(run_dir)['epoch'] == N_EPOCHS
    assert_same_parameters(reference, saved(run_dir)['model_state_dict'])
    # One TensorBoard run, each epoch once: epochs 5 to 9, logged before
    # Ctrl-C and again after resuming, are shown once (purge_step)
    assert scalars(run_dir, 'loss/training') == list(range(N_EPOCHS))


def test_a_run_being_trained_cannot_be_resumed_by_a_second_make_ddp(tmp_path, capsys):
    busy = tmp_path / '20261201-061011-1f7b07'
    helpers.save_checkpoint(busy / 'checkpoint.pth', checkpoint_of(busy.name, 10))
    with open(busy / '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert ddp.main(['--resume', '--runs-folder', str(tmp_path)]) == 2
    assert f'run {busy.name} is being trained by another make ddp right now' in capsys.readouterr().err
    assert ddp.run_folder(tmp_path, None) != ddp.run_folder(tmp_path, None), 'two new runs share a folder'


def test_resume_continues_the_last_run_of_make_ddp_not_another_folder(tmp_path):
    for name in ['20261201-061011-1f7b07', '20261201-071500-a0b1c2', 'notebook_2']:
        helpers.save_checkpoint(tmp_path / name / 'checkpoint.pth', checkpoint_of(name, 10))
    (tmp_path / '20261201-080000-ffffff').mkdir()  # started, no checkpoint yet
    assert ddp.run_folder(tmp_path, 'last') == tmp_path / '20261201-071500-a0b1c2'
    assert ddp.run_folder(tmp_path, '20261201-061011-1f7b07') == tmp_path / '20261201-061011-1f7b07'
    with pytest.raises(ValueError, match='RESUME=nosuch: .* holds no checkpoint to continue'):
        ddp.run_folder(tmp_path, 'nosuch')


def held_job(command, fifo, **environment):
    """A job of `command` whose first checkpoint write (see
    tests/hold_checkpoint_write) is held; returns it once the write is held."""
    os.mkfifo(fifo)
    environment = dict(job_environment(), HOLD_CHECKPOINT_WRITE=str(fifo), **environment,
                       PYTHONPATH=os.pathsep.join([str(COURSE_ROOT / 'tests' / 'hold_checkpoint_write'),
                                                   os.environ.get('PYTHONPATH', '')]))
    job = Job(command, environment)
    job.wait_until(lambda: os.path.exists(f'{fifo}.held'), TIMEOUT, 'a held checkpoint write')
    return job


def held_torchrun(run_dir, fifo, *extra):
    """torchrun, 2 processes, whose first checkpoint write is held."""
    return held_job(torchrun_command(2, ['--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY,
                                         '--run-dir', run_dir, *extra]), fifo)


def temporaries(run_dir):
    return sorted(path.name for path in run_dir.glob('.tmp-*'))


def test_a_checkpoint_write_leaves_no_temporary_file_under_any_signal(tmp_path):
    run_dir = tmp_path / 'run'
    # SIGKILL to rank 0 mid-write: nothing can clean up, so the next start does
    job = held_torchrun(run_dir, tmp_path / 'kill')
    try:
        job.workers()[0].send_signal(signal.SIGKILL)
        assert job.finish(TIMEOUT)[0] != 0
    finally:
        job.stop()
    [leftover] = temporaries(run_dir)
    assert not (run_dir / 'checkpoint.pth').exists()

    # Rank 1 dies mid-write: torchrun sends SIGTERM to rank 0. The write is
    # held longer than the 5 s collective timeout, and rank 1 still waits
    job = held_torchrun(run_dir, tmp_path / 'peer', '--timeout', 5)
    try:
        assert leftover not in temporaries(run_dir), 'the leftover of a SIGKILL was not removed at the next start'
        time.sleep(6)
        assert len(job.workers()) == 2, 'a process gave up waiting for the checkpoint write'
        job.workers()[1].send_signal(signal.SIGKILL)
        assert job.finish(TIMEOUT)[0] != 0
    finally:
        job.stop()
    assert temporaries(run_dir) == []

    # SIGTERM to torchrun itself, which passes it on to its processes
    job = held_torchrun(run_dir, tmp_path / 'term')
    try:
        job.process.send_signal(signal.SIGTERM)
        assert job.finish(TIMEOUT)[0] != 0
    finally:
        job.stop()
    assert temporaries(run_dir) == []
    assert not job.left_behind()

    # SIGKILL to torchrun, which cannot pass anything on: its processes are
    # stopped all the same (none trains on alone), and clean up
    job = held_torchrun(run_dir, tmp_path / 'launcher')
    try:
        workers = list(job.workers().values())
        job.process.send_signal(signal.SIGKILL)
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, 'processes kept running after torchrun was killed'
    finally:
        job.stop()
    assert temporaries(run_dir) == []
    assert not (run_dir / 'checkpoint.pth').exists()




def test_the_slurm_script_is_valid_bash_and_starts_the_program_with_a_run_folder():
    # Slurm itself is not installed here: the script's syntax and command are what can be checked
    script = COURSE_ROOT / 'model_training' / 'data_parallel.sbatch'
    assert subprocess.run(['bash', '-n', script]).returncode == 0
    text = script.read_text()
    assert '--rdzv-backend=c10d' in text and 'model_training/data_parallel.py --run-dir' in text
