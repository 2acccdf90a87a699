# CPU tensors: the mini-batches go to the device during training
x_train_tensor = torch.from_numpy(x_train).float()
y_train_tensor = torch.from_numpy(y_train).float()

# The dataset hands out (feature, label) pairs
train_data = TensorDataset(x_train_tensor, y_train_tensor)

# The loader groups them into shuffled mini-batches of 16
train_loader = DataLoader(dataset=train_data, batch_size=16, shuffle=True)
