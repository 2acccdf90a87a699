lr = 0.1

torch.manual_seed(42)
model = nn.Sequential(nn.Linear(1, 1)).to(device)
optimizer = optim.SGD(model.parameters(), lr=lr)
loss_fn = nn.MSELoss(reduction='mean')

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
