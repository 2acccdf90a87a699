"""A class's JupyterHub started from the course's jupyterhub_config.py for the
tests and the load benchmark: test accounts (a distinctive name, a random
part of their own), free ports, DummyAuthenticator in place of the sign-up
unless asked for the class's own, an administrator's token for the hub's
API, and the removal of everything it made (processes, accounts, their
group and folders), even after a failure.

Needs root and the servers' environment (`make hub-env`)."""
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil

from classroom.course import COURSE_ROOT, free_port, wait_for
from classroom.hub.preparation import teachers_group

HUB_ENVIRONMENT = Path(os.environ.get('COURSE_HUB_ENV', '/opt/pytorch-course-hub/env'))
HUB_CONFIG = COURSE_ROOT / 'classroom' / 'hub' / 'jupyterhub_config.py'
# The course id, as jupyterhub_config.py sets it (once, there)
COURSE_ID = re.search(r"^COURSE_ID = '([^']+)'", HUB_CONFIG.read_text(), re.MULTILINE).group(1)
READY_TIMEOUT = 300
LOGS = COURSE_ROOT / 'build' / 'hub-test-logs'


# The hub's test certificate is self-signed: a test that checks it is the
# hub's reads it from the hub (ClassHub.certificate)
UNVERIFIED = ssl._create_unverified_context()


def request(url, token=None, method='GET', body=None, timeout=60):
    """(status, parsed JSON or text) of one HTTP request, errors included."""
    data = None if body is None else json.dumps(body).encode()
    headers = {'Content-Type': 'application/json'}
    if token:
        headers['Authorization'] = f'token {token}'
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=timeout, context=UNVERIFIED) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors='replace')
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


# The clone holds the solutions: a hub refuses to start while another user
# could read them, as a teacher's clone must be. Private while any hub of
# this process runs; its own permissions come back when the last one ends.
_clone = {'hubs': 0, 'mode': None}


def make_clone_private():
    if _clone['hubs'] == 0:
        _clone['mode'] = COURSE_ROOT.stat().st_mode & 0o7777
        COURSE_ROOT.chmod(0o700)
    _clone['hubs'] += 1


def give_clone_back():
    _clone['hubs'] -= 1
    if _clone['hubs'] == 0:
        COURSE_ROOT.chmod(_clone['mode'])


