"""Details the course states outside the chapters' own outputs, computed
rather than trusted: the oldest Python the pins allow, how many numbers a
loader draws from PyTorch's global generator, the model answers' sizes, slot
counts and benchmark figures, the numbers the exercises and notebook 03's
prose quote from stored outputs, and the `set_epoch` claim, run."""
import math
import re
from importlib.metadata import PackageNotFoundError, metadata, version

import nbformat
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from classroom.course import CHAPTERS, COURSE_ROOT, EXERCISES, cell_source, run_stages

CHAPTER = CHAPTERS[0]
NUMBER_WORDS = {1: 'one', 2: 'two', 3: 'three'}


def exercise(stem):
    return next(notebook for notebook in EXERCISES if notebook.stem.startswith(stem))


def one_line(text):
    """Markdown text with its line breaks as spaces, to search phrases in."""
    return ' '.join(text.split())


def lowest_python_of_the_pins():
    """The highest of the lowest Python versions that the exact pins of
    requirements.txt support (their Requires-Python), as 'X.Y'."""
    lowest = Version('3')
    for line in (COURSE_ROOT / 'requirements.txt').read_text().splitlines():
        match = re.match(r'([A-Za-z0-9_.-]+)==(\S+)', line)
        if not match:
            continue
        name, pinned = match.groups()
        try:
            installed = version(name)
        except PackageNotFoundError:
            raise AssertionError(f'{name} is not installed: make setup installs requirements.txt')
        assert Version(installed).public == Version(pinned).public, f'{name} {installed} is installed, not {pinned}'
        for specifier in SpecifierSet(metadata(name).get('Requires-Python') or ''):
            if specifier.operator in ('>=', '>'):
                lowest = max(lowest, Version(specifier.version))
    return f'{lowest.major}.{lowest.minor}'


def test_the_python_the_readme_and_the_makefile_ask_for_is_the_oldest_the_pins_support():
    lowest = lowest_python_of_the_pins()
    readme = one_line((COURSE_ROOT / 'README.md').read_text())
    assert f'Python {lowest} or newer' in readme
    assert set(re.findall(r'Python (3\.\d+) or newer', readme)) == {lowest}
    assert f'MIN_PYTHON := {lowest}\n' in (COURSE_ROOT / 'Makefile').read_text()


def numbers_drawn(action):
    """How many 64-bit numbers `action` draws from PyTorch's global generator,
    as a loader draws its seeds."""
    torch.manual_seed(0)
    action()
    after = torch.get_rng_state()
    for count in range(4):
        torch.manual_seed(0)
        for _ in range(count):
            torch.empty((), dtype=torch.int64).random_()
        if torch.equal(torch.get_rng_state(), after):
            return count
    raise AssertionError('the action draws more than 3 numbers, or other ones')


def test_the_loaders_draw_as_many_numbers_as_the_chapter_says():
    points = TensorDataset(torch.arange(20.).view(-1, 1), torch.arange(20.).view(-1, 1))
    shuffled = numbers_drawn(lambda: next(iter(DataLoader(points, batch_size=16, shuffle=True))))
    not_shuffled = numbers_drawn(lambda: [batch for batch in DataLoader(points, batch_size=16)])
    own_generator = numbers_drawn(lambda: [batch for batch in DataLoader(
        points, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))])
    assert (shuffled, not_shuffled, own_generator) == (2, 1, 0)

    tensorboard_md = one_line(cell_source(CHAPTER, 'cell-079'))
    assert f'`next(iter(train_loader))` would draw {NUMBER_WORDS[shuffled]} random numbers' in tensorboard_md
    comment = one_line((COURSE_ROOT / 'model_configuration' / 'v3.py').read_text().replace('#', ''))
    assert f'asking train_loader for it would draw {NUMBER_WORDS[shuffled]} numbers' in comment
    after_checks = one_line(cell_source(CHAPTER, 'val-average-after'))
    assert 'draw nothing from the global generator and change' not in after_checks
    assert f'each pass over `val_loader`, which has none, draws {NUMBER_WORDS[not_shuffled]} number' in after_checks


