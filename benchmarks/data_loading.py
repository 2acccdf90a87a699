"""What loading data costs, measured on this machine (`make bench`).

1. Image files: an eager dataset (every image read in __init__) against an
   on-demand one (one file read per item), at N and 4N files, with 0 and 2
   loader workers: time to the first batch, samples per second over the rest
   of the epoch, and the peak memory of the process. Each configuration runs
   in a fresh process, so that one's memory peak cannot hide another's.
2. The chapter's mini-batch loop (80 points, batch 16, its model and train
   step): one epoch through a DataLoader, through two faster in-memory paths,
   and through pre-sliced tensors, the floor no loader can beat.

Other programs running at the same time only ever slow a run down, so every
timing is the best of several repeats; memory is the median.
"""
import argparse
import datetime
import json
import os
import platform
import runpy
import statistics
import subprocess
import sys
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
# How this file runs itself in a fresh process, from the course's root (where
# data_preparation and the other stage folders import)
THIS_MODULE = ['-m', 'benchmarks.data_loading']

KINDS = ('eager', 'on-demand')
# Each batch a worker hands over costs about a millisecond: larger batches
# spread that over more images
LOADING_BATCH_SIZE = 128


def measure_loading(kind, folder, num_workers, batch_size=LOADING_BATCH_SIZE):
    # One shuffled epoch; the clock starts before the dataset is built, so
    # reading the labels (on demand) or every image (eager) is included
    from data_preparation.image_datasets import EagerLineImages, OnDemandLineImages
    from data_preparation.image_loaders import make_loader

    dataset_class = {'eager': EagerLineImages, 'on-demand': OnDemandLineImages}[kind]
    start = time.perf_counter()
    dataset = dataset_class(folder)
    batches = iter(make_loader(dataset, batch_size, shuffle=True, num_workers=num_workers))
    next(batches)
    first_batch_s = time.perf_counter() - start
    samples = sum(len(x_batch) for x_batch, _ in batches)
    rest_s = time.perf_counter() - start - first_batch_s
    return {'first_batch_s': first_batch_s, 'samples_per_s': samples / rest_s}


def peak_memory_mib():
    # The operating system's record of this process's largest resident size
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return peak / 2**20 if sys.platform == 'darwin' else peak / 2**10


def measure_loading_in_fresh_process(kind, folder, num_workers, batch_size):
    command = [sys.executable, *THIS_MODULE, '--measure', kind, str(folder), str(num_workers), str(batch_size)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=COURSE_ROOT)
    if result.returncode != 0:
        raise RuntimeError(f'measuring {kind} with {num_workers} workers on {folder} failed:\n{result.stderr}')
    return json.loads(result.stdout.splitlines()[-1])


def read_items(folder, n_items, start_at):
    # No loader at all: from the agreed moment on, read items one by one
    from data_preparation.image_datasets import OnDemandLineImages

    dataset = OnDemandLineImages(folder)
    time.sleep(max(0.0, start_at - time.time()))
    for index in range(n_items):
        dataset[index % len(dataset)]
    return time.time()


def side_by_side_speedup(folder, n_items=10_000):
    # What two processes reading files at once get out of this machine,
    # against one alone: the most that two loader workers can hope for
    def rate(n_processes):
        start_at = time.time() + 3  # time enough for every process to import torch
        command = [sys.executable, *THIS_MODULE, '--read', str(folder), str(n_items), repr(start_at)]
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=COURSE_ROOT)
                     for _ in range(n_processes)]
        ends = [float(process.communicate()[0].split()[-1]) for process in processes]
        if any(process.returncode for process in processes):
            raise RuntimeError(f'reading {folder} side by side failed')
        return n_processes * n_items / (max(ends) - start_at)

    return rate(2) / rate(1)


def chapter_setup():
    # The chapter's own data and model, from its stage scripts
    import numpy as np
    import torch
    from torch import nn, optim

    from helpers import make_train_step_fn

    namespace = dict(np=np, torch=torch, nn=nn, optim=optim, make_train_step_fn=make_train_step_fn)
    for script in ('data_generation/simple_linear_regression.py', 'model_configuration/v1.py'):
        namespace.update(runpy.run_path(str(COURSE_ROOT / script), init_globals=namespace))
    return namespace