class ClassHub:
    """The course's hub on free ports, for a class of test accounts; started
    and stopped by the test, which removes everything it made."""

    def __init__(self, prefix, students, sign_up=False, https=False, settings=None):
        """A hub whose teacher is PREFIX<random>-teacher, and whose students are
        PREFIX<random>-<name> for each name of `students` (short: a Unix
        account name has at most 32 characters). Everyone logs in with
        `password` (DummyAuthenticator), or, with `sign_up`, once signed up
        (with `password`, say) and approved through the class's own pages
        (jupyterhub_config.py's authenticator), or as `settings` choose
        (COURSE_HUB_AUTH=lti). `https`: with a self-signed
        certificate made here. `settings`: more COURSE_HUB_* variables.
        The class's folder is not under /tmp: each server has a /tmp of its own."""
        self.folder = Path(tempfile.mkdtemp(prefix=f'{prefix}-', dir='/srv'))
        # The students' servers cross it to reach the class's folder
        self.folder.chmod(0o755)
        self.tag = prefix + secrets.token_hex(3)
        self.teacher = f'{self.tag}-teacher'
        self.students = {student: f'{self.tag}-{student}' for student in students}
        self.group = self.tag
        self.settings = settings or {}
        self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.settings = dict(settings or {})
        self.certificate = None
        if https:
            self.certificate, key = self.folder / 'certificate.pem', self.folder / 'key.pem'
            subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                            '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                            '-keyout', str(key), '-out', str(self.certificate)], check=True, capture_output=True)
            self.settings.update(COURSE_HUB_SSL_CERT=str(self.certificate), COURSE_HUB_SSL_KEY=str(key))
        self.url = f'{"https" if https else "http"}://127.0.0.1:{self.port}'
        self.token = secrets.token_hex(32)
        # Every account's password at the hub's login page (DummyAuthenticator; the sign-up's too)
        self.password = secrets.token_hex(16)
        self.class_folder = self.folder / 'class'
        self.exchange = self.class_folder / 'exchange'
        self.process = None
        self.made_clone_private = False
        self.started = []  # every hub process, for the check that none is left
        config = self.folder / 'test_config.py'
        config.write_text(
            'c = get_config()  # noqa\n'
            f'load_subconfig({str(HUB_CONFIG)!r})  # noqa\n'
            f"c.JupyterHub.services.append({{'name': 'course-test', 'api_token': {self.token!r}}})\n"
            "c.JupyterHub.load_roles.append({'name': 'admin', 'services': ['course-test']})\n"
        )
        if not sign_up:
            with open(config, 'a') as file:
                file.write("c.JupyterHub.authenticator_class = 'dummy'\n"
                           f'c.DummyAuthenticator.password = {self.password!r}\n')
        self.config = config

    def environment(self):
        return {
            **os.environ,
            'COURSE_HUB_FOLDER': str(self.class_folder), 'COURSE_HUB_TEACHERS': self.teacher,
            'COURSE_HUB_GROUP': self.group, 'COURSE_HUB_PORT': str(self.port),
            'COURSE_HUB_API_PORT': str(self.api_port), 'COURSE_HUB_PROXY_API_PORT': str(self.proxy_api_port),
            **self.settings,
        }

    def start(self):
        """Starts the hub and waits until its API answers; returns the seconds it took."""
        began = time.monotonic()
        if not self.made_clone_private:
            make_clone_private()
            self.made_clone_private = True
        log = open(self.folder / f'hub-{len(self.started)}.log', 'w')
        self.process = subprocess.Popen(
            [str(HUB_ENVIRONMENT / 'bin' / 'jupyterhub'), '-f', str(self.config)],
            cwd=self.folder, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.started.append(self.process.pid)

        def answers():
            if self.process.poll() is not None:
                raise RuntimeError(f'the hub exited ({self.process.returncode}): {self.log_tail()}')
            try:
                return self.api('')[0] == 200
            except OSError:
                return False
        wait_for(answers, READY_TIMEOUT, 'the hub\'s API')
        return time.monotonic() - began

    def stop(self):
        """Stops the hub as an administrator does (SIGTERM): it stops the
        servers it started and its proxy."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log_tail(self):
        logs = sorted(self.folder.glob('hub-*.log'))
        return logs[-1].read_text()[-3000:] if logs else ''

    def api(self, path, method='GET', body=None):
        return request(f'{self.url}/hub/api/{path}', self.token, method, body)

    def spawn(self, name):
        """Asks the hub for `name`'s server. The hub answers once the server is
        up or after 10 s, whichever comes first, and under load sometimes with
        an error though the server starts: wait_ready tells."""
        return self.api(f'users/{name}/server', 'POST')[0]

    def spawn_at_once(self, names):
        """Asks for the servers of all `names` at the same time, as a class
        does at the start of a lesson, and waits until each is ready;
        returns {name: seconds from the request until it was ready}."""
        began = time.monotonic()

        def spawn_and_wait(name):
            self.spawn(name)
            self.wait_ready(name)
            return time.monotonic() - began
        with ThreadPoolExecutor(len(names)) as pool:
            return dict(zip(names, pool.map(spawn_and_wait, names)))

    def wait_ready(self, name):
        """Waits until `name`'s server is ready; fails, with the hub's log, if
        the hub gave up starting it."""
        def ready():
            status, user = self.api(f'users/{name}')
            assert status == 200, user
            server = user['servers'].get('', {})
            if not server and not user.get('pending'):
                raise RuntimeError(f'the hub did not start {name}\'s server: {self.log_tail()}')
            return server.get('ready')
        wait_for(ready, READY_TIMEOUT, f'{name}\'s server')

    def user_token(self, name):
        status, answer = self.api(f'users/{name}/tokens', 'POST', {'note': 'course test'})
        assert status == 201, answer
        return answer['token']

    def accounts(self):
        """The names of every account of the class, teacher first."""
        return [self.teacher, *self.students.values()]

    def account(self, name):
        """The Unix account `name` of this class."""
        return Account(name, self.exchange)

    def uids(self):
        """The user ids of this class's accounts that exist now."""
        found = set()
        for name in self.accounts():
            try:
                found.add(Account(name).uid)
            except KeyError:
                pass
        return found

    def processes_left(self):
        """Processes of this class's accounts, or of the sessions of the hubs
        it started (each hub leads a session of its own: its proxy is there)."""
        uids = self.uids()
        left = []
        for process in psutil.process_iter(['pid', 'uids']):
            try:
                if process.info['uids'].real in uids or os.getsid(process.pid) in self.started:
                    left.append(process)
            except (psutil.Error, OSError):
                pass
        return left

    def remove_everything(self):
        """Stops what is left, removes the accounts, their group and folders,
        and gives the clone its permissions back."""
        self.stop()
        if self.made_clone_private:
            give_clone_back()
            self.made_clone_private = False
        for process in self.processes_left():
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(self.processes_left(), timeout=10)
        uids = self.uids()
        for name in self.accounts():
            # An account that was never made: userdel says so, and nothing happens
            subprocess.run(['userdel', '--remove', name], capture_output=True)
        # What their programs left in the shared temporary folder (torch's caches)
        for path in Path(tempfile.gettempdir()).iterdir():
            if path.lstat().st_uid in uids:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for group in (self.group, teachers_group(self.group)):
            subprocess.run(['groupdel', group], capture_output=True)
        # The class's cgroups (classroom/hub/spawner.py), empty once their processes are gone
        for parent in Path('/sys/fs/cgroup').glob(f'*/{self.group}'):
            for cgroup in [*parent.iterdir(), parent]:
                if cgroup.is_dir():
                    cgroup.rmdir()
        # The hub's logs stay, for whoever reads a failure
        LOGS.mkdir(parents=True, exist_ok=True)
        for log in self.folder.glob('hub-*.log'):
            shutil.copy(log, LOGS / log.name)
        shutil.rmtree(self.folder, ignore_errors=True)


class Account:
    """A Unix account of the test's, and commands run as it."""

    def __init__(self, name, exchange=None):
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.home = name, entry.pw_uid, Path(entry.pw_dir)
        self.exchange = exchange

    def command(self, *command):
        """`command` run as this user with the servers' environment and the
        hub's nbgrader settings, as in a terminal of their server."""
        environment = {
            'HOME': str(self.home), 'USER': self.name, 'COURSE_ID': COURSE_ID,
            'COURSE_EXCHANGE': str(self.exchange),
            'PATH': f'{HUB_ENVIRONMENT / "bin"}:/usr/bin:/bin',
        }
        return ['runuser', '-u', self.name, '--', 'env', '-i', *[f'{k}={v}' for k, v in environment.items()], *command]

    def run(self, *command, cwd=None):
        """Runs `command` as this user (see `command`); returns when it ends."""
        return subprocess.run(self.command(*command), cwd=cwd or self.home, capture_output=True, text=True)

    def popen(self, *command):
        """Starts `command` as this user (see `command`), its output read through pipes."""
        return subprocess.Popen(self.command(*command), cwd=self.home, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def can_read(self, path):
        return self.run('cat', str(path)).returncode == 0

    def can_list(self, path):
        return self.run('ls', str(path)).returncode == 0


def nbgrader_as(account, *arguments):
    """Runs an nbgrader command as `account`; fails with its output if it does."""
    done = account.run(str(HUB_ENVIRONMENT / 'bin' / 'nbgrader'), *arguments)
    assert done.returncode == 0, f'nbgrader {" ".join(arguments)} as {account.name}:\n{done.stdout}{done.stderr}'
    return done.stdout + done.stderr


def hand_in(hub, account, token, notebook, answer):
    """`account` fetches the assignment of the exercise `notebook` (a path),
    answers it with `answer` (a function from the fetched notebook to the
    answered one) and submits it, through their server, as JupyterLab's
    Assignments tab does."""
    status, listed = request(f'{hub.url}/user/{account.name}/assignments/fetch', token, 'POST',
                             {'course_id': COURSE_ID, 'assignment_id': notebook.stem})
    assert status == 200, listed
    submit_again(hub, account, token, notebook, answer)


def submit_again(hub, account, token, notebook, answer):
    """`account` answers their fetched copy of the exercise `notebook` with
    `answer` (as in hand_in), saves it and submits it, through their server:
    a student changing their work after a submission does just this."""
    assignment = notebook.stem
    server = f'{hub.url}/user/{account.name}'
    fetched = account.home / assignment / notebook.name
    assert fetched.is_file() and fetched.stat().st_uid == account.uid
    answered = answer(nbformat.read(fetched, as_version=4))
    status, saved = request(f'{server}/api/contents/{assignment}/{notebook.name}', token, 'PUT',
                            {'type': 'notebook', 'format': 'json', 'content': answered})
    assert status == 200, saved
    status, listed = request(f'{server}/assignments/submit', token, 'POST',
                             {'course_id': COURSE_ID, 'assignment_id': assignment})
    assert status == 200 and listed['success'], listed
    assert any(entry['status'] == 'submitted' for entry in listed['value']), listed
