"""Autograding in a sandbox: a submission's code runs where it can read
nothing but what its notebook needs, reach no network, and use bounded
memory, processes and time.

nbgrader's autograde runs each submitted notebook in a kernel that nbclient
starts; here that kernel starts inside bubblewrap (`bwrap`, Debian's
package `bubblewrap`), so that whatever the student's code does, it does
there:

- Its files: a private mount view holding the operating system and the
  Python environment (read-only), an empty /tmp and home in memory, and a
  scratch copy of the autograded folder (the submission's files and the
  assignment's, no notebook: the autograded notebook holds the hidden tests)
  as its working folder, thrown away afterwards. The course's source (the
  solutions and hidden tests), the gradebook, other students' work, other
  assignments, the clone and the teacher's home are not there; nothing it
  writes reaches the autograded folder, and so the feedback, which nbgrader
  makes from the notebook's cells alone.
- No network: a network namespace of its own holding only a loopback
  interface. The kernel talks to nbgrader over Unix sockets (ZeroMQ's ipc
  transport) in a private folder bound into the sandbox.
- No other process: namespaces of its own for processes, IPC and host name;
  no environment variable of nbgrader's (a teacher's server holds its hub
  token) but a short list; its output and error streams go nowhere (they
  would reach nbgrader's log, which `make grade` reads).
- Who it runs as: a teacher on the hub is not root, so the sandbox is an
  unprivileged user namespace of the teacher's account (the kernel allows it
  on our machines), from which the code can make no further one; run as root
  (`make grade` by root, the tests), bwrap sets the sandbox up as root and the
  kernel runs as `nobody`.
- Limits (SandboxedKernelManager's settings, below): the address space, CPU
  time and largest file of each process, the processes and threads at once
  (run as root: of every process of `nobody`, other kernels' too), the size
  of /tmp, and the wall time of the whole kernel, on top of
  nbgrader's limit per cell (rules.py).

rules.py makes SandboxedExecute nbgrader's autograding step, for `make
grade` and the hub alike. `make check` is not sandboxed: there a learner
runs their own code on their own machine.
"""
import asyncio
import functools
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

BWRAP = 'bwrap'
# Where the scratch copy of the autograded folder lies inside the sandbox
WORK_FOLDER = '/grading'
# The account a sandbox started by root runs as
UNPRIVILEGED = 'nobody'
# The only variables of nbgrader's environment a grading kernel gets (by
# name, or by the start of their name): language, time zone, the numeric
# libraries' thread counts and CPU kernels, as the learner's own kernel had
PASSED_VARIABLES = ('LANG', 'LC_', 'TZ', 'OMP_NUM_THREADS', 'MKL_', 'OPENBLAS_NUM_THREADS', 'ATEN_CPU_CAPABILITY')
# The top-level folders of the operating system the sandbox shows (links on
# a merged /usr, such as Debian's), read-only; and single files of /etc
SYSTEM_FOLDERS = ('usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64')
SYSTEM_FILES = ('/etc/ld.so.cache', '/etc/localtime')
GIB = 2 ** 30


