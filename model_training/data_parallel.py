# One process of a data-parallel training run. torchrun starts this file
# once per process, and each runs the same stage scripts, the way %run -i
# runs them in a notebook. `make ddp` starts it (classroom/ddp.py); by hand:
#   TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 torchrun --standalone --nproc_per_node=2 model_training/data_parallel.py
import argparse
import ctypes
import datetime
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split
from torch.utils.data.distributed import DistributedSampler
from torch.utils.tensorboard import SummaryWriter

COURSE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(COURSE_ROOT))
from helpers import (  # noqa: E402 (helpers.py is found through the line above)
    ConfigurationError, StopRequest, checkpoint_to_resume, device_and_backend, load_checkpoint,
    make_train_step_fn, make_val_step_fn, mean_across_processes, mini_batch, per_process_batch_size,
    random_states_of_every_process, restore_random_state, save_checkpoint,
)


def whole_number(text):
    # Refused here, before any process starts, not as a crash in every process
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number of at least 1')
    return int(text)


def seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'{text!r} is not a number of seconds above 0')
    return value


parser = argparse.ArgumentParser(description='Trains the chapter\'s model on several processes.')
parser.add_argument('--global-batch-size', type=whole_number, default=16, help='points per step, all processes')
parser.add_argument('--n-epochs', type=whole_number, default=200)
parser.add_argument('--checkpoint-every', type=whole_number, default=10, help='epochs between checkpoints')
parser.add_argument('--run-dir', help='the run\'s checkpoint and TensorBoard logs (default: runs/data_parallel/RUN_ID)')
parser.add_argument('--timeout', type=seconds, default=60, help='seconds a process waits for the others')
parser.add_argument('--device', default='auto',
                    help='auto (an accelerator per process if there are enough, else the CPU), cpu, or cuda, ...')


def stop_with_the_launcher():
    # torchrun stops its processes when it is stopped, but a SIGKILL gives
    # it no chance: then Linux sends this process SIGTERM (prctl's
    # PR_SET_PDEATHSIG, 1), which stops it at the end of its epoch
    if sys.platform.startswith('linux'):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def run_stage(path, names):
    # Like %run -i: the script reads and adds to the program's names
    exec(compile((COURSE_ROOT / path).read_text(), path, 'exec'), names)


# @record: if a process fails, torchrun's summary shows its traceback
@record
def main():
    args = parser.parse_args()
    if 'TORCHELASTIC_RUN_ID' not in os.environ:
        sys.exit(f'{__file__}: start this file with torchrun, not python (see its first lines)')
    stop_with_the_launcher()
    # torchrun tells each process who it is: its rank among all processes,
    # its rank on this machine, how many processes there are in all
    rank = int(os.environ['RANK'])
    local_rank = int(os.environ['LOCAL_RANK'])
    world_size = int(os.environ['WORLD_SIZE'])
    # The same id in every process of this run, and after a restart
    run_id = os.environ['TORCHELASTIC_RUN_ID']
    run_dir = Path(args.run_dir or f'runs/data_parallel/{run_id}')

    device, backend = device_and_backend(local_rank, int(os.environ['LOCAL_WORLD_SIZE']), args.device)
    # Wrong sizes fail here, in every process, before any training
    per_process_batch_size(args.global_batch_size, world_size)
    if device.type != 'cpu':
        torch.accelerator.set_device_index(device.index)
    # A process that waits longer than this for the others fails instead of
    # hanging, and torchrun can start the group again
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=args.timeout))
    # Waiting for a checkpoint to be written is not waiting for a dead peer:
    # the barrier after a write has a group of its own, with a longer timeout
    checkpoint_group = dist.new_group(timeout=datetime.timedelta(hours=1))
    # From here on, Ctrl-C (SIGINT), SIGTERM (kill, torchrun, a scheduler's
    # time limit) and SIGUSR1 (Slurm's --signal) stop every process at the
    # end of the epoch, after a checkpoint, instead of ending this one now
    stop_request = StopRequest(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)

    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        # A process killed by SIGKILL while writing leaves its temporary file
        for leftover in run_dir.glob('.tmp-*.pth'):
            leftover.unlink()

    # The names the stage scripts use, beside this file's imports
    names = dict(globals())
    names.update(
        rank=rank, world_size=world_size, device=device, run_id=run_id,
        global_batch_size=args.global_batch_size, n_epochs=args.n_epochs,
        checkpoint_every=args.checkpoint_every, checkpoint_group=checkpoint_group,
        checkpoint_path=str(run_dir / 'checkpoint.pth'), log_dir=str(run_dir), stop_request=stop_request,
    )
    run_stage('data_generation/simple_linear_regression.py', names)
    run_stage('data_preparation/v8.py', names)
    run_stage('model_configuration/v6.py', names)
    run_stage('model_training/v7.py', names)

    # The final parameters; a run stopped on request is not finished
    if rank == 0 and not names['stopping']:
        print(names['model'].state_dict())
    # Every process leaves the group together: one that tears down its
    # connections while another still uses them can crash at exit. DDP holds
    # the group too: dropping it first lets the group close now, not while
    # Python shuts down
    dist.barrier()
    names.clear()
    dist.destroy_process_group()


def report(error):
    # make ddp (classroom/ddp.py) gives each process a file in which to say
    # what it died of, so as to start the run again only when that can help:
    # a configuration error, or an error in the program, would happen again
    folder = os.environ.get('DATA_PARALLEL_REPORTS')
    if folder:
        kind = 'configuration' if isinstance(error, ConfigurationError) else 'program'
        message = str(error) if kind == 'configuration' else f'{type(error).__name__}: {error}'
        Path(folder, f'rank-{os.environ["RANK"]}.txt').write_text(f'{kind}\n{message}\n')


if __name__ == '__main__':
    try:
        main()
    except Exception as error:
        report(error)
        raise
