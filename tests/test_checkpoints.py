import os
import pickle

import pytest
import torch
from torch import nn, optim

import helpers
from helpers import load_checkpoint, save_checkpoint


def make_checkpoint(epoch=200):
    torch.manual_seed(42)
    model = nn.Linear(1, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(2, 1)).sum().backward()
    optimizer.step()  # gives the optimizer a momentum buffer to save
    return {
        'epoch': epoch,
        'model_state_dict': model.state_dict(),
        'optimizer_state_dict': optimizer.state_dict(),
        'loss': [0.5, 0.25],
        'val_loss': [0.6, 0.3],
    }


def assert_same(loaded, original):
    assert loaded['epoch'] == original['epoch']
    assert loaded['loss'] == original['loss'] and loaded['val_loss'] == original['val_loss']
    for key, value in original['model_state_dict'].items():
        assert torch.equal(loaded['model_state_dict'][key], value)
    buffers = original['optimizer_state_dict']['state']
    assert buffers, 'the test checkpoint should carry optimizer state'
    for index, state in buffers.items():
        assert torch.equal(loaded['optimizer_state_dict']['state'][index]['momentum_buffer'],
                           state['momentum_buffer'])


def test_round_trip_restores_model_and_optimizer(tmp_path):
    original = make_checkpoint()
    path = tmp_path / 'deep' / 'folder' / 'model.pth'  # folders are created
    save_checkpoint(path, original)
    assert_same(load_checkpoint(path), original)
    assert os.listdir(path.parent) == ['model.pth']

    model = nn.Linear(1, 1)
    model.load_state_dict(load_checkpoint(path)['model_state_dict'])
    torch.testing.assert_close(model.weight, original['model_state_dict']['weight'])


def test_a_save_that_fails_midway_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'model.pth'
    previous = make_checkpoint(epoch=100)
    save_checkpoint(path, previous)

    real_save = torch.save

    def save_then_die(obj, file):
        real_save(obj, file)
        file.truncate(file.tell() // 2)  # half of the bytes reached the disk
        raise OSError('No space left on device')

    monkeypatch.setattr(helpers.torch, 'save', save_then_die)
    with pytest.raises(OSError, match='No space left'):
        save_checkpoint(path, make_checkpoint(epoch=200))

    assert_same(load_checkpoint(path), previous)
    assert os.listdir(tmp_path) == ['model.pth'], 'the temporary file was left behind'


def test_a_crash_before_the_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'model.pth'
    previous = make_checkpoint(epoch=100)
    save_checkpoint(path, previous)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(helpers.os, 'replace', interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, make_checkpoint(epoch=200))
    monkeypatch.undo()

    assert_same(load_checkpoint(path), previous)
    assert os.listdir(tmp_path) == ['model.pth']


def test_saving_is_written_to_a_temporary_file_then_renamed(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        renames.append((os.path.dirname(src), os.path.basename(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(helpers.os, 'replace', spy)
    save_checkpoint(tmp_path / 'model.pth', make_checkpoint())
    [(folder, name, target)] = renames
    assert folder == str(tmp_path) and name != 'model.pth'
    assert target == str(tmp_path / 'model.pth')


@pytest.mark.parametrize('umask', [0o022, 0o077], ids=['usual umask', 'private umask'])
def test_a_checkpoint_gets_the_permissions_of_any_new_file(tmp_path, umask):
    # Not the temporary file's 0600: a folder shared by machines (or users)
    # must be able to read it
    previous = os.umask(umask)
    try:
        save_checkpoint(tmp_path / 'model.pth', make_checkpoint())
    finally:
        os.umask(previous)
    assert (tmp_path / 'model.pth').stat().st_mode & 0o777 == 0o666 & ~umask


def test_saving_an_incomplete_checkpoint_is_refused(tmp_path):
    incomplete = make_checkpoint()
    del incomplete['optimizer_state_dict']
    with pytest.raises(ValueError, match=r"lacks the keys \['optimizer_state_dict'\]"):
        save_checkpoint(tmp_path / 'model.pth', incomplete)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.pth'):
        load_checkpoint(tmp_path / 'nothere.pth')


def test_a_truncated_file_is_named_and_explained(tmp_path):
    path = tmp_path / 'model.pth'
    save_checkpoint(path, make_checkpoint())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model\.pth' is not a readable checkpoint: the file is truncated"):
        load_checkpoint(path)


@pytest.mark.parametrize('content', [b'epoch,loss\n1,0.5\n', b''], ids=['text', 'empty'])
def test_a_file_that_is_no_checkpoint_is_named_and_explained(tmp_path, content):
    path = tmp_path / 'notes.txt'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"notes\.txt' is not a readable checkpoint"):
        load_checkpoint(path)


def test_a_saved_object_that_is_no_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'weights.pth'
    torch.save(nn.Linear(1, 1).state_dict(), path)
    with pytest.raises(ValueError, match=r"weights\.pth'.*lacks the keys \['epoch'"):
        load_checkpoint(path)


class RunsCode:
    marker = None

    def __reduce__(self):
        # Unpickling this calls os.mkdir(marker): the folder is proof that code ran
        return (os.mkdir, (str(self.marker),))


@pytest.mark.filterwarnings('ignore:Detected pickle protocol')
@pytest.mark.parametrize('write', ['torch.save', 'pickle.dump'])
def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path, write):
    marker = tmp_path / 'code-ran'
    RunsCode.marker = marker
    path = tmp_path / 'malicious.pth'
    payload = {**make_checkpoint(), 'loss': RunsCode()}
    if write == 'torch.save':
        torch.save(payload, path)
    else:
        with open(path, 'wb') as file:
            pickle.dump(payload, file)

    # torch names the refused callable when it gets that far into the file
    refused = r'posix\.mkdir' if write == 'torch.save' else 'code'
    message = rf"malicious\.pth' was refused: loading it would call {refused}, which"
    with pytest.raises(pickle.UnpicklingError, match=message):
        load_checkpoint(path)
    assert not marker.exists(), 'the file ran code while being loaded'

    # The same file, loaded the unsafe way, does run its code: the test is real
    if write == 'torch.save':
        torch.load(path, weights_only=False)
    else:
        with open(path, 'rb') as file:
            pickle.load(file)
    assert marker.exists()