class SandboxUnavailable(RuntimeError):
    """bwrap is missing, or cannot make a sandbox on this machine."""


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside bwrap, with the limits
    below (change them in nbgrader_config.py, e.g.
    `c.SandboxedKernelManager.memory_bytes = 4 * 2**30`)."""

    memory_bytes = Integer(8 * GIB, help='address space of each process (RLIMIT_AS)').tag(config=True)
    cpu_seconds = Integer(600, help='CPU time of each process (RLIMIT_CPU)').tag(config=True)
    processes = Integer(1024, help='processes and threads at once (RLIMIT_NPROC); torch starts a thread per '
                                   'core').tag(config=True)
    file_bytes = Integer(GIB, help='the largest file a process may write (RLIMIT_FSIZE)').tag(config=True)
    tmp_bytes = Integer(GIB, help='the size of /tmp, in memory (and of /dev/shm)').tag(config=True)
    wall_seconds = Integer(1800, help='the whole life of the kernel; nbgrader stops a cell before '
                                      '(c.Execute.timeout)').tag(config=True)
    sandbox = Bool(True, help='False runs every student\'s code unsandboxed, as the account grading: only '
                              'where no sandbox can be made, and the students are trusted').tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.scratch = None
        self.deadline = None
        if self.sandbox:
            check_sandbox()

    def sandbox_folder(self, name):
        """A folder of the scratch folder that the sandbox's account can write."""
        folder = self.scratch / name
        folder.mkdir()
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED)
            os.chown(folder, account.pw_uid, account.pw_gid)
        return folder

    async def _async_pre_start_kernel(self, **kw):
        if self.sandbox and self.scratch is None:
            # The connection file and the kernel's sockets, in a folder of
            # their own that is bound into the sandbox at the same path
            self.scratch = Path(tempfile.mkdtemp(prefix='grading-'))
            runtime = self.sandbox_folder('runtime')
            self.transport = 'ipc'
            self.ip = str(runtime / 'kernel')
            self.connection_file = str(runtime / 'kernel.json')
        command, kw = await super()._async_pre_start_kernel(**kw)
        if not self.sandbox:
            self.log.warning('Autograding without a sandbox: the student\'s code runs as %s',
                             pwd.getpwuid(os.geteuid()).pw_name)
            return command, kw
        work = self.scratch / 'work'
        if work.exists():
            remove_tree(work)  # a restarted kernel starts from the autograded folder again
        work = self.sandbox_folder('work')
        if os.geteuid() == 0:
            # Written by root: the kernel, no longer root, reads it
            account = pwd.getpwnam(UNPRIVILEGED)
            os.chown(self.connection_file, account.pw_uid, account.pw_gid)
        copy_for_the_kernel(kw.pop('cwd', None) or os.getcwd(), work)
        sandboxed = sandbox_command(command, work, Path(self.connection_file).parent, self.limits(),
                                    kernel_environment(kw.get('env') or os.environ))
        # The kernel's streams would reach nbgrader's log (`make grade` reads it)
        kw.update(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=ignore_interrupts)
        return sandboxed, kw

    def limits(self):
        return {'memory_bytes': self.memory_bytes, 'cpu_seconds': self.cpu_seconds, 'processes': self.processes,
                'file_bytes': self.file_bytes, 'tmp_bytes': self.tmp_bytes}

    async def _async_post_start_kernel(self, **kw):
        await super()._async_post_start_kernel(**kw)
        if self.sandbox:
            self.deadline = asyncio.get_running_loop().call_later(self.wall_seconds, self.end_the_sandbox)

    def end_the_sandbox(self):
        """Past the wall time: the sandbox's processes end with bwrap."""
        self.log.warning('The grading kernel ran %d s, its limit: stopped', self.wall_seconds)
        if self.provisioner is not None and getattr(self.provisioner, 'process', None) is not None:
            self.provisioner.process.kill()

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if self.deadline is not None:
            self.deadline.cancel()
        if not restart and self.scratch is not None:
            remove_tree(self.scratch)
            self.scratch = None


