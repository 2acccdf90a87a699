"""Settings of every Jupyter program on the class's hub (servers, nbgrader,
nbconvert), for every user: preparation.py copies this file into the
servers' environment (etc/jupyter/), which they all read.

Kernels talk over Unix sockets, not TCP ports on 127.0.0.1: any user of the
machine can connect to a port (and read or run code in the kernel, the
teacher's autograde included), while a socket lies in its owner's private
runtime folder (a server's own /tmp on the hub: spawner.py). A server names
each kernel's connection file itself; any other program (nbgrader's
autograde, its Validate button) gets one per process in that folder, as
jupyter_client would otherwise put the sockets in the current folder, where
the kernel, started in the notebook's folder, would not find them."""
import os

from jupyter_core.paths import jupyter_runtime_dir

c = get_config()  # noqa: F821 (Jupyter defines it when it reads this file)

c.KernelManager.transport = 'ipc'
os.makedirs(jupyter_runtime_dir(), mode=0o700, exist_ok=True)
c.KernelManager.connection_file = os.path.join(jupyter_runtime_dir(), f'kernel-{os.getpid()}.json')
