"""torchrun as `make ddp` starts it (classroom/ddp.py): tied to make ddp, so
that the run ends when make ddp ends, however make ddp ends.

    python -m classroom.tied_torchrun FD TORCHRUN_ARGUMENT...

FD is the read end of a pipe whose write end make ddp alone holds. make ddp
closes it to stop the run; the kernel closes it when make ddp dies, by
SIGKILL too. Either way this process then reads the end of the pipe and
sends itself SIGTERM, on which torchrun passes SIGTERM on to its processes
and waits for them (killing those still there after 30 s): each saves a
checkpoint at the end of its epoch and ends. This process also holds make
ddp's lock on the run folder (an inherited descriptor), which is released
only once torchrun and every process it started have ended.

Why a pipe rather than the alternatives:
- a process group or session that make ddp owns is reached only by signals
  sent to that group: a SIGKILL to make ddp alone (docker kill, an out-of-
  memory kill, `kill -9 PID`) reaches none of it;
- Linux's PR_SET_PDEATHSIG exists on Linux only, must be set between fork and
  exec (subprocess's preexec_fn, unsafe in a process whose threads may hold
  locks, as one that imported torch can), and misses a launcher that died
  before it was set;
- the end of a pipe is seen on every Unix, however and whenever make ddp
  ended, even before this process started; and make ddp stops the run on
  purpose through the very same path, so both are tested together.
"""
import os
import signal
import sys
import threading

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.run import main as torchrun


def stop_when_the_pipe_ends(read_end):
    """Waits for make ddp's end of the pipe to close, then sends SIGTERM."""
    # Nothing is ever written: read returns b'' only at the end of the pipe
    while os.read(read_end, 1):
        pass
    # To the main thread, whose sleep the signal cuts short, so that
    # torchrun's handler runs at once
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)


def main(argv=None):
    """Runs torchrun with the arguments after the pipe's read end (argv, or
    the command line's: FD TORCHRUN_ARGUMENT...), stopping it when the pipe
    ends; returns the exit code: 0 when torchrun ended well, 128 + the signal
    that stopped it otherwise (torchrun's own failures raise, as under plain
    torchrun)."""
    read_end, *torchrun_arguments = sys.argv[1:] if argv is None else argv
    threading.Thread(target=stop_when_the_pipe_ends, args=(int(read_end),), daemon=True).start()
    try:
        torchrun(torchrun_arguments)
    except SignalException as stopped:
        # torchrun has stopped its processes: make ddp says what happened,
        # without torchrun's traceback
        return 128 + stopped.sigval
    return 0


if __name__ == '__main__':
    sys.exit(main())
