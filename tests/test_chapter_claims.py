"""What the chapter's text says about its code, checked. Each test names the
claim it holds; the stage scripts and the notebook's own cells are run as
the chapter runs them, in a folder of their own."""
import pickle
import re
from datetime import datetime

import nbformat
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset, random_split
from torch.utils.tensorboard import SummaryWriter

import helpers
from classroom.course import CHAPTERS, NOTEBOOKS, cell_source, copy_learner_files, execute, run_stages

CHAPTER = CHAPTERS[0]
FRESH_START = ['data_generation/simple_linear_regression.py', 'data_preparation/v2.py']


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    # runs/ and checkpoints/ go here, not into the course
    monkeypatch.chdir(tmp_path)
    return tmp_path


def new_session(*scripts):
    """A namespace like a fresh notebook's after the chapter's imports, with
    the stage scripts run in it."""
    namespace = dict(
        np=np, torch=torch, nn=nn, optim=optim, DataLoader=DataLoader, TensorDataset=TensorDataset,
        random_split=random_split, SummaryWriter=SummaryWriter, datetime=datetime,
        make_train_step_fn=helpers.make_train_step_fn, make_val_step_fn=helpers.make_val_step_fn,
        mini_batch=helpers.mini_batch, save_checkpoint=helpers.save_checkpoint,
        load_checkpoint=helpers.load_checkpoint,
    )
    return run_stages(namespace, *scripts)


def run_cell(namespace, cell_id):
    """Runs one of the chapter's cells (plain Python) in the namespace."""
    exec(cell_source(CHAPTER, cell_id), namespace)
    return namespace


def parameters(namespace):
    return {name: tensor.clone() for name, tensor in namespace['model'].state_dict().items()}


def assert_same(first, second):
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), f'{name}: {first[name]} != {second[name]}'


def logged_steps(run_folder):
    """The steps logged in one run folder, per series."""
    return {
        series: [point.step for event_file in sorted((run_folder / series).glob('events.out.tfevents.*'))
                 for point in EventAccumulator(str(event_file)).Reload().Scalars('loss')]
        for series in ['loss_training', 'loss_validation']
    }


def test_logging_to_tensorboard_leaves_the_training_unchanged(workdir):
    """'The same parameters as model training v4, to the last digit'."""
    without_logging = new_session(*FRESH_START, 'model_configuration/v2.py', 'model_training/v4.py')
    with_logging = new_session(*FRESH_START, 'model_configuration/v3.py', 'model_training/v5.py')
    assert_same(parameters(without_logging), parameters(with_logging))
    assert with_logging['val_losses'] == without_logging['val_losses']


def test_the_plain_average_of_mini_batch_losses_depends_on_the_order(workdir):
    """The section 'What the validation loss averages': mini_batch is not the
    mean over the 20 points and moves with the order; mini_batch_weighted is
    the mean whatever the order; the shuffled loaders leave the global
    generator alone."""
    session = new_session(*FRESH_START, 'model_configuration/v2.py', 'model_training/v4.py')
    val_data, val_step_fn = session['val_data'], session['val_step_fn']
    assert [len(x_batch) for x_batch, _ in session['val_loader']] == [16, 4]

    def shuffled_loaders():
        for seed in range(5):
            yield DataLoader(val_data, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(seed))

    with torch.no_grad():
        x_val, y_val = val_data[:]
        over_all_points = session['loss_fn'](session['model'](x_val), y_val).item()
        plain = [helpers.mini_batch('cpu', session['val_loader'], val_step_fn)]
        weighted = [helpers.mini_batch_weighted('cpu', session['val_loader'], val_step_fn)]
        global_state = torch.get_rng_state()
        plain += [helpers.mini_batch('cpu', loader, val_step_fn) for loader in shuffled_loaders()]
        weighted += [helpers.mini_batch_weighted('cpu', loader, val_step_fn) for loader in shuffled_loaders()]
        assert torch.equal(torch.get_rng_state(), global_state), 'the shuffled loaders drew from the global generator'

    assert abs(plain[0] - over_all_points) > 0.1 * over_all_points, 'the reported loss is not the mean'
    assert max(plain) - min(plain) > 0.3 * over_all_points, 'the order moves the plain average'
    assert weighted == pytest.approx([over_all_points] * 6, rel=1e-6)


