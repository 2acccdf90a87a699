# After a failure, torchrun starts every process again with the same run
# id: a checkpoint of this run means "resume", any other "start afresh"
start_epoch, losses, val_losses = 0, [], []
if os.path.isfile(checkpoint_path):
    # Every process reads the file, onto its own device, weights only
    checkpoint = load_checkpoint(checkpoint_path, map_location=device)
    if checkpoint.get('run_id') == run_id:
        model.load_state_dict(checkpoint['model_state_dict'])
        optimizer.load_state_dict(checkpoint['optimizer_state_dict'])
        start_epoch = checkpoint['epoch']
        losses, val_losses = checkpoint['loss'], checkpoint['val_loss']
        if rank == 0:
            print(f'resumed from the checkpoint of epoch {start_epoch}')

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
        writer.add_scalars(
            main_tag='loss',
            tag_scalar_dict={'training': losses[-1], 'validation': val_losses[-1]},
            global_step=epoch,
        )

    if (epoch + 1) % checkpoint_every == 0 or epoch + 1 == n_epochs:
        if rank == 0:
            save_checkpoint(checkpoint_path, {
                'epoch': epoch + 1,
                'model_state_dict': model.state_dict(),
                'optimizer_state_dict': optimizer.state_dict(),
                'loss': losses,
                'val_loss': val_losses,
                'run_id': run_id,
            })
        # Every process waits here until the file is whole. Outside the
        # `if`: a barrier that rank 0 alone reaches would wait forever
        dist.barrier()

if rank == 0:
    writer.close()
