"""StepByStep (stepbystep/v0.py, written by notebook 05): each method; the
numbers of notebook 01 for the same run; 100 epochs, a checkpoint and 100 more
equal to 200 bit for bit; what notebook 05's text says about seeds; one clear
error for each bad input, with nothing changed. The stage scripts run as the
notebooks run them, in a folder of their own (runs/, checkpoints/)."""
import contextlib
import os
import re

import matplotlib
import nbformat
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn, optim
from torch.utils.data import DataLoader, RandomSampler, TensorDataset, random_split

import helpers
from classroom.course import COURSE_ROOT, cell_source, run_stages
from stepbystep.v0 import StepByStep

matplotlib.use('Agg')

CHAPTER_01 = COURSE_ROOT / 'notebooks' / '01_rethinking_the_training_loop.ipynb'
CHAPTER_05 = COURSE_ROOT / 'notebooks' / '05_going_classy.ipynb'
DATA = 'data_generation/simple_linear_regression.py'
# The chapter's loaders, drawing from the global stream; notebook 03's, each
# with a generator of its own
GLOBAL_STREAM, OWN_GENERATORS = 'data_preparation/v2.py', 'data_preparation/v4.py'


@contextlib.contextmanager
def inside(folder):
    """Runs the block with `folder` as the working directory (runs/ and
    checkpoints/ go there)."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture
def workdir(tmp_path):
    with inside(tmp_path):
        yield tmp_path


def new_session(*scripts):
    """A namespace like notebook 05's after its imports, with the stage
    scripts run in it."""
    namespace = dict(np=np, torch=torch, nn=nn, optim=optim, DataLoader=DataLoader, TensorDataset=TensorDataset,
                     random_split=random_split, StepByStep=StepByStep,
                     make_train_step_fn=helpers.make_train_step_fn, make_val_step_fn=helpers.make_val_step_fn,
                     mini_batch=helpers.mini_batch)
    return run_stages(namespace, DATA, *scripts)


def new_trainer(data_preparation=GLOBAL_STREAM, validation=True):
    """A StepByStep on a fresh model (model configuration v0), loaders set."""
    session = new_session(data_preparation, 'model_configuration/v0.py')
    sbs = StepByStep(session['model'], session['loss_fn'], session['optimizer'])
    sbs.set_loaders(session['train_loader'], session['val_loader'] if validation else None)
    return sbs


def parameters(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def same(first, second):
    return first.keys() == second.keys() and all(torch.equal(first[name], second[name]) for name in first)


def logged_steps(run_folder):
    """{series: the steps logged in one run folder}."""
    return {series.name: [point.step for event_file in sorted(series.glob('events.out.tfevents.*'))
                          for point in EventAccumulator(str(event_file)).Reload().Scalars('loss')]
            for series in sorted(run_folder.iterdir()) if series.is_dir()}


def stored_text(notebook, cell_id):
    """What a cell printed when the notebook's outputs were stored (strict
    nbval proves it is what the cell prints)."""
    cell = next(cell for cell in nbformat.read(notebook, as_version=4).cells if cell.get('id') == cell_id)
    return ''.join(output.get('text', '') for output in cell.outputs)


@pytest.fixture(scope='module')
def two_hundred_epochs(tmp_path_factory):
    """Notebook 05's run: data preparation v2, model configuration v0 and
    model training v8 (the class, with TensorBoard and the graph)."""
    with inside(tmp_path_factory.mktemp('classy')):
        return new_session(GLOBAL_STREAM, 'model_configuration/v0.py', 'model_training/v8.py')


# Notebook 01's numbers, and exact resuming

def test_200_epochs_give_the_parameters_notebook_01_prints_for_model_training_v4(two_hundred_epochs):
    """'These are the parameters that model training v4 and v5 reached in
    notebook 01, to the last digit': the class against the stage scripts,
    bit for bit, and against what both notebooks print."""
    scripts = new_session(GLOBAL_STREAM, 'model_configuration/v2.py', 'model_training/v4.py')
    sbs = two_hundred_epochs['sbs']
    assert sbs.total_epochs == 200
    assert same(parameters(sbs.model), parameters(scripts['model']))
    assert (sbs.losses, sbs.val_losses) == (scripts['losses'], scripts['val_losses'])
    printed = f"{sbs.model.state_dict()}\n"
    assert stored_text(CHAPTER_01, 'cell-074') == printed
    assert stored_text(CHAPTER_05, 'same-as-notebook-01') == printed + 'epochs: 200\n'


def test_100_epochs_a_checkpoint_and_100_more_equal_200_bit_for_bit(two_hundred_epochs, workdir):
    """Notebook 05's cells 'save', 'load' and 'resume', with the loaders of
    data preparation v2, whose order comes from the global stream; the
    resumed run logs in a folder of its own, at steps 100 to 199."""
    first = new_trainer()
    first.train(100)
    first.save_checkpoint('checkpoints/classy.pth')
    new_session(GLOBAL_STREAM, 'model_configuration/v0.py')  # moves the global stream, as a new session does

    session = new_session(GLOBAL_STREAM, 'model_configuration/v0.py')
    resumed = StepByStep(session['model'], session['loss_fn'], session['optimizer'])
    resumed.load_checkpoint('checkpoints/classy.pth')
    resumed.set_loaders(session['train_loader'], session['val_loader'])
    resumed.set_tensorboard('classy')
    resumed.train(100)

    straight = two_hundred_epochs['sbs']
    assert resumed.total_epochs == 200
    assert same(parameters(resumed.model), parameters(straight.model))
    assert (resumed.losses, resumed.val_losses) == (straight.losses, straight.val_losses)
    [run_folder] = (workdir / 'runs').iterdir()
    assert logged_steps(run_folder) == {'loss_training': list(range(100, 200)),
                                        'loss_validation': list(range(100, 200))}


@pytest.mark.parametrize('loaders_first', [True, False], ids=['loaders-then-checkpoint', 'checkpoint-then-loaders'])
def test_resuming_is_exact_with_loaders_of_their_own_generators(workdir, loaders_first):
    """'A test checks the same with data preparation v4's loaders, whose own
    generators the checkpoint puts back', set before or after loading."""
    straight = new_trainer(OWN_GENERATORS)
    straight.train(40)
    first = new_trainer(OWN_GENERATORS)
    first.train(20)
    first.save_checkpoint('checkpoints/own.pth')

    session = new_session(OWN_GENERATORS, 'model_configuration/v0.py')
    resumed = StepByStep(session['model'], session['loss_fn'], session['optimizer'])
    if loaders_first:
        resumed.set_loaders(session['train_loader'], session['val_loader'])
    resumed.load_checkpoint('checkpoints/own.pth')
    if not loaders_first:
        resumed.set_loaders(session['train_loader'], session['val_loader'])
    # Drawing from the global stream in between changes nothing: the
    # loaders draw from their own generators, put back by train()
    torch.rand(5)
    resumed.train(20)
    assert same(parameters(resumed.model), parameters(straight.model))
    assert resumed.val_losses == straight.val_losses


