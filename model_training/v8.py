n_epochs = 200

# The object holds what the stage scripts kept in the notebook's namespace
sbs = StepByStep(model, loss_fn, optimizer)
sbs.set_loaders(train_loader, val_loader)
sbs.set_tensorboard('classy')
sbs.add_graph()
sbs.train(n_epochs)
