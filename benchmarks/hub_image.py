"""The servers' image of Zero to JupyterHub (classroom/hub/Dockerfile) built
and run on this machine (`make bench`, as root; results in
benchmarks/README.md, "The Zero to JupyterHub image").

No image registry is reached: everything starts from Debian's archive.

1. A Debian 12 base made with debootstrap (minbase), kept as a tar file in
   build/hub-image/ for the next run.
2. A Docker daemon of its own (Debian's docker.io): its own socket and
   folders, no bridge, no iptables rules; overlay2 where the kernel has it,
   else vfs.
3. `make hub-image` on that base (the wheels it downloads are kept too).
4. A student's server from the image, started as the chart of
   classroom/hub/z2jh-values.yaml starts one: uid 1000 with the volumes'
   group (100), an empty home and exchange volume, the values' environment
   and start hook. JupyterLab with a token, on 127.0.0.1 (host network),
   stands in for jupyterhub-singleuser, which needs a hub.
5. Checks. Through the server's HTTP API: the learners' course is in the
   home, file for file as `make student` made it, and a kernel runs PyTorch.
   Inside the container: nbgrader reads the servers' settings and the
   course's grading rules, and `nbgrader validate` works on an exercise;
   no line of a model solution or hidden test is in any file of the image.

Everything it started is removed at the end: the server, the images, the
daemon and its folder. --fresh makes the base and the wheels again.

    python -m benchmarks.hub_image [--fresh]
"""
import argparse
import inspect
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nbformat
import websocket
import yaml
from traitlets.config import PyFileConfigLoader

from benchmarks.hub_load import cpu_model
from classroom.course import COURSE_ROOT, EXERCISES, free_port, read, wait_for, write_atomically

# Debian's docker.io: the daemon and the client of the same release
DOCKERD = Path('/usr/sbin/dockerd')
DOCKER = Path('/usr/bin/docker')
DEBOOTSTRAP = Path('/usr/sbin/debootstrap')
CACHE = COURSE_ROOT / 'build' / 'hub-image'
BASE_TAR = CACHE / 'debian-bookworm-minbase.tar'
WHEELS_DONE = CACHE / 'wheels' / '.downloaded'
STUDENT_COPY = COURSE_ROOT / 'build' / 'student'
VALUES = COURSE_ROOT / 'classroom' / 'hub' / 'z2jh-values.yaml'
HUB_SETTINGS = COURSE_ROOT / 'classroom' / 'hub' / 'nbgrader_config.py'
OUT = COURSE_ROOT / 'build' / 'bench_hub_image.md'
BASE_IMAGE = 'pytorch-course-base:bookworm'
IMAGE = 'pytorch-course-singleuser:check'
HOME = '/home/jovyan'
# Where the Dockerfile puts the servers' nbgrader settings
SERVERS_SETTINGS = '/usr/local/etc/jupyter/nbgrader_config.py'
# The chart's defaults: every server runs as this user, its volumes' group
USER, VOLUMES_GROUP = 1000, 100
# A shorter line of a solution may be any library's code ("for rank in range(world_size):")
SHORTEST_SOLUTION_LINE = 30


def run(*command, **options):
    """A command's output; fails with the end of its output when the command fails."""
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, **options)
    if done.returncode:
        raise RuntimeError(f'{" ".join(map(str, command))} failed ({done.returncode}):\n'
                           f'{done.stdout[-5000:]}\n{done.stderr[-5000:]}')
    return done.stdout


def remove_folder(folder):
    """Removes a folder this script made, first unmounting what is mounted
    inside it (dockerd leaves its network namespace mounted; a stopped
    debootstrap, /proc), deepest first, so that nothing outside is touched."""
    inside = str(Path(folder).resolve()) + '/'
    mounts = [line.split()[1] for line in Path('/proc/self/mounts').read_text().splitlines()]
    for mount in sorted((mount for mount in mounts if mount.startswith(inside)), key=len, reverse=True):
        run('umount', '--lazy', mount)
    shutil.rmtree(folder)


def debian_base(fresh):
    """build/hub-image/debian-bookworm-minbase.tar, made with debootstrap
    unless it is there; the seconds it took (None: it was there)."""
    if BASE_TAR.exists() and not fresh:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    root = tempfile.mkdtemp(prefix='debootstrap-', dir=CACHE)
    try:
        run(DEBOOTSTRAP, '--variant=minbase', 'bookworm', root)
        write_atomically(BASE_TAR, lambda partial: run('tar', '-C', root, '-cf', partial, '.'))
    finally:
        remove_folder(root)
    return time.monotonic() - began


