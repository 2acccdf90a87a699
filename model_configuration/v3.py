device = 'cuda' if torch.cuda.is_available() else 'cpu'

lr = 0.1

torch.manual_seed(42)
model = nn.Sequential(nn.Linear(1, 1)).to(device)

optimizer = optim.SGD(model.parameters(), lr=lr)

loss_fn = nn.MSELoss(reduction='mean')

train_step_fn = make_train_step_fn(model, loss_fn, optimizer)

val_step_fn = make_val_step_fn(model, loss_fn)

# A new model has trained for no epoch yet; loading a checkpoint moves this on
first_epoch = 0

# Each run writes its event files into a folder of its own, named after
# the moment it started, so two runs are never drawn on top of each other
run_name = datetime.now().strftime('%Y%m%d-%H%M%S-%f')
writer = SummaryWriter(f'runs/simple_linear_regression/{run_name}')
# Tracing the graph needs one real input, on the model's device. It comes
# from the dataset: asking train_loader for it would draw two numbers from
# the global random generator and change the order of every mini-batch that follows
x_sample, y_sample = train_data[:16]
writer.add_graph(model, x_sample.to(device))