def test_a_checkpoint_saved_before_training_resumes_holds_the_states_it_loaded(workdir):
    # Loaded, saved again at once, loaded again: still exact
    straight = new_trainer(OWN_GENERATORS)
    straight.train(10)
    first = new_trainer(OWN_GENERATORS)
    first.train(5)
    first.save_checkpoint('checkpoints/first.pth')
    middle = new_trainer(OWN_GENERATORS)
    middle.load_checkpoint('checkpoints/first.pth')
    middle.train_loader.generator.manual_seed(0)  # moved, but not yet resumed
    middle.save_checkpoint('checkpoints/again.pth')
    last = new_trainer(OWN_GENERATORS)
    last.load_checkpoint('checkpoints/again.pth')
    last.train(5)
    assert same(parameters(last.model), parameters(straight.model))


# Seeds

def first_x_per_batch(loader, n_epochs):
    return [[round(x[0, 0].item(), 4) for x, _ in loader] for _ in range(n_epochs)]


def test_two_calls_without_a_seed_are_one_run_and_a_seed_at_each_call_replays_the_orders():
    """'A second call without a seed goes on with the orders the first call's
    streams would have drawn next ... its second call set the streams back to
    the start, so epochs 50 to 99 got the mini-batch orders of epochs 0 to 49'."""
    in_one_call = new_trainer(OWN_GENERATORS)
    in_one_call.train(6, seed=42)
    seed_once = new_trainer(OWN_GENERATORS)
    seed_once.train(3, seed=42)
    seed_once.train(3)
    assert same(parameters(seed_once.model), parameters(in_one_call.model))

    seed_twice = new_trainer(OWN_GENERATORS)
    seed_twice.train(3, seed=42)
    after_first_call = seed_twice.train_loader.generator.get_state()
    seed_twice.train(3, seed=42)
    assert not same(parameters(seed_twice.model), parameters(in_one_call.model))
    # The orders: three epochs from the seed, then the same three again
    loader = seed_twice.train_loader
    loader.generator.manual_seed(42)
    from_the_seed = first_x_per_batch(loader, 3)
    loader.generator.set_state(after_first_call)
    assert first_x_per_batch(loader, 3) != from_the_seed


