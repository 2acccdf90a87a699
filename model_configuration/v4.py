device = 'cuda' if torch.cuda.is_available() else 'cpu'

lr = 0.03

torch.manual_seed(42)
# Four 3x3 filters, the strongest response of each anywhere in the
# image, and one unit that weighs them into a logit
model = nn.Sequential(
    nn.Conv2d(1, 4, kernel_size=3),
    nn.ReLU(),
    nn.AdaptiveMaxPool2d(1),
    nn.Flatten(),
    nn.Linear(4, 1),
).to(device)

# Adam adapts the step size of each parameter
optimizer = optim.Adam(model.parameters(), lr=lr)

# Sigmoid and binary cross-entropy in one, numerically stable step
loss_fn = nn.BCEWithLogitsLoss()

train_step_fn = make_train_step_fn(model, loss_fn, optimizer)

val_step_fn = make_val_step_fn(model, loss_fn)
