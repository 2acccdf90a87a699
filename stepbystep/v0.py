"""StepByStep: the course's training loop as a class. It keeps the model, its
loss and optimizer, the data loaders and the losses of every epoch, and it
trains, validates, logs to TensorBoard, saves and resumes checkpoints, and
predicts, with the helpers of helpers.py doing each step."""
from datetime import datetime

import torch
from torch.utils.data import Dataset
from torch.utils.tensorboard import SummaryWriter

import helpers


class StepByStep:
    """Trains `model` with `loss_fn` and `optimizer` on the loaders given to
    set_loaders; every epoch's losses are kept in `losses` and `val_losses`."""

    def __init__(self, model, loss_fn, optimizer):
        # The three things every step needs
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        # The device was chosen once, when the model was built and sent
        # there: the class follows the model rather than choosing again
        devices = {parameter.device for parameter in model.parameters()}
        if len(devices) != 1:
            raise ValueError(
                f'the model\'s parameters must all be on one device, not on '
                f'{sorted(map(str, devices)) or "none (the model has no parameters)"}'
            )
        self.device = devices.pop()
        # An optimizer built for an earlier model (the model configuration
        # ran again since) would update parameters this model does not have
        own = {id(parameter) for parameter in model.parameters()}
        if any(id(parameter) not in own for group in optimizer.param_groups for parameter in group['params']):
            raise ValueError(
                'the optimizer updates parameters that are not this model\'s: '
                'build it from model.parameters() after the model it trains'
            )
        # Given later, by set_loaders and set_tensorboard
        self.train_loader = None
        self.val_loader = None
        self.writer = None
        # What training adds to: a loss per epoch, and the epochs so far
        self.losses = []
        self.val_losses = []
        self.total_epochs = 0
        # The random states of a loaded checkpoint, put back when training
        # starts again (None: nothing to put back)
        self._resume_states = None
        # The steps, built once from the attributes above
        self.train_step_fn = self._make_train_step_fn()
        self.val_step_fn = self._make_val_step_fn()

    def to(self, device):
        """Moves the model, and what the optimizer keeps for each parameter,
        to `device`; a device this machine lacks is refused, not replaced."""
        device = helpers.resolve_device(device)
        self.model.to(device)
        # Loading the optimizer's own state back puts each tensor it keeps
        # (momentum, running averages) on its parameter's new device
        self.optimizer.load_state_dict(self.optimizer.state_dict())
        self.device = device

    def set_loaders(self, train_loader, val_loader=None):
        """The loaders train() takes its mini-batches from; validation is optional."""
        for name, loader in [('train_loader', train_loader), ('val_loader', val_loader)]:
            # A dataset is iterable too, one point at a time: refuse it
            # rather than train on mini-batches of one, in a fixed order
            if isinstance(loader, Dataset):
                raise TypeError(
                    f'{name} is a dataset, not a data loader: wrap it, e.g. '
                    f'DataLoader({name.split("_")[0]}_data, batch_size=16)'
                )
        if train_loader is None:
            raise ValueError('train_loader is None: training needs a data loader')
        self.train_loader = train_loader
        self.val_loader = val_loader

    def set_tensorboard(self, name, folder='runs'):
        """Logs the losses of the coming epochs to TensorBoard, in a new run
        folder, folder/name_<date-time>."""
        if self.writer is not None:
            self.writer.close()
        # Named after the moment it started, to the microsecond: two runs
        # never share a folder, where their curves would mix
        suffix = datetime.now().strftime('%Y%m%d-%H%M%S-%f')
        self.writer = SummaryWriter(f'{folder}/{name}_{suffix}')

    def _make_train_step_fn(self):
        # The course's helper #1, built on this object's model, loss and optimizer
        return helpers.make_train_step_fn(self.model, self.loss_fn, self.optimizer)

    def _make_val_step_fn(self):
        # The course's helper #3
        return helpers.make_val_step_fn(self.model, self.loss_fn)

    def _mini_batch(self, validation=False):
        # One pass over the training or the validation loader (helper #2);
        # None when there is no such loader
        if validation:
            data_loader, step_fn = self.val_loader, self.val_step_fn
        else:
            data_loader, step_fn = self.train_loader, self.train_step_fn
        if data_loader is None:
            return None
        return helpers.mini_batch(self.device, data_loader, step_fn)

    def _generators(self, loader):
        # The random generators a loader's order comes from: its own, and
        # its sampler's when the sampler has another (None: the global stream)
        own = getattr(loader, 'generator', None)
        sampler = getattr(getattr(loader, 'sampler', None), 'generator', own)
        return [own] if sampler is own else [own, sampler]

    def set_seed(self, seed=42):
        """Seeds the loaders' own random generators, so that the order of
        the mini-batches depends on `seed` alone (a loader that takes its
        points in order has nothing to seed). Nothing global is reseeded."""
        if self.train_loader is None:
            raise RuntimeError('there are no loaders to seed: call set_loaders(train_loader, val_loader) first')
        # shuffle=False: a sampler that takes the points in order, nothing to seed
        in_order = type(self.train_loader.sampler) is torch.utils.data.SequentialSampler
        if None in self._generators(self.train_loader) and not in_order:
            raise ValueError(
                'train_loader has no random generator of its own: its order comes from PyTorch\'s global '
                'stream, which a seed here would reset for the whole program. Build it with '
                'DataLoader(..., shuffle=True, generator=torch.Generator()), as data_preparation/v4.py '
                'does, or train without a seed'
            )
        for loader in [self.train_loader, self.val_loader]:
            for generator in self._generators(loader):
                if generator is not None:
                    generator.manual_seed(seed)

    def train(self, n_epochs, seed=None):
        """Trains for `n_epochs` more epochs, each followed by a validation
        pass when there is a validation loader. A `seed` first seeds the
        loaders (set_seed); without one, training goes on where it stands."""
        if self.train_loader is None:
            raise RuntimeError('there is no training data: call set_loaders(train_loader, val_loader) first')
        if not isinstance(n_epochs, int) or n_epochs < 0:
            raise ValueError(f'n_epochs must be a whole number of epochs, not {n_epochs!r}')
        if self._resume_states is not None:
            self._resume_streams()
        if seed is not None:
            self.set_seed(seed)
        for _ in range(n_epochs):
            loss = self._mini_batch(validation=False)
            # Validation needs no gradients, so none are tracked
            with torch.no_grad():
                val_loss = self._mini_batch(validation=True)
            self.losses.append(loss)
            if val_loss is not None:
                self.val_losses.append(val_loss)
            if self.writer is not None:
                scalars = {'training': loss} if val_loss is None else {'training': loss, 'validation': val_loss}
                # At the epoch's number since the model was new: the steps
                # of a second call, or of a resumed run, follow the earlier ones
                self.writer.add_scalars(main_tag='loss', tag_scalar_dict=scalars, global_step=self.total_epochs)
            # Counted once it is complete: an epoch that failed is not
            self.total_epochs += 1
        if self.writer is not None:
            self.writer.flush()

    def _stream_states(self):
        # Where the random streams that order the coming mini-batches stand:
        # the global one, and each loader's own generators (None where a
        # loader draws from the global one). A checkpoint loaded but not yet
        # resumed still holds its own
        if self._resume_states is not None:
            return self._resume_states
        return {
            'rng_state': torch.get_rng_state(),
            'loader_rng_states': [[None if generator is None else generator.get_state()
                                   for generator in self._generators(loader)]
                                  for loader in [self.train_loader, self.val_loader]],
        }

    def _resume_streams(self):
        # Puts back the random states of the loaded checkpoint, so that the
        # coming epochs draw what they would have drawn without a break
        saved = self._resume_states.get('loader_rng_states')
        loaders = [self._generators(loader) for loader in [self.train_loader, self.val_loader]]
        if saved is not None and [[state is None for state in states] for states in saved] != \
                [[generator is None for generator in generators] for generators in loaders]:
            raise ValueError(
                'the loaders are not built as those of the checkpoint\'s run: set loaders that draw from '
                'generators of their own where those did, and from the global stream where those did'
            )
        if 'rng_state' in self._resume_states:
            # Random states are CPU tensors, wherever the checkpoint was loaded to
            torch.set_rng_state(self._resume_states['rng_state'].cpu())
        for generators, states in zip(loaders, saved or []):
            for generator, state in zip(generators, states):
                if generator is not None:
                    generator.set_state(state.cpu())
        self._resume_states = None

    def save_checkpoint(self, filename):
        """Saves everything training needs to go on exactly where it stands,
        atomically (helpers.save_checkpoint)."""
        checkpoint = {
            'epoch': self.total_epochs,
            'model_state_dict': self.model.state_dict(),
            'optimizer_state_dict': self.optimizer.state_dict(),
            'loss': self.losses,
            'val_loss': self.val_losses,
            **self._stream_states(),
        }
        helpers.save_checkpoint(filename, checkpoint)

    def load_checkpoint(self, filename):
        """Loads a checkpoint with weights_only=True (helpers.load_checkpoint)
        into the model and the optimizer, with its epoch and losses; the next
        train() goes on from its random states. A checkpoint of another model
        is refused before anything changes."""
        checkpoint = helpers.load_checkpoint(filename, map_location=self.device)
        saved, own = checkpoint['model_state_dict'], self.model.state_dict()

        def shapes(state):
            return {name: tuple(tensor.shape) for name, tensor in state.items()}

        if shapes(saved) != shapes(own):
            raise ValueError(
                f'{str(filename)!r} holds another model\'s parameters, {shapes(saved)}, where this model has '
                f'{shapes(own)}: load it into a model built as the one that saved it'
            )
        saved_groups = [len(group['params']) for group in checkpoint['optimizer_state_dict']['param_groups']]
        own_groups = [len(group['params']) for group in self.optimizer.param_groups]
        if saved_groups != own_groups:
            raise ValueError(
                f'{str(filename)!r} holds the state of an optimizer with parameter groups of {saved_groups} '
                f'parameters, where this one has {own_groups}: build the optimizer as the saved run did'
            )
        self.model.load_state_dict(saved)
        self.optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
        self.total_epochs = checkpoint['epoch']
        self.losses = list(checkpoint['loss'])
        self.val_losses = list(checkpoint['val_loss'])
        # Put back when training starts; a checkpoint saved without them
        # (by other code) resumes too, but not exactly
        self._resume_states = {key: checkpoint[key] for key in ['rng_state', 'loader_rng_states']
                               if key in checkpoint} or None
        # Resuming means training: train mode
        self.model.train()

    def predict(self, x):
        """The model's predictions for the points `x` (an array or tensor,
        one point per row), as a NumPy array: in eval mode, without gradients."""
        x_tensor = torch.as_tensor(x, dtype=torch.float32)
        if x_tensor.dim() < 2:
            raise ValueError(
                f'predict takes one point per row, an array of shape (n_points, ...), not {tuple(x_tensor.shape)}: '
                f'for single numbers, x.reshape(-1, 1)'
            )
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                y_hat = self.model(x_tensor.to(self.device))
        finally:
            # Back to the mode it was in: predicting changes nothing
            self.model.train(was_training)
        return y_hat.cpu().numpy()

    def plot_losses(self):
        """A figure of the training and validation losses per epoch (helpers.plot_losses)."""
        return helpers.plot_losses(self.losses, self.val_losses or None)

    def add_graph(self):
        """Logs the model's graph to TensorBoard, traced on one point of the training data."""
        if self.writer is None or self.train_loader is None:
            raise RuntimeError('add_graph needs set_tensorboard(name) and set_loaders(train_loader) first')
        # One point straight from the dataset: a mini-batch asked of the
        # loader would draw from its random stream, and change the order
        # of every mini-batch that follows
        x_sample, _ = self.train_loader.dataset[0]
        self.writer.add_graph(self.model, x_sample.unsqueeze(0).to(self.device))
