stopping = False
for epoch in range(start_epoch, n_epochs):
    # A new order every epoch, and the same one in every process
    train_sampler.set_epoch(epoch)
    loss = mini_batch(device, train_loader, train_step_fn)
    # Each process saw its own share: the epoch's loss is their mean
    losses.append(mean_across_processes(loss, 1, device))

    with torch.no_grad():
        # Losses weighted by their batch's size, so that the mean over all
        # processes counts every validation point once
        val_sum, val_count = 0.0, 0
        for x_batch, y_batch in val_loader:
            val_sum += val_step_fn(x_batch.to(device), y_batch.to(device)) * len(x_batch)
            val_count += len(x_batch)
        val_losses.append(mean_across_processes(val_sum, val_count, device))

    if rank == 0:
        # Two scalars, not add_scalars: its extra writers cannot purge
        writer.add_scalar('loss/training', losses[-1], global_step=epoch)
        writer.add_scalar('loss/validation', val_losses[-1], global_step=epoch)
        # On disk now: a run killed between checkpoints keeps its logs
        writer.flush()

    # A stop asked of any one process (a signal, stop_request.request())
    # stops them all, here, at the same epoch, after a checkpoint
    stopping = stop_request.anywhere(device)
    if (epoch + 1) % checkpoint_every == 0 or epoch + 1 == n_epochs or stopping:
        # Every process's random state, gathered from all of them
        random_states = random_states_of_every_process(device)
        if rank == 0:
            save_checkpoint(checkpoint_path, {
                'epoch': epoch + 1,
                'model_state_dict': model.state_dict(),
                'optimizer_state_dict': optimizer.state_dict(),
                'loss': losses,
                'val_loss': val_losses,
                'random_states': random_states,
                'run_id': run_id,
            })
        # Every process waits here until the file is whole. Outside the
        # `if`: a barrier that rank 0 alone reaches would wait forever. In
        # its own group, so that a slow write is not taken for a dead peer
        dist.barrier(group=checkpoint_group)
    if stopping:
        if rank == 0:
            print(f'stopped on request after epoch {epoch + 1}, with a checkpoint')
        break

if rank == 0:
    writer.close()
