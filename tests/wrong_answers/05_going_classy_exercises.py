"""Plausible wrong answers to notebooks/exercises/05_going_classy_exercises.ipynb,
one per exercise, keyed by the grade_id of the solution cell they replace.
Each one runs without error and fails its exercise's checks; MORE_WRONG_ANSWERS
holds other mistakes, which only the hidden checks catch."""

WRONG_ANSWERS = {
    # Exercise 1: a new optimizer with the new rate; the train step, built
    # by the constructor, keeps stepping the old one at the old rate
    'lr_answer': '''\
def set_learning_rate(self, lr):
    self.optimizer = optim.SGD(self.model.parameters(), lr=lr)


setattr(StepByStep, 'set_learning_rate', set_learning_rate)
''',
    # Exercise 2: each epoch seeded "for reproducibility": every epoch sets
    # the loaders' streams back and replays the first epoch's order
    'patience_answer': '''\
class PatientStepByStep(StepByStep):
    def train_with_patience(self, max_epochs, patience):
        if self.val_loader is None:
            raise ValueError('a validation loader is needed')
        best, without, trained = float('inf'), 0, 0
        while trained < max_epochs and without < patience:
            self.train(1, seed=42)
            trained += 1
            if self.val_losses[-1] < best:
                best, without = self.val_losses[-1], 0
            else:
                without += 1
        return trained
''',
    # Exercise 3: only the model's parameters are loaded: the epochs, the
    # losses, the optimizer and the random states start over
    'resume_answer': '''\
def resume_training(path, n_epochs):
    model, loss_fn, optimizer, train_loader, val_loader = new_session()
    model.load_state_dict(torch.load(path)['model_state_dict'])
    sbs = StepByStep(model, loss_fn, optimizer)
    sbs.set_loaders(train_loader, val_loader)
    sbs.train(n_epochs)
    return sbs
''',
    # Exercise 4: the prediction at x = 1 taken for the slope, the height
    # at x = 0 not taken off
    'line_answer': '''\
def line_of(sbs):
    at_zero, at_one = sbs.predict(np.array([[0.], [1.]])).flatten()
    return float(at_zero), float(at_one)
''',
}

# Other mistakes, among the model answers, for `make check`'s run
# (tests/test_check_exercises.py): each passes the visible checks and loses
# its exercise's points to a hidden one
MORE_WRONG_ANSWERS = {
    # Exercise 1: the first group of parameters gets the new rate, any other
    # keeps its own
    'lr_answer': '''\
def set_learning_rate(self, lr):
    self.optimizer.param_groups[0]['lr'] = lr


setattr(StepByStep, 'set_learning_rate', set_learning_rate)
''',
    # Exercise 2: no validation loader is not refused up front: the first
    # epoch trains, then reading its validation loss fails
    'patience_answer': '''\
class PatientStepByStep(StepByStep):
    def train_with_patience(self, max_epochs, patience):
        best, epochs_without_a_best, trained = float('inf'), 0, 0
        while trained < max_epochs and epochs_without_a_best < patience:
            self.train(1)
            trained += 1
            if self.val_losses[-1] < best:
                best, epochs_without_a_best = self.val_losses[-1], 0
            else:
                epochs_without_a_best += 1
        return trained
''',
    # Exercise 4: the numbers read from the chapter's layer, not from the
    # predictions: right for nn.Linear, wrong for any other model
    'line_answer': '''\
def line_of(sbs):
    layer = sbs.model[0]
    return float(layer.bias.item()), float(layer.weight.item())
''',
}
