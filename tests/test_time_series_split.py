"""The chronological split (data preparation v7) keeps training and
validation windows apart in time; the random split of windows (v6) does
not. The series used here holds its own time steps as values, so the
values in a window tell which steps it uses. Then what notebook 03 says of
the two runs' loss curves, on its own series."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset, random_split

from helpers import make_train_step_fn, make_val_step_fn, make_windows, mini_batch
from classroom.course import CHAPTERS, cell_source, run_stages

N_STEPS = 500


def prepared(stage):
    namespace = dict(
        np=np, torch=torch, DataLoader=DataLoader, TensorDataset=TensorDataset,
        random_split=random_split, make_windows=make_windows,
        series=np.arange(N_STEPS, dtype=float),
    )
    return run_stages(namespace, stage)


def steps_used(data):
    # Every step a window reads or predicts, over the whole dataset
    features, targets = data[list(range(len(data)))]
    return set(features.long().flatten().tolist()) | set(targets.long().flatten().tolist())


def test_the_chronological_split_shares_no_time_step():
    namespace = prepared('data_preparation/v7.py')
    train_steps = steps_used(namespace['train_data'])
    val_steps = steps_used(namespace['val_data'])
    assert train_steps and val_steps
    assert train_steps.isdisjoint(val_steps)
    # ...and the training steps all come before the validation steps
    assert max(train_steps) < min(val_steps)


def test_the_random_split_of_windows_shares_time_steps():
    # The same check catches the leak it is meant to catch
    namespace = prepared('data_preparation/v6.py')
    shared = steps_used(namespace['train_data']) & steps_used(namespace['val_data'])
    assert len(shared) > N_STEPS // 2


def test_the_chronological_validation_loader_keeps_time_order():
    namespace = prepared('data_preparation/v7.py')
    passes = [
        torch.cat([y_batch.view(-1) for _, y_batch in namespace['val_loader']])
        for _ in range(2)
    ]
    assert torch.equal(passes[0], passes[1])
    assert torch.all(passes[0][1:] > passes[0][:-1])
    assert len(passes[0]) == len(namespace['val_data'])


def test_windows_take_the_type_asked_for():
    features, targets = make_windows(np.arange(10) / 3, window_size=3, horizon=2, dtype=torch.float64)
    assert features.dtype == targets.dtype == torch.float64
    assert features[1, 0].item() == 1 / 3


def losses_of(split_stage):
    """Notebook 03's run of section 3: its series, a split, model configuration
    v5 and 150 epochs of model training v6."""
    namespace = dict(
        np=np, torch=torch, nn=nn, optim=optim, DataLoader=DataLoader, TensorDataset=TensorDataset,
        random_split=random_split, make_windows=make_windows, make_train_step_fn=make_train_step_fn,
        make_val_step_fn=make_val_step_fn, mini_batch=mini_batch, n_epochs=150,
    )
    exec(cell_source(CHAPTERS[2], 'cell-038'), namespace)
    namespace = run_stages(namespace, split_stage, 'model_configuration/v5.py', 'model_training/v6.py')
    features, targets = namespace['val_data'][list(range(len(namespace['val_data'])))]
    yardstick = nn.functional.mse_loss(features[:, -1:], targets).item()
    return np.array(namespace['losses']), np.array(namespace['val_losses']), yardstick


@pytest.fixture
def one_thread():
    # As notebook 03 trains: on one thread, which is faster for a model this small
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_loss_curves_say_what_notebook_03_says_of_them(one_thread):
    # "The training loss falls in both runs"
    random_losses, random_val, random_yardstick = losses_of('data_preparation/v6.py')
    time_losses, time_val, time_yardstick = losses_of('data_preparation/v7.py')
    assert random_losses[-1] < random_losses[0] / 5 and time_losses[-1] < time_losses[0] / 5
    # Random split: settles early, well below the yardstick, stays far below it, creeping up
    assert random_val.argmin() < 50 and random_val[-1] > random_val.min()
    assert random_val[10:].max() < 0.75 * random_yardstick
    # Split by time: starts higher, climbs as training goes on, ends worse than the yardstick
    assert time_val.min() > random_val.min()
    assert time_val.argmin() < 10 and time_val[-1] > 1.3 * time_val.min()
    assert time_val[-1] > time_yardstick


def test_windows_hold_consecutive_steps_and_a_target_horizon_steps_later():
    features, targets = make_windows(np.arange(10), window_size=3, horizon=2)
    assert features.dtype == torch.float32 and features.shape == (6, 3)
    assert targets.shape == (6, 1)
    for window, target in zip(features.tolist(), targets.view(-1).tolist()):
        assert window == [window[0], window[0] + 1, window[0] + 2]
        assert target == window[-1] + 2
    assert features[:, 0].tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize('series, window_size, horizon, message', [
    (np.zeros((10, 1)), 3, 1, r'must be 1-D, one value per time step, but has shape \(10, 1\)'),
    (np.zeros(10), 0, 1, 'at least 1, not 0 and 1'),
    (np.zeros(10), 3, 0, 'at least 1, not 3 and 0'),
    (np.zeros(10), 8, 3, 'a series of 10 steps is too short for a window of 8 steps and a target 3'),
], ids=['column', 'no window', 'no horizon', 'too short'])
def test_unusable_series_are_refused_with_a_clear_error(series, window_size, horizon, message):
    with pytest.raises(ValueError, match=message):
        make_windows(series, window_size, horizon)
