# Picks the GPU when there is one, the CPU otherwise
device = 'cuda' if torch.cuda.is_available() else 'cpu'

# Turns the NumPy arrays into float32 tensors and sends them to the
# device: fine for a dataset this small
x_train_tensor = torch.as_tensor(x_train).float().to(device)
y_train_tensor = torch.as_tensor(y_train).float().to(device)