class SandboxedExecute(Execute):
    """nbgrader's Execute step with its kernel in the sandbox
    (nbgrader's Execute sets its kernel manager itself: no setting reaches it)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('kernel_manager_class', SandboxedKernelManager)
        super().__init__(*args, **kwargs)


@functools.cache
def check_sandbox():
    """Fails, saying what to do, unless bwrap makes a sandbox here (tried once per process)."""
    if shutil.which(BWRAP) is None:
        raise SandboxUnavailable(
            'autograding runs each submission in a sandbox made by bubblewrap, which is not installed: '
            'apt-get install bubblewrap (Debian, Ubuntu), dnf install bubblewrap (Fedora)')
    tried = subprocess.run([BWRAP, *namespaces(), '--ro-bind', '/', '/', 'true'], capture_output=True, text=True)
    if tried.returncode:
        raise SandboxUnavailable(
            f'bubblewrap cannot make a sandbox on this machine ({tried.stderr.strip()}): autograding runs '
            f'each submission in one. As another user than root it needs unprivileged user namespaces '
            f'(sysctl kernel.unprivileged_userns_clone=1 where the kernel has that setting, or '
            f'user.max_user_namespaces above 0)')


def namespaces():
    """bwrap's options for namespaces of its own: every one; a user namespace
    (in which no other can be made) unless bwrap runs as root."""
    if os.geteuid() == 0:
        return ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try']
    return ['--unshare-all', '--unshare-user', '--disable-userns']


def sandbox_command(command, work, runtime, limits, environment):
    """The command line that runs `command` in a sandbox: `work` its working
    folder (at WORK_FOLDER), `runtime` bound at its own path, `limits` as
    SandboxedKernelManager.limits() gives them, `environment` its only
    variables."""
    prefixes = sorted({os.path.realpath(path) for path in (sys.prefix, sys.base_prefix)})
    sandbox = [BWRAP, *namespaces(), '--die-with-parent', '--clearenv']
    for name, value in environment.items():
        sandbox += ['--setenv', name, value]
    for name in SYSTEM_FOLDERS:
        path = Path('/', name)
        if path.is_symlink():
            sandbox += ['--symlink', os.readlink(path), str(path)]
        elif path.is_dir():
            sandbox += ['--ro-bind', str(path), str(path)]
    for path in SYSTEM_FILES:
        sandbox += ['--ro-bind-try', path, path]
    sandbox += ['--proc', '/proc', '--dev', '/dev']
    # /tmp, and the shared memory of DataLoader workers and semaphores, in memory
    for folder in ('/tmp', '/dev/shm'):
        sandbox += ['--size', str(limits['tmp_bytes']), '--perms', '1777', '--tmpfs', folder]
    # The folders above a bound one are made as the sandbox's own (the
    # account running in it crosses them: 755, not bwrap's 700)
    binds = [('--ro-bind', prefix) for prefix in prefixes if not prefix.startswith('/usr/')]
    for option, path in [*binds, ('--bind', str(runtime))]:
        sandbox += ['--perms', '0755', '--dir', str(Path(path).parent), option, path, path]
    sandbox += ['--bind', str(work), WORK_FOLDER, '--chdir', WORK_FOLDER]
    inside = []
    if os.geteuid() == 0:
        # Set up as root (it reaches any folder), then no longer root
        account = pwd.getpwnam(UNPRIVILEGED)
        sandbox += ['--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID']
        inside += ['setpriv', f'--reuid={account.pw_uid}', f'--regid={account.pw_gid}', '--clear-groups',
                   '--inh-caps=-all']
    # RLIMIT_NPROC counts the processes of the account: in the sandbox's own
    # user namespace (not root), the sandbox's; run as root, every process of
    # `nobody` on the machine, other sandboxes' too
    inside += ['prlimit', f'--as={limits["memory_bytes"]}', f'--cpu={limits["cpu_seconds"]}',
               f'--nproc={limits["processes"]}', f'--fsize={limits["file_bytes"]}', '--core=0', '--']
    return [*sandbox, '--', *inside, *command]


def kernel_environment(environment):
    """The grading kernel's environment: PATH, HOME and TMPDIR of the
    sandbox, and PASSED_VARIABLES of `environment`."""
    kept = {name: value for name, value in environment.items() if name.startswith(PASSED_VARIABLES)}
    path = os.pathsep.join([str(Path(sys.prefix) / 'bin'), '/usr/local/bin', '/usr/bin', '/bin'])
    return {**kept, 'PATH': path, 'HOME': '/tmp', 'TMPDIR': '/tmp'}


def ignore_interrupts():
    """In bwrap's process before it starts: an interrupt nbgrader sends the
    kernel's process group (a cell past its time) must not end bwrap, and
    the sandbox with it; the kernel handles it while a cell runs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def copy_for_the_kernel(folder, work):
    """Copies the files of `folder` (the autograded folder) that the kernel
    may see into `work`: all but notebooks (the autograded ones hold the
    hidden tests) and links, as files of the sandbox's account."""
    owner = pwd.getpwnam(UNPRIVILEGED) if os.geteuid() == 0 else None
    for source in sorted(Path(folder).rglob('*')):
        if source.is_symlink() or source.suffix == '.ipynb' or '.ipynb_checkpoints' in source.parts:
            continue
        target = work / source.relative_to(folder)
        if source.is_dir():
            target.mkdir(exist_ok=True)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            target.chmod(source.stat().st_mode & 0o755 | 0o644)
        else:
            continue
        if owner:
            os.chown(target, owner.pw_uid, owner.pw_gid)


def remove_tree(folder):
    """Removes `folder`, even where the student's code took the permissions
    of what it made away."""
    def allow_and_retry(function, path, _):
        parent = os.path.dirname(path)
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, stat.S_IRWXU)
            shutil.rmtree(path, onerror=allow_and_retry)
        else:
            os.unlink(path)
    shutil.rmtree(folder, onerror=allow_and_retry)
