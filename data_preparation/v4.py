x_tensor = torch.as_tensor(x).float()
y_tensor = torch.as_tensor(y).float()

dataset = TensorDataset(x_tensor, y_tensor)

# The split draws from its own generator: seeded 13, it gives the same
# split as data preparation v2, whatever else used the global stream
ratio = .8
n_total = len(dataset)
n_train = int(n_total * ratio)
n_val = n_total - n_train
train_data, val_data = random_split(
    dataset, [n_train, n_val], generator=torch.Generator().manual_seed(13)
)

# One generator per loader: the shuffle, and the number each pass draws
# even without shuffling, come from the loader's own stream
train_loader = DataLoader(
    dataset=train_data, batch_size=16, shuffle=True,
    generator=torch.Generator().manual_seed(42),
)
val_loader = DataLoader(
    dataset=val_data, batch_size=16,
    generator=torch.Generator().manual_seed(42),
)
