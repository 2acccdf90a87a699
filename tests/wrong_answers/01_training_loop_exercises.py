"""Plausible wrong answers to notebooks/exercises/01_training_loop_exercises.ipynb,
one per exercise, keyed by the grade_id of the solution cell they replace.
Each one runs without error and fails its exercise's checks: the simulated
student "wrong_answers" of tests/test_grading_loop.py hands them in."""

WRONG_ANSWERS = {
    # Exercise 1: the labels are never checked against the features, and an
    # index returns the feature alone
    'dataset_answer': '''\
class PointsDataset(Dataset):
    def __init__(self, x_tensor, y_tensor):
        self.x = x_tensor
        self.y = y_tensor

    def __getitem__(self, index):
        return self.x[index]

    def __len__(self):
        return len(self.x)
''',
    # Exercise 2: the training loader is not shuffled, and the counts come
    # from an integer division that forgets the last, smaller mini-batch
    'loader_answer': '''\
points_loader = DataLoader(dataset=train_data, batch_size=16)
n_mini_batches = len(train_data) // 16
n_points_seen = n_mini_batches * 16
n_mini_batches_32 = len(train_data) // 32
last_batch_size_32 = 32
print(n_mini_batches, 'mini-batches of 16 hold', n_points_seen, 'points')
print(n_mini_batches_32, 'mini-batches of 32, the last one of', last_batch_size_32)
''',
    # Exercise 3: seeds the global generator instead of giving random_split
    # one of its own, and accepts any fraction
    'split_answer': '''\
def split_points(dataset, train_fraction, seed):
    torch.manual_seed(seed)
    n_train = int(len(dataset) * train_fraction)
    return random_split(dataset, [n_train, len(dataset) - n_train])
''',
    # Exercise 4: the mini-batches never reach the device, and the loss is
    # returned as a NumPy number
    'inner_loop_answer': '''\
def loop_over_mini_batches(device, data_loader, step_fn):
    mini_batch_losses = [step_fn(x_batch, y_batch) for x_batch, y_batch in data_loader]
    return np.mean(mini_batch_losses)
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
    # Exercise 7: the model is seeded but the shuffle is not, and the
    # updates are counted as points over batch size, rounded down
    'measure_answer': '''\
def measure_batch_size(batch_size, n_epochs):
    generator = torch.Generator().manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1)).to(device)
    model.load_state_dict({'0.weight': torch.randn(1, 1, generator=generator), '0.bias': torch.randn(1)})
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    loader = DataLoader(dataset=train_data, batch_size=batch_size, shuffle=True)
    start = time.perf_counter()
    for epoch in range(n_epochs):
        mini_batch(device, loader, make_train_step_fn(model, loss_fn, optimizer))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        val_loss = mini_batch(device, val_loader, make_val_step_fn(model, loss_fn))
    return {'updates_per_epoch': len(train_data) // batch_size, 'seconds_per_epoch': seconds / n_epochs,
            'val_loss': val_loss}
''',
}
