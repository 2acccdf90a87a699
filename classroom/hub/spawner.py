"""Each user's server, started as their own Unix account (JupyterHub's
LocalProcessSpawner) within limits of its own: memory, CPU, processes, the
size of each file, the home's size at start, and a private /tmp.

- Memory, CPU and processes: a cgroup (v1: memory, cpu, pids) per user,
  /sys/fs/cgroup/<controller>/<the course's Unix group>/<user>, which the
  server joins before it drops root. A process cannot leave it (only root
  can move one), so stopping the server kills every process in it: one
  started with `setsid` or `nohup` too.
- /tmp and /dev/shm: size-limited tmpfs of the server's own (a mount
  namespace of its own): no student sees, fills or plants files in
  another's; Jupyter's runtime files (kernels' connection files and
  sockets) live there.
- Disk: each file at most `disk_limit` (RLIMIT_FSIZE), and a server does
  not start while its home holds more than that. This does not stop a
  student from filling the disk within one session: a filesystem quota
  does (HUB.md, "Limits").

Needs root and cgroup v1 (measured on our machines: PID 1 is not systemd,
so systemd's own limits are not available).
"""
import asyncio
import ctypes
import os
import pwd
import resource
import signal
import subprocess
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from jupyterhub.traitlets import ByteSpecification
from traitlets import Dict, Integer, Unicode

CGROUPS = Path('/sys/fs/cgroup')
# The cgroup v1 controllers a server is limited by; 'pids' also lists every process of it
CONTROLLERS = ('memory', 'cpu', 'pids')
CPU_PERIOD_US = 100_000
# Linux's mount flags and clone flag (sys/mount.h, sched.h)
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_SLAVE = 0x2, 0x4, 0x4000, 0x80000


def home_size(home):
    """The bytes `home` takes on disk (du, which never follows a symlink nor leaves the filesystem)."""
    done = subprocess.run(['du', '--summarize', '--one-file-system', '--block-size=1', str(home)],
                          capture_output=True, text=True)
    return int(done.stdout.split()[0]) if done.stdout else 0


class ClassSpawner(LocalProcessSpawner):
    """LocalProcessSpawner with per-user limits (see the module's docstring).
    Spawner.mem_limit and Spawner.cpu_limit are JupyterHub's own settings."""

    pids_limit = Integer(256, config=True, help='Processes and threads a server may run at once, kernels included')
    tmp_size = ByteSpecification('1G', config=True, help='The size of the server\'s own /tmp (counted in its memory)')
    disk_limit = ByteSpecification(0, allow_none=True, config=True,
                                   help='The most a home may hold for its server to start; each file\'s largest size')
    cgroup_parent = Unicode('pytorch-course', config=True, help='The folder of the class\'s cgroups in each controller')
    teacher_limits = Dict(config=True, help='The limits of an admin\'s (a teacher\'s) server, in place of the above: '
                                            'any of mem_limit, cpu_limit, pids_limit, disk_limit')

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.user.admin:
            for name, value in self.teacher_limits.items():
                setattr(self, name, value)

    def cgroup(self, controller):
        """The folder of this user's cgroup in the cgroup v1 `controller` (memory, cpu, pids)."""
        return CGROUPS / controller / self.cgroup_parent / self.user.name

    def make_cgroups(self):
        """The user's cgroups, with this server's limits; a process of theirs left
        in them (of a server that died on its own) is ended first."""
        self.end_every_process()
        for controller in CONTROLLERS:
            self.cgroup(controller).mkdir(parents=True, exist_ok=True)
        memory = self.cgroup('memory')
        limit = str(self.mem_limit or -1)
        # Without swap limited too, a server over its memory would swap where the machine has swap
        for name in ('memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'):
            if (memory / name).exists():
                (memory / name).write_text(limit)
        (self.cgroup('cpu') / 'cpu.cfs_period_us').write_text(str(CPU_PERIOD_US))
        quota = int(self.cpu_limit * CPU_PERIOD_US) if self.cpu_limit else -1
        (self.cgroup('cpu') / 'cpu.cfs_quota_us').write_text(str(quota))
        (self.cgroup('pids') / 'pids.max').write_text(str(self.pids_limit or 'max'))

    def processes(self):
        """The ids of every process of the user's server (its pids cgroup)."""
        try:
            return [int(pid) for pid in (self.cgroup('pids') / 'cgroup.procs').read_text().split()]
        except FileNotFoundError:
            return []

    def end_every_process(self, timeout=10):
        """Kills every process left in the user's cgroups, until none is left
        (a process may fork while it is being killed), then removes them."""
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        if left:
            self.log.warning('%s: processes %s outlived their server', self.user.name, left)
            return
        for controller in CONTROLLERS:
            try:
                self.cgroup(controller).rmdir()
            except OSError:
                pass

    def make_preexec_fn(self, name):
        """Before the server's program runs, still as root: join the user's
        cgroups, mount a private /tmp and /dev/shm, limit a file's size; then
        JupyterHub's own (become the user, go home)."""
        become_user = super().make_preexec_fn(name)
        joins = [self.cgroup(controller) / 'cgroup.procs' for controller in CONTROLLERS]
        # Everything the child needs is made before the fork: a forked child of
        # a threaded program should do as little as it can
        libc = ctypes.CDLL(None, use_errno=True)
        private_mounts = [(b'/tmp', f'size={int(self.tmp_size)},mode=1777'.encode()),
                          (b'/dev/shm', f'size={int(self.tmp_size) // 4},mode=1777'.encode())]
        file_size = int(self.disk_limit or 0)

        def checked(result, what):
            if result != 0:
                error = ctypes.get_errno()
                raise OSError(error, f'{what}: {os.strerror(error)}')

        def preexec():
            for join in joins:
                with open(join, 'w') as procs:
                    procs.write(str(os.getpid()))
            checked(libc.unshare(CLONE_NEWNS), 'a mount namespace of its own')
            # The machine's mounts reach the server, never the other way
            checked(libc.mount(b'none', b'/', None, MS_REC | MS_SLAVE, None), 'mounts made private')
            for target, options in private_mounts:
                checked(libc.mount(b'tmpfs', target, b'tmpfs', MS_NOSUID | MS_NODEV, options), f'{target} private')
            if file_size:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
            become_user()
        return preexec

    async def start(self):
        if self.disk_limit:
            used = await asyncio.to_thread(home_size, pwd.getpwnam(self.user.name).pw_dir)
            if used > self.disk_limit:
                raise RuntimeError(
                    f'{self.user.name}\'s home folder holds {used / 2**30:.1f} GiB, more than the class\'s limit of '
                    f'{self.disk_limit / 2**30:.1f} GiB: the server does not start. The teacher can make room '
                    f'(HUB.md, "Limits").')
        await asyncio.to_thread(self.make_cgroups)
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        await asyncio.to_thread(self.end_every_process)
