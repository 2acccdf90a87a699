"""Plausible wrong answers to notebooks/exercises/04_data_parallel_exercises.ipynb,
keyed by the grade_id of the solution cell they replace, each the model answer
with one mistake: WRONG_ANSWERS for the grading loop, MORE_WRONG_ANSWERS for
`make check` (tests/wrong_answers/01_training_loop_exercises.py says how).
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
    # from a DistributedSampler, each point's loss summed and counted
    'val_loss_answer': '''\
def val_loss_across_ranks(model, loss_fn, val_data, world_size):
    total, count = 0.0, 0
    with torch.no_grad():
        for rank in range(world_size):
            sampler = DistributedSampler(val_data, num_replicas=world_size, rank=rank, shuffle=False)
            for x_batch, y_batch in DataLoader(val_data, batch_size=4, sampler=sampler):
                total += loss_fn(model(x_batch), y_batch).item() * len(x_batch)
                count += len(x_batch)
    return total / count
''',
}

MORE_WRONG_ANSWERS = {
    # Exercise 2: the seed is never given to the sampler, which shuffles
    # with its default one
    'shares_answer': '''\
def shares_of_epoch(dataset, world_size, epoch, seed):
    shares = []
    for rank in range(world_size):
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
    return shares
''',
    # Exercise 3: shares without padding, but the plain mean of the ranks'
    # means, which weighs a smaller share's points more
    'val_loss_answer': '''\
def val_loss_across_ranks(model, loss_fn, val_data, world_size):
    rank_losses = []
    with torch.no_grad():
        for rank in range(world_size):
            x_share, y_share = val_data[list(range(rank, len(val_data), world_size))]
            rank_losses.append(loss_fn(model(x_share), y_share).item())
    return sum(rank_losses) / world_size
''',
}
