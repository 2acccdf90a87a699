"""How data parallel shares out the data, checked in one process: the
training shares of DistributedSampler, the validation shares of data
preparation v8, and the clear errors for bad input."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split
from torch.utils.data.distributed import DistributedSampler

from classroom.course import COURSE_ROOT
from helpers import ConfigurationError, device_and_backend, mean_across_processes, per_process_batch_size


def shares(n_items, world_size, epoch=None, **options):
    samplers = [DistributedSampler(range(n_items), num_replicas=world_size, rank=rank, seed=42, **options)
                for rank in range(world_size)]
    if epoch is not None:
        for sampler in samplers:
            sampler.set_epoch(epoch)
    return [list(sampler) for sampler in samplers]


def test_the_shares_are_strided_slices_of_one_permutation():
    order = torch.randperm(10, generator=torch.Generator().manual_seed(42 + 3)).tolist()
    assert shares(10, 2, epoch=3) == [order[0::2], order[1::2]]


def test_without_set_epoch_every_epoch_has_the_same_order():
    sampler = DistributedSampler(range(40), num_replicas=2, rank=0, seed=42)
    forgot = [list(sampler) for _ in range(3)]
    assert forgot[0] == forgot[1] == forgot[2]
    remembered = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        remembered.append(list(sampler))
    assert remembered[0] != remembered[1] != remembered[2]


def test_a_size_that_does_not_divide_is_padded_by_repetition_or_cut_with_drop_last():
    padded = shares(10, 3, shuffle=False)
    assert padded == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    cut = shares(10, 3, shuffle=False, drop_last=True)
    assert cut == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def data_preparation_v8(rank, world_size, global_batch_size, n_points):
    # Runs the stage script as %run -i would, with what the program defines
    namespace = {
        'torch': torch, 'TensorDataset': TensorDataset, 'DataLoader': DataLoader, 'Subset': Subset,
        'random_split': random_split, 'DistributedSampler': DistributedSampler,
        'per_process_batch_size': per_process_batch_size, 'rank': rank, 'world_size': world_size,
        'global_batch_size': global_batch_size,
        'x': np.arange(n_points, dtype=float).reshape(-1, 1), 'y': np.zeros((n_points, 1)),
    }
    exec((COURSE_ROOT / 'data_preparation/v8.py').read_text(), namespace)
    return namespace


def points(loader):
    return [int(value) for x_batch, _ in loader for value in x_batch.view(-1)]


def test_data_preparation_v8_pads_training_and_counts_each_validation_point_once():
    # 103 points: 82 for training and 21 for validation, neither a multiple of 3
    ranks = [data_preparation_v8(rank, 3, global_batch_size=12, n_points=103) for rank in range(3)]
    train = [points(namespace['train_loader']) for namespace in ranks]
    val = [points(namespace['val_loader']) for namespace in ranks]
    all_train = sorted(sum(train, []))
    # 82 points, padded to 84 so that every process has 28: two repeated
    assert [len(share) for share in train] == [28, 28, 28]
    assert len(set(all_train)) == 82 and len(all_train) == 84
    # Validation: 7 points each, every one exactly once, no padding
    all_val = sorted(sum(val, []))
    assert all_val == sorted(set(all_val)) and len(all_val) == 21
    assert not set(all_val) & set(all_train)
    assert all(namespace['batch_size'] == 4 for namespace in ranks)


def test_a_global_batch_that_does_not_divide_is_refused():
    assert per_process_batch_size(16, 2) == 8
    with pytest.raises(ConfigurationError, match='16 points cannot be shared equally by 3 processes'):
        per_process_batch_size(16, 3)


def test_more_processes_than_gpus_is_refused_for_nccl_when_asked_for_by_name(monkeypatch):
    monkeypatch.setattr(torch.accelerator, 'is_available', lambda: True)
    monkeypatch.setattr(torch.accelerator, 'current_accelerator', lambda: torch.device('cuda'))
    monkeypatch.setattr(torch.accelerator, 'device_count', lambda: 2)
    assert device_and_backend(1, 2) == (torch.device('cuda', 1), 'nccl')
    with pytest.raises(ConfigurationError, match='4 processes on this machine, but it has 2 cuda'):
        device_and_backend(3, 4, 'cuda')


def test_without_gpus_each_process_uses_the_cpu_and_gloo(monkeypatch):
    monkeypatch.setattr(torch.accelerator, 'is_available', lambda: False)
    assert device_and_backend(1, 8) == (torch.device('cpu'), 'gloo')


def test_a_mean_across_processes_before_the_process_group_exists_is_refused():
    assert not torch.distributed.is_initialized()
    with pytest.raises(RuntimeError, match='there is no process group yet'):
        mean_across_processes(1.0, 1, 'cpu')
