"""The class's JupyterHub for real, as root: the course's jupyterhub_config.py
(DummyAuthenticator in place of the sign-up, nothing else changed) on free
ports, one teacher and three students, each a Unix account of its own made
by the hub. The teacher releases an assignment through nbgrader's exchange;
each student fetches it and submits it through their own server (the calls
JupyterLab's Assignments tab makes): the model answers, the empty release
version, plausible wrong answers. The teacher collects, autogrades, hand
grades, releases feedback; the students fetch it. Isolation is tried: a
student's token against another's server, and a student's Unix account
against another's submission, the teacher's source and the gradebook. The
hub is restarted in the middle and loses nothing.

Every account, folder and process the test made is removed at the end, even
after a failure. Needs root and the servers' environment (`make hub-env`)."""
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from course import COURSE_ROOT, EXERCISES, is_check, nbgrader_of, read
from test_grading_loop import hidden_test_lines, points, submission, text_of
from torchrun_jobs import free_port

HUB_ENVIRONMENT = Path(os.environ.get('COURSE_HUB_ENV', '/opt/pytorch-course-hub/env'))
# The assignment the class hands in: the chapter's own exercises
NOTEBOOK = EXERCISES[0]
ASSIGNMENT = NOTEBOOK.stem
COURSE_ID = 'pytorch-training-loop'
# Test accounts and groups all start with this, and a random part of their own
PREFIX = 'hubtest'
STUDENTS = ('model_answers', 'empty_answers', 'wrong_answers')
READY_TIMEOUT = 120
LOGS = COURSE_ROOT / 'build' / 'hub-test-logs'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the hub makes Unix accounts: run as root (CI does)')


def request(url, token=None, method='GET', body=None, timeout=60):
    """(status, parsed JSON or text) of one HTTP request, errors included."""
    data = None if body is None else json.dumps(body).encode()
    headers = {'Content-Type': 'application/json'}
    if token:
        headers['Authorization'] = f'token {token}'
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode(errors='replace')
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def wait_for(condition, what, timeout=READY_TIMEOUT):
    """Polls `condition` until it returns something true, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f'{what}: not within {timeout} s')
        time.sleep(0.2)


class ClassHub:
    """The course's hub on free ports, for a class of test accounts; started
    and stopped by the test, which removes everything it made."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.tag = PREFIX + secrets.token_hex(3)
        self.teacher = f'{self.tag}-teacher'
        self.students = {student: f'{self.tag}-{student.split("_")[0]}' for student in STUDENTS}
        self.group = self.tag
        self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.token = secrets.token_hex(32)
        self.class_folder = self.folder / 'class'
        self.process = None
        self.started = []  # every hub process, for the check that none is left
        config = self.folder / 'test_config.py'
        config.write_text(
            'c = get_config()  # noqa\n'
            f'load_subconfig({str(COURSE_ROOT / "jupyterhub_config.py")!r})  # noqa\n'
            "c.JupyterHub.authenticator_class = 'dummy'\n"
            f'c.DummyAuthenticator.password = {secrets.token_hex(16)!r}\n'
            f"c.JupyterHub.services = [{{'name': 'course-test', 'api_token': {self.token!r}}}]\n"
            "c.JupyterHub.load_roles = [{'name': 'admin', 'services': ['course-test']}]\n"
        )
        self.config = config

    def environment(self):
        return {
            **os.environ,
            'COURSE_HUB_FOLDER': str(self.class_folder), 'COURSE_HUB_TEACHERS': self.teacher,
            'COURSE_HUB_GROUP': self.group, 'COURSE_HUB_PORT': str(self.port),
            'COURSE_HUB_API_PORT': str(self.api_port), 'COURSE_HUB_PROXY_API_PORT': str(self.proxy_api_port),
        }

    def start(self):
        """Starts the hub and waits until its API answers; returns the seconds it took."""
        began = time.monotonic()
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
        wait_for(answers, 'the hub\'s API')
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
        """Asks the hub for `name`'s server (the answer may come before the
        server is up, or even be an error though it starts)."""
        return self.api(f'users/{name}/server', 'POST')[0]

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
        wait_for(ready, f'{name}\'s server')

    def user_token(self, name):
        status, answer = self.api(f'users/{name}/tokens', 'POST', {'note': 'course test'})
        assert status == 201, answer
        return answer['token']

    def accounts(self):
        return [self.teacher, *self.students.values()]

    def processes_left(self):
        """Processes of this class's accounts or of the hubs the test started."""
        uids = set()
        for name in self.accounts():
            try:
                uids.add(Account(name).uid)
            except KeyError:
                pass
        left = []
        for process in psutil.process_iter(['pid', 'uids']):
            try:
                if process.info['uids'] and process.info['uids'].real in uids or process.pid in self.started:
                    left.append(process)
            except psutil.Error:
                pass
        return left

    def remove_everything(self):
        """Stops what is left, removes the accounts, their group and folders."""
        self.stop()
        for process in self.processes_left():
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(self.processes_left(), timeout=10)
        uids = set()
        for name in self.accounts():
            try:
                uids.add(Account(name).uid)
            except KeyError:
                continue
            subprocess.run(['userdel', '--remove', name], capture_output=True)
        # What their programs left in the shared temporary folder (torch's caches)
        for path in Path(tempfile.gettempdir()).iterdir():
            if path.lstat().st_uid in uids:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        subprocess.run(['groupdel', self.group], capture_output=True)
        # The hub's logs stay, for whoever reads a failure
        LOGS.mkdir(parents=True, exist_ok=True)
        for log in self.folder.glob('hub-*.log'):
            shutil.copy(log, LOGS / log.name)
        shutil.rmtree(self.folder, ignore_errors=True)


