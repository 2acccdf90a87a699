"""Loaders with workers: reproducible order, distinct randomness per worker,
and workers started with 'spawn' (macOS, Windows) that find the dataset."""
import pytest
import torch
from torch.utils.data import DataLoader, random_split

from data_generation.line_images import write_line_images
from data_preparation.image_datasets import EagerLineImages, OnDemandLineImages
from data_preparation.image_loaders import make_loader, seed_worker

N_IMAGES = 40


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    return write_line_images(tmp_path_factory.mktemp('line_images'), N_IMAGES, seed=3)


def epochs(loader, n_epochs=2):
    # Every batch of every epoch, as plain tensors
    return [[batch for batch in loader] for _ in range(n_epochs)]


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for epoch_a, epoch_b in zip(first, second):
        assert len(epoch_a) == len(epoch_b)
        for (x_a, y_a), (x_b, y_b) in zip(epoch_a, epoch_b):
            assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)


def label_order(batches):
    return [torch.cat([y for _, y in epoch]).view(-1).tolist() for epoch in batches]


def test_shuffling_with_the_same_seed_repeats_the_order_and_each_epoch_differs(image_folder):
    dataset = OnDemandLineImages(image_folder)
    first = epochs(make_loader(dataset, batch_size=8, shuffle=True, seed=5))
    assert_same_batches(first, epochs(make_loader(dataset, batch_size=8, shuffle=True, seed=5)))
    other_seed = epochs(make_loader(dataset, batch_size=8, shuffle=True, seed=6))
    assert not torch.equal(first[0][0][0], other_seed[0][0][0])
    assert not torch.equal(first[0][0][0], first[1][0][0]), 'the second epoch should be reshuffled'
    # Every item once per epoch
    assert sorted(label_order(first)[0]) == sorted(dataset.labels.view(-1).tolist())


def test_the_seeded_order_does_not_depend_on_the_global_random_state(image_folder):
    dataset = OnDemandLineImages(image_folder)
    torch.manual_seed(0)
    first = epochs(make_loader(dataset, batch_size=8, shuffle=True))
    torch.manual_seed(1)
    assert_same_batches(first, epochs(make_loader(dataset, batch_size=8, shuffle=True)))


@pytest.mark.parametrize('dataset_class', [OnDemandLineImages, EagerLineImages])
def test_two_workers_yield_the_batches_of_none_epoch_after_epoch(image_folder, dataset_class):
    train_data, _ = random_split(dataset_class(image_folder), [0.75, 0.25],
                                 generator=torch.Generator().manual_seed(13))
    without = epochs(make_loader(train_data, batch_size=4, shuffle=True, num_workers=0), n_epochs=3)
    with_workers = make_loader(train_data, batch_size=4, shuffle=True, num_workers=2)
    assert with_workers.persistent_workers
    assert_same_batches(without, epochs(with_workers, n_epochs=3))


def test_workers_started_with_spawn_find_the_dataset_and_agree(image_folder):
    dataset = OnDemandLineImages(image_folder)
    without = epochs(make_loader(dataset, batch_size=8, shuffle=True, num_workers=0))
    spawned = make_loader(dataset, batch_size=8, shuffle=True, num_workers=2,
                          multiprocessing_context='spawn')
    assert spawned.multiprocessing_context.get_start_method() == 'spawn'
    assert_same_batches(without, epochs(spawned))


def first_noise_of_each_worker(image_folder, worker_init_fn, seed=42):
    # Batch 0 comes from worker 0, batch 1 from worker 1 (no shuffling)
    noisy = OnDemandLineImages(image_folder, noise_std=0.5)
    clean = OnDemandLineImages(image_folder)
    loader = DataLoader(noisy, batch_size=4, num_workers=2, worker_init_fn=worker_init_fn,
                        generator=torch.Generator().manual_seed(seed))
    batches = iter(loader)
    (x_0, _), (x_1, _) = next(batches), next(batches)
    return x_0[0] - clean[0][0], x_1[0] - clean[4][0]


def test_without_seed_worker_every_worker_draws_the_same_noise(image_folder):
    noise_0, noise_1 = first_noise_of_each_worker(image_folder, worker_init_fn=None)
    assert noise_0.abs().sum() > 0
    torch.testing.assert_close(noise_0, noise_1)


def test_seed_worker_gives_each_worker_its_own_reproducible_noise(image_folder):
    noise_0, noise_1 = first_noise_of_each_worker(image_folder, worker_init_fn=seed_worker)
    assert not torch.allclose(noise_0, noise_1)
    again_0, again_1 = first_noise_of_each_worker(image_folder, worker_init_fn=seed_worker)
    torch.testing.assert_close((noise_0, noise_1), (again_0, again_1))
    other_0, _ = first_noise_of_each_worker(image_folder, worker_init_fn=seed_worker, seed=43)
    assert not torch.allclose(noise_0, other_0)


def test_pinned_memory_only_with_a_gpu(image_folder):
    dataset = OnDemandLineImages(image_folder)
    assert make_loader(dataset, batch_size=8).pin_memory == torch.cuda.is_available()
    assert not make_loader(dataset, batch_size=8).persistent_workers
