# Labels of shape (n, 1), as a binary classifier's loss expects them
x_tensor = torch.as_tensor(x_imbalanced).float()
y_tensor = torch.as_tensor(y_imbalanced).float().view(-1, 1)

dataset = TensorDataset(x_tensor, y_tensor)

# The sampler and the loader share one private stream: their draws
# touch no other stream, and nothing else shifts theirs
sampling_generator = torch.Generator().manual_seed(42)
sampler = make_balanced_sampler(
    y_tensor.view(-1), generator=sampling_generator
)

# The sampler replaces shuffle=True: it decides which points come next
train_loader = DataLoader(
    dataset=dataset, batch_size=32, sampler=sampler,
    generator=sampling_generator,
)