class Account:
    """A Unix account of the test's, and commands run as it."""

    def __init__(self, name):
        import pwd

        entry = pwd.getpwnam(name)
        self.name, self.uid, self.home = name, entry.pw_uid, Path(entry.pw_dir)

    def run(self, *command, cwd=None):
        """Runs `command` as this user with the servers' environment and the
        hub's nbgrader settings, as in a terminal of their server."""
        environment = {
            'HOME': str(self.home), 'USER': self.name, 'COURSE_ID': COURSE_ID,
            'COURSE_EXCHANGE': os.environ['HUB_TEST_EXCHANGE'],
            'PATH': f'{HUB_ENVIRONMENT / "bin"}:/usr/bin:/bin',
        }
        return subprocess.run(
            ['runuser', '-u', self.name, '--', 'env', '-i', *[f'{k}={v}' for k, v in environment.items()], *command],
            cwd=cwd or self.home, capture_output=True, text=True,
        )

    def can_read(self, path):
        return self.run('cat', str(path)).returncode == 0

    def can_list(self, path):
        return self.run('ls', str(path)).returncode == 0


def nbgrader_as(account, *arguments):
    """Runs an nbgrader command as `account`; fails with its output if it does."""
    done = account.run(str(HUB_ENVIRONMENT / 'bin' / 'nbgrader'), *arguments)
    assert done.returncode == 0, f'nbgrader {" ".join(arguments)} as {account.name}:\n{done.stdout}{done.stderr}'
    return done.stdout + done.stderr


@pytest.fixture(scope='module')
def term():
    """A term on the hub up to the students' feedback; yields what the tests
    look at. Everything made is removed afterwards, even after a failure."""
    if not (HUB_ENVIRONMENT / 'bin' / 'jupyterhub').is_file():
        pytest.fail(f'no JupyterHub in {HUB_ENVIRONMENT}: run `make hub-env` (as root) first', pytrace=False)
    folder = Path(tempfile.mkdtemp(prefix=f'{PREFIX}-'))
    folder.chmod(0o755)
    hub = ClassHub(folder)
    os.environ['HUB_TEST_EXCHANGE'] = str(hub.class_folder / 'exchange')
    # The clone holds the solutions: the hub refuses to start while another
    # user could read them, as a teacher's clone must be
    clone_mode = COURSE_ROOT.stat().st_mode & 0o7777
    COURSE_ROOT.chmod(0o700)
    facts = {'hub': hub, 'timings': {}}
    try:
        yield from run_the_term(hub, facts)
    finally:
        COURSE_ROOT.chmod(clone_mode)
        hub.remove_everything()
        os.environ.pop('HUB_TEST_EXCHANGE', None)