def loop_sources(x_tensor, y_tensor, batch_size=16, seed=42):
    # Four ways to feed the same mini-batches of in-memory tensors to the loop
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    from helpers import TensorBatches

    dataset = TensorDataset(x_tensor, y_tensor)
    return {
        # The chapter's: one __getitem__ per point, then a stack per batch
        f'DataLoader, batch_size={batch_size}': DataLoader(
            dataset, batch_size=batch_size, shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        ),
        # The sampler hands out whole lists of indices, and batch_size=None
        # passes each list to the dataset at once: one indexing per batch
        'DataLoader, BatchSampler': DataLoader(
            dataset, batch_size=None,
            sampler=BatchSampler(
                RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)),
                batch_size=batch_size, drop_last=False,
            ),
        ),
        # One shuffled gather per epoch, then slices
        'TensorBatches': TensorBatches(
            x_tensor, y_tensor, batch_size=batch_size, shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        ),
        # The floor: the batches exist already, nothing is left to do
        'pre-sliced tensors (floor)': list(zip(x_tensor.split(batch_size), y_tensor.split(batch_size))),
    }


def time_epochs(sources, device, step_fn, epochs, repeats):
    # Seconds per epoch of the chapter's loop for each source, best of
    # `repeats`; the sources take turns so that noise hits them alike
    from helpers import mini_batch

    best = {name: float('inf') for name in sources}
    for _ in range(repeats):
        for name, source in sources.items():
            start = time.perf_counter()
            for _ in range(epochs):
                mini_batch(device, source, step_fn)
            best[name] = min(best[name], (time.perf_counter() - start) / epochs)
    return best


def markdown_table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def loading_rows(results):
    return [
        [kind, f'{n_files:,}', workers, f'{r["first_batch_s"]:.2f}', f'{r["samples_per_s"]:,.0f}',
         f'{r["peak_mib"]:.0f}' if 'peak_mib' in r else '-']
        for (kind, n_files, workers), r in results.items()
    ]


LOADING_HEADER = ['dataset', 'files', 'workers', 'first batch (s)', 'samples/s', 'peak memory (MiB)']


def loop_rows(seconds_per_epoch):
    floor = seconds_per_epoch['pre-sliced tensors (floor)']
    return [
        [name, f'{seconds * 1e6:.0f}', f'{seconds / floor:.2f}']
        for name, seconds in seconds_per_epoch.items()
    ]


LOOP_HEADER = ['mini-batches from', 'µs per epoch', 'x floor']