def test_drop_last_makes_mini_batch_skip_the_incomplete_batch():
    """'the 4 dropped points are never looked at'."""
    twenty = TensorDataset(torch.arange(20.).view(-1, 1), torch.zeros(20, 1))
    seen = []
    helpers.mini_batch('cpu', DataLoader(twenty, batch_size=16, drop_last=True),
                       lambda x, y: seen.append(len(x)) or 0.0)
    assert seen == [16]


@pytest.fixture
def resumed_twice(workdir):
    """The chapter's first training, its checkpoint cell, then two new
    sessions: one that loads the checkpoint (the chapter's cell) and one
    that does not; and the same first session trained on without a break."""
    first = new_session(*FRESH_START, 'model_configuration/v3.py', 'model_training/v5.py')
    first_parameters = parameters(first)
    run_cell(first, 'cell-093')  # saves the checkpoint

    resumed = new_session(*FRESH_START, 'model_configuration/v3.py')
    run_cell(resumed, 'cell-100')  # loads it
    run_stages(resumed, 'model_training/v5.py')

    not_loaded = new_session(*FRESH_START, 'model_configuration/v3.py', 'model_training/v5.py')

    # No break: the first session goes on for 200 more epochs, as if it had
    # never stopped (its own writer, so that its log stays out of the way)
    first.update(first_epoch=200, writer=SummaryWriter(str(workdir / 'no_break')))
    run_stages(first, 'model_training/v5.py')
    return first_parameters, first, resumed, not_loaded


def test_resuming_from_the_checkpoint_ends_where_training_without_a_break_ends(resumed_twice):
    first_parameters, no_break, resumed, not_loaded = resumed_twice
    assert_same(parameters(resumed), parameters(no_break))
    assert resumed['val_losses'] == no_break['val_losses']
    # Without the checkpoint the new session only repeats the first run
    assert_same(parameters(not_loaded), first_parameters)
    with pytest.raises(AssertionError):
        assert_same(parameters(resumed), parameters(not_loaded))
    # 'after its first epoch the validation loss is ten times the trained model's'
    assert not_loaded['val_losses'][0] > 10 * resumed['val_losses'][0]


def test_each_run_logs_into_its_own_folder_and_resumed_steps_continue(resumed_twice, workdir):
    runs = sorted((workdir / 'runs' / 'simple_linear_regression').iterdir())
    assert len(runs) == 3, f'one folder per run: {[run.name for run in runs]}'
    first_run, resumed_run, not_loaded_run = (logged_steps(run) for run in runs)
    for series in ['loss_training', 'loss_validation']:
        assert first_run[series] == list(range(200))
        assert resumed_run[series] == list(range(200, 400))
        assert not_loaded_run[series] == list(range(200))


FENCED = re.compile(r'```(\w*)\n(.*?)```', re.DOTALL)


def test_the_closing_program_runs_in_a_fresh_kernel_and_prints_what_the_text_shows(tmp_path):
    """'Here it is as you would run it in a fresh session': the program and
    the output shown after it, in the chapter's section 'Putting it all
    together', run in a new kernel in a copy of the course."""
    closing = next(cell for cell in nbformat.read(CHAPTER, as_version=4).cells
                   if cell.cell_type == 'markdown' and '## Putting it all together' in cell.source)
    blocks = FENCED.findall(closing.source)
    [program] = [text for language, text in blocks if language == 'python']
    [shown] = [text for language, text in blocks if language == '']

    copy_learner_files(tmp_path)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(program)])
    execute(notebook, tmp_path, timeout=120)

    [output] = notebook.cells[0].outputs
    assert output.output_type == 'stream', output
    assert output.text == shown


