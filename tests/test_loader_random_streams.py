"""Adding a validation pass leaves the training batches unchanged when every
loader has its own generator (data preparation v4), and changes them when
the loaders share the global random stream (the chapter's v2)."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

from classroom.course import run_stages


def prepared(stage):
    namespace = dict(np=np, torch=torch, DataLoader=DataLoader,
                     TensorDataset=TensorDataset, random_split=random_split)
    return run_stages(namespace, 'data_generation/simple_linear_regression.py', stage)


def validation_pass(namespace):
    for _ in namespace['val_loader']:
        pass


def new_layer(namespace):
    nn.Linear(1, 1)


def training_batches(stage, between_epochs=None, n_epochs=3):
    # Each epoch's training points, in the order the loader gave them
    namespace = prepared(stage)
    torch.manual_seed(0)  # both runs start from the same global state
    epochs = []
    for _ in range(n_epochs):
        epochs.append(torch.cat([x_batch for x_batch, _ in namespace['train_loader']]))
        if between_epochs is not None:
            between_epochs(namespace)
    return epochs


def same_epochs(first, second):
    return [torch.equal(a, b) for a, b in zip(first, second)]


@pytest.mark.parametrize('between_epochs', [validation_pass, new_layer])
def test_own_generators_keep_the_training_batches(between_epochs):
    plain = training_batches('data_preparation/v4.py')
    disturbed = training_batches('data_preparation/v4.py', between_epochs)
    assert same_epochs(plain, disturbed) == [True, True, True]
    # The epochs do differ from one another: the loader shuffles
    assert not torch.equal(plain[0], plain[1])


@pytest.mark.parametrize('between_epochs', [validation_pass, new_layer])
def test_the_shared_global_stream_changes_the_training_batches(between_epochs):
    plain = training_batches('data_preparation/v2.py')
    disturbed = training_batches('data_preparation/v2.py', between_epochs)
    # The first epoch runs before any disturbance; every later one moves
    assert same_epochs(plain, disturbed) == [True, False, False]


def global_stream_moves(action):
    state = torch.random.get_rng_state()
    action()
    return not torch.equal(state, torch.random.get_rng_state())


def test_an_unshuffled_loader_draws_from_the_global_stream_unless_it_has_a_generator():
    # What the notebook states about the pinned torch version
    shared = prepared('data_preparation/v2.py')
    assert global_stream_moves(lambda: iter(shared['val_loader']))
    own = prepared('data_preparation/v4.py')
    assert not global_stream_moves(lambda: validation_pass(own))
    assert not global_stream_moves(lambda: iter(own['train_loader']))


def test_the_own_generator_split_is_the_chapters_split():
    assert prepared('data_preparation/v4.py')['train_data'].indices == \
        prepared('data_preparation/v2.py')['train_data'].indices