def test_the_size_of_two_million_photos_is_computed():
    answer = one_line(cell_source(exercise('02'), 'cell-016'))
    terabytes = 2_000_000 * 224 * 224 * 3 * 4 / 1e12
    assert f'about {terabytes:.1f} TB' in answer
    assert f'notebook 02 counts {round(terabytes / 2 * 1000, -2):.0f} GB for one million' in answer


def benchmark_rows():
    """The data-loading table of benchmarks/README.md, as
    {(dataset, files, workers): (first batch s, samples/s, peak MiB)}."""
    rows = {}
    for line in (COURSE_ROOT / 'benchmarks' / 'README.md').read_text().splitlines():
        cells = [cell.strip().replace(',', '') for cell in line.strip('|').split('|')]
        if len(cells) == 6 and cells[0] in ('eager', 'on-demand'):
            rows[cells[0], int(cells[1]), int(cells[2])] = (float(cells[3]), float(cells[4]), float(cells[5]))
    assert rows, 'no data-loading table in benchmarks/README.md'
    return rows


def test_the_loading_figures_of_the_answer_are_those_make_bench_measured():
    answer = one_line(cell_source(exercise('02'), 'cell-016'))
    rows = benchmark_rows()
    first_batch = rows['eager', 80000, 0][0]
    growth = rows['on-demand', 80000, 0][2] / rows['on-demand', 20000, 0][2] - 1
    speedups = [rows['on-demand', files, 2][1] / rows['on-demand', files, 0][1] for files in (20000, 80000)]
    assert f'`make bench` measured {first_batch:.0f} s for 80,000 small files' in answer
    assert f'`make bench`: {growth:.0%} more from 20,000 to 80,000 files' in answer
    assert len({f'{speedup:.1f}' for speedup in speedups}) == 1
    assert f'`make bench` measured about {speedups[0]:.1f} times the samples per second with 2 workers' in answer
    assert 'notebook 02 measured' not in answer and 'notebook 02:' not in answer


def stored_output(notebook, cell_id):
    """What a cell printed, as stored (strict nbval proves it is what the cell computes)."""
    cell = next(cell for cell in nbformat.read(notebook, as_version=4).cells if cell.get('id') == cell_id)
    return ''.join(output.get('text', '') for output in cell.outputs)


def test_exercise_5_says_with_numbers_where_model_training_v4_ended():
    chapter_v4 = stored_output(CHAPTER, 'cell-074')
    weight, bias = re.findall(r'tensor\(\[+([\d.]+)\]+\)', chapter_v4)
    prose = one_line(cell_source(exercise('01'), 'cell-028'))
    assert f'with a weight of {weight} and a bias of {bias}' in prose
    assert stored_output(exercise('01'), 'cell-029') == chapter_v4


def test_the_question_of_exercise_3_credits_the_memory_figures_to_make_bench():
    question = one_line(cell_source(exercise('02'), 'cell-015'))
    measured_by_notebook_02 = question.split('Use what notebook 02 measured')[1].split(' and what')[0]
    assert 'memory' not in measured_by_notebook_02
    assert '`make bench` measured at scale, memory included (its results are in `benchmarks/README.md`)' in question
    notebook_02 = next(chapter for chapter in CHAPTERS if chapter.name.startswith('02_'))
    assert 'Memory is left out here' in one_line(cell_source(notebook_02, 'cell-046'))


