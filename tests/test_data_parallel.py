"""The data-parallel program (model_training/data_parallel.py) under torchrun,
on the CPU with Gloo: 2 processes x 8 points end where 1 process x 16 does, on
one machine or two simulated ones, and after a worker is killed mid-run."""
import re
import signal
import uuid

import pytest
import torch

from classroom.course import free_port
from tests.torchrun_jobs import Job, listening, torchrun_command

# Few epochs: equality needs no convergence
N_EPOCHS = 40
CHECKPOINT_EVERY = 5
TIMEOUT = 120


def program_args(folder, name, *extra):
    return ['--n-epochs', N_EPOCHS, '--checkpoint-every', CHECKPOINT_EVERY, '--run-dir', folder / name, *extra]


def finished(job):
    code, stdout, stderr = job.finish(TIMEOUT)
    assert code == 0, stderr[-3000:]
    assert not job.left_behind(), 'processes outlived torchrun'
    return stdout


def final_parameters(run_dir):
    checkpoint = torch.load(run_dir / 'checkpoint.pth', weights_only=True)
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
    return final_parameters(folder / 'one'), stdout.splitlines()[-1]


def test_two_processes_of_8_end_like_one_process_of_16(one_process, tmp_path):
    # One restart allowed, as make ddp allows three: Gloo can, rarely, abort
    # a process while it leaves the group, and the restart then resumes
    # from the final checkpoint
    stdout = finished(Job(torchrun_command(2, program_args(tmp_path, 'two'), max_restarts=1)))
    parameters, last_line = one_process
    assert_same_parameters(parameters, final_parameters(tmp_path / 'two'))
    # The last line is rank 0's state_dict, and only rank 0 prints
    assert stdout.splitlines()[-1] == last_line
    assert stdout.count('OrderedDict') == 1 + stdout.count('resumed from')


def test_two_simulated_machines_end_like_one_process_and_rank_0_is_the_first_address(one_process, tmp_path):
    # c10d rendezvous numbers the machines in the order of their addresses,
    # whatever --node-rank says and whichever starts first: the machine
    # started first, at 127.0.0.2 and told --node-rank=0, gets rank 1
    port = free_port()
    rendezvous = ['--nnodes=2', '--rdzv-backend=c10d', f'--rdzv-endpoint=127.0.0.1:{port}',
                  f'--rdzv-id={uuid.uuid4()}']
    first = Job(torchrun_command(1, program_args(tmp_path, 'nodes'),
                                 [*rendezvous, '--node-rank=0', '--local-addr=127.0.0.2'], max_restarts=1))
    nodes = [first]
    try:
        first.wait_until(lambda: listening(port), TIMEOUT, 'the rendezvous of the first machine')
        nodes.append(Job(torchrun_command(1, program_args(tmp_path, 'nodes'),
                                          [*rendezvous, '--node-rank=1', '--local-addr=127.0.0.1'], max_restarts=1)))
        started_first, started_second = [finished(node) for node in nodes]
    finally:
        for node in nodes:
            node.stop()
    assert_same_parameters(one_process[0], final_parameters(tmp_path / 'nodes'))
    # Only rank 0 prints the parameters
    assert started_second.count('OrderedDict') - started_second.count('resumed from') == 1
    assert 'OrderedDict' not in started_first


def test_a_killed_worker_is_restarted_and_the_run_ends_the_same(one_process, tmp_path):
    checkpoint = tmp_path / 'killed' / 'checkpoint.pth'
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
    assert_same_parameters(one_process[0], final_parameters(checkpoint.parent))
    assert sorted(path.name for path in checkpoint.parent.iterdir() if path.suffix == '.pth') == ['checkpoint.pth'], (
        'a temporary, half-written checkpoint was left behind'
    )
