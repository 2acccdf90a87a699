"""What notebook 04 says DDP does with a parameter the forward pass leaves
unused, and what TORCH_DISTRIBUTED_DEBUG=INFO adds, run as the notebook runs
its next steps: two forked processes in one Gloo group on this machine. The
step goes through with gradients that were never averaged; the next forward
pass raises the error the notebook quotes, which names
find_unused_parameters=True; at INFO it also names the unused parameters;
with find_unused_parameters=True the gradients are averaged and training
goes on."""
import pickle
import time
import warnings

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from classroom.course import CHAPTERS, cell_source, free_port

NOTEBOOK = next(chapter for chapter in CHAPTERS if chapter.name.startswith('04_'))
# The cells that say it: the debugging tools, and the unused parameters
DEBUG_TEXT, UNUSED_TEXT = 'd1e4a7c0', 'd1e4a7c4'


class OneBranchUnused(nn.Module):
    """A model whose forward pass never uses one of its layers, as a branch
    not taken in a step."""

    def __init__(self):
        super().__init__()
        self.used = nn.Linear(1, 1)
        self.unused = nn.Linear(1, 1)

    def forward(self, x):
        return self.used(x)


def two_steps(rank, find_unused_parameters):
    """A backward pass on the rank's own points, then the next forward pass:
    (the used weight's gradient, the error of the next forward pass or None)."""
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(OneBranchUnused(), find_unused_parameters=find_unused_parameters)
    model(torch.full((4, 1), float(rank + 1))).pow(2).mean().backward()
    gradient = model.module.used.weight.grad.item()
    try:
        model(torch.ones(4, 1))
    except RuntimeError as error:
        return gradient, str(error)
    return gradient, None


def in_group(rank, port, results):
    # What a forked process prints would reach pytest's output: it reports
    # through `results`, pickled
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    try:
        plain = two_steps(rank, find_unused_parameters=False)
        # What TORCH_DISTRIBUTED_DEBUG=INFO sets when a process starts
        dist.set_debug_level(dist.DebugLevel.INFO)
        at_info = two_steps(rank, find_unused_parameters=False)
        dist.set_debug_level(dist.DebugLevel.OFF)
        remedied = two_steps(rank, find_unused_parameters=True)
        results.put((rank, pickle.dumps({'plain': plain, 'info': at_info, 'remedied': remedied})))
    finally:
        dist.destroy_process_group()


def run_in_two_forked_processes():
    """{rank: what in_group reported}, or an error after 120 s."""
    results = mp.get_context('fork').SimpleQueue()
    with warnings.catch_warnings():
        # Python 3.12 and later warn that forking a process with threads can
        # deadlock; the children only use the CPU, their own threads and this group
        warnings.simplefilter('ignore', DeprecationWarning)
        processes = mp.start_processes(in_group, args=(free_port(), results), nprocs=2, start_method='fork',
                                       join=False)
    deadline = time.monotonic() + 120
    try:
        while not processes.join(timeout=1):
            if time.monotonic() > deadline:
                raise TimeoutError('the two processes did not finish in 120 s')
    finally:
        for process in processes.processes:
            if process.is_alive():
                process.kill()
    return {rank: pickle.loads(report) for rank, report in (results.get() for _ in range(2))}


def test_an_unused_parameter_stops_ddp_at_the_next_step_with_the_error_the_notebook_quotes():
    reports = run_in_two_forked_processes()
    unused_text = ' '.join(cell_source(NOTEBOOK, UNUSED_TEXT).split())
    quoted = unused_text.split('*')[1]
    assert quoted.startswith('Expected to have finished reduction')
    for rank in (0, 1):
        gradient, error = reports[rank]['plain']
        # the next forward pass stops, naming the remedy, but not the parameters
        assert quoted in ' '.join(error.split())
        assert 'find_unused_parameters=True' in error and 'find_unused_parameters=True' in unused_text
        assert 'unused.weight' not in error
        # at INFO, the same error names the parameters that got no gradient
        _, error_at_info = reports[rank]['info']
        assert quoted in ' '.join(error_at_info.split())
        assert f'Parameters which did not receive grad for rank {rank}: unused.bias, unused.weight' in error_at_info
        # find_unused_parameters=True: no error
        assert reports[rank]['remedied'][1] is None
    # the first step's gradients were never averaged: each rank kept its own
    plain = [reports[rank]['plain'][0] for rank in (0, 1)]
    assert plain[0] != plain[1]
    # with the remedy, they are, and equal the average of the two
    remedied = [reports[rank]['remedied'][0] for rank in (0, 1)]
    assert remedied[0] == remedied[1] and abs(remedied[0] - sum(plain) / 2) < 1e-6
    assert 'never averaged' in unused_text and 'TORCH_DISTRIBUTED_DEBUG=INFO' in unused_text


def test_the_notebook_says_what_info_adds_and_no_more():
    debug_text = ' '.join(cell_source(NOTEBOOK, DEBUG_TEXT).split())
    assert "`INFO` only prints DDP's settings" not in debug_text
    assert '`INFO` adds no check' in debug_text and 'name them' in debug_text
