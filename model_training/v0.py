# How many times we go over the training set
n_epochs = 1000

for epoch in range(n_epochs):
    # Some layers (dropout, batch norm) behave differently while training
    model.train()

    # Step 1 - computes the predictions (forward pass)
    yhat = model(x_train_tensor)
    # Step 2 - computes the loss
    loss = loss_fn(yhat, y_train_tensor)
    # Step 3 - computes the gradients of the parameters
    loss.backward()
    # Step 4 - updates the parameters, then zeroes the gradients
    # so they do not add up across epochs
    optimizer.step()
    optimizer.zero_grad()
