# Features: 20 steps; target: the step 10 steps after the window, in
# double precision (float64), as model configuration v5 explains
window_size, horizon = 20, 10
features, targets = make_windows(
    series, window_size, horizon, dtype=torch.float64
)
dataset = TensorDataset(features, targets)

# The chapter's recipe applied to windows: a window from any time can
# land on either side of the split
n_train = int(len(dataset) * .8)
n_val = len(dataset) - n_train
train_data, val_data = random_split(
    dataset, [n_train, n_val], generator=torch.Generator().manual_seed(13)
)

train_loader = DataLoader(
    dataset=train_data, batch_size=64, shuffle=True,
    generator=torch.Generator().manual_seed(42),
)
# A single mini-batch: the validation loss is the plain mean over
# all validation windows
val_loader = DataLoader(
    dataset=val_data, batch_size=128,
    generator=torch.Generator().manual_seed(42),
)
