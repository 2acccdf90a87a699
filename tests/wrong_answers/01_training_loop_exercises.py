"""Plausible wrong answers to notebooks/exercises/01_training_loop_exercises.ipynb,
keyed by the grade_id of the solution cell they replace, each the model answer
with one mistake. WRONG_ANSWERS, one per exercise, are handed in together by
the simulated student "wrong_answers" of tests/test_grading_loop.py;
MORE_WRONG_ANSWERS, other mistakes, among the model answers by
tests/test_check_exercises.py's `make check`. Each one runs without error and
fails its exercise's checks, most of them mistakes the checks once let pass."""

WRONG_ANSWERS = {
    # Exercise 1: an index returns the feature alone
    'dataset_answer': '''\
class PointsDataset(Dataset):
    def __init__(self, x_tensor, y_tensor):
        if len(x_tensor) != len(y_tensor):
            raise ValueError(f'{len(x_tensor)} features but {len(y_tensor)} labels')
        self.x = x_tensor
        self.y = y_tensor

    def __getitem__(self, index):
        return self.x[index]

    def __len__(self):
        return len(self.x)
''',
    # Exercise 2: the training loader is not shuffled
    'loader_answer': '''\
points_loader = DataLoader(dataset=train_data, batch_size=16)
n_mini_batches = 0
n_points_seen = 0
for x_batch, y_batch in points_loader:
    n_mini_batches += 1
    n_points_seen += len(x_batch)
batch_sizes_32 = [len(x_batch) for x_batch, _ in DataLoader(dataset=train_data, batch_size=32, shuffle=True)]
n_mini_batches_32 = len(batch_sizes_32)
last_batch_size_32 = batch_sizes_32[-1]
print(n_mini_batches, 'mini-batches of 16 hold', n_points_seen, 'points')
print(n_mini_batches_32, 'mini-batches of 32, the last one of', last_batch_size_32)
''',
    # Exercise 3: seeds the global stream instead of giving random_split a
    # generator of its own: the same seed gives the same split, but the call
    # resets what the rest of the program draws
    'split_answer': '''\
def split_points(dataset, train_fraction, seed):
    if not 0 < train_fraction < 1:
        raise ValueError(f'train_fraction must be between 0 and 1, not {train_fraction}')
    torch.manual_seed(seed)
    n_train = int(len(dataset) * train_fraction)
    return random_split(dataset, [n_train, len(dataset) - n_train])
''',
    # Exercise 4: the mini-batches never reach the device
    'inner_loop_answer': '''\
def loop_over_mini_batches(device, data_loader, step_fn):
    mini_batch_losses = [step_fn(x_batch, y_batch) for x_batch, y_batch in data_loader]
    if not mini_batch_losses:
        raise ValueError('the data loader yielded no mini-batch')
    return float(np.mean(mini_batch_losses))
''',
    # Exercise 5: validation runs with gradients tracked
    'validation_answer': '''\
def train_with_validation(n_epochs, device, train_loader, val_loader, train_step_fn, val_step_fn):
    losses, val_losses = [], []
    for epoch in range(n_epochs):
        losses.append(mini_batch(device, train_loader, train_step_fn))
        val_losses.append(mini_batch(device, val_loader, val_step_fn))
    return losses, val_losses
''',
    # Exercise 6: the optimizer's state is neither saved nor restored
    'checkpoint_answer': '''\
def save_training(path, epoch, model, optimizer, losses, val_losses):
    save_checkpoint(path, {
        'epoch': epoch,
        'model_state_dict': model.state_dict(),
        'optimizer_state_dict': {},
        'loss': losses,
        'val_loss': val_losses,
    })


def resume_training(path, model, optimizer, device):
    checkpoint = load_checkpoint(path, map_location=device)
    model.load_state_dict(checkpoint['model_state_dict'])
    model.train()
    return checkpoint['epoch'], checkpoint['loss'], checkpoint['val_loss']
''',
    # Exercise 7: the model is seeded with a generator of its own, and the
    # shuffle is not seeded at all
    'measure_answer': '''\
def measure_batch_size(batch_size, n_epochs):
    generator = torch.Generator().manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    model.load_state_dict({'0.weight': torch.randn(1, 1, generator=generator),
                           '0.bias': torch.randn(1, generator=generator)})
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    loader = DataLoader(dataset=train_data, batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    for epoch in range(n_epochs):
        mini_batch(device, loader, make_train_step_fn(model, loss_fn, optimizer))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        val_loss = mini_batch(device, val_loader, make_val_step_fn(model, loss_fn))
    return {'updates_per_epoch': len(loader), 'seconds_per_epoch': seconds / n_epochs, 'val_loss': val_loss}
''',
}

MORE_WRONG_ANSWERS = {
    # Exercise 1: compares the shapes rather than the numbers of rows, so
    # points of two features with labels of shape (n,) are refused
    'dataset_answer': '''\
class PointsDataset(Dataset):
    def __init__(self, x_tensor, y_tensor):
        if x_tensor.shape != y_tensor.shape:
            raise ValueError(f'features of shape {tuple(x_tensor.shape)}, labels of shape {tuple(y_tensor.shape)}')
        self.x = x_tensor
        self.y = y_tensor

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __len__(self):
        return len(self.x)
''',
    # Exercise 3: rounds the training part's size instead of truncating it
    'split_answer': '''\
def split_points(dataset, train_fraction, seed):
    if not 0 < train_fraction < 1:
        raise ValueError(f'train_fraction must be between 0 and 1, not {train_fraction}')
    n_train = round(len(dataset) * train_fraction)
    return random_split(dataset, [n_train, len(dataset) - n_train], generator=torch.Generator().manual_seed(seed))
''',
    # Exercise 5: an epoch's training loss is its last mini-batch's
    'validation_answer': '''\
def train_with_validation(n_epochs, device, train_loader, val_loader, train_step_fn, val_step_fn):
    losses, val_losses = [], []
    for epoch in range(n_epochs):
        for x_batch, y_batch in train_loader:
            loss = train_step_fn(x_batch.to(device), y_batch.to(device))
        losses.append(loss)
        with torch.no_grad():
            val_losses.append(mini_batch(device, val_loader, val_step_fn))
    return losses, val_losses
''',
    # Exercise 7: the "validation" loss is measured on the training loader
    'measure_answer': '''\
def measure_batch_size(batch_size, n_epochs):
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    loader = DataLoader(dataset=train_data, batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    for epoch in range(n_epochs):
        mini_batch(device, loader, make_train_step_fn(model, loss_fn, optimizer))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        val_loss = mini_batch(device, loader, make_val_step_fn(model, loss_fn))
    return {'updates_per_epoch': len(loader), 'seconds_per_epoch': seconds / n_epochs, 'val_loss': val_loss}
''',
}
