"""The data-parallel program (model_training/data_parallel.py) under torchrun,
on the CPU with Gloo: 2 processes x 8 points end where 1 process x 16 does, on
one machine or two simulated ones, and after a worker is killed mid-run."""
import re
import signal
import uuid

import pytest
import torch

from torchrun_jobs import Job, free_port, torchrun_command

# Few epochs: equality needs no convergence
N_EPOCHS = 40
CHECKPOINT_EVERY = 5
TIMEOUT = 120


def program_args(folder, name, *extra):
    return ['--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY,
            '--checkpoint-path', folder / f'{name}.pth', '--log-dir', folder / 'runs', *extra]


def finished(job):
    code, stdout, stderr = job.finish(TIMEOUT)
    assert code == 0, stderr[-3000:]
    assert not job.left_behind(), 'processes outlived torchrun'
    return stdout


def final_parameters(path):
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint['epoch'] == N_EPOCHS
    return checkpoint['model_state_dict']


def assert_same_parameters(expected, found):
    assert expected.keys() == found.keys()
    for name in expected:
        assert torch.allclose(expected[name], found[name], rtol=0, atol=1e-6), (name, expected[name], found[name])


@pytest.fixture(scope='module')
def one_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp('one_process')
    stdout = finished(Job(torchrun_command(1, program_args(folder, 'one'))))
    return final_parameters(folder / 'one.pth'), stdout.splitlines()[-1]


def test_two_processes_of_8_end_like_one_process_of_16(one_process, tmp_path):
    # One restart allowed, as make ddp allows three: Gloo can, rarely, abort
    # a process while it leaves the group, and the restart then resumes
    # from the final checkpoint
    stdout = finished(Job(torchrun_command(2, program_args(tmp_path, 'two'), max_restarts=1)))
    parameters, last_line = one_process
    assert_same_parameters(parameters, final_parameters(tmp_path / 'two.pth'))
    # The last line is rank 0's state_dict, and only rank 0 prints
    assert stdout.splitlines()[-1] == last_line
    assert stdout.count('OrderedDict') == 1 + stdout.count('resumed from')


def test_two_simulated_machines_end_like_one_process(one_process, tmp_path):
    rendezvous = ['--nnodes=2', '--rdzv-backend=c10d', f'--rdzv-endpoint=127.0.0.1:{free_port()}',
                  f'--rdzv-id={uuid.uuid4()}']
    nodes = [Job(torchrun_command(1, program_args(tmp_path, 'nodes'), [*rendezvous, f'--node-rank={rank}'],
                                  max_restarts=1))
             for rank in (0, 1)]
    try:
        outputs = [finished(node) for node in nodes]
    finally:
        for node in nodes:
            node.stop()
    assert_same_parameters(one_process[0], final_parameters(tmp_path / 'nodes.pth'))
    assert sum(output.count('OrderedDict') - output.count('resumed from') for output in outputs) == 1


def test_a_killed_worker_is_restarted_and_the_run_ends_the_same(one_process, tmp_path):
    checkpoint = tmp_path / 'killed.pth'
    job = Job(torchrun_command(2, program_args(tmp_path, 'killed'), max_restarts=2))
    try:
        job.wait_until(checkpoint.exists, TIMEOUT, 'first checkpoint')
        job.wait_until(lambda: len(job.workers()) == 2, TIMEOUT, 'two workers')
        job.workers()[1].send_signal(signal.SIGKILL)
        stdout = finished(job)
    finally:
        job.stop()
    resumed = re.findall(r'resumed from the checkpoint of epoch (\d+)', stdout)
    assert len(resumed) == 1 and 0 < int(resumed[0]) < N_EPOCHS, stdout
    assert_same_parameters(one_process[0], final_parameters(checkpoint))
    assert sorted(path.name for path in tmp_path.iterdir() if path.suffix == '.pth') == ['killed.pth'], (
        'a temporary, half-written checkpoint was left behind'
    )


def test_a_global_batch_the_processes_cannot_share_fails_before_training(tmp_path):
    # A checkpoint from an earlier run, which the failing run must not touch
    earlier = tmp_path / 'earlier.pth'
    earlier.write_bytes(b'an earlier run')
    job = Job(torchrun_command(2, program_args(tmp_path, 'earlier', '--global-batch-size', 15)))
    try:
        code, stdout, stderr = job.finish(TIMEOUT)
    finally:
        job.stop()
    assert code != 0
    assert 'a global mini-batch of 15 points cannot be shared equally by 2 processes' in stderr
    assert earlier.read_bytes() == b'an earlier run'
    assert not (tmp_path / 'runs').exists()
