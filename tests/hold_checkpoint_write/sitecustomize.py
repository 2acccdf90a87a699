"""Imported by every Python process of a test's torchrun job when this folder
is on PYTHONPATH: with HOLD_CHECKPOINT_WRITE set to the path of a fifo, the
first checkpoint write of the job (or write number HOLD_CHECKPOINT_WRITE_AT of
its process) stops after torch.save has written the temporary file and before
save_checkpoint renames it, until the test opens the fifo; `<fifo>.held` tells
the test that the write is being held."""
import os

HOLD = os.environ.get('HOLD_CHECKPOINT_WRITE')

if HOLD:
    import torch

    real_save = torch.save
    writes = 0

    def held_save(obj, file, *args, **kwargs):
        global writes
        real_save(obj, file, *args, **kwargs)
        writes += 1
        if writes >= int(os.environ.get('HOLD_CHECKPOINT_WRITE_AT', 1)) and not os.path.exists(HOLD + '.held'):
            file.flush()
            open(HOLD + '.held', 'w').close()
            # Opening a fifo for reading blocks until someone opens it for writing
            with open(HOLD):
                pass

    torch.save = held_save
