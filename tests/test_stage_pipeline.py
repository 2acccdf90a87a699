"""The final stage scripts, run as the chapter runs them, train the model
and leave TensorBoard event files that read back as what was logged."""
from datetime import datetime

import numpy as np
import pytest
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset, random_split
from torch.utils.tensorboard import SummaryWriter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import helpers
from classroom.course import run_stages


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('course')
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)  # runs/ goes here, not into the course
        namespace = dict(
            np=np, torch=torch, nn=nn, optim=optim, DataLoader=DataLoader,
            TensorDataset=TensorDataset, random_split=random_split,
            SummaryWriter=SummaryWriter, datetime=datetime, make_train_step_fn=helpers.make_train_step_fn,
            make_val_step_fn=helpers.make_val_step_fn, mini_batch=helpers.mini_batch,
        )
        run_stages(
            namespace,
            'data_generation/simple_linear_regression.py',
            'data_preparation/v2.py',
            'model_configuration/v3.py',
            'model_training/v5.py',
        )
    return workdir, namespace


def test_the_final_stages_learn_the_line(trained):
    _, namespace = trained
    model = namespace['model']
    assert model[0].weight.item() == pytest.approx(2, abs=0.1)
    assert model[0].bias.item() == pytest.approx(1, abs=0.1)
    assert len(namespace['losses']) == len(namespace['val_losses']) == 200
    assert namespace['losses'][-1] < namespace['losses'][0] / 10


@pytest.mark.parametrize('series, key', [('loss_training', 'losses'), ('loss_validation', 'val_losses')])
def test_event_files_hold_every_logged_loss(trained, series, key):
    workdir, namespace = trained
    [run_folder] = (workdir / 'runs' / 'simple_linear_regression').iterdir()
    [event_file] = (run_folder / series).glob('events.out.tfevents.*')
    points = EventAccumulator(str(event_file)).Reload().Scalars('loss')
    assert [point.step for point in points] == list(range(200))
    np.testing.assert_allclose([point.value for point in points], namespace[key], rtol=1e-6)


def test_the_model_graph_was_written(trained):
    workdir, _ = trained
    [event_file] = (workdir / 'runs' / 'simple_linear_regression').glob('*/events.out.tfevents.*')
    graph = EventAccumulator(str(event_file)).Reload().Graph()
    assert any('Linear' in node.name or 'linear' in node.op for node in graph.node)