def machine_description():
    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path('/proc/cpuinfo')
    if cpuinfo.is_file():
        names = [line.split(':', 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith('model name')]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'
    return (f'{cpu}, {os.cpu_count()} CPUs, {gpu}; {platform.system()} {platform.release()}, '
            f'Python {platform.python_version()}, torch {torch.__version__}')


def target_lines(loading, loop, n_files):
    def get(kind, files, workers, key):
        return loading[(kind, files, workers)][key]

    memory_growth = get('on-demand', 4 * n_files, 0, 'peak_mib') / get('on-demand', n_files, 0, 'peak_mib') - 1
    eager_growth = get('eager', 4 * n_files, 0, 'peak_mib') / get('eager', n_files, 0, 'peak_mib') - 1
    first_batch = max(get('on-demand', 4 * n_files, workers, 'first_batch_s') for workers in (0, 2))
    speedup = min(get('on-demand', files, 2, 'samples_per_s') / get('on-demand', files, 0, 'samples_per_s')
                  for files in (n_files, 4 * n_files))
    fast = loop['TensorBatches'] / loop['pre-sliced tensors (floor)']
    checks = [
        (f'on-demand peak memory, {n_files:,} -> {4 * n_files:,} files: {memory_growth:+.1%} '
         f'(eager: {eager_growth:+.1%})', 'at most +10%', memory_growth <= 0.10),
        (f'on-demand time to first batch at {4 * n_files:,} files: {first_batch:.2f} s',
         'at most 1 s', first_batch <= 1.0),
        (f'on-demand samples/s, 2 workers over 0: {speedup:.2f}x (the lower of the two sizes)',
         'at least 1.5x', speedup >= 1.5),
        (f'TensorBatches epoch over the floor: {fast:.2f}x', 'at most 1.2x', fast <= 1.2),
    ]
    return [f'- {text}; target {target}: {"met" if met else "MISSED"}' for text, target, met in checks]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--n-files', type=int, default=20_000, help='N: the smaller dataset (the larger has 4N)')
    parser.add_argument('--repeats', type=int, default=3, help='fresh processes per loading configuration')
    parser.add_argument('--data', type=Path, default=COURSE_ROOT / 'data' / 'bench', help='where the images go')
    parser.add_argument('--out', type=Path, default=COURSE_ROOT / 'build' / 'bench.md', help='the report')
    parser.add_argument('--batch-size', type=int, default=LOADING_BATCH_SIZE, help='images per loaded batch')
    parser.add_argument('--measure', nargs=4, metavar=('KIND', 'FOLDER', 'WORKERS', 'BATCH'), help=argparse.SUPPRESS)
    parser.add_argument('--read', nargs=3, metavar=('FOLDER', 'ITEMS', 'START_AT'), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        # Inside a fresh process: measure one configuration, print it as JSON
        kind, folder, workers, batch_size = args.measure
        result = measure_loading(kind, folder, int(workers), int(batch_size))
        print(json.dumps({**result, 'peak_mib': peak_memory_mib()}))
        return
    if args.read:
        folder, n_items, start_at = args.read
        print(read_items(folder, int(n_items), float(start_at)))
        return
    if args.batch_size < 1 or args.n_files < args.batch_size or args.repeats < 1:
        parser.error('--batch-size and --repeats must be at least 1, and --n-files at least --batch-size')

    from data_generation.line_images import write_line_images

    folders = {}
    for n_files in (args.n_files, 4 * args.n_files):
        start = time.perf_counter()
        folders[n_files] = write_line_images(args.data / str(n_files), n_files)
        print(f'wrote {n_files:,} images in {time.perf_counter() - start:.1f} s', flush=True)

    configurations = [(kind, n_files, workers) for kind in KINDS for n_files in folders for workers in (0, 2)]
    runs = {configuration: [] for configuration in configurations}
    for repeat in range(args.repeats):
        for kind, n_files, workers in configurations:
            print(f'run {repeat + 1}/{args.repeats}: {kind}, {n_files:,} files, {workers} workers', flush=True)
            runs[kind, n_files, workers].append(
                measure_loading_in_fresh_process(kind, folders[n_files], workers, args.batch_size))
    loading = {
        configuration: {
            'first_batch_s': min(run['first_batch_s'] for run in measured),
            'samples_per_s': max(run['samples_per_s'] for run in measured),
            'peak_mib': statistics.median(run['peak_mib'] for run in measured),
        }
        for configuration, measured in runs.items()
    }

    print('reading files in two processes side by side, without a loader', flush=True)
    side_by_side = max(side_by_side_speedup(folders[args.n_files]) for _ in range(args.repeats))

    print('timing the chapter\'s mini-batch loop', flush=True)
    chapter = chapter_setup()
    import torch

    sources = loop_sources(torch.as_tensor(chapter['x_train']).float(), torch.as_tensor(chapter['y_train']).float())
    loop = time_epochs(sources, chapter['device'], chapter['train_step_fn'], epochs=200, repeats=15)

    report = '\n'.join([
        f'Measured {datetime.date.today().isoformat()} on {machine_description()}.',
        '',
        f'Loading {args.batch_size}-image batches of 28x28 PNG files, one shuffled epoch '
        f'(best of {args.repeats} fresh processes; memory: their median):',
        '',
        markdown_table(LOADING_HEADER, loading_rows(loading)),
        '',
        f'Two plain processes reading the same files side by side, without a DataLoader, read '
        f'{side_by_side:.2f}x as many per second as one alone (best of {args.repeats}): '
        f'the ceiling for 2 workers on this machine as it was loaded during the run.',
        '',
        'One epoch of the chapter\'s mini-batch loop (80 points, batches of 16; best of 15 x 200 epochs):',
        '',
        markdown_table(LOOP_HEADER, loop_rows(loop)),
        '',
        'Targets:',
        '',
        *target_lines(loading, loop, args.n_files),
        '',
    ])
    print()
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
