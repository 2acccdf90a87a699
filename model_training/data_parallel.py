# One process of a data-parallel training run. torchrun starts this file
# once per process, and each runs the same stage scripts, the way %run -i
# runs them in a notebook. Start it with, e.g.:
#   TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 torchrun --standalone --nproc_per_node=2 model_training/data_parallel.py
import argparse
import datetime
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split
from torch.utils.data.distributed import DistributedSampler
from torch.utils.tensorboard import SummaryWriter

COURSE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(COURSE_ROOT))
from helpers import (  # noqa: E402 (helpers.py is found through the line above)
    device_and_backend, load_checkpoint, make_train_step_fn, make_val_step_fn,
    mean_across_processes, mini_batch, per_process_batch_size, save_checkpoint,
)

parser = argparse.ArgumentParser(description='Trains the chapter\'s model on several processes.')
parser.add_argument('--global-batch-size', type=int, default=16, help='points per step, all processes together')
parser.add_argument('--n-epochs', type=int, default=200)
parser.add_argument('--checkpoint-every', type=int, default=10, help='epochs between checkpoints')
parser.add_argument('--checkpoint-path', default='checkpoints/data_parallel.pth')
parser.add_argument('--log-dir', default='runs/data_parallel')
args = parser.parse_args()
global_batch_size, n_epochs = args.global_batch_size, args.n_epochs
checkpoint_every, checkpoint_path, log_dir = args.checkpoint_every, args.checkpoint_path, args.log_dir

if 'TORCHELASTIC_RUN_ID' not in os.environ:
    sys.exit(f'{__file__}: start this file with torchrun, not python (see its first lines)')
# torchrun tells each process who it is: its rank among all processes, its
# rank on this machine, how many processes there are in all and here
rank = int(os.environ['RANK'])
local_rank = int(os.environ['LOCAL_RANK'])
world_size = int(os.environ['WORLD_SIZE'])
# The same id in every process of this run, and after a restart
run_id = os.environ['TORCHELASTIC_RUN_ID']

device, backend = device_and_backend(local_rank, int(os.environ['LOCAL_WORLD_SIZE']))
# Wrong sizes fail here, in every process, before any training
per_process_batch_size(global_batch_size, world_size)
if device.type == 'cuda':
    torch.cuda.set_device(device)
# A process that waits longer than this for the others fails instead of
# hanging, and torchrun can start the group again
dist.init_process_group(backend, timeout=datetime.timedelta(seconds=60))


def run_stage(path):
    # Like %run -i: the script reads and adds to this file's names
    exec(compile((COURSE_ROOT / path).read_text(), path, 'exec'), globals())


run_stage('data_generation/simple_linear_regression.py')
run_stage('data_preparation/v8.py')
run_stage('model_configuration/v6.py')
run_stage('model_training/v7.py')

if rank == 0:
    print(model.state_dict())
# Every process leaves the group together: one that tears down its
# connections while another still uses them can crash at exit. DDP holds
# the group too: dropping it first lets the group close now, not while
# Python shuts down
dist.barrier()
del ddp_model, train_step_fn
dist.destroy_process_group()
