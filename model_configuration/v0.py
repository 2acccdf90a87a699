device = 'cuda' if torch.cuda.is_available() else 'cpu'

# The learning rate: how far each update moves the parameters
lr = 0.1

# The same seed gives the same starting weights on every run
torch.manual_seed(42)
# A single linear unit, y = b + w * x, on the chosen device
model = nn.Sequential(nn.Linear(1, 1)).to(device)

# Stochastic gradient descent updates the model's parameters
optimizer = optim.SGD(model.parameters(), lr=lr)

# Mean squared error scores the predictions
loss_fn = nn.MSELoss(reduction='mean')
