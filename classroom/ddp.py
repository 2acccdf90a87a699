"""`make ddp`: trains the chapter's model data-parallel on this machine with
torchrun (model_training/data_parallel.py), one run folder per run.

Before torchrun starts, it checks the number of processes and the program's
options, and reports a mistake once. Each run gets a folder of its own under
runs/data_parallel/ (checkpoint and TensorBoard logs), named by its run id,
and holds a lock on it while it trains. When a process dies, the run starts
again from its last checkpoint, up to --max-restarts times, unless the
failure is a configuration error, which would only recur. An interrupted or
failed run continues with --resume (make ddp RESUME=1, or RESUME=RUN_ID).
"""
import argparse
import fcntl
import os
import re
import runpy
import subprocess
import sys
import time
import uuid
from pathlib import Path

import torch

from classroom.course import COURSE_ROOT

PROGRAM = 'model_training/data_parallel.py'
RUNS_FOLDER = 'runs/data_parallel'
# The run ids that make ddp gives: its start, to the second, and 6 random
# hex digits. Other folders beside them (the notebook's runs) are not its own
RUN_ID = re.compile(r'\d{8}-\d{6}-[0-9a-f]{6}')


def number_of_processes(nproc, global_batch_size):
    """NPROC as a number: a whole number of at least 1, or `auto` (one per
    accelerator, else one per CPU core), that shares `global_batch_size`
    equally and asks for no more processes than there are accelerators.
    Raises a ValueError naming NPROC and what would work."""
    n_devices = torch.accelerator.device_count() if torch.accelerator.is_available() else 0
    if nproc == 'auto':
        number = n_devices or os.cpu_count()
    else:
        try:
            number = int(nproc)
        except ValueError:
            number = None
        if number is None or number < 1:
            raise ValueError(f'NPROC={nproc}: the number of processes is a whole number, at least 1 (or auto)')
    if global_batch_size % number:
        working = [n for n in range(1, global_batch_size + 1) if global_batch_size % n == 0]
        raise ValueError(
            f'NPROC={nproc}: {number} processes cannot share a global mini-batch of {global_batch_size} points '
            f'equally; NPROC must divide it: one of {", ".join(map(str, working))}'
        )
    if n_devices and number > n_devices:
        raise ValueError(
            f'NPROC={nproc}: this machine has {n_devices} accelerator(s), one per process: NPROC={n_devices} at most'
        )
    return number


def run_folder(runs_folder, resume):
    """The folder of the run to start (`resume` None: a new one, named by a
    new run id that sorts by time) or to continue (`resume` 'last' or a run id)."""
    runs_folder = Path(runs_folder)
    if resume is None:
        return runs_folder / f'{time.strftime("%Y%m%d-%H%M%S")}-{uuid.uuid4().hex[:6]}'
    if resume == 'last':
        runs = sorted(path for path in runs_folder.glob('*')
                      if RUN_ID.fullmatch(path.name) and (path / 'checkpoint.pth').is_file())
        if not runs:
            raise ValueError(f'RESUME: no run with a checkpoint in {runs_folder}/ to continue; start one with make ddp')
        return runs[-1]
    if not (runs_folder / resume / 'checkpoint.pth').is_file():
        raise ValueError(f'RESUME={resume}: {runs_folder / resume} holds no checkpoint to continue')
    return runs_folder / resume


def torchrun_command(nproc, run_dir, program_args):
    """torchrun on this machine for one attempt of the run: the run id is
    the folder's name, so that a later attempt resumes its checkpoint."""
    return [
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1', '--rdzv-backend=c10d',
        '--rdzv-endpoint=localhost:0', f'--rdzv-id={run_dir.name}', f'--nproc-per-node={nproc}',
        '--max-restarts=0', PROGRAM, '--run-dir', str(run_dir), *program_args,
    ]


def train(nproc, run_dir, program_args, max_restarts):
    """Runs torchrun until the run ends, starting it again after a failure
    that is not a configuration error; returns the exit code."""
    error_file = run_dir / 'configuration-error.txt'
    environment = dict(os.environ, CONFIGURATION_ERROR_FILE=str(error_file))
    environment.setdefault('OMP_NUM_THREADS', '1')
    for attempt in range(max_restarts + 1):
        if attempt:
            print(f'make ddp: starting the run again ({max_restarts - attempt + 1} of {max_restarts} restarts '
                  f'left); it resumes from its last checkpoint', file=sys.stderr, flush=True)
        error_file.unlink(missing_ok=True)
        torchrun = subprocess.Popen(torchrun_command(nproc, run_dir, program_args), cwd=COURSE_ROOT, env=environment)
        try:
            code = torchrun.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached torchrun and its processes too: let them stop
            torchrun.wait()
            print(f'make ddp: interrupted; continue this run with make ddp RESUME={run_dir.name}', file=sys.stderr)
            return 130
        if code == 0:
            return 0
        if error_file.exists():
            print(f'make ddp: not started again, since it would fail the same way: {error_file.read_text()}',
                  file=sys.stderr, end='')
            error_file.unlink()
            return 2
    print(f'make ddp: the run failed {max_restarts + 1} times; continue it with make ddp RESUME={run_dir.name}',
          file=sys.stderr)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog='Other options go to ' + PROGRAM)
    parser.add_argument('--nproc', default='2', help='processes on this machine: a whole number or auto')
    parser.add_argument('--resume', nargs='?', const='last', help='continue the last run, or the run with this id')
    parser.add_argument('--runs-folder', default=RUNS_FOLDER, help='where run folders are made')
    parser.add_argument('--max-restarts', type=int, default=3)
    args, program_args = parser.parse_known_args(argv)
    # The program's own options, checked here, once, before any process starts
    program_parser = runpy.run_path(str(COURSE_ROOT / PROGRAM))['parser']
    program_parser.prog = f'make ddp ({PROGRAM})'
    options = program_parser.parse_args(program_args)
    if options.run_dir:
        parser.error('--run-dir: make ddp chooses the run folder; see --runs-folder and --resume')
    try:
        nproc = number_of_processes(args.nproc, options.global_batch_size)
        run_dir = run_folder(COURSE_ROOT / args.runs_folder, args.resume)
    except ValueError as error:
        print(f'make ddp: {error}', file=sys.stderr)
        return 2
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / '.lock', 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f'make ddp: run {run_dir.name} is being trained by another make ddp right now; '
                  f'wait for it, or start a new run', file=sys.stderr)
            return 2
        print(f'make ddp: run {run_dir.name} in {run_dir}/, {nproc} processes',
              file=sys.stderr, flush=True)
        return train(nproc, run_dir, program_args, args.max_restarts)


if __name__ == '__main__':
    sys.exit(main())
