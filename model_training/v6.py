# n_epochs is set in the notebook: how many epochs are enough depends on the data

losses = []
val_losses = []

for epoch in range(n_epochs):
    # Training: mini_batch sends each batch to the device
    loss = mini_batch(device, train_loader, train_step_fn)
    losses.append(loss)

    # Validation: no gradients needed, so none are tracked
    with torch.no_grad():
        val_loss = mini_batch(device, val_loader, val_step_fn)
        val_losses.append(val_loss)
