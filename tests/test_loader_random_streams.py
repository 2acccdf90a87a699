"""Adding a validation pass leaves the training batches unchanged when every
loader has its own generator (data preparation v4), and changes them when
the loaders share the global random stream (the chapter's v2); and a loader
that shares its sampler's generator draws its own seed from it first
(notebook 03, data preparation v5)."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

from classroom.course import CHAPTERS, cell_source, run_stages
from helpers import make_balanced_sampler


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


def test_a_listing_of_the_sampler_after_an_epoch_is_not_the_loaders_second_epoch():
    """Notebook 03: 'It is not quite the loader's second epoch, though: each
    pass of a loader first draws a seed of its own from the generator it was
    given (here the sampler's), and only then does the sampler draw.'"""
    labels = np.array([0] * 950 + [1] * 50)
    namespace = run_stages(dict(torch=torch, DataLoader=DataLoader, TensorDataset=TensorDataset,
                                make_balanced_sampler=make_balanced_sampler,
                                x_imbalanced=np.arange(1000.), y_imbalanced=labels), 'data_preparation/v5.py')
    loader, sampler, generator = namespace['train_loader'], namespace['sampler'], namespace['sampling_generator']

    def loaders_epoch():
        return torch.cat([x_batch for x_batch, _ in loader]).long().tolist()  # the points are their indices

    loaders_epoch()
    after_one_epoch = generator.get_state()
    listing = list(sampler)  # as the notebook lists it
    generator.set_state(after_one_epoch)
    second_epoch = loaders_epoch()
    assert listing != second_epoch
    generator.set_state(after_one_epoch)
    torch.empty((), dtype=torch.int64).random_(generator=generator)  # the loader's own seed
    assert list(sampler) == second_epoch
    prose = ' '.join(cell_source(CHAPTERS[2], 'cell-034').split())
    assert "It is not quite the loader's second epoch" in prose and '*second* epoch\'s draws' not in prose
