"""What data parallel gains on this machine's CPU cores (`make bench`).

Three models, each trained for a fixed number of steps on the same global
mini-batches, in three ways side by side: 1 process x 1 thread, 1 process x 2
threads, 2 processes x 1 thread (torchrun, Gloo, DDP). Samples per second of
each, and, for 2 processes, the time of one all-reduce of the model's
gradients (the message every step waits for) against the model's size:

- the chapter's model: 2 parameters, 16 points per step: messages dominate;
- a small convolutional network (two 3x3 layers of 32 and 64 filters) on
  notebook 02's 28x28 images, 64 per step: much computation per parameter;
- a wide MLP (784-1024-1024-10) on the same images: many parameters, little
  computation each.

Every configuration runs in fresh processes; every timing is the best of
several repeats, since other programs only ever slow a run down.

    python -m benchmarks.data_parallel            # the table, also into build/bench_data_parallel.md
    python -m benchmarks.data_parallel --why      # the convolutional network only: what keeps
                                                  # 2 processes behind 2 threads (DDP's settings,
                                                  # and 2 processes without DDP), side by side
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent

IMAGE_FOLDER = COURSE_ROOT / 'data' / 'bench_data_parallel'
N_IMAGES = 2048
# name: (global mini-batch, timed steps)
MODELS = {
    'chapter': (16, 400),
    'conv': (64, 40),
    'mlp': (64, 40),
}
REPEATS = 3
WARMUP_STEPS = 5
CONFIGS = [('1 process x 1 thread', 1, 1), ('1 process x 2 threads', 1, 2), ('2 processes x 1 thread', 2, 1)]
# --why: the convolutional network as (label, processes, threads, variant),
# side by side. DDP's defaults put all 18,881 gradients in one 25 MiB bucket,
# averaged after the whole backward pass; small buckets start averaging
# during it (overlap); a bucket view saves a copy of the gradients; without
# DDP, two processes train side by side and only wait for each other
# before and after each timed run: the ceiling of 2 processes on 2 cores
WHY_CONFIGS = [
    ('1 process x 1 thread', 1, 1, 'default'),
    ('1 process x 1 thread, half the batch (32)', 1, 1, 'half-batch'),
    ('1 process x 2 threads', 1, 2, 'default'),
    ('2 processes, DDP defaults (1 bucket)', 2, 1, 'default'),
    ('2 processes, DDP, 8 KiB buckets (overlap)', 2, 1, 'small-buckets'),
    ('2 processes, DDP, gradient_as_bucket_view', 2, 1, 'bucket-view'),
    ('2 processes, no DDP, no gradient averaging', 2, 1, 'no-ddp'),
]


def build(name):
    # The model, its loss and the full data (inputs, targets) of one model
    import numpy as np
    import torch
    import torch.nn as nn

    torch.manual_seed(42)
    if name == 'chapter':
        namespace = {'np': np}
        exec((COURSE_ROOT / 'data_generation/simple_linear_regression.py').read_text(), namespace)
        inputs = torch.as_tensor(namespace['x_train']).float()
        targets = torch.as_tensor(namespace['y_train']).float()
        return nn.Sequential(nn.Linear(1, 1)), nn.MSELoss(), inputs, targets
    from data_preparation.image_datasets import EagerLineImages

    images = EagerLineImages(IMAGE_FOLDER)
    if name == 'conv':
        model = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3), nn.ReLU(), nn.Conv2d(32, 64, kernel_size=3), nn.ReLU(),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 1),
        )
        return model, nn.BCEWithLogitsLoss(), images.images, images.labels
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10),
    )
    return model, nn.CrossEntropyLoss(), images.images, images.labels.view(-1).long()


def measure(name, threads, variant='default'):
    # Runs in each process: training steps on this process's share of every
    # global mini-batch; rank 0 returns the samples per second of the group
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(threads)
    world_size = int(os.environ.get('WORLD_SIZE', 1))
    rank = int(os.environ.get('RANK', 0))
    model, loss_fn, inputs, targets = build(name)
    n_params = sum(parameter.numel() for parameter in model.parameters())
    if world_size > 1:
        dist.init_process_group('gloo', timeout=datetime.timedelta(seconds=120))
        if variant == 'small-buckets':
            model = DDP(model, bucket_cap_mb=8 / 1024)
        elif variant == 'bucket-view':
            model = DDP(model, gradient_as_bucket_view=True)
        elif variant == 'default':
            model = DDP(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    global_batch, steps = MODELS[name]
    if variant == 'half-batch':
        global_batch //= 2
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(0))

    def train(n_steps):
        for step in range(n_steps):
            start = (step * global_batch) % (len(inputs) - global_batch + 1)
            # This process's strided share of the global mini-batch
            indices = order[start:start + global_batch][rank::world_size]
            loss = loss_fn(model(inputs[indices]), targets[indices])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    train(WARMUP_STEPS)
    best = float('inf')
    for _ in range(REPEATS):
        if world_size > 1:
            dist.barrier()
        start = time.perf_counter()
        train(steps)
        if world_size > 1:
            dist.barrier()
        best = min(best, time.perf_counter() - start)
    result = {'samples_per_s': global_batch * steps / best, 'parameters': n_params, 'step_ms': 1000 * best / steps}
    if world_size > 1:
        # One all-reduce of as many numbers as the model has parameters
        gradients = torch.zeros(n_params)
        reduce_times = []
        for _ in range(20):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(gradients)
            reduce_times.append(time.perf_counter() - start)
        result['all_reduce_ms'] = 1000 * sorted(reduce_times)[len(reduce_times) // 2]
        # As the course's program does: leave the group together, DDP first
        dist.barrier()
        del model
        dist.destroy_process_group()
    if rank == 0:
        print(json.dumps(result), flush=True)


def run_config(name, nproc, threads, variant='default'):
    # This file, run from the course's root (where helpers.py imports)
    measure_args = ['-m', 'benchmarks.data_parallel', '--measure', name, '--threads', str(threads),
                    '--variant', variant]
    if nproc == 1:
        command = [sys.executable, *measure_args]
    else:
        command = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}',
                   *measure_args]
    environment = dict(os.environ, OMP_NUM_THREADS=str(threads), TORCH_DISABLE_SHARE_RDZV_TCP_STORE='1')
    # Gloo rarely aborts a process as it exits (SIGABRT, "terminate called
    # without an active exception"), after the measurement: try again, say so
    for attempt in range(3):
        result = subprocess.run(command, capture_output=True, text=True, cwd=COURSE_ROOT, env=environment,
                                timeout=600)
        if result.returncode == 0:
            return json.loads(result.stdout.splitlines()[-1])
        print(f'{name}, {nproc} process(es) x {threads} thread(s): attempt {attempt + 1} failed '
              f'({result.stderr.strip().splitlines()[0] if result.stderr.strip() else result.returncode})',
              file=sys.stderr, flush=True)
    raise RuntimeError(f'{name}, {nproc} process(es) x {threads} thread(s) failed:\n{result.stderr}')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--measure', choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument('--threads', type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument('--variant', default='default', help=argparse.SUPPRESS)
    parser.add_argument('--why', action='store_true', help='what keeps 2 processes behind 2 threads (conv only)')
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.threads, args.variant)

    from data_generation.line_images import write_line_images
    from benchmarks.data_loading import machine_description

    if not (IMAGE_FOLDER / 'labels.csv').is_file():
        write_line_images(IMAGE_FOLDER, N_IMAGES)
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    if args.why:
        return why(load, machine_description())
    rows = []
    for name in MODELS:
        results = {label: run_config(name, nproc, threads) for label, nproc, threads in CONFIGS}
        one, two_threads, two_procs = (results[label]['samples_per_s'] for label, _, _ in CONFIGS)
        parameters = results[CONFIGS[0][0]]['parameters']
        rows.append([
            f'{name} ({MODELS[name][0]} per step)', f'{parameters:,}', f'{4 * parameters / 2**20:.2f}',
            f'{one:,.0f}', f'{two_threads:,.0f}', f'{two_procs:,.0f}',
            f'{two_procs / one:.2f}x', f'{two_procs / two_threads:.2f}',
            f'{results[CONFIGS[2][0]]["all_reduce_ms"]:.2f} of {results[CONFIGS[2][0]]["step_ms"]:.2f}',
        ])
        print(f'measured {name}', file=sys.stderr, flush=True)
    header = ['model', 'parameters', 'MiB all-reduced per step', 'samples/s 1 proc x 1 thread',
              '1 proc x 2 threads', '2 procs x 1 thread', '2 procs / 1x1', '2 procs / 1x2',
              'all-reduce ms of step ms (2 procs)']
    lines = [f'Measured {datetime.date.today()} on {machine_description()}; load average {load:.2f} at the start.', '',
             '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    lines += ['', 'These ratios are this machine\'s own. They vary with the processor, its cores and what else '
              'runs: benchmarks/README.md gives each of its ratios with the machine it came from.']
    table = '\n'.join(lines)
    print(table)
    out = COURSE_ROOT / 'build' / 'bench_data_parallel.md'
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + '\n')


def why(load, machine):
    """The convolutional network in WHY_CONFIGS, side by side, in images per
    second and as a ratio of 1 process x 2 threads; each 2-process row also
    with its step time and its all-reduce time."""
    results = {label: run_config('conv', nproc, threads, variant) for label, nproc, threads, variant in WHY_CONFIGS}
    two_threads = results['1 process x 2 threads']['samples_per_s']
    one = results['1 process x 1 thread']['samples_per_s']
    lines = [f'Measured {datetime.date.today()} on {machine}; load average {load:.2f} at the start.', '',
             '| conv, 64 images per step | images/s | / 1 x 1 | / 1 x 2 threads | step ms | all-reduce ms |',
             '|---|---|---|---|---|---|']
    for label, _, _, _ in WHY_CONFIGS:
        result = results[label]
        reduce_ms = f'{result["all_reduce_ms"]:.2f}' if 'all_reduce_ms' in result else ''
        lines.append(f'| {label} | {result["samples_per_s"]:,.0f} | {result["samples_per_s"] / one:.2f}x | '
                     f'{result["samples_per_s"] / two_threads:.2f} | {result["step_ms"]:.2f} | {reduce_ms} |')
    table = '\n'.join(lines)
    print(table)
    out = COURSE_ROOT / 'build' / 'bench_data_parallel_why.md'
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + '\n')


if __name__ == '__main__':
    main()
