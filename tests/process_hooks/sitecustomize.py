"""Imported by every Python process of a test's job (launcher, torchrun, the
program's processes) when this folder is on PYTHONPATH; each hook acts only
when its environment variable is set, so the program itself has no test hook:

- HOLD_CHECKPOINT_WRITE=<fifo>: the first checkpoint write of the job (or
  write number HOLD_CHECKPOINT_WRITE_AT of its process) stops after torch.save
  has written the temporary file and before save_checkpoint renames it, until
  the test opens the fifo; `<fifo>.held` tells the test that it is held, and
  `<fifo>.signalled` that the holding process has run a signal handler since
  (a signal cuts the wait for the fifo short, the handler runs, the wait goes
  on), so that a test can release the write knowing the signal has arrived;
- FAIL_CHECKPOINT_WRITE=1: every checkpoint write fails as on a full disk;
- DROPOUT_BEFORE_LINEAR=<p>: every nn.Linear drops its inputs with
  probability p while training, a model whose steps draw random numbers;
- FAKE_ACCELERATOR=<type>:<count>: torch.accelerator says that this machine
  has `count` devices of `type` (the CPU build has none), as on a GPU
  machine; whatever uses such a device fails, as it should in a test that
  proves the device is never used."""
import errno
import io
import os

if os.environ.get('HOLD_CHECKPOINT_WRITE') or os.environ.get('FAIL_CHECKPOINT_WRITE'):
    import signal

    import torch

    real_save = torch.save
    real_signal = signal.signal
    hold = os.environ.get('HOLD_CHECKPOINT_WRITE')
    writes = 0
    holding = False

    def noting_signal(number, handler):
        # Every Python handler of this process says, while it holds the write, that it ran
        if not callable(handler):
            return real_signal(number, handler)

        def noted(signal_number, frame):
            if holding:
                open(hold + '.signalled', 'w').close()
            return handler(signal_number, frame)

        return real_signal(number, noted)

    signal.signal = noting_signal

    def save(obj, file, *args, **kwargs):
        global writes, holding
        # Only a checkpoint, written into a file (save_checkpoint's temporary
        # one): torch.save also pickles tensors into memory, for instance
        # for all_gather_object
        if not isinstance(file, io.BufferedWriter):
            return real_save(obj, file, *args, **kwargs)
        if os.environ.get('FAIL_CHECKPOINT_WRITE'):
            raise OSError(errno.ENOSPC, 'No space left on device (tests/process_hooks)')
        real_save(obj, file, *args, **kwargs)
        writes += 1
        if hold and writes >= int(os.environ.get('HOLD_CHECKPOINT_WRITE_AT', 1)) and not os.path.exists(hold + '.held'):
            file.flush()
            holding = True
            open(hold + '.held', 'w').close()
            # Opening a fifo for reading blocks until someone opens it for writing
            with open(hold):
                pass
            holding = False

    torch.save = save

if os.environ.get('DROPOUT_BEFORE_LINEAR'):
    import torch
    import torch.nn.functional as F

    probability = float(os.environ['DROPOUT_BEFORE_LINEAR'])
    linear_forward = torch.nn.Linear.forward

    def forward_with_dropout(self, x):
        return linear_forward(self, F.dropout(x, probability, self.training))

    torch.nn.Linear.forward = forward_with_dropout

if os.environ.get('FAKE_ACCELERATOR'):
    import torch

    kind, count = os.environ['FAKE_ACCELERATOR'].split(':')
    torch.accelerator.is_available = lambda: int(count) > 0
    torch.accelerator.current_accelerator = lambda check_available=False: torch.device(kind)
    torch.accelerator.device_count = lambda: int(count)