def hand_in(hub, account, student, token):
    """`account` fetches the assignment, answers it as `student` does and
    submits it, through their server, as JupyterLab's Assignments tab does."""
    server = f'{hub.url}/user/{account.name}'
    body = {'course_id': COURSE_ID, 'assignment_id': ASSIGNMENT}
    status, listed = request(f'{server}/assignments/fetch', token, 'POST', body)
    assert status == 200, listed
    fetched = account.home / ASSIGNMENT / NOTEBOOK.name
    assert fetched.is_file() and fetched.stat().st_uid == account.uid
    answered = submission(read(fetched), NOTEBOOK, student)
    status, saved = request(f'{server}/api/contents/{ASSIGNMENT}/{NOTEBOOK.name}', token, 'PUT',
                            {'type': 'notebook', 'format': 'json', 'content': answered})
    assert status == 200, saved
    status, listed = request(f'{server}/assignments/submit', token, 'POST', body)
    assert status == 200 and listed['success'], listed
    assert any(entry['status'] == 'submitted' for entry in listed['value']), listed


def run_the_term(hub, facts):
    timings = facts['timings']
    timings['hub start'] = hub.start()
    status, _ = hub.api('users', 'POST', {'usernames': hub.accounts()})
    assert status == 201, hub.log_tail()

    # Every server at once, as a class starts; the teacher's first start
    # builds their nbgrader course (~/teaching)
    began = time.monotonic()
    for name in hub.accounts():
        hub.spawn(name)
    for name in hub.accounts():
        hub.wait_ready(name)
    timings['4 servers ready'] = time.monotonic() - began
    teacher = Account(hub.teacher)
    students = {student: Account(name) for student, name in hub.students.items()}
    tokens = {student: hub.user_token(name) for student, name in hub.students.items()}
    facts.update(teacher=teacher, students=students, tokens=tokens)

    nbgrader_as(teacher, 'release_assignment', ASSIGNMENT)

    # Each student through their own server, all at once: the Assignments tab's calls
    began = time.monotonic()
    with ThreadPoolExecutor(len(students)) as pool:
        list(pool.map(hand_in, [hub] * len(students), students.values(), students, tokens.values()))
    timings['3 students fetch, save, submit'] = time.monotonic() - began
    # The hub restarts in the middle of the term: nothing is lost
    hub.stop()
    timings['hub restart'] = hub.start()
    status, users = hub.api('users')
    facts['users after restart'] = {user['name'] for user in users}

    began = time.monotonic()
    nbgrader_as(teacher, 'collect', '--update', ASSIGNMENT)
    nbgrader_as(teacher, 'autograde', ASSIGNMENT)
    timings['autograde 3 submissions'] = time.monotonic() - began
    began = time.monotonic()
    nbgrader_as(teacher, 'generate_feedback', ASSIGNMENT)
    nbgrader_as(teacher, 'release_feedback', ASSIGNMENT)
    timings['feedback'] = time.monotonic() - began
    # The teacher grades the model student's written answers by hand, full marks
    written = [(nbgrader_of(cell)['grade_id'], nbgrader_of(cell)['points']) for cell in read(NOTEBOOK).cells
               if nbgrader_of(cell).get('grade') and not is_check(cell)]
    assert written
    done = teacher.run(str(HUB_ENVIRONMENT / 'bin' / 'python'), '-c', (
        'from nbgrader.api import Gradebook\n'
        f'with Gradebook("sqlite:///{teacher.home}/teaching/gradebook.db") as gradebook:\n'
        f'    for grade_id, score in {written!r}:\n'
        f'        gradebook.find_grade(grade_id, {ASSIGNMENT!r}, {ASSIGNMENT!r}, {hub.students["model_answers"]!r})'
        '.manual_score = score\n'
        '    gradebook.db.commit()\n'))
    assert done.returncode == 0, done.stderr
    grades = teacher.home / 'teaching' / 'grades.csv'
    nbgrader_as(teacher, 'export', f'--to={grades}')
    with open(grades, newline='') as file:
        facts['grades'] = {row['student_id']: row for row in csv.DictReader(file) if row['assignment'] == ASSIGNMENT}

    # The students come back after the restart: a new server, their feedback
    student = students['model_answers']
    began = time.monotonic()
    hub.spawn(student.name)
    hub.wait_ready(student.name)
    timings['1 server ready'] = time.monotonic() - began
    server = f'{hub.url}/user/{student.name}'
    status, listed = request(f'{server}/assignments/fetch_feedback', tokens['model_answers'], 'POST',
                             {'course_id': COURSE_ID, 'assignment_id': ASSIGNMENT})
    assert status == 200, listed
    facts['feedback'] = sorted((student.home / ASSIGNMENT / 'feedback').glob(f'*/{ASSIGNMENT}.html'))
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / 'timings.json').write_text(json.dumps({step: round(seconds, 1) for step, seconds in timings.items()}))
    yield facts