def test_the_time_series_curves_read_as_notebook_03_says():
    """'it first falls, from 1.586 after the first epoch to 0.942 after the
    third, then climbs ... to 1.355 after the last'; under the random split
    'it creeps up (from 0.433 at its lowest to 0.515)'."""
    notebook_03 = next(chapter for chapter in CHAPTERS if chapter.name.startswith('03_'))
    rows = re.findall(r'(random split|split by time) +validation loss: ([\d.]+) after epoch 1, lowest ([\d.]+) '
                      r'after epoch (\d+), ([\d.]+) after epoch \d+', stored_output(notebook_03, 'curve-points'))
    curves = {name: (float(first), float(lowest), int(epoch), float(last)) for name, first, lowest, epoch, last in rows}
    prose = one_line(cell_source(notebook_03, 'cell-058'))
    first, lowest, epoch, last = curves['split by time']
    assert lowest < first and epoch == 3 and last > lowest
    assert f'from {first:.3f} after the first epoch to {lowest:.3f} after the third, then *climbs*' in prose
    assert f'to {last:.3f} after the last' in prose and 'starts higher' not in prose
    _, lowest, _, last = curves['random split']
    assert last > lowest and f'creeps up as training goes on (from {lowest:.3f} at its lowest to {last:.3f})' in prose


def test_the_padded_validation_slots_are_counted():
    world_size, n_points = 3, 20
    shares = [list(DistributedSampler(range(n_points), num_replicas=world_size, rank=rank, shuffle=False))
              for rank in range(world_size)]
    slots = sum(len(share) for share in shares)
    repeated = slots - len({index for share in shares for index in share})
    assert (len(shares[0]), slots, repeated) == (math.ceil(n_points / world_size), 21, 1)
    text = one_line(cell_source(exercise('04'), 'cell-010'))
    assert (f'with {n_points} validation points and {world_size} ranks, each rank gets {len(shares[0])}: '
            f'{slots} slots for {n_points} points, so {NUMBER_WORDS[repeated]} point is counted twice') in text


def data_parallel_run(world_size, set_epoch, n_epochs=3):
    """The chapter's model trained as `world_size` data-parallel processes
    would train it, in this one process: each rank's DistributedSampler share
    in mini-batches of 16 / world_size, the ranks' gradients averaged (what DDP
    does) before one step. Returns the final parameters and the first two
    epochs' orders of rank 0."""
    data = run_stages({'np': np}, 'data_generation/simple_linear_regression.py')
    dataset = TensorDataset(torch.as_tensor(data['x_train']).float(), torch.as_tensor(data['y_train']).float())
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss(reduction='mean')
    samplers = [DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
                for rank in range(world_size)]
    orders = []
    for epoch in range(n_epochs):
        if set_epoch:
            for sampler in samplers:
                sampler.set_epoch(epoch)
        orders.append(list(samplers[0]))
        loaders = [DataLoader(dataset, batch_size=16 // world_size, sampler=sampler) for sampler in samplers]
        for shares in zip(*loaders):
            gradients = []
            for x_batch, y_batch in shares:
                optimizer.zero_grad()
                loss_fn(model(x_batch), y_batch).backward()
                gradients.append([parameter.grad.clone() for parameter in model.parameters()])
            for parameter, *per_rank in zip(model.parameters(), *gradients):
                parameter.grad = torch.stack(per_rank).mean(dim=0)
            optimizer.step()
    return torch.cat([parameter.detach().view(-1) for parameter in model.parameters()]), orders[:2]


def test_forgetting_set_epoch_does_not_break_two_processes_of_8_equal_one_of_16():
    for set_epoch in (True, False):
        two, (first, second) = data_parallel_run(2, set_epoch)
        one, _ = data_parallel_run(1, set_epoch)
        assert torch.allclose(two, one, atol=1e-6), f'set_epoch={set_epoch}: {two} against {one}'
        assert (first == second) is not set_epoch, 'without set_epoch every epoch repeats the first order'
    answer = one_line(cell_source(exercise('04'), 'cell-015'))
    assert 'Forgetting `set_epoch` does not break the equality' in answer
    assert 'forgetting `set_epoch` (' not in answer