def test_the_seed_runs_notebook_05_prints_read_as_its_text_says():
    """'The first two are equal, to the last digit ... The third differs ...
    the parameters move only in the third or fourth decimal'."""
    lines = stored_text(CHAPTER_05, 'seeds-compared').splitlines()
    one_call, seed_once, seed_twice = ([float(n) for n in re.findall(r'-?\d+\.\d+', line)] for line in lines)
    assert one_call == seed_once and seed_twice != one_call
    assert 1e-4 <= max(abs(a - b) for a, b in zip(one_call, seed_twice)) < 1e-2
    assert 'third or fourth decimal' in ' '.join(cell_source(CHAPTER_05, 'seeds-what-it-shows').split())


def test_set_seed_seeds_the_loaders_generators_and_nothing_global():
    sbs = new_trainer(OWN_GENERATORS)
    torch.manual_seed(3)
    global_state = torch.get_rng_state()
    sbs.set_seed(7)
    assert torch.equal(torch.get_rng_state(), global_state), 'the global stream was reseeded'
    seven = torch.Generator().manual_seed(7).get_state()
    assert torch.equal(sbs.train_loader.generator.get_state(), seven)
    assert torch.equal(sbs.val_loader.generator.get_state(), seven)


def test_set_seed_also_seeds_a_sampler_with_a_generator_of_its_own():
    data = TensorDataset(torch.arange(20.).view(-1, 1), torch.zeros(20, 1))
    sampler_generator = torch.Generator()
    loader = DataLoader(data, batch_size=4, sampler=RandomSampler(data, generator=sampler_generator),
                        generator=torch.Generator())
    sbs = StepByStep(*chapter_model())
    sbs.set_loaders(loader)
    sbs.set_seed(5)
    assert torch.equal(sampler_generator.get_state(), torch.Generator().manual_seed(5).get_state())


def test_a_loader_that_takes_its_points_in_order_has_nothing_to_seed():
    # shuffle=False: its order is fixed, and a seed was refused as if it came
    # from the global stream
    data = TensorDataset(torch.arange(20.).view(-1, 1), torch.zeros(20, 1))
    sbs = StepByStep(*chapter_model())
    sbs.set_loaders(DataLoader(data, batch_size=4), DataLoader(data, batch_size=4, shuffle=True,
                                                               generator=torch.Generator()))
    global_state = torch.get_rng_state()
    sbs.set_seed(5)
    assert torch.equal(torch.get_rng_state(), global_state), 'the global stream was reseeded'
    assert torch.equal(sbs.val_loader.generator.get_state(), torch.Generator().manual_seed(5).get_state())
    sbs.train(2, seed=5)
    assert sbs.total_epochs == 2


@pytest.mark.parametrize('loader', ['global stream', 'sampler on the global stream'])
def test_a_seed_is_refused_for_loaders_whose_order_comes_from_the_global_stream(loader):
    data = TensorDataset(torch.arange(20.).view(-1, 1), torch.zeros(20, 1))
    loaders = {
        'global stream': DataLoader(data, batch_size=4, shuffle=True),
        'sampler on the global stream': DataLoader(data, batch_size=4, sampler=RandomSampler(data),
                                                   generator=torch.Generator()),
    }
    sbs = StepByStep(*chapter_model())
    sbs.set_loaders(loaders[loader])
    before = parameters(sbs.model)
    with pytest.raises(ValueError, match='no random generator of its own.*data_preparation/v4.py'):
        sbs.train(3, seed=42)
    assert same(parameters(sbs.model), before) and sbs.total_epochs == 0


# Each method

def chapter_model(lr=0.1, make_optimizer=optim.SGD):
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1))
    return model, nn.MSELoss(), make_optimizer(model.parameters(), lr=lr)


def test_the_constructor_keeps_its_arguments_and_starts_empty():
    model, loss_fn, optimizer = chapter_model()
    sbs = StepByStep(model, loss_fn, optimizer)
    assert (sbs.model, sbs.loss_fn, sbs.optimizer) == (model, loss_fn, optimizer)
    assert (sbs.train_loader, sbs.val_loader, sbs.writer) == (None, None, None)
    assert (sbs.losses, sbs.val_losses, sbs.total_epochs) == ([], [], 0)
    assert sbs.device == torch.device('cpu')


