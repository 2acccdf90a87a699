lr = 0.1

torch.manual_seed(42)
model = nn.Sequential(nn.Linear(1, 1)).to(device)

# DDP copies rank 0's parameters to every process now, and averages the
# gradients of all processes during each backward()
ddp_model = DDP(model, device_ids=[device.index] if device.type == 'cuda' else None)

optimizer = optim.SGD(ddp_model.parameters(), lr=lr)

loss_fn = nn.MSELoss(reduction='mean')

# Training goes through DDP, so that the gradients are averaged
train_step_fn = make_train_step_fn(ddp_model, loss_fn, optimizer)
# Validation computes no gradients, so it needs the plain model only
val_step_fn = make_val_step_fn(model, loss_fn)

# Only rank 0 writes TensorBoard logs: one set of files, not one per process
writer = SummaryWriter(log_dir) if rank == 0 else None
