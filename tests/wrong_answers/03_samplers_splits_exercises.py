"""Plausible wrong answers to notebooks/exercises/03_samplers_splits_exercises.ipynb,
keyed by the grade_id of the solution cell they replace, each the model answer
with one mistake: WRONG_ANSWERS for the grading loop, MORE_WRONG_ANSWERS for
`make check` (tests/wrong_answers/01_training_loop_exercises.py says how).
Each one runs without error and fails its exercise's checks."""

WRONG_ANSWERS = {
    # Exercise 1: each sample weighs its class's share, not divided by the
    # class's size: the big class still gets most draws
    'sampler_answer': '''\
def sampler_with_shares(labels, shares, generator=None):
    weights = torch.tensor([shares[int(label)] for label in labels], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True, generator=generator)
''',
    # Exercise 2: windows cut from the whole series, then the first windows
    # go to training: the windows near the boundary share steps
    'time_split_answer': '''\
def split_by_time(series, window_size, train_fraction):
    features, targets = make_windows(series, window_size)
    n_train = int(len(features) * train_fraction)
    return features[:n_train], targets[:n_train], features[n_train:], targets[n_train:]
''',
    # Exercise 3: the global stream is seeded instead of giving the loaders
    # generators: the validation pass still draws from it
    'loaders_answer': '''\
def make_loaders(train_data, val_data, batch_size, seed):
    torch.manual_seed(seed)
    return (DataLoader(train_data, batch_size=batch_size, shuffle=True),
            DataLoader(val_data, batch_size=batch_size))
''',
    # Exercise 4: the last, smaller mini-batch is forgotten
    'updates_answer': '''\
def updates_per_epoch(n_points, batch_size, drop_last=False):
    if batch_size < 1:
        raise ValueError(f'batch_size must be at least 1, not {batch_size}')
    return n_points // batch_size
''',
}

MORE_WRONG_ANSWERS = {
    # Exercise 1: every class gets an equal share, whatever `shares` asks
    'sampler_answer': '''\
def sampler_with_shares(labels, shares, generator=None):
    labels = torch.as_tensor(labels)
    class_sizes = torch.bincount(labels)
    weights = torch.tensor([1 / class_sizes[label].item() for label in labels], dtype=torch.double)
    return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True, generator=generator)
''',
    # Exercise 3: one generator for both loaders: a validation pass draws
    # from the stream the training order comes from
    'loaders_answer': '''\
def make_loaders(train_data, val_data, batch_size, seed):
    generator = torch.Generator().manual_seed(seed)
    return (DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(val_data, batch_size=batch_size, generator=generator))
''',
    # Exercise 4: a batch size below 1 is not refused
    'updates_answer': '''\
def updates_per_epoch(n_points, batch_size, drop_last=False):
    if drop_last:
        return n_points // batch_size
    return -(-n_points // max(batch_size, 1))
''',
}
