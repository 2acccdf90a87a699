# Each process takes an equal share of every global mini-batch
batch_size = per_process_batch_size(global_batch_size, world_size)

x_tensor = torch.as_tensor(x).float()
y_tensor = torch.as_tensor(y).float()
dataset = TensorDataset(x_tensor, y_tensor)

# The chapter's 80/20 split, seeded, so every process makes the same one
n_train = int(len(dataset) * .8)
n_val = len(dataset) - n_train
train_data, val_data = random_split(
    dataset, [n_train, n_val], generator=torch.Generator().manual_seed(13)
)

# One shuffled order per epoch, the same in every process (same seed);
# each process takes every world_size-th point of it, from its rank on
train_sampler = DistributedSampler(
    train_data, num_replicas=world_size, rank=rank, shuffle=True, seed=42
)
train_loader = DataLoader(train_data, batch_size=batch_size, sampler=train_sampler)

# Validation is shared out without padding: each point in exactly one
# process, so none is counted twice in the validation loss
val_share = Subset(val_data, range(rank, n_val, world_size))
val_loader = DataLoader(val_share, batch_size=batch_size)
