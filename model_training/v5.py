n_epochs = 200

losses = []
val_losses = []

# Epochs are numbered from first_epoch on: 0 for a new model, the saved
# epoch for a resumed one, so the logged steps continue instead of repeating
for epoch in range(first_epoch, first_epoch + n_epochs):
    loss = mini_batch(device, train_loader, train_step_fn)
    losses.append(loss)

    with torch.no_grad():
        val_loss = mini_batch(device, val_loader, val_step_fn)
        val_losses.append(val_loss)

    # Both losses under one tag, so TensorBoard draws them together
    writer.add_scalars(
        main_tag='loss',
        tag_scalar_dict={'training': loss, 'validation': val_loss},
        global_step=epoch,
    )

# Flushes what is left to disk and closes the event files
writer.close()
