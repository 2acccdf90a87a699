"""Kills data-parallel workers again and again, and checks that every run
still ends with the parameters of a run that never failed.

    python -m benchmarks.restart_stress                 # 6 runs x 2 kills
    python -m benchmarks.restart_stress --runs 10 --kills-per-run 3
    python -m benchmarks.restart_stress --share-store   # torchrun's default store sharing, to compare

Each run is torchrun's own restarts, as on two machines and in the Slurm
script (2 processes, --max-restarts=3, the chapter's 200 epochs, a checkpoint
every 10), in a temporary folder. After each new checkpoint, a worker (rank 0
and 1 in turn) gets SIGKILL at a random moment within the next few
milliseconds, so some kills land while rank 0 writes; torchrun then stops the
survivor with SIGTERM, which it takes as a stop on request, and the survivor
ends at its next collective with the dead peer.
A run passes when torchrun exits 0, the final parameters equal the reference
bit for bit, no temporary checkpoint file is left and no process outlives it.
"""
import argparse
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import torch

from tests.torchrun_jobs import Job, job_environment, torchrun_command

TIMEOUT = 300


def final_parameters(run_dir):
    return torch.load(run_dir / 'checkpoint.pth', weights_only=True)['model_state_dict']


def run_once(folder, kills, environment, rng):
    checkpoint = folder / 'checkpoint.pth'
    job = Job(torchrun_command(2, ['--run-dir', folder], max_restarts=3), environment)
    try:
        for kill in range(kills):
            last_change = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
            job.wait_until(lambda: checkpoint.exists() and checkpoint.stat().st_mtime_ns != last_change,
                           TIMEOUT, f'checkpoint before kill {kill + 1}')
            time.sleep(rng.uniform(0, 0.02))
            job.wait_until(lambda: len(job.workers()) == 2, TIMEOUT, 'two workers to kill from')
            os.kill(job.workers()[kill % 2].pid, signal.SIGKILL)
        code, stdout, stderr = job.finish(TIMEOUT)
    except AssertionError as error:
        job.stop()
        return f'FAIL ({error})', None
    finally:
        job.stop()
    if code != 0:
        return f'FAIL (torchrun exit {code}: {stderr.strip().splitlines()[-1] if stderr.strip() else ""})', None
    leftovers = [path.name for path in folder.iterdir() if path.name.startswith('.tmp-')]
    if leftovers or job.left_behind():
        return f'FAIL (left behind: {leftovers} {job.left_behind()})', None
    resumed = stdout.count('resumed from the checkpoint')
    return f'pass ({resumed} resumes)', final_parameters(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=6)
    parser.add_argument('--kills-per-run', type=int, default=2, help='at most 3, torchrun\'s restarts')
    parser.add_argument('--share-store', action='store_true',
                        help='leave TORCH_DISABLE_SHARE_RDZV_TCP_STORE unset (torchrun\'s default)')
    args = parser.parse_args()
    environment = job_environment()
    if args.share_store:
        del environment['TORCH_DISABLE_SHARE_RDZV_TCP_STORE']
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        reference_job = Job(torchrun_command(2, ['--run-dir', Path(folder) / 'reference']))
        code, _, stderr = reference_job.finish(TIMEOUT)
        if code != 0:
            sys.exit(f'the reference run failed:\n{stderr}')
        reference = final_parameters(Path(folder) / 'reference')
        passed = 0
        for run in range(args.runs):
            run_folder = Path(folder) / f'run{run}'
            run_folder.mkdir()
            start = time.perf_counter()
            verdict, parameters = run_once(run_folder, args.kills_per_run, environment, rng)
            if parameters is not None:
                same = all(torch.equal(reference[name], parameters[name]) for name in reference)
                verdict = verdict if same else 'FAIL (parameters differ from the reference)'
            passed += verdict.startswith('pass')
            print(f'run {run + 1:2}: {args.kills_per_run} kills, {time.perf_counter() - start:5.1f} s, {verdict}',
                  flush=True)
    kills = args.runs * args.kills_per_run
    print(f'{passed} of {args.runs} runs ({kills} kills) ended bit for bit equal to a run that never failed')
    return 0 if passed == args.runs else 1


if __name__ == '__main__':
    sys.exit(main())
