# Data loaders with worker processes, set up to be fast and reproducible.
# A module to import, like image_datasets.py: a worker started with 'spawn'
# must import seed_worker by module and name, which __main__ does not allow.
import torch
import torch.multiprocessing
from torch.utils.data import DataLoader, RandomSampler, Subset, get_worker_info

# A worker hands each batch to the main process in shared memory. Linux's
# default passes every tensor as a file descriptor, through a handshake that
# waits for the busy worker's attention; naming the shared memory instead
# (the only way on macOS and Windows) lets the main process open it on its
# own. This holds for the whole process, and for spawned workers too: they
# import this module to find seed_worker.
torch.multiprocessing.set_sharing_strategy('file_system')


def seed_worker(worker_id):
    # PyTorch seeds each worker's torch, random and NumPy global generators,
    # but a generator held by the dataset is copied into every worker as it
    # is: without this, all workers would draw the same "random" noise. The
    # seed comes from the loader's generator, so runs are reproducible.
    info = get_worker_info()
    dataset = info.dataset
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    # Only a dataset with a generator of its own needs a new seed
    if hasattr(dataset, 'reseed'):
        dataset.reseed(info.seed)


def make_loader(dataset, batch_size, shuffle=False, num_workers=0, seed=42,
                multiprocessing_context=None):
    # The shuffle draws from its own generator, so the order of the batches
    # depends on `seed` alone: not on the global random state, nor on the
    # number of workers, nor on whether they persist between epochs
    sampler = None
    if shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        # The workers' seeds are drawn from this generator
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=seed_worker,
        # Starting workers takes time: keep them from one epoch to the next
        persistent_workers=num_workers > 0,
        # Page-locked memory only speeds up copies to a GPU
        pin_memory=torch.cuda.is_available(),
        multiprocessing_context=multiprocessing_context,
    )
