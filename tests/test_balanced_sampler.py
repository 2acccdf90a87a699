"""make_balanced_sampler draws every class about equally often, however
imbalanced the labels, and refuses labels it cannot use."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers import make_balanced_sampler

# Over 50,000 draws (500 mini-batches of 100), each class's share of the
# draws must be within one percentage point of an equal share
N_EPOCHS = 50
BATCH_SIZE = 100
TOLERANCE = 0.01


def imbalanced_labels(*class_sizes):
    return torch.cat([torch.full((size,), label) for label, size in enumerate(class_sizes)])


def drawn_batches(labels, sampler=None, shuffle=False):
    loader = DataLoader(
        TensorDataset(labels), batch_size=BATCH_SIZE, sampler=sampler, shuffle=shuffle,
        generator=torch.Generator().manual_seed(0),
    )
    return [batch for _ in range(N_EPOCHS) for (batch,) in loader]


def class_shares(batches, n_classes):
    drawn = torch.cat(batches)
    return torch.bincount(drawn, minlength=n_classes).double() / len(drawn)


@pytest.mark.parametrize('class_sizes', [(950, 50), (900, 80, 20)], ids=['95/5', '90/8/2'])
def test_every_class_is_drawn_about_equally_often(class_sizes):
    labels = imbalanced_labels(*class_sizes)
    sampler = make_balanced_sampler(labels, generator=torch.Generator().manual_seed(0))
    batches = drawn_batches(labels, sampler)

    assert sum(len(batch) for batch in batches) == N_EPOCHS * len(labels)
    equal_share = 1 / len(class_sizes)
    shares = class_shares(batches, len(class_sizes))
    assert torch.all((shares - equal_share).abs() < TOLERANCE), shares
    # Balanced in every mini-batch, not only on the whole: none lacks a class
    assert all(len(batch.unique()) == len(class_sizes) for batch in batches)


def test_plain_shuffling_keeps_the_imbalance():
    # The same check fails without the sampler: the draws keep the data's ratio
    labels = imbalanced_labels(950, 50)
    batches = drawn_batches(labels, shuffle=True)
    shares = class_shares(batches, 2)
    assert shares[1] == pytest.approx(0.05)
    assert (shares[1] - 0.5).abs() > 0.4
    assert sum(1 for batch in batches if 1 not in batch) > 0


def test_each_class_weighs_the_same_in_total():
    labels = imbalanced_labels(6, 3, 1)
    weights = make_balanced_sampler(labels).weights
    totals = [weights[labels == label].sum().item() for label in range(3)]
    assert totals == pytest.approx([totals[0]] * 3)


@pytest.mark.parametrize('labels', [
    np.array([0., 0., 0., 1.]),
    [0, 0, 0, 1],
    torch.tensor([5, 5, 5, 7]),
    torch.tensor([False, False, False, True]),
], ids=['float array', 'list', 'any values', 'bool'])
def test_labels_of_any_kind_name_their_classes(labels):
    weights = make_balanced_sampler(labels).weights
    assert weights.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0])


def test_one_epoch_draws_as_many_samples_as_there_are_labels():
    sampler = make_balanced_sampler(imbalanced_labels(95, 5))
    assert len(sampler) == 100 and len(list(sampler)) == 100


def test_a_seeded_generator_repeats_the_draws_and_leaves_the_global_stream_alone():
    labels = imbalanced_labels(95, 5)
    state = torch.random.get_rng_state()
    first = list(make_balanced_sampler(labels, generator=torch.Generator().manual_seed(3)))
    again = list(make_balanced_sampler(labels, generator=torch.Generator().manual_seed(3)))
    assert first == again
    assert torch.equal(state, torch.random.get_rng_state())
    other = list(make_balanced_sampler(labels, generator=torch.Generator().manual_seed(4)))
    assert other != first


@pytest.mark.parametrize('labels, message', [
    ([], 'labels is empty'),
    (torch.empty(0, dtype=torch.long), 'labels is empty'),
    (torch.zeros(4, 1), r'must be 1-D, one label per sample, but have shape \(4, 1\)'),
    (torch.tensor(3), r'must be 1-D.*shape \(\)'),
    (torch.tensor([0., 1., float('nan'), 1.]), r'labels\[2\] is NaN'),
], ids=['empty list', 'empty tensor', 'column', 'scalar', 'nan'])
def test_unusable_labels_are_refused_with_a_clear_error(labels, message):
    with pytest.raises(ValueError, match=message):
        make_balanced_sampler(labels)


def test_listing_the_sampler_after_a_loader_epoch_gives_the_next_epoch():
    # Notebook 03 lists the sampler after its loader ran one epoch: the
    # listing is the second epoch's draws, not the first's
    labels = torch.tensor([0] * 95 + [1] * 5)
    generator = torch.Generator().manual_seed(42)
    sampler = make_balanced_sampler(labels, generator=generator)
    loader = DataLoader(TensorDataset(torch.arange(100)), batch_size=32, sampler=sampler, generator=generator)
    first_epoch = torch.cat([batch for (batch,) in loader]).tolist()
    listed = list(sampler)

    generator.manual_seed(42)
    assert torch.cat([batch for (batch,) in loader]).tolist() == first_epoch, 'the loader repeats when re-seeded'
    assert listed != first_epoch
    assert list(sampler) == listed, 'after the first epoch, the listing is the second'
