device = 'cuda' if torch.cuda.is_available() else 'cpu'

lr = 0.005

torch.manual_seed(42)
# One hidden layer of 256 units reads a window and predicts its target;
# its parameters are made in float64, like the windows
model = nn.Sequential(
    nn.Linear(window_size, 256, dtype=torch.float64),
    nn.ReLU(),
    nn.Linear(256, 1, dtype=torch.float64),
).to(device)

# Adam adapts the step size of every parameter as training goes
optimizer = optim.Adam(model.parameters(), lr=lr)

loss_fn = nn.MSELoss(reduction='mean')

train_step_fn = make_train_step_fn(model, loss_fn, optimizer)
val_step_fn = make_val_step_fn(model, loss_fn)
