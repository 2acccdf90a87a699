"""Imported by every Python process of a test's torchrun job when this folder
is on PYTHONPATH: with HOLD_CHECKPOINT_WRITE set to the path of a fifo, the
first checkpoint write of the job stops after torch.save has written the
temporary file and before save_checkpoint renames it, until the test opens
the fifo; `<fifo>.held` tells the test that the write is being held."""
import os

HOLD = os.environ.get('HOLD_CHECKPOINT_WRITE')

if HOLD:
    import torch

    real_save = torch.save

    def held_save(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        if not os.path.exists(HOLD + '.held'):
            file.flush()
            open(HOLD + '.held', 'w').close()
            # Opening a fifo for reading blocks until someone opens it for writing
            with open(HOLD):
                pass

    torch.save = held_save
