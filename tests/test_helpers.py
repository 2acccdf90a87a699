import numpy as np
import pytest
import torch
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from helpers import make_train_step_fn, make_val_step_fn, mini_batch, resolve_device


def linear_setup(lr=0.1):
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    return model, nn.MSELoss(), optimizer


def batch():
    x = torch.tensor([[0.0], [0.5], [1.0]])
    return x, 1 + 2 * x


def snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def test_train_step_moves_parameters_against_the_gradient_and_returns_the_loss():
    model, loss_fn, optimizer = linear_setup(lr=0.1)
    x, y = batch()
    expected_loss = loss_fn(model(x), y)
    expected_loss.backward()
    gradients = [p.grad.clone() for p in model.parameters()]
    before = snapshot(model)
    optimizer.zero_grad()

    loss = make_train_step_fn(model, loss_fn, optimizer)(x, y)

    assert isinstance(loss, float)
    assert loss == pytest.approx(expected_loss.item())
    for old, grad, new in zip(before, gradients, model.parameters()):
        torch.testing.assert_close(new.detach(), old - 0.1 * grad)
        # zeroed for the next step
        assert new.grad is None or torch.all(new.grad == 0)
    assert model.training


def test_train_steps_reduce_the_loss():
    model, loss_fn, optimizer = linear_setup()
    step = make_train_step_fn(model, loss_fn, optimizer)
    x, y = batch()
    losses = [step(x, y) for _ in range(50)]
    assert losses[-1] < losses[0] / 10


def test_val_step_returns_the_loss_and_changes_nothing():
    model, loss_fn, _ = linear_setup()
    x, y = batch()
    before = snapshot(model)
    loss = make_val_step_fn(model, loss_fn)(x, y)
    assert loss == pytest.approx(loss_fn(model(x), y).item())
    for old, new in zip(before, model.parameters()):
        assert torch.equal(old, new)
        assert new.grad is None
    assert not model.training


@pytest.mark.parametrize('make_step', ['train', 'val'])
def test_steps_refuse_mismatched_shapes_before_updating(make_step):
    model, loss_fn, optimizer = linear_setup()
    step = (make_train_step_fn(model, loss_fn, optimizer) if make_step == 'train'
            else make_val_step_fn(model, loss_fn))
    x, y = batch()
    before = snapshot(model)
    with pytest.raises(ValueError, match=r'prediction has shape \(3, 1\) but the target has shape \(3,\)'):
        step(x, y.view(-1))
    for old, new in zip(before, model.parameters()):
        assert torch.equal(old, new)
        assert new.grad is None


def test_mini_batch_averages_the_per_batch_losses_and_moves_batches_to_the_device():
    x = torch.arange(10, dtype=torch.float32).view(-1, 1)
    loader = DataLoader(TensorDataset(x, x), batch_size=4)  # batches of 4, 4 and 2
    seen = []

    def step_fn(x_batch, y_batch):
        seen.append((len(x_batch), x_batch.device.type))
        return float(x_batch.sum())

    loss = mini_batch('cpu', loader, step_fn)
    assert seen == [(4, 'cpu'), (4, 'cpu'), (2, 'cpu')]
    assert loss == pytest.approx(np.mean([0 + 1 + 2 + 3, 4 + 5 + 6 + 7, 8 + 9]))
    assert type(loss) is float


def test_mini_batch_accepts_a_torch_device():
    loader = DataLoader(TensorDataset(torch.ones(4, 1), torch.ones(4, 1)), batch_size=2)
    assert mini_batch(torch.device('cpu'), loader, lambda x, y: 1.0) == 1.0


def test_mini_batch_refuses_a_loader_that_yields_nothing():
    empty = DataLoader(TensorDataset(torch.empty(0, 1), torch.empty(0, 1)), batch_size=16)
    with pytest.raises(ValueError, match='yielded no mini-batch'):
        mini_batch('cpu', empty, lambda x, y: 0.0)
    dropped = DataLoader(TensorDataset(torch.ones(5, 1), torch.ones(5, 1)), batch_size=16, drop_last=True)
    with pytest.raises(ValueError, match='drop_last'):
        mini_batch('cpu', dropped, lambda x, y: 0.0)


@pytest.mark.parametrize('device', [
    pytest.param('cuda', marks=pytest.mark.skipif(torch.cuda.is_available(), reason='CUDA is here')),
    'cuda:99',
    pytest.param('mps', marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason='MPS is here')),
])
def test_mini_batch_refuses_an_unavailable_device_before_the_first_step(device):
    loader = DataLoader(TensorDataset(torch.ones(4, 1), torch.ones(4, 1)), batch_size=2)
    calls = []
    with pytest.raises(RuntimeError, match=f"device '{device}' was asked for"):
        mini_batch(device, loader, lambda x, y: calls.append(1) or 0.0)
    assert calls == []


def test_resolve_device_rejects_a_misspelt_device():
    with pytest.raises(RuntimeError, match='cdua'):
        resolve_device('cdua')
