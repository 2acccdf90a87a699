"""TensorBatches, the fast in-memory path, and the benchmark's fair comparison."""
import pytest
import torch

from benchmarks.data_loading import chapter_setup, loop_sources, markdown_table, time_epochs
from helpers import TensorBatches, mini_batch


def test_an_epoch_hands_out_every_row_once_in_slices_of_batch_size():
    x = torch.arange(10).view(-1, 1)
    batches = TensorBatches(x, x * 10, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 3
    epoch = list(batches)
    assert [len(x_batch) for x_batch, _ in epoch] == [4, 4, 2]
    seen = torch.cat([x_batch for x_batch, _ in epoch]).view(-1)
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for x_batch, y_batch in epoch:
        assert torch.equal(y_batch, x_batch * 10), 'features and labels must stay paired'


def test_without_shuffling_the_order_is_kept_and_batches_are_views():
    x = torch.arange(6.0).view(-1, 1)
    (first, _), (second, _) = TensorBatches(x, x, batch_size=3)
    assert first.view(-1).tolist() == [0, 1, 2] and second.view(-1).tolist() == [3, 4, 5]
    assert first.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()


def test_a_seeded_generator_repeats_the_order_and_each_epoch_reshuffles():
    x = torch.arange(20)

    def two_epochs(seed):
        batches = TensorBatches(x, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(seed))
        return [torch.cat([batch for (batch,) in batches]).tolist() for _ in range(2)]

    first = two_epochs(1)
    assert first == two_epochs(1)
    assert first[0] != first[1]
    assert first != two_epochs(2)


def test_mismatched_lengths_and_bad_batch_sizes_are_refused():
    with pytest.raises(ValueError, match=r'same length, got lengths \[3, 4\]'):
        TensorBatches(torch.ones(3), torch.ones(4), batch_size=2)
    with pytest.raises(ValueError, match='same length'):
        TensorBatches(batch_size=2)
    with pytest.raises(ValueError, match='batch_size must be a positive whole number, not 0'):
        TensorBatches(torch.ones(3), batch_size=0)


def test_every_benchmarked_path_feeds_the_chapter_loop_the_same_points():
    chapter = chapter_setup()
    x = torch.as_tensor(chapter['x_train']).float()
    y = torch.as_tensor(chapter['y_train']).float()
    assert len(x) == 80
    for name, source in loop_sources(x, y).items():
        batches = list(source)
        assert [len(x_batch) for x_batch, _ in batches] == [16] * 5, name
        pairs = sorted(zip(torch.cat([b for b, _ in batches]).view(-1).tolist(),
                           torch.cat([b for _, b in batches]).view(-1).tolist()))
        assert pairs == sorted(zip(x.view(-1).tolist(), y.view(-1).tolist())), name
    # One real step per batch through the chapter's loop
    steps = []
    timings = time_epochs(loop_sources(x, y), 'cpu', lambda xb, yb: steps.append(len(xb)) or 0.0,
                          epochs=2, repeats=1)
    assert len(steps) == 4 * 2 * 5 and all(seconds > 0 for seconds in timings.values())
    assert mini_batch('cpu', TensorBatches(x, y, batch_size=16), chapter['train_step_fn']) > 0


def test_markdown_table_lines_up_header_and_rows():
    assert markdown_table(['a', 'b'], [[1, 'x']]) == '| a | b |\n|---|---|\n| 1 | x |'


def test_measure_loading_reports_both_numbers_for_either_dataset(tmp_path):
    from benchmarks.data_loading import measure_loading
    from data_generation.line_images import write_line_images

    folder = write_line_images(tmp_path, 70)
    for kind in ('eager', 'on-demand'):
        result = measure_loading(kind, folder, num_workers=0, batch_size=32)
        assert set(result) == {'first_batch_s', 'samples_per_s'}
        assert all(value > 0 for value in result.values())