def test_the_device_is_the_models():
    model, loss_fn, _ = chapter_model()
    model.to('meta')
    assert StepByStep(model, loss_fn, optim.SGD(model.parameters(), lr=0.1)).device == torch.device('meta')


def test_a_model_on_two_devices_is_refused():
    model = nn.Sequential(nn.Linear(1, 2), nn.Linear(2, 1))
    model[1].to('meta')
    with pytest.raises(ValueError, match=r"one device, not on \['cpu', 'meta'\]"):
        StepByStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))


def test_an_optimizer_of_another_model_is_refused():
    model, loss_fn, _ = chapter_model()
    _, _, other_optimizer = chapter_model()
    with pytest.raises(ValueError, match='not this model'):
        StepByStep(model, loss_fn, other_optimizer)


def test_the_steps_are_the_helpers_not_a_second_copy():
    model, loss_fn, optimizer = chapter_model()
    sbs = StepByStep(model, loss_fn, optimizer)
    # A closure's code is its defining function's: helpers.py's own steps
    assert sbs.train_step_fn.__code__ is helpers.make_train_step_fn(model, loss_fn, optimizer).__code__
    assert sbs.val_step_fn.__code__ is helpers.make_val_step_fn(model, loss_fn).__code__
    source = (COURSE_ROOT / 'stepbystep' / 'v0.py').read_text()
    assert '.backward(' not in source and '.step()' not in source, 'stepbystep/v0.py has a train step of its own'


def adam_after_one_step():
    model, loss_fn, optimizer = chapter_model(lr=0.01, make_optimizer=optim.Adam)
    sbs = StepByStep(model, loss_fn, optimizer)
    sbs.train_step_fn(torch.ones(4, 1), torch.ones(4, 1))  # Adam now keeps tensors per parameter
    return sbs


def test_to_keeps_the_optimizers_state_and_the_training_as_they_were():
    # On this machine's one device: a GPU's copy was not tried (no GPU here)
    moved, staying = adam_after_one_step(), adam_after_one_step()
    moved.to('cpu')
    assert moved.device == torch.device('cpu')
    for sbs in (moved, staying):
        sbs.train_step_fn(torch.full((4, 1), 2.), torch.ones(4, 1))
    assert same(parameters(moved.model), parameters(staying.model))
    assert same(moved.optimizer.state_dict()['state'][0], staying.optimizer.state_dict()['state'][0])


def test_to_moves_what_the_optimizer_keeps_for_each_parameter():
    # To the meta device, which every machine has: a state left on the CPU
    # shows. Module.to keeps the parameters (the optimizer's) between the CPU
    # and a GPU, but gives the meta device new ones unless told to swap
    sbs = adam_after_one_step()
    swapping = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    try:
        sbs.to('meta')
    finally:
        torch.__future__.set_swap_module_params_on_conversion(swapping)
    assert sbs.device == torch.device('meta') and next(sbs.model.parameters()).device.type == 'meta'
    kept = {(index, name): tensor.device.type for index, state in sbs.optimizer.state_dict()['state'].items()
            for name, tensor in state.items() if name != 'step'}  # Adam counts its steps on the CPU
    assert kept and set(kept.values()) == {'meta'}, kept


@pytest.mark.skipif(torch.cuda.is_available(), reason='refusing a missing GPU needs a machine without one')
def test_to_refuses_a_device_this_machine_lacks_and_stays_where_it_is():
    sbs = StepByStep(*chapter_model())
    with pytest.raises(RuntimeError, match="device 'cuda' was asked for"):
        sbs.to('cuda')
    assert sbs.device == torch.device('cpu') and next(sbs.model.parameters()).device.type == 'cpu'


def test_set_loaders_refuses_a_dataset_and_a_missing_training_loader():
    sbs = StepByStep(*chapter_model())
    data = TensorDataset(torch.zeros(4, 1), torch.zeros(4, 1))
    with pytest.raises(TypeError, match=r'val_loader is a dataset.*DataLoader\(val_data'):
        sbs.set_loaders(DataLoader(data), data)
    with pytest.raises(ValueError, match='train_loader is None'):
        sbs.set_loaders(None)
    assert sbs.train_loader is None