class PrivateDocker:
    """A Docker daemon for this script alone, everything of it in `folder`;
    no bridge and no iptables rules, so nothing of the machine's network
    changes (containers use the host's)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.environment = {**os.environ, 'DOCKER_HOST': f'unix://{self.folder / "docker.sock"}'}
        self.process = None
        self.storage_driver = None

    def start(self):
        """Starts the daemon with overlay2 where the kernel allows it, else
        vfs (which copies every layer whole); the seconds it took."""
        began = time.monotonic()
        for driver in ('overlay2', 'vfs'):
            with open(self.folder / f'dockerd-{driver}.log', 'w') as log:
                self.process = subprocess.Popen(
                    [DOCKERD, '--bridge=none', '--iptables=false', f'--storage-driver={driver}',
                     '--data-root', self.folder / f'data-{driver}', '--exec-root', self.folder / 'run',
                     '--pidfile', self.folder / 'dockerd.pid', '--host', self.environment['DOCKER_HOST']],
                    stdout=log, stderr=subprocess.STDOUT)
            wait_for(lambda: self.process.poll() is not None or self.answers(), 120, 'the Docker daemon')
            if self.process.poll() is None:
                self.storage_driver = driver
                return time.monotonic() - began
        raise RuntimeError(f'dockerd started with neither overlay2 nor vfs: see {self.folder}/dockerd-*.log')

    def answers(self):
        return subprocess.run([DOCKER, 'version'], env=self.environment, capture_output=True).returncode == 0

    def docker(self, *arguments, **options):
        """A docker command's output, on this daemon."""
        return run(DOCKER, *arguments, env=self.environment, **options)

    def stop(self):
        """Stops the daemon (it stops the containerd it started) and removes its folder."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        remove_folder(self.folder)


def solution_lines():
    """The lines of the model solutions and hidden tests (source/) that
    neither the learners' copy nor the course's package (installed in every
    server: a line of its code is nobody's secret, `rows =
    list(csv.DictReader(file))` say) holds, as a .py file and a notebook's
    JSON hold them."""
    shipped = [*STUDENT_COPY.rglob('*'), *(COURSE_ROOT / 'classroom').rglob('*.py')]
    learners = '\n'.join(path.read_text(errors='replace') for path in shipped if path.is_file())
    region = re.compile(r'### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1', re.S)
    lines = set()
    for exercise in EXERCISES:
        for cell in read(exercise).cells:
            for _, body in region.findall(cell.source):
                for line in map(str.strip, body.splitlines()):
                    if len(line) >= SHORTEST_SOLUTION_LINE and line not in learners:
                        lines |= {line, json.dumps(line)[1:-1]}
    return sorted(lines)


def files_holding(lines, *grep, **options):
    """The files in which `grep` (a grep command reading its patterns from
    stdin, -l) finds any of `lines`."""
    done = subprocess.run([str(part) for part in grep], input='\n'.join(lines), capture_output=True, text=True,
                          **options)
    if done.returncode > 1:
        raise RuntimeError(f'grep failed: {done.stderr}')
    return done.stdout.split()


def nbgrader_settings(c):
    """What a server's nbgrader settings decide, as plain values: the course,
    the exchange, the hand-in and the grading rules. Run in the image too."""
    def name(value):
        qualified = getattr(value, '__qualname__', None)
        return f'{value.__module__}.{qualified}' if qualified else value

    return {
        'course id': c.CourseDirectory.course_id,
        'exchange': c.Exchange.root,
        'hand-in': name(c.ExchangeFactory.submit),
        'cell timeout': c.Execute.timeout,
        'kernel arguments': list(c.Execute.extra_arguments),
        'sanitizing steps': [name(step) for step in c.Autograde.sanitize_preprocessors],
        'late penalty': name(c.AssignLatePenalties.plugin_class),
        'export': name(c.ExportApp.plugin_class),
        'feedback steps': [name(step) for step in c.GenerateFeedback.preprocessors],
        'feedback exporter': name(c.GenerateFeedback.exporter_class),
    }


# Run in the image, as the student, in the pod's environment: what nbgrader
# itself loads, wherever it finds its settings
NBGRADER_IN_THE_IMAGE = inspect.getsource(nbgrader_settings) + '''
import json
from nbgrader.apps.nbgraderapp import NbGraderApp
app = NbGraderApp()
app.initialize([])
print(json.dumps({'files': app.loaded_config_files, 'settings': nbgrader_settings(app.config)}, default=repr))
'''

# Which of the files read on stdin no installed library owns (the course's
# package is not a library here): a solution line found in a library's own
# file is that library's code
NOT_A_LIBRARYS = '''
import sys
from importlib import metadata
owned = {str(file.locate().resolve()) for dist in metadata.distributions()
         if dist.metadata['Name'] != 'pytorch-course-classroom' for file in dist.files or []}
print('\\n'.join(path for path in sys.stdin.read().split() if path not in owned))
'''


def expected_settings(pod_environment):
    """What classroom/hub/nbgrader_config.py gives nbgrader in a pod with
    `pod_environment`, loaded here as nbgrader loads a settings file."""
    saved = dict(os.environ)
    os.environ.update(pod_environment)
    try:
        return nbgrader_settings(PyFileConfigLoader(HUB_SETTINGS.name, path=str(HUB_SETTINGS.parent)).load_config())
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Server:
    """A student's server from the image, on this daemon, started as the
    chart of `values` (the values file's singleuser part) starts one."""

    def __init__(self, docker, values):
        self.docker = docker
        self.values = values
        self.name = f'course-student-{secrets.token_hex(4)}'
        self.port = free_port()
        self.token = secrets.token_hex(24)

    def start(self):
        volumes = [f'--tmpfs={HOME}:uid={USER},gid={VOLUMES_GROUP},mode=0755']
        volumes += [f'--tmpfs={mount["mountPath"]}:mode=1777' for mount in self.values['storage']['extraVolumeMounts']]
        environment = [f'--env={key}={value}' for key, value in self.values['extraEnv'].items()]
        # The token through the environment: a command line is visible to every user of this machine
        self.docker.docker(
            'run', '--detach', f'--name={self.name}', '--network=host', f'--user={USER}',
            f'--group-add={VOLUMES_GROUP}', *volumes, *environment, f'--env=JUPYTER_TOKEN={self.token}',
            IMAGE, 'jupyter-lab', '--ip=127.0.0.1', f'--port={self.port}', '--no-browser')

    def run_start_hook(self):
        self.docker.docker('exec', self.name, *self.values['lifecycleHooks']['postStart']['exec']['command'])

    def api(self, path, method='GET', body=None, expected=200):
        """The server's answer (JSON decoded, or text) to a request with the token."""
        request = urllib.request.Request(f'http://127.0.0.1:{self.port}{path}', method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={'Authorization': f'token {self.token}'})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, kind, content = response.status, response.headers.get('Content-Type', ''), response.read()
        except urllib.error.HTTPError as error:
            status, kind, content = error.code, '', error.read()
        if status != expected:
            raise RuntimeError(f'{method} {path}: {status}, not {expected}: {content[:500]!r}')
        return json.loads(content) if 'json' in kind else content.decode()

    def answers(self):
        try:
            return self.api('/api/status')
        except (urllib.error.URLError, ConnectionError):
            return False

    def files(self, path='course'):
        """Every file under `path` in the home, as the contents API lists them."""
        for entry in self.api(f'/api/contents/{path}')['content']:
            if entry['type'] == 'directory':
                yield from self.files(entry['path'])
            else:
                yield entry['path']

    def run_in_kernel(self, code):
        """What `code` prints in a new kernel of the server, through its websocket, as JupyterLab runs a cell."""
        kernel = self.api('/api/kernels', 'POST', {'name': 'python3'}, expected=201)['id']
        connection = websocket.create_connection(f'ws://127.0.0.1:{self.port}/api/kernels/{kernel}/channels',
                                                 header=[f'Authorization: token {self.token}'], timeout=120)
        try:
            request = uuid.uuid4().hex
            connection.send(json.dumps({
                'header': {'msg_id': request, 'msg_type': 'execute_request', 'session': uuid.uuid4().hex,
                           'username': 'student', 'version': '5.3'},
                'parent_header': {}, 'metadata': {}, 'channel': 'shell', 'buffers': [],
                'content': {'code': code, 'silent': False, 'store_history': False, 'user_expressions': {},
                            'allow_stdin': False, 'stop_on_error': True}}))
            printed = []
            while True:
                message = json.loads(connection.recv())
                if message['parent_header'].get('msg_id') != request:
                    continue
                if message['msg_type'] == 'error':
                    error = message['content']
                    raise RuntimeError(f'the kernel failed: {error["ename"]}: {error["evalue"]}')
                if message['msg_type'] == 'stream':
                    printed.append(message['content']['text'])
                if message['msg_type'] == 'status' and message['content']['execution_state'] == 'idle':
                    return ''.join(printed)
        finally:
            connection.close()
            self.api(f'/api/kernels/{kernel}', 'DELETE', expected=204)

    def execute(self, *command, user=None, stdin=None):
        """A command's output inside the container, as the student unless `user` is given."""
        as_user = [f'--user={user}'] if user is not None else []
        return self.docker.docker('exec', '--interactive', *as_user, self.name, *command, input=stdin)

    def remove(self):
        self.docker.docker('rm', '--force', self.name)


def check_learners_course(server):
    """The course in the home, through the HTTP API: the learners' copy file
    for file (no source/), every notebook as make student wrote it, without
    solution or hidden tests; the numbers of files and notebooks."""
    visible = {path.relative_to(STUDENT_COPY).as_posix() for path in STUDENT_COPY.rglob('*') if path.is_file()
               and not any(part.startswith('.') for part in path.relative_to(STUDENT_COPY).parts)}
    served = {path.removeprefix('course/') for path in server.files()}
    if served != visible:
        raise AssertionError(f'the course in the home is not build/student: only in the home '
                             f'{sorted(served - visible)}, only in build/student {sorted(visible - served)}')
    notebooks = sorted(path for path in served if path.endswith('.ipynb'))
    for path in notebooks:
        sources = [cell['source'] for cell in server.api(f'/api/contents/course/{path}?content=1')['content']['cells']]
        if sources != [cell.source for cell in nbformat.read(STUDENT_COPY / path, as_version=4).cells]:
            raise AssertionError(f'course/{path} is not the learners\' version in build/student')
        if any('BEGIN SOLUTION' in source or 'BEGIN HIDDEN TESTS' in source for source in sources):
            raise AssertionError(f'course/{path} holds a solution or hidden tests')
    return len(served), len(notebooks)


def check_no_solution(server):
    """No line of a model solution or hidden test in any file of the image
    (the running container's, the home included), but in a library's own
    code; the numbers of lines searched and of library files sharing one."""
    lines = solution_lines()
    teachers = files_holding(lines, 'grep', '-rlF', '-f', '-', COURSE_ROOT / 'source')
    if len(teachers) != len(EXERCISES):
        raise AssertionError(f'the solution lines are in {teachers}, not in every teacher\'s version: '
                             'the search is wrong')
    # Every folder of the root but the kernel's (/proc, /sys) and the devices
    search = 'exec grep -rlF -f - $(ls -d /* | grep -v -x -e /proc -e /sys -e /dev)'
    found = files_holding(lines, DOCKER, 'exec', '--interactive', '--user=0', server.name, 'sh', '-c', search,
                          env=server.docker.environment)
    leaks = server.execute('python', '-c', NOT_A_LIBRARYS, stdin='\n'.join(found)).split()
    if leaks:
        raise AssertionError(f'lines of the solutions or hidden tests in the image: {leaks}')
    return len(lines), len(found)


def pinned(requirements, name):
    """The version a requirements file of the course pins `name` at."""
    return re.search(rf'^{name}==(\S+)', (COURSE_ROOT / requirements).read_text(), re.M)[1]


def timed(results, measure, step):
    """Runs `step`, records its seconds under `measure`, returns what it returned."""
    began = time.monotonic()
    value = step()
    results[measure] = f'{time.monotonic() - began:.1f}'
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--fresh', action='store_true', help='make the Debian base and the wheels again')
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error('run it as root: it starts a Docker daemon of its own')
    missing = [str(path) for path in (DOCKERD, DOCKER, DEBOOTSTRAP) if not path.exists()]
    if missing:
        parser.error(f'{", ".join(missing)} missing: apt-get install docker.io debootstrap')

    results = {'machine': f'{cpu_model()}, {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.1f}'}
    made_in = debian_base(args.fresh)
    results['Debian 12 base, debootstrap minbase, s'] = f'{made_in:.1f}' if made_in else 'kept from an earlier run'
    values = yaml.safe_load(VALUES.read_text())['singleuser']
    docker = PrivateDocker(tempfile.mkdtemp(prefix='hub-image-'))
    server = None
    try:
        timed(results, 'daemon start, s', docker.start)
        results['storage driver'] = docker.storage_driver
        timed(results, 'docker import of the base, s', lambda: docker.docker('import', BASE_TAR, BASE_IMAGE))

        make = ['make', '--no-print-directory', f'HUB_IMAGE={IMAGE}', f'HUB_IMAGE_BASE={BASE_IMAGE}',
                f'DOCKER={DOCKER}', 'DOCKER_BUILD_FLAGS=--network=host']
        if args.fresh:
            WHEELS_DONE.unlink(missing_ok=True)
        wheels = WHEELS_DONE.relative_to(COURSE_ROOT)
        if subprocess.run([*make, '--question', wheels], cwd=COURSE_ROOT, capture_output=True).returncode == 0:
            results['wheels for the image (pip download), s'] = 'kept from an earlier run'
        else:
            timed(results, 'wheels for the image (pip download), s', lambda: run(*make, wheels, cwd=COURSE_ROOT))
        timed(results, 'make hub-image (learners\' copy, package, docker build), s',
              lambda: run(*make, 'hub-image', cwd=COURSE_ROOT, env=docker.environment))
        size = int(docker.docker('image', 'inspect', '--format={{.Size}}', IMAGE))
        results['image size, GB'] = f'{size / 1e9:.2f}'

        server = Server(docker, values)
        timed(results, 'server\'s container started, s', server.start)
        timed(results, 'start hook: the learners\' course into the empty home, s', server.run_start_hook)
        timed(results, 'server, until its API answers, s', lambda: wait_for(server.answers, 300, 'the server'))
        files, notebooks = check_learners_course(server)
        server.api(values['defaultUrl'])
        results['through the API: the learners\' course'] = (f'{files} files as make student made them '
                                                            f'({notebooks} notebooks)')
        code = 'import torch; print(torch.__version__, torch.cuda.is_available())'
        printed = timed(results, 'through the API: a kernel started, PyTorch imported, s',
                        lambda: server.run_in_kernel(code))
        torch_pin = pinned('requirements.txt', 'torch')
        if printed.split() != [f'{torch_pin}+cpu', 'False']:
            raise AssertionError(f'the kernel printed {printed!r}, not the CPU build of torch {torch_pin}')

        # What the chart runs in every pod: the image's command, at the hub's pin
        singleuser = server.execute('jupyterhub-singleuser', '--version').strip()
        hub_pin = pinned('classroom/hub/requirements.txt', 'jupyterhub')
        if singleuser != hub_pin:
            raise AssertionError(f'jupyterhub-singleuser in the image is {singleuser!r}, not JupyterHub {hub_pin}')
        results['inside: jupyterhub-singleuser, the chart\'s command'] = f'JupyterHub {singleuser}'
        nbgrader = json.loads(server.execute('python', '-', stdin=NBGRADER_IN_THE_IMAGE))
        expected = expected_settings(values['extraEnv'])
        if nbgrader['files'] != [SERVERS_SETTINGS] or nbgrader['settings'] != expected:
            raise AssertionError(f'nbgrader in the image read {nbgrader["files"]}: {nbgrader["settings"]}, where '
                                 f'{SERVERS_SETTINGS} should give {expected}')
        results['inside: nbgrader\'s settings'] = (f'{SERVERS_SETTINGS}: course {expected["course id"]}, cell timeout '
                                                   f'{expected["cell timeout"]} s, the course\'s rules')
        # The sandbox the grading rules run each submission in
        sandbox = server.execute('bwrap', '--version').strip()
        if not sandbox.startswith('bubblewrap'):
            raise AssertionError(f'bwrap --version in the image said {sandbox!r}')
        results['inside: the grading sandbox'] = sandbox
        exercise = f'{HOME}/course/notebooks/exercises/{EXERCISES[0].name}'
        report = timed(results, 'inside: nbgrader validate of an unanswered exercise, s',
                       lambda: server.execute('nbgrader', 'validate', exercise))
        if 'VALIDATION FAILED' not in report or 'NotImplementedError' not in report:
            raise AssertionError(f'nbgrader validate of the unanswered {exercise} did not fail as it should:\n'
                                 f'{report[-2000:]}')
        lines, library_files = timed(results, 'inside: solution lines searched in every file, s',
                                     lambda: check_no_solution(server))
        results['solution lines found'] = (f'none of {lines} in the course or elsewhere '
                                           f'({library_files} library files share a line with one)')
    finally:
        began = time.monotonic()
        try:
            if server:
                server.remove()
        finally:
            docker.stop()
        results['clean-up: server, images, daemon, its folder, s'] = f'{time.monotonic() - began:.1f}'
    rows = [f'| {key} | {value} |' for key, value in results.items()]
    table = '\n'.join(['| measure | value |', '| --- | --- |', *rows])
    print(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(table + '\n')


if __name__ == '__main__':
    main()
