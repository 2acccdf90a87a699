# `dataset_class` (set in the notebook) reads the images either on demand
# or all at once; `image_folder` says where they are
dataset = dataset_class(image_folder)

# 80% for training, the rest for validation; the split's own generator
# makes it the same on every run
ratio = .8
n_total = len(dataset)
n_train = int(n_total * ratio)
n_val = n_total - n_train
train_data, val_data = random_split(
    dataset, [n_train, n_val], generator=torch.Generator().manual_seed(13)
)

# Two worker processes read the files while the main process trains
num_workers = 2
# The workers need cores too: the main process's threads for the model
# leave them theirs (on a 2-core machine, the model gets one thread)
torch.set_num_threads(max(1, (os.cpu_count() or 1) - num_workers))

train_loader = make_loader(train_data, batch_size=64, shuffle=True, num_workers=num_workers)
val_loader = make_loader(val_data, batch_size=64, num_workers=num_workers)