def test_set_tensorboard_gives_each_run_a_folder_of_its_own(workdir):
    sbs = StepByStep(*chapter_model())
    sbs.set_tensorboard('twice')
    first = sbs.writer
    sbs.set_tensorboard('twice')
    assert first.log_dir != sbs.writer.log_dir and first.file_writer is None  # the first one was closed
    assert sorted(path.name.startswith('twice_') for path in (workdir / 'runs').iterdir()) == [True, True]


def test_mini_batch_is_helper_2_and_none_without_validation():
    sbs = new_trainer()
    assert sbs._mini_batch(validation=True) == helpers.mini_batch('cpu', sbs.val_loader, sbs.val_step_fn)
    sbs.set_loaders(sbs.train_loader)
    assert sbs._mini_batch(validation=True) is None


def test_train_without_validation_keeps_training_losses_only_and_logs_steps_that_continue(workdir):
    sbs = new_trainer(validation=False)
    sbs.set_tensorboard('steps')
    sbs.train(3)
    sbs.train(2)
    assert (len(sbs.losses), sbs.val_losses, sbs.total_epochs) == (5, [], 5)
    [run_folder] = (workdir / 'runs').iterdir()
    assert logged_steps(run_folder) == {'loss_training': [0, 1, 2, 3, 4]}


def test_train_before_set_loaders_is_refused():
    with pytest.raises(RuntimeError, match='call set_loaders'):
        StepByStep(*chapter_model()).train(10)


@pytest.mark.parametrize('n_epochs', [-1, 2.5, '10'])
def test_train_refuses_a_number_of_epochs_that_is_not_whole(n_epochs):
    sbs = new_trainer()
    with pytest.raises(ValueError, match='whole number of epochs'):
        sbs.train(n_epochs)


def test_wrong_target_shapes_stop_before_any_update_or_count():
    session = new_session(GLOBAL_STREAM, 'model_configuration/v0.py')
    sbs = StepByStep(session['model'], session['loss_fn'], session['optimizer'])
    flat = DataLoader(TensorDataset(session['x_tensor'], session['y_tensor'].view(-1)), batch_size=16)
    sbs.set_loaders(flat)
    before = parameters(sbs.model)
    with pytest.raises(ValueError, match=r'shape \(16, 1\) but the target has shape \(16,\)'):
        sbs.train(5)
    assert same(parameters(sbs.model), before) and (sbs.losses, sbs.total_epochs) == ([], 0)


def test_the_checkpoint_holds_the_course_keys_and_loads_with_weights_only(workdir):
    sbs = new_trainer(OWN_GENERATORS)
    sbs.train(2)
    sbs.save_checkpoint('checkpoints/two.pth')
    checkpoint = torch.load('checkpoints/two.pth', weights_only=True)
    assert set(helpers.CHECKPOINT_KEYS) | {'rng_state', 'loader_rng_states'} == set(checkpoint)
    assert checkpoint['epoch'] == 2 and checkpoint['loss'] == sbs.losses
    assert [len(states) for states in checkpoint['loader_rng_states']] == [1, 1]


def test_another_models_checkpoint_is_refused_before_anything_changes(workdir):
    saved = new_trainer()
    saved.train(1)
    saved.save_checkpoint('checkpoints/small.pth')
    torch.manual_seed(0)
    bigger = nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(4, 1))
    sbs = StepByStep(bigger, nn.MSELoss(), optim.SGD(bigger.parameters(), lr=0.1))
    before = parameters(bigger)
    with pytest.raises(ValueError, match=r"another model's parameters, \{'0.weight': \(1, 1\)"):
        sbs.load_checkpoint('checkpoints/small.pth')
    assert same(parameters(bigger), before) and (sbs.total_epochs, sbs.losses) == (0, [])


def test_an_optimizer_with_other_parameter_groups_is_refused(workdir):
    saved = new_trainer()
    saved.save_checkpoint('checkpoints/one_group.pth')
    model, loss_fn, _ = chapter_model()
    two_groups = optim.SGD([{'params': [model[0].weight]}, {'params': [model[0].bias]}], lr=0.1)
    sbs = StepByStep(model, loss_fn, two_groups)
    with pytest.raises(ValueError, match=r'groups of \[2\] parameters, where this one has \[1, 1\]'):
        sbs.load_checkpoint('checkpoints/one_group.pth')