def test_mse_loss_warns_and_broadcasts_mismatched_shapes():
    """'PyTorch prints a warning and carries on, broadcasting the two into a
    (16, 16) grid'; check_same_shape refuses instead."""
    torch.manual_seed(0)
    yhat, y = torch.rand(16, 1), torch.rand(16, 1)
    with pytest.warns(UserWarning, match='different to the input size'):
        broadcast = nn.MSELoss()(yhat, y.view(-1))
    assert broadcast == pytest.approx(((yhat - y.view(1, -1)) ** 2).mean().item())
    assert broadcast != pytest.approx(nn.MSELoss()(yhat, y).item())
    with pytest.raises(ValueError, match=r'\(16, 1\).*\(16,\)'):
        helpers.check_same_shape(yhat, y.view(-1))


def test_random_split_draws_from_the_global_generator():
    """'random_split draws from PyTorch's global random generator, so seeding
    that generator first makes the split the same every time'."""
    def split(seed):
        torch.manual_seed(seed)
        before = torch.get_rng_state()
        train, _ = random_split(range(100), [80, 20])
        assert not torch.equal(torch.get_rng_state(), before), 'random_split drew nothing'
        return list(train.indices)

    assert split(13) == split(13)
    assert split(13) != split(14)


def test_torch_load_refuses_code_by_default(tmp_path):
    """'Since PyTorch 2.6 this is torch.load's default' (weights_only=True)."""
    class Marker:
        def __reduce__(self):
            return (print, ('ran',))

    path = tmp_path / 'file.pth'
    torch.save({'x': Marker()}, path)
    with pytest.raises(pickle.UnpicklingError, match='weights_only'):
        torch.load(path)


TIMING = re.compile(r'\d+(\.\d+)?\s*(ms|µs|milliseconds?|microseconds?)\b')


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda path: path.name)
def test_the_prose_quotes_no_timing(notebook):
    """Times depend on the machine, so the prose quotes none: the outputs show
    them, and the text speaks of what does not vary (ratios, counts)."""
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == 'markdown':
            found = TIMING.search(cell.source)
            assert not found, f'{notebook.name} quotes a time: {found.group()!r} in\n{cell.source}'


def test_the_loss_curves_read_as_the_text_says(workdir):
    """'Both losses drop fast for the first 40 epochs or so, then flatten out'
    and 'from the third epoch on, the validation loss stays a little above
    the training loss ... in the first two epochs it is below'."""
    session = new_session(*FRESH_START, 'model_configuration/v2.py', 'model_training/v4.py')
    losses, val_losses = np.array(session['losses']), np.array(session['val_losses'])
    for curve in (losses, val_losses):
        assert curve[40] < curve[0] / 5, 'a fast drop over the first 40 epochs'
        assert curve[40] < 1.1 * curve[-1], 'flat after epoch 40'
    assert (val_losses[:2] < losses[:2]).all()
    assert (val_losses[2:] > losses[2:]).all()
    assert (val_losses[2:] < 1.5 * losses[2:]).all(), 'a little above'


def stored_numbers(cell_id):
    """The decimal numbers of a chapter cell's stored output, in order
    (strict nbval proves the output is what the cell computes)."""
    cell = next(cell for cell in nbformat.read(CHAPTER, as_version=4).cells if cell.get('id') == cell_id)
    text = ''.join(output.get('text', '') for output in cell.outputs)
    return [float(number) for number in re.findall(r'\d+\.\d+', text)]


def test_the_numbers_the_prose_quotes_are_those_the_cells_print():
    """'more than eighty times too large'; 'from 0.0078 to 0.0137, ... the
    fifth does, to four digits'"""
    broadcast, right = stored_numbers('shape-warning')[-2:]
    assert 80 < broadcast / right < 90
    assert 'more than eighty times too large' in cell_source(CHAPTER, 'shape-refused')
    reported, over_all_points, *shuffled = stored_numbers('val-average-measure')
    prose = ' '.join(cell_source(CHAPTER, 'val-average-fix').split())
    assert f'from {min(shuffled):.4f} to {max(shuffled):.4f}' in prose
    # Only the fifth order prints the mean over the points
    assert [loss == over_all_points for loss in shuffled] == [False, False, False, False, True]
    assert 'the fifth does, to four digits' in prose and reported != over_all_points
