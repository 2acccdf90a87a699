"""Helpers shared by the course's notebooks and stage scripts.

Every function here is shown, word for word, in a notebook cell tagged
``helpers``; ``tests/test_single_source.py`` fails if the two drift apart.
"""
import os
import pickle
import re
import signal
import socket
import sys
import tempfile

import numpy as np
import torch


def check_same_shape(yhat, y):
    """Raises a ValueError, naming both shapes, unless the prediction and
    the target have the same shape."""
    # MSELoss only warns, then broadcasts a (16, 1) prediction against a
    # (16,) target into a (16, 16) grid of errors: refuse it before any update
    if yhat.shape != y.shape:
        raise ValueError(
            f'prediction has shape {tuple(yhat.shape)} but the target has '
            f'shape {tuple(y.shape)}: they must match, e.g. both (n, 1)'
        )


def make_train_step_fn(model, loss_fn, optimizer):
    """Builds a function that performs one step of the train loop:
    train_step_fn(x, y) updates the model's parameters once on a mini-batch
    and returns its loss as a float."""
    def perform_train_step_fn(x, y):
        # Sets the model to TRAIN mode
        model.train()
        # Step 1 - computes the model's predictions (forward pass)
        yhat = model(x)
        check_same_shape(yhat, y)
        # Step 2 - computes the loss
        loss = loss_fn(yhat, y)
        # Step 3 - computes the gradients of every parameter
        loss.backward()
        # Step 4 - updates the parameters and zeroes the gradients
        optimizer.step()
        optimizer.zero_grad()
        # Returns the loss as a plain Python number
        return loss.item()

    # The caller gets the inner function, which remembers
    # model, loss_fn and optimizer
    return perform_train_step_fn


def make_val_step_fn(model, loss_fn):
    """Builds a function that performs one step of the validation loop:
    val_step_fn(x, y) returns the model's loss on a mini-batch as a float,
    in eval mode, without updating anything."""
    def perform_val_step_fn(x, y):
        # Sets the model to EVAL mode
        model.eval()
        # Step 1 - computes the model's predictions (forward pass)
        yhat = model(x)
        check_same_shape(yhat, y)
        # Step 2 - computes the loss
        loss = loss_fn(yhat, y)
        # No steps 3 and 4: validation never updates the parameters
        return loss.item()

    return perform_val_step_fn


def resolve_device(device):
    """The torch.device for 'cpu', 'cuda', 'cuda:1', 'mps' or a torch.device;
    a RuntimeError, naming the device, when this machine does not have it."""
    device = torch.device(device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device '{device}' was asked for, but CUDA is not "
                f"available on this machine; use 'cpu' instead"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device '{device}' was asked for, but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type == 'mps' and not torch.backends.mps.is_available():
        raise RuntimeError(
            f"device '{device}' was asked for, but MPS is not available "
            f"on this machine; use 'cpu' instead"
        )
    return device


def mini_batch(device, data_loader, step_fn):
    """Runs `step_fn` on every mini-batch of `data_loader`, each sent to
    `device`, and returns the average of the losses it returned (each
    mini-batch counts once, whatever its size)."""
    device = resolve_device(device)
    mini_batch_losses = []
    for x_batch, y_batch in data_loader:
        # The dataset lives on the CPU: each mini-batch goes to the device
        x_batch = x_batch.to(device)
        y_batch = y_batch.to(device)

        mini_batch_loss = step_fn(x_batch, y_batch)
        mini_batch_losses.append(mini_batch_loss)

    if not mini_batch_losses:
        # np.mean([]) would only warn and return nan
        raise ValueError(
            'the data loader yielded no mini-batch: is its dataset empty, '
            'or does drop_last=True discard the only, incomplete batch?'
        )
    # The epoch's loss is the average of its mini-batch losses, as a plain
    # float (a NumPy scalar could not be loaded back with weights_only=True)
    return float(np.mean(mini_batch_losses))


def mini_batch_weighted(device, data_loader, step_fn):
    """Like mini_batch, but each mini-batch's loss counts once per point in
    it: the mean loss over every point, whatever the batch sizes and order
    (for a loss that averages over its mini-batch, like MSELoss)."""
    device = resolve_device(device)
    loss_sum, n_points = 0.0, 0
    for x_batch, y_batch in data_loader:
        loss = step_fn(x_batch.to(device), y_batch.to(device))
        # The step returned the mini-batch's mean: times its size, its sum
        loss_sum += loss * len(x_batch)
        n_points += len(x_batch)

    if n_points == 0:
        raise ValueError(
            'the data loader yielded no mini-batch: is its dataset empty, '
            'or does drop_last=True discard the only, incomplete batch?'
        )
    return loss_sum / n_points


CHECKPOINT_KEYS = (
    'epoch', 'model_state_dict', 'optimizer_state_dict', 'loss', 'val_loss'
)


def check_checkpoint(checkpoint, where):
    """Raises a ValueError, starting with `where`, unless `checkpoint` is a
    dict holding every key of CHECKPOINT_KEYS."""
    # Resuming needs every one of these keys: fail now, not at load time
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f'{where}: a checkpoint is a dict, not {type(checkpoint).__name__}'
        )
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise ValueError(f'{where}: the checkpoint lacks the keys {missing}')


