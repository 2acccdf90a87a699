window_size, horizon = 20, 10

# Splits the steps by time first, then cuts windows inside each part:
# no window reaches across the cut, so no step is on both sides
n_train_steps = int(len(series) * .8)
train_data = TensorDataset(*make_windows(
    series[:n_train_steps], window_size, horizon, dtype=torch.float64
))
val_data = TensorDataset(*make_windows(
    series[n_train_steps:], window_size, horizon, dtype=torch.float64
))

# Shuffling the training windows is harmless: they all lie in the past
train_loader = DataLoader(
    dataset=train_data, batch_size=64, shuffle=True,
    generator=torch.Generator().manual_seed(42),
)
# Validation keeps time order, in a single mini-batch
val_loader = DataLoader(
    dataset=val_data, batch_size=128,
    generator=torch.Generator().manual_seed(42),
)