def test_the_hub_makes_each_account_with_a_private_home_and_the_learners_course(term):
    hub = term['hub']
    for account in [term['teacher'], *term['students'].values()]:
        assert account.home.stat().st_mode & 0o077 == 0, f'{account.home} is readable by others'
        course = account.home / 'course'
        learners = course / NOTEBOOK.relative_to(COURSE_ROOT)
        assert learners.stat().st_uid == account.uid
        text = learners.read_text()
        assert 'BEGIN SOLUTION' not in text and 'BEGIN HIDDEN TESTS' not in text
        assert (course / 'helpers.py').is_file()
    assert (term['teacher'].home / 'teaching' / 'source' / ASSIGNMENT / NOTEBOOK.name).is_file()
    assert set(hub.accounts()) <= term['users after restart']


def test_scores_of_the_model_empty_and_wrong_answers(term):
    grades = term['grades']
    # The model answers: every check passed, and the written answers graded by hand
    expected = {'model_answers': points(NOTEBOOK, autograded_only=False), 'empty_answers': 0, 'wrong_answers': 0}
    for student, score in expected.items():
        row = grades[term['hub'].students[student]]
        assert float(row['score']) == score, (student, row)
        assert float(row['max_score']) == points(NOTEBOOK, autograded_only=False)


def test_the_student_fetches_feedback_without_the_hidden_tests(term):
    assert len(term['feedback']) == 1, term['feedback']
    shown = text_of(term['feedback'][0])
    assert 'the checks passed' in shown
    hidden = hidden_test_lines(NOTEBOOK)
    assert hidden and not hidden & {line.strip() for line in shown.splitlines()}


def test_a_students_token_cannot_reach_another_students_server(term):
    hub, tokens = term['hub'], term['tokens']
    other = hub.students['model_answers']
    own_status, _ = request(f'{hub.url}/user/{other}/api/contents/', tokens['model_answers'])
    assert own_status == 200
    for student in ('empty_answers', 'wrong_answers'):
        status, _ = request(f'{hub.url}/user/{other}/api/contents/', tokens[student])
        assert status in (403, 404), f'{student} reached {other}\'s server: {status}'


def test_a_students_account_cannot_read_others_work_the_source_or_the_gradebook(term):
    teacher, students = term['teacher'], term['students']
    intruder, victim = students['wrong_answers'], students['model_answers']
    exchange = Path(os.environ['HUB_TEST_EXCHANGE']) / COURSE_ID
    submissions = sorted(exchange.glob(f'inbound/{victim.name}+{ASSIGNMENT}+*/{NOTEBOOK.name}'))
    assert submissions, 'no submission in the exchange'
    # The account works: it reads its own files and the released assignment
    assert intruder.can_read(intruder.home / ASSIGNMENT / NOTEBOOK.name)
    assert intruder.can_read(exchange / 'outbound' / ASSIGNMENT / NOTEBOOK.name)
    forbidden = [
        victim.home / ASSIGNMENT / NOTEBOOK.name,
        submissions[0],
        teacher.home / 'teaching' / 'source' / ASSIGNMENT / NOTEBOOK.name,
        teacher.home / 'teaching' / 'gradebook.db',
        teacher.home / 'teaching' / 'submitted' / victim.name / ASSIGNMENT / NOTEBOOK.name,
        NOTEBOOK,
    ]
    for path in forbidden:
        assert path.is_file(), path
        assert not intruder.can_read(path), f'{intruder.name} can read {path}'
    assert not intruder.can_list(exchange / 'inbound')


def test_the_hub_left_no_process_behind_when_stopped(term):
    hub = term['hub']
    hub.stop()
    psutil.wait_procs(hub.processes_left(), timeout=20)
    assert not hub.processes_left(), [process.info for process in hub.processes_left()]
