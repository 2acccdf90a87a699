"""The data-parallel program (model_training/data_parallel.py) under torchrun,
on the CPU with Gloo: 2 processes x 8 points end where 1 process x 16 does, on
one machine (with notebook 04's own command, on a machine with one GPU, faked)
or two simulated ones, and under `make ddp` after workers are killed."""
import re
import shlex
import signal
import sys
import uuid

import pytest
import torch

from classroom.course import CHAPTERS, code_cells, free_port
from tests.torchrun_jobs import (
    Job, ddp_command, held_job, hooked_environment, listening, release, run_in_this_process, torchrun_command,
)

# Few epochs: equality needs no convergence
N_EPOCHS = 40
CHECKPOINT_EVERY = 5
TIMEOUT = 120
NOTEBOOK = next(chapter for chapter in CHAPTERS if chapter.name.startswith('04_'))


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
    # One process of 16 points per step: the stage scripts in this process,
    # and the line that rank 0 of the program prints last
    model = run_in_this_process(tmp_path_factory.mktemp('one_process'), N_EPOCHS, CHECKPOINT_EVERY)['model']
    return model.state_dict(), str(model.state_dict())


def notebook_command(device_choice, nproc):
    """Notebook 04's `!torchrun` command for `nproc` processes, as IPython
    runs it with the notebook's `device_choice`, as a list."""
    [command] = [source for source, _ in code_cells(NOTEBOOK)
                 if source.startswith('!torchrun') and f'--nproc_per_node={nproc} ' in source]
    arguments = shlex.split(command.removeprefix('!').replace('{device_choice}', device_choice))
    assert arguments[0] == 'torchrun'
    return [sys.executable, '-m', 'torch.distributed.run', *arguments[1:]]


def test_notebook_04_on_a_machine_with_one_gpu_runs_2_processes_of_8_that_end_like_one_of_16(
        one_process, tmp_path, monkeypatch):
    # Colab's GPU runtime: one CUDA device, faked (this PyTorch has none),
    # here and in every process. The notebook's own choice of device...
    monkeypatch.setattr(torch.accelerator, 'is_available', lambda: True)
    monkeypatch.setattr(torch.accelerator, 'device_count', lambda: 1)
    [choice] = [source for source, _ in code_cells(NOTEBOOK) if source.startswith('n_accelerators = ')]
    names = {'torch': torch}
    exec(choice, names)
    assert names['device_choice'] == 'cpu'
    # ... and its two-process command, which used to stop at once: "2
    # processes ... it has 1 cuda device(s)". A run that touched the faked GPU
    # would fail too. One restart allowed: Gloo can, rarely, abort a process
    # while it leaves the group, and the restart then resumes from the final checkpoint
    python, module, launcher, *arguments = notebook_command(names['device_choice'], 2)
    command = [python, module, launcher, '--max-restarts=1', *arguments, *map(str, program_args(tmp_path, 'two'))]
    stdout = finished(Job(command, hooked_environment(FAKE_ACCELERATOR='cuda:1')))
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


def test_make_ddp_starts_again_after_a_killed_worker_says_so_resumes_and_ends_the_same(one_process, tmp_path):
    fifo = tmp_path / 'fifo'
    job = held_job(ddp_command('--runs-folder', tmp_path / 'runs', '--n-epochs', N_EPOCHS,
                               '--checkpoint-every', CHECKPOINT_EVERY), fifo, TIMEOUT)
    try:
        # Rank 1 killed while rank 0 writes the first checkpoint: torchrun's
        # SIGTERM lets rank 0 end the write before it ends too
        job.workers()[1].send_signal(signal.SIGKILL)
        job.wait_until(lambda: fifo.with_suffix('.signalled').exists(), TIMEOUT, "torchrun's SIGTERM to rank 0")
        release(fifo)
        stdout = finished(job)
    finally:
        job.stop()
    stderr = job.output()[1]
    assert ('make ddp: rank 1 ended without an error of its own (a lost process: killed?); starting it again '
            f'(restart 1 of 3): it resumes from its checkpoint of epoch {CHECKPOINT_EVERY}') in stderr
    assert re.findall(r'resumed from the checkpoint of epoch (\d+)', stdout) == [str(CHECKPOINT_EVERY)]
    [run_dir] = (tmp_path / 'runs').iterdir()
    assert_same_parameters(one_process[0], final_parameters(run_dir))
    assert stdout.splitlines()[-1] == one_process[1]
    assert sorted(path.name for path in run_dir.iterdir() if path.suffix == '.pth') == ['checkpoint.pth'], (
        'a temporary, half-written checkpoint was left behind'
    )
