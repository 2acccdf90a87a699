n_epochs = 1000

losses = []

for epoch in range(n_epochs):
    # The inner loop: one train step per mini-batch
    mini_batch_losses = []
    for x_batch, y_batch in train_loader:
        # The dataset lives on the CPU, so each mini-batch
        # goes to the device here, just in time
        x_batch = x_batch.to(device)
        y_batch = y_batch.to(device)

        mini_batch_loss = train_step_fn(x_batch, y_batch)
        mini_batch_losses.append(mini_batch_loss)

    # The epoch's loss is the average over its mini-batches
    loss = np.mean(mini_batch_losses)
    losses.append(loss)
