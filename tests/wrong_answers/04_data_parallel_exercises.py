"""Plausible wrong answers to notebooks/exercises/04_data_parallel_exercises.ipynb,
one per exercise, keyed by the grade_id of the solution cell they replace.
Each one runs without error and fails its exercise's checks."""

WRONG_ANSWERS = {
    # Exercise 1: rounds down instead of refusing unequal shares
    'batch_size_answer': '''\
def batch_size_per_rank(global_batch_size, world_size):
    return global_batch_size // world_size
''',
    # Exercise 2: the sampler is never told the epoch, so every epoch
    # repeats the first one's order
    'shares_answer': '''\
def shares_of_epoch(dataset, world_size, epoch, seed):
    return [list(DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed))
            for rank in range(world_size)]
''',
    # Exercise 3: the training recipe reused for validation: padded shares
    # from a DistributedSampler, and the mean of the ranks' means
    'val_loss_answer': '''\
def val_loss_across_ranks(model, loss_fn, val_data, world_size):
    rank_losses = []
    with torch.no_grad():
        for rank in range(world_size):
            sampler = DistributedSampler(val_data, num_replicas=world_size, rank=rank, shuffle=False)
            x_share, y_share = next(iter(DataLoader(val_data, batch_size=len(val_data), sampler=sampler)))
            rank_losses.append(loss_fn(model(x_share), y_share).item())
    return sum(rank_losses) / world_size
''',
}