def test_loaders_unlike_the_checkpoints_are_refused_when_training_resumes(workdir):
    saved = new_trainer(OWN_GENERATORS)
    saved.train(1)
    saved.save_checkpoint('checkpoints/own.pth')
    sbs = new_trainer(GLOBAL_STREAM)
    sbs.load_checkpoint('checkpoints/own.pth')
    loaded = parameters(sbs.model)
    with pytest.raises(ValueError, match='not built as those of the checkpoint'):
        sbs.train(1)
    assert same(parameters(sbs.model), loaded) and sbs.total_epochs == 1


def test_a_truncated_checkpoint_gets_the_helpers_clear_error(workdir):
    new_trainer().save_checkpoint('checkpoints/whole.pth')
    with open('checkpoints/whole.pth', 'rb') as file:
        data = file.read()
    with open('checkpoints/half.pth', 'wb') as file:
        file.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='half.pth.* is not a readable checkpoint'):
        StepByStep(*chapter_model()).load_checkpoint('checkpoints/half.pth')


@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_predict_gives_the_models_output_as_numpy_and_keeps_its_mode(mode):
    model, loss_fn, optimizer = chapter_model()
    model.train(mode == 'train')
    predictions = StepByStep(model, loss_fn, optimizer).predict(np.array([[.2], [.34], [.57]]))
    assert isinstance(predictions, np.ndarray) and predictions.shape == (3, 1)
    with torch.no_grad():
        assert np.array_equal(predictions, model(torch.tensor([[.2], [.34], [.57]])).numpy())
    assert model.training == (mode == 'train')


def test_predict_refuses_a_flat_list_of_numbers():
    with pytest.raises(ValueError, match=r'one point per row.*not \(3,\).*reshape\(-1, 1\)'):
        StepByStep(*chapter_model()).predict([.2, .34, .57])


@pytest.mark.parametrize('validation', [True, False])
def test_plot_losses_draws_each_kept_loss(validation):
    sbs = new_trainer(validation=validation)
    sbs.train(3)
    lines = sbs.plot_losses().axes[0].get_lines()
    drawn = [list(line.get_ydata()) for line in lines]
    assert drawn == [sbs.losses, sbs.val_losses][:1 + validation]


def test_add_graph_logs_the_graph_and_leaves_the_training_unchanged(workdir):
    """'Asking the training loader for a mini-batch instead would draw from
    its random stream ... logging would change the training'."""
    logged = new_trainer()
    logged.set_tensorboard('graph')
    logged.add_graph()
    logged.train(5)
    plain = new_trainer()
    plain.train(5)
    assert same(parameters(logged.model), parameters(plain.model))
    [run_folder] = (workdir / 'runs').iterdir()
    [event_file] = run_folder.glob('events.out.tfevents.*')
    assert EventAccumulator(str(event_file)).Reload().Tags()['graph']
    # What add_graph avoids: one mini-batch asked of the loader changes the training
    asked = new_trainer()
    next(iter(asked.train_loader))
    asked.train(5)
    assert not same(parameters(asked.model), parameters(plain.model))


def test_add_graph_traces_in_eval_mode_and_gives_the_model_its_mode_back(workdir):
    # SummaryWriter.add_graph traces in eval mode and puts the mode back
    # (torch 2.13): in train mode, BatchNorm would fail on one point (and
    # update its running averages), and dropout draw from the global stream
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 1))
    sbs = StepByStep(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    sbs.set_loaders(DataLoader(TensorDataset(torch.arange(8.).view(-1, 1), torch.zeros(8, 1)), batch_size=4))
    sbs.set_tensorboard('graph')
    global_state, before = torch.get_rng_state(), parameters(model)
    sbs.add_graph()
    assert model.training, 'add_graph left the model in eval mode'
    assert torch.equal(torch.get_rng_state(), global_state) and same(parameters(model), before)


def test_add_graph_without_a_writer_says_what_is_missing():
    with pytest.raises(RuntimeError, match='set_tensorboard'):
        new_trainer().add_graph()


def test_the_predictions_are_those_of_the_model_notebook_01_deploys():
    """'The same predictions as the model deployed in notebook 01: it is the
    same model'."""
    def numbers(notebook, cell_id):
        cell = next(cell for cell in nbformat.read(notebook, as_version=4).cells if cell.get('id') == cell_id)
        text = ''.join(output.get('text', '') + output.get('data', {}).get('text/plain', '') for output in cell.outputs)
        return [float(number) for number in re.findall(r'\d+\.\d+', text)]

    assert numbers(CHAPTER_05, 'predict') == numbers(CHAPTER_01, 'cell-111')