def save_checkpoint(path, checkpoint):
    """Saves a checkpoint dict to `path` atomically: the file is either the
    previous checkpoint or the new one, never half of each."""
    check_checkpoint(checkpoint, f'saving {str(path)!r}')
    # Writes to a temporary file in the same folder, then renames it over
    # `path`: a crash mid-write leaves the previous checkpoint untouched
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix='.tmp-', suffix='.pth')
    try:
        with os.fdopen(fd, 'wb') as tmp_file:
            torch.save(checkpoint, tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        # mkstemp makes the file private (0600): give it the permissions of
        # any new file here, so others sharing the folder can read it
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        os.remove(tmp_path)
        raise


def load_checkpoint(path, map_location=None):
    """Loads a checkpoint saved by save_checkpoint, with weights_only=True;
    a clear error for a missing, broken or suspicious file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'no checkpoint file at {str(path)!r}')
    try:
        # weights_only=True rebuilds tensors, numbers, strings, lists and
        # dicts only: a file that would run code when unpickled is refused
        checkpoint = torch.load(
            path, map_location=map_location, weights_only=True
        )
    except pickle.UnpicklingError as error:
        # torch names what it refused as "GLOBAL module.name"
        refused = re.findall(r'GLOBAL (\S+)', str(error))
        raise pickle.UnpicklingError(
            f'{str(path)!r} was refused: loading it would call '
            f'{", ".join(refused) or "code"}, which a checkpoint never needs'
        ) from None
    except Exception as error:
        raise ValueError(
            f'{str(path)!r} is not a readable checkpoint: the file is '
            f'truncated or was not written by torch.save'
        ) from error
    check_checkpoint(checkpoint, f'loading {str(path)!r}')
    return checkpoint


def plot_losses(losses, val_losses=None):
    """A figure of the training (and validation) loss per epoch, on a log
    scale."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(losses, label='Training Loss', c='b')
    if val_losses is not None:
        ax.plot(val_losses, label='Validation Loss', c='r')
    # The losses fall by orders of magnitude: a log scale shows all of it
    ax.set_yscale('log')
    ax.set_xlabel('Epochs')
    ax.set_ylabel('Loss')
    ax.legend()
    fig.tight_layout()
    return fig


def plot_resumed_losses(before, after, resumed_at):
    """Two panels of losses, before a checkpoint and after resuming from it.
    `before` and `after` are (losses, val_losses) pairs; the epochs after
    the checkpoint are numbered from `resumed_at` on."""
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    panels = [
        ('Before the checkpoint', before, 0),
        ('After resuming', after, resumed_at),
    ]
    for ax, (title, (losses, val_losses), first_epoch) in zip(axs, panels):
        epochs = first_epoch + np.arange(len(losses))
        ax.plot(epochs, losses, label='Training Loss', c='b')
        ax.plot(epochs, val_losses, label='Validation Loss', c='r')
        ax.set_yscale('log')
        ax.set_xlabel('Epochs')
        ax.set_title(title)
        ax.legend()
    axs[0].set_ylabel('Loss')
    fig.tight_layout()
    return fig


def make_balanced_sampler(labels, generator=None):
    """A WeightedRandomSampler that draws every class of `labels` (1-D, one
    label per sample) equally often, len(labels) draws per epoch."""
    # Each sample's weight is one over the size of its class, so all
    # classes weigh the same
    labels = torch.as_tensor(labels)
    if labels.dim() != 1:
        raise ValueError(
            f'labels must be 1-D, one label per sample, but have shape '
            f'{tuple(labels.shape)}: flatten them first, e.g. labels.view(-1)'
        )
    if len(labels) == 0:
        raise ValueError('labels is empty: there is nothing to sample from')
    if labels.is_floating_point() and torch.isnan(labels).any():
        first = torch.isnan(labels).nonzero()[0].item()
        raise ValueError(f'labels[{first}] is NaN: every sample needs a class')
    _, class_of_sample, class_sizes = torch.unique(
        labels, return_inverse=True, return_counts=True
    )
    sample_weights = 1.0 / class_sizes.double()[class_of_sample]
    # With replacement, an epoch still has len(labels) draws: the few
    # samples of a small class are drawn many times over
    return torch.utils.data.WeightedRandomSampler(
        weights=sample_weights,
        num_samples=len(labels),
        replacement=True,
        generator=generator,
    )


def make_windows(series, window_size, horizon=1, dtype=torch.float32):
    """Cuts a 1-D series into overlapping windows, one step apart, and
    returns (features, targets): the features are `window_size` consecutive
    steps, the target is the step `horizon` steps after the window's last.
    Both are tensors of `dtype`."""
    series = torch.as_tensor(series, dtype=dtype)
    if series.dim() != 1:
        raise ValueError(
            f'the series must be 1-D, one value per time step, but has '
            f'shape {tuple(series.shape)}'
        )
    if window_size < 1 or horizon < 1:
        raise ValueError(
            f'window_size and horizon must be at least 1, not '
            f'{window_size} and {horizon}'
        )
    n_windows = len(series) - window_size - horizon + 1
    if n_windows < 1:
        raise ValueError(
            f'a series of {len(series)} steps is too short for a window of '
            f'{window_size} steps and a target {horizon} step(s) after it'
        )
    features = series.unfold(0, window_size, 1)[:n_windows]
    targets = series[window_size + horizon - 1:].view(-1, 1)
    return features, targets


class TensorBatches:
    """Mini-batches straight from tensors already in memory, without a
    DataLoader: each pass gathers the tensors once, in a fresh shuffled
    order, and hands out consecutive slices of them (views, not copies)."""
    def __init__(self, *tensors, batch_size, shuffle=False, generator=None):
        if not tensors or any(len(tensor) != len(tensors[0]) for tensor in tensors):
            raise ValueError(
                f'expected one or more tensors of the same length, got lengths '
                f'{[len(tensor) for tensor in tensors]}'
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be a positive whole number, not {batch_size!r}')
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        # The number of mini-batches, the last one possibly smaller
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self):
        tensors = self.tensors
        if self.shuffle:
            order = torch.randperm(len(tensors[0]), generator=self.generator)
            tensors = [tensor[order] for tensor in tensors]
        return zip(*(tensor.split(self.batch_size) for tensor in tensors))


class ConfigurationError(ValueError):
    """A data-parallel run that cannot work as it was set up: trying again
    would fail the same way, so it is reported once and not restarted."""


def device_and_backend(local_rank, local_world_size, choice='auto'):
    """The device and the communication backend of one process of a
    data-parallel job, by `choice`: 'cpu', the CPU and Gloo; an accelerator's
    type such as 'cuda', device number `local_rank` of it and its default
    backend (NCCL for CUDA), refusing more processes on this machine than it
    has devices, since two processes cannot share one; or 'auto', the
    accelerator when it has a device for every process on this machine, else
    the CPU and Gloo, which process 0 of the machine says."""
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    n_devices = torch.accelerator.device_count() if accelerator else 0
    offered = ['auto', 'cpu'] + ([accelerator.type] if accelerator else [])
    if choice not in offered:
        raise ConfigurationError(f'device {choice!r}: this machine offers {", ".join(map(repr, offered))}')
    if choice == 'auto' and local_world_size > n_devices:
        if accelerator and local_rank == 0:
            print(f'{local_world_size} processes on this machine, but {n_devices} {accelerator.type} '
                  f'device(s), one per process at most: every process uses the CPU and Gloo (choose the '
                  f'device cpu to say so yourself, or {n_devices} process(es) to use the {accelerator.type})',
                  file=sys.stderr, flush=True)
        choice = 'cpu'
    if choice == 'cpu':
        return torch.device('cpu'), 'gloo'
    if local_world_size > n_devices:
        raise ConfigurationError(
            f'{local_world_size} processes on this machine, but it has {n_devices} {accelerator.type} '
            f'device(s), one per process: run at most {n_devices}, or choose the device cpu'
        )
    device = torch.device(accelerator.type, local_rank)
    return device, torch.distributed.get_default_backend_for_device(device)


def per_process_batch_size(global_batch_size, world_size):
    """How many points each of `world_size` processes takes per step so that,
    together, they make one mini-batch of `global_batch_size` points; refuses
    a size that the processes cannot share equally."""
    if global_batch_size % world_size:
        raise ConfigurationError(
            f'a global mini-batch of {global_batch_size} points cannot be shared equally by '
            f'{world_size} processes: choose a multiple of {world_size}, or another number of processes'
        )
    return global_batch_size // world_size


def checkpoint_to_resume(checkpoint_path, run_id, map_location=None):
    """The checkpoint every process of the group resumes from, or None to
    start afresh: a checkpoint saved by this run (same `run_id`) is resumed,
    the same one in every process. Raises a ConfigurationError in every
    process, naming each one's file, when the processes would resume from
    different epochs, or when a file is another run's (it is never
    overwritten) or unreadable."""
    checkpoint, problem = None, None
    if os.path.isfile(checkpoint_path):
        try:
            checkpoint = load_checkpoint(checkpoint_path, map_location=map_location)
        except (ValueError, pickle.UnpicklingError) as error:
            problem = str(error)
        else:
            if checkpoint.get('run_id') != run_id:
                problem = (
                    f'{checkpoint_path!r} holds epoch {checkpoint["epoch"]} of another run, '
                    f'{checkpoint.get("run_id")!r}: continue that run under its own id (torchrun '
                    f'--rdzv-id={checkpoint.get("run_id")}), or choose another folder; it is not overwritten'
                )
    mine = {
        'where': f'{os.path.abspath(checkpoint_path)} on {socket.gethostname()}',
        'epoch': 0 if checkpoint is None else checkpoint['epoch'],
        'problem': problem,
    }
    # Every process learns what every other one found, so that all of them
    # take the same decision, and none waits for a collective the others skip
    everyone = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(everyone, mine)
    problems = {}
    for rank, found in enumerate(everyone):
        if found['problem']:
            problems.setdefault(found['problem'], []).append(str(rank))
    if problems:
        raise ConfigurationError(
            '; '.join(f'rank {", ".join(ranks)}: {problem}' for problem, ranks in problems.items())
        )
    if len({found['epoch'] for found in everyone}) > 1:
        raise ConfigurationError(
            'the processes would resume from different epochs: '
            + ', '.join(f'rank {rank} from epoch {found["epoch"]} ({found["where"]})'
                        for rank, found in enumerate(everyone))
            + '. Every machine must see the same checkpoint file: put the run folder on storage they all share'
        )
    return checkpoint


class StopRequest:
    """A request to stop training that every process of the group obeys at
    the same epoch. Each of `signals` (SIGTERM from kill or torchrun, Slurm's
    SIGUSR1, ...) no longer ends the process at once: like `request()`, it
    only sets the request, which the training loop reads at the end of each
    epoch with `anywhere()`, to save a checkpoint and stop there."""

    def __init__(self, *signals):
        self.requested = False
        for number in signals:
            signal.signal(number, self.request)

    def request(self, *signal_and_frame):
        """Asks this process to stop at the end of its epoch."""
        self.requested = True

    def anywhere(self, device):
        """Whether any process of the group was asked to stop. A collective:
        every process calls it at the same point of its loop, so that they
        all stop at the same epoch, or none does."""
        flag = torch.tensor([float(self.requested)], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())


def random_states_of_every_process(device):
    """Every process's random state, by rank, for a checkpoint: PyTorch's CPU
    generator and the process's accelerator's. A collective: every process
    calls it, and every process gets the list."""
    mine = {'cpu': torch.get_rng_state()}
    if device.type != 'cpu':
        mine[device.type] = torch.get_device_module(device).get_rng_state(device)
    everyone = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(everyone, mine)
    return everyone


def restore_random_state(state, device):
    """Puts this process's generators back in `state`, its own entry of
    random_states_of_every_process; a generator of another kind of device
    than this process's stays as it is."""
    # Loading with map_location may have moved the states onto the device:
    # the generators take them from the CPU
    torch.set_rng_state(state['cpu'].cpu())
    if device.type != 'cpu' and device.type in state:
        torch.get_device_module(device).set_rng_state(state[device.type].cpu(), device)


def mean_across_processes(total, count, device):
    """Adds up `total` and `count` over every process of the group and
    returns total / count: a mean in which every process's points count once,
    the same number in every process."""
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        raise RuntimeError(
            'there is no process group yet: torch.distributed.init_process_group must run '
            'first (in each process that torchrun starts)'
        )
    # Double precision, so that adding up many processes loses nothing
    sums = torch.tensor([total, count], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(sums)
    return (sums[0] / sums[1]).item()
