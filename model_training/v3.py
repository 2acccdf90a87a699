n_epochs = 200

losses = []

for epoch in range(n_epochs):
    # The inner loop lives in the helper now
    loss = mini_batch(device, train_loader, train_step_fn)
    losses.append(loss)
