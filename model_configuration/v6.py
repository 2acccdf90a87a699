lr = 0.1

torch.manual_seed(42)
model = nn.Sequential(nn.Linear(1, 1)).to(device)
optimizer = optim.SGD(model.parameters(), lr=lr)
loss_fn = nn.MSELoss(reduction='mean')
# Every process builds the model from seed 42 (DDP copies rank 0's anyway).
# What it draws from now on, dropout masks or augmentations, comes from a
# seed of its own: with one seed for all, every process would draw the same
# masks for its share of each mini-batch
torch.manual_seed(42 + rank)

# Resuming comes before DDP, so that DDP starts from the resumed model.
# After a failure, torchrun starts every process again with the same run
# id: a checkpoint of this run means "resume". Every process reads the file,
# onto its own device, and all must have found the same epoch
start_epoch, losses, val_losses = 0, [], []
checkpoint = checkpoint_to_resume(checkpoint_path, run_id, map_location=device)
if checkpoint is not None:
    model.load_state_dict(checkpoint['model_state_dict'])
    optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
    start_epoch = checkpoint['epoch']
    losses, val_losses = checkpoint['loss'], checkpoint['val_loss']
    # Each process draws on where its own random stream stopped: then a
    # resumed run draws what an unbroken run would have drawn
    random_states = checkpoint.get('random_states', [])
    if len(random_states) == world_size:
        restore_random_state(random_states[rank], device)
    elif rank == 0:
        print(f'the checkpoint holds the random states of {len(random_states)} processes, not '
              f'{world_size}: each process draws from its own seed again')
    if rank == 0:
        print(f'resumed from the checkpoint of epoch {start_epoch}')

# DDP copies rank 0's parameters to every process now, and averages the
# gradients of all processes during each backward()
ddp_model = DDP(model, device_ids=None if device.type == 'cpu' else [device.index])

# Training goes through DDP, so that the gradients are averaged
train_step_fn = make_train_step_fn(ddp_model, loss_fn, optimizer)
# Validation computes no gradients, so it needs the plain model only
val_step_fn = make_val_step_fn(model, loss_fn)

# Only rank 0 writes TensorBoard logs: one set of files, not one per process.
# After a restart, purge_step hides what the failed attempt logged past the
# checkpoint, so every epoch is shown once
writer = SummaryWriter(log_dir, purge_step=start_epoch) if rank == 0 else None
