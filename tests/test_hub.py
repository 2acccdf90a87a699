"""The class's JupyterHub for real, as root: the course's jupyterhub_config.py
on free ports (nothing else changed), one teacher and three students, each a
Unix account of its own made by the hub. The teacher and a student sign up
on the hub's pages; the student logs in once the teacher approved them. An
assignment goes out through nbgrader's exchange and each student submits it
through their own server: two with the calls JupyterLab's Assignments tab
makes (plausible wrong answers; the release version handed in too early,
then the model answers), the one who signed up in headless Chromium (log
in, the Assignments tab, fetch, open, submit the release version as it
came, later read the feedback). The teacher releases, collects and releases
feedback with the formgrader's buttons (its API, in the teacher's server,
through the hub), collects the resubmission with `nbgrader collect
--update`, autogrades and hand grades. Students see no formgrader.
Isolation is tried: a student's token against another's server, and a
student's Unix account against another's submission, the teacher's source
and the gradebook. The hub is restarted in the middle and loses nothing.

Every account, folder and process the test made is removed at the end, even
after a failure. Needs root, the servers' environment (`make hub-env`) and
Chromium."""
import csv
import datetime
import grp
import hashlib
import http.cookiejar
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import sqlite3
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import psutil
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from tests.browser import screenshot, start_chromium
from tests.class_hub import (COURSE_ID, HUB_ENVIRONMENT, LOGS, UNVERIFIED, ClassHub, hand_in, nbgrader_as, request,
                              submit_again)
from tests.hub_attacks import (IN_OWN_KERNEL, PROBE_ANOTHERS_KERNELS, KernelsStarted, run_in_kernel, start_kernel)
from classroom.course import COURSE_ROOT, EXERCISES, is_check, nbgrader_of, points, read, wait_for
from classroom.hub.preparation import TEACHERS_LAB_PLUGINS, ensure_account
from tests.submissions import ATTACK_THREADS, LEAKED_FILE, attack_report, submission, with_attack
from tests.test_grading_loop import hidden_test_lines, text_of
from tests.test_lab_in_browser import run_command

# The assignment the class hands in: notebook 03's exercises, the quickest of
# the four to autograde (4.0 s against 6.8 s for the chapter's, one run each)
NOTEBOOK = next(path for path in EXERCISES if path.stem.startswith('03_'))
ASSIGNMENT = NOTEBOOK.stem
# Test accounts and groups all start with this, and a random part of their own
PREFIX = 'hubtest'
# Each student's short name, and how their graded submission answers (tests/submissions.py)
STUDENTS = {'model': 'model_answers', 'empty': 'empty_answers', 'wrong': 'wrong_answers'}
# Who signs up on the hub's pages and takes the whole path in the browser,
# submitting the release version as it came
BROWSER_STUDENT = 'empty'
# What the others hand in first, before the hub restarts: the model student
# the release version, too early; their answers come after the teacher's first collect
FIRST_ANSWERS = {'model': 'empty_answers', 'wrong': 'wrong_answers'}
# Who attacks: the exchange, their own server's limits and another's kernel,
# and, in their answers, the teacher's autograde (tests/hub_attacks.py)
# The limits of the term's students' servers: jupyterhub_config.py's, made
# small enough to try (the defaults are a class's); CPU: as many as this
# machine has, so that the quota is set but takes no time from the test
LIMITS = {'COURSE_HUB_MEMORY_LIMIT': '1G', 'COURSE_HUB_PROCESS_LIMIT': '128', 'COURSE_HUB_DISK_LIMIT': '200M',
          'COURSE_HUB_CPU_LIMIT': '2'}
ATTACKER, VICTIM = 'wrong', 'model'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the hub makes Unix accounts: run as root (CI does)')


@pytest.fixture(scope='module')
def term(tmp_path_factory):
    """A term on the hub up to the students' feedback; yields what the tests
    look at. Everything made is removed afterwards, even after a failure."""
    if not (HUB_ENVIRONMENT / 'bin' / 'jupyterhub').is_file():
        pytest.fail(f'no JupyterHub in {HUB_ENVIRONMENT}: run `make hub-env` (as root) first', pytrace=False)
    hub = ClassHub(PREFIX, STUDENTS, sign_up=True, https=True, settings=LIMITS)
    # Chromium starts while the hub does
    browser = BrowserStudent(hub, hub.students[BROWSER_STUDENT], tmp_path_factory.mktemp('chromium'))
    facts = {'hub': hub, 'browser': browser, 'timings': {}}
    try:
        try:
            run_the_term(hub, facts, browser)
        finally:
            browser.close()
        yield facts
    finally:
        hub.remove_everything()


def answered(answers):
    """A function answering a fetched notebook as `answers` says (tests/submissions.py)."""
    return lambda released: submission(released, NOTEBOOK, answers)


def collected_timestamp(teacher, name):
    """When the submission of `name` that the teacher collected was handed in."""
    return (teacher.home / 'teaching' / 'submitted' / name / ASSIGNMENT / 'timestamp.txt').read_text().strip()


def student_accounts(hub):
    """{student: Account} of every student whose account the hub made: all of
    them, unless the browser student's path failed before their server started."""
    accounts = {}
    for student, name in hub.students.items():
        try:
            accounts[student] = hub.account(name)
        except KeyError:
            pass
    return accounts


def run_the_term(hub, facts, browser):
    timings = facts['timings']
    timings['hub start'] = hub.start()
    status, _ = hub.api('users', 'POST', {'usernames': hub.accounts()})
    assert status == 201, hub.log_tail()

    # Every server but the browser student's at once, as a class starts; the
    # teacher's first start builds their nbgrader course (~/teaching).
    # Meanwhile the teacher and the browser student sign up
    early = {student: hub.students[student] for student in FIRST_ANSWERS}
    facts['course folder made first'] = make_the_course_folder_first(hub)
    with ThreadPoolExecutor(1) as pool:
        signing_up = pool.submit(sign_up_and_approve, hub, hub.students[BROWSER_STUDENT])
        timings['3 servers ready'] = max(hub.spawn_at_once([hub.teacher, *early.values()]).values())
    facts['sign-up'] = signing_up.result()
    teacher = hub.account(hub.teacher)
    tokens = {student: hub.user_token(name) for student, name in hub.students.items()}
    teacher_token = hub.user_token(hub.teacher)
    facts.update(teacher=teacher, tokens=tokens, teacher_token=teacher_token)

    def formgrader(call, method='GET', body=None):
        """A call the formgrader's page makes to its API, through the hub, in the teacher's server."""
        status, answer = request(f'{hub.url}/user/{hub.teacher}/formgrader/api/{call}', teacher_token, method, body)
        assert status == 200, (call, answer)
        return answer

    def button(action):
        """One of the formgrader's buttons of the assignment."""
        answer = formgrader(f'assignment/{ASSIGNMENT}/{action}', 'POST')
        assert answer['success'], (action, answer)

    button('release')

    # The students without a browser through their own servers, at once: the Assignments tab's calls
    began = time.monotonic()
    answers = {**{student: answered(FIRST_ANSWERS[student]) for student in early},
               ATTACKER: attacking(hub, teacher, answered(FIRST_ANSWERS[ATTACKER]))}
    with ThreadPoolExecutor(len(early)) as pool:
        list(pool.map(lambda student: hand_in(hub, hub.account(early[student]), tokens[student], NOTEBOOK,
                                              answers[student]), early))
    timings['2 students fetch, save, submit'] = time.monotonic() - began
    began = time.monotonic()
    facts['exchange attacks'] = attack_the_exchange(hub)
    timings['attacks on the exchange'] = time.monotonic() - began
    began = time.monotonic()
    attack_before_the_restart(hub, facts, tokens)
    timings['attacks before the restart'] = time.monotonic() - began
    # The hub restarts in the middle of the term: nothing is lost
    hub.stop()
    timings['hub restart'] = hub.start()
    status, users = hub.api('users')
    facts['users after restart'] = {user['name'] for user in users}
    facts['setsid process alive after the restart'] = psutil.pid_exists(facts['own kernel']['setsid'])

    # Back to work: the browser student logs in (the hub starts their server)
    # while the teacher's server and the model student's start
    submitted = browser.step(browser.log_in_fetch_and_submit)
    began = time.monotonic()
    model = hub.students['model']
    # The attacker starts their own server meanwhile (waited for before the grading)
    attacker_pool = ThreadPoolExecutor(1)
    attacker_starts = attacker_pool.submit(attacker_starts_own_server, hub, facts, tokens[ATTACKER])
    attacker_pool.shutdown(wait=False)
    hub.spawn_at_once([hub.teacher, model])
    timings['2 servers ready'] = time.monotonic() - began

    # The teacher collects what is there; the model student then hands in
    # their answers, and the teacher collects again, with --update (HUB.md)
    # A collect stopped half-way left a partial copy of the attacker's hand-in
    partial = teacher.home / 'teaching' / 'submitted' / hub.students[ATTACKER] / f'{ASSIGNMENT}.partial'
    done = teacher.run('mkdir', '-p', str(partial / 'left'))
    assert done.returncode == 0, done.stderr
    button('collect')
    facts['partial left'] = partial.exists()
    collected = [collected_timestamp(teacher, model)]
    submit_again(hub, hub.account(model), tokens['model'], NOTEBOOK, answered(STUDENTS['model']))
    began = time.monotonic()
    wait([submitted])  # done or failed: the browser's tests tell which
    timings['browser student logged in and submitted (waited for)'] = time.monotonic() - began
    began = time.monotonic()
    facts['collect log'] = nbgrader_as(teacher, 'collect', '--update', ASSIGNMENT)
    collected.append(collected_timestamp(teacher, model))
    facts['attacker collected'] = collected_timestamp(teacher, hub.students[ATTACKER])
    facts['collected'] = collected
    attacker_starts.result()
    # The transport of every kernel of the teacher's autograde
    with KernelsStarted(hub.uids()) as kernels:
        nbgrader_as(teacher, 'autograde', ASSIGNMENT)
    facts['kernels while grading'] = kernels.seen
    timings['collect again, autograde 3 submissions'] = time.monotonic() - began
    # The teacher grades the model student's written answers by hand, full
    # marks, in the formgrader's Manual Grading
    written = {nbgrader_of(cell)['grade_id']: nbgrader_of(cell)['points'] for cell in read(NOTEBOOK).cells
               if nbgrader_of(cell).get('grade') and not is_check(cell)}
    assert written
    [graded] = [notebook for notebook in formgrader(f'submitted_notebooks/{ASSIGNMENT}/{NOTEBOOK.stem}')
                if notebook['student'] == model]
    for grade in formgrader(f'grades?submission_id={graded["id"]}'):
        if grade['name'] in written:
            formgrader(f'grade/{grade["id"]}', 'PUT', {'manual_score': written.pop(grade['name'])})
    assert not written, f'no grade in the gradebook for {written}'
    began = time.monotonic()
    button('generate_feedback')
    button('release_feedback')
    timings['feedback'] = time.monotonic() - began
    # The students fetch their feedback, one in the browser, while the teacher exports the grades
    read_feedback = browser.step(browser.read_feedback)
    status, listed = request(f'{hub.url}/user/{model}/assignments/fetch_feedback', tokens['model'], 'POST',
                             {'course_id': COURSE_ID, 'assignment_id': ASSIGNMENT})
    assert status == 200, listed
    # The teacher imports the class list, then exports the grades
    roster = teacher.home / 'class.csv'
    roster.write_text('id,first_name,last_name,email\n' + ''.join(
        f'{name},{student.title()},Student,{name}@school.example\n' for student, name in hub.students.items()))
    done = teacher.run(str(HUB_ENVIRONMENT / 'bin' / 'course-roster'), str(roster))
    assert done.returncode == 0, done.stdout + done.stderr
    grades = teacher.home / 'teaching' / 'grades.csv'
    nbgrader_as(teacher, 'export', f'--to={grades}')
    with open(grades.with_name('grades_by_assignment.csv'), newline='') as file:
        facts['grades'] = {row['student_id']: row for row in csv.DictReader(file) if row['assignment'] == ASSIGNMENT}
    with open(grades, newline='') as file:
        facts['class grades'] = {row['student_id']: row for row in csv.DictReader(file)}
    began = time.monotonic()
    wait([read_feedback])
    timings['browser student read the feedback (waited for)'] = time.monotonic() - began
    facts['students'] = student_accounts(hub)
    facts['feedback'] = sorted((facts['students']['model'].home / ASSIGNMENT / 'feedback').glob(f'*/{ASSIGNMENT}.html'))
    began = time.monotonic()
    facts['backup'] = back_up(hub)
    timings['backup'] = time.monotonic() - began
    facts['class files at the backup'] = class_files(hub)
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / 'timings.json').write_text(json.dumps({step: round(seconds, 1) for step, seconds in timings.items()}))


def make_the_course_folder_first(hub):
    """A student whose account exists before the teacher's first start makes
    the course's folder in the exchange (nbgrader's release refused to use
    one it does not own), and, not empty, the folder it was once moved aside
    to (a name made of the folder's owner and inode: root's rename failed);
    returns that student's account and the name taken."""
    ensure_account(hub.students[ATTACKER], hub.group)
    attacker = hub.account(hub.students[ATTACKER])
    made = attacker.run('mkdir', '-p', str(hub.exchange / COURSE_ID / 'inbound'))
    assert made.returncode == 0, made.stderr
    course = (hub.exchange / COURSE_ID).stat()
    taken = f'.{COURSE_ID}.refused-{course.st_uid}-{course.st_ino}'
    made = attacker.run('mkdir', '-p', str(hub.exchange / taken / 'taken'))
    assert made.returncode == 0, made.stderr
    return attacker, taken


def attacking(hub, teacher, answer):
    """`answer`, with an attack on the teacher's autograde in front of the
    first answer (tests/submissions.py, with_attack): paths a student may
    know or guess, and the hub's port on this machine."""
    teaching = teacher.home / 'teaching'
    other = next(notebook for notebook in EXERCISES if notebook != NOTEBOOK)
    targets = {
        'the source, hidden tests included': teaching / 'source' / ASSIGNMENT / NOTEBOOK.name,
        "another assignment's source": teaching / 'source' / other.stem / other.name,
        'the gradebook': teaching / 'gradebook.db',
        "another student's submission": teaching / 'submitted' / hub.students[VICTIM] / ASSIGNMENT / NOTEBOOK.name,
        "the clone's teacher's version": NOTEBOOK,
        'the notebook under grading, beside it': NOTEBOOK.name,
    }
    return lambda released: with_attack(answer(released), targets, hub.port)


def utc_stamp(when):
    """A time as nbgrader writes it into a hand-in's name and timestamp.txt."""
    return when.strftime('%Y-%m-%d %H:%M:%S.%f UTC')


# Hand-ins the attacker writes straight into the inbound folder, as their own account
FORGED = {
    "under another's name": lambda hub, now: f'{hub.students[VICTIM]}+{ASSIGNMENT}+{utc_stamp(now)}+forged',
    'in 2099': lambda hub, now: f'{hub.students[ATTACKER]}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+future',
    'backdated': lambda hub, now: f'{hub.students[ATTACKER]}+{ASSIGNMENT}+{utc_stamp(now - datetime.timedelta(days=1))}'
                                  f'+backdated',
}


def attack_the_exchange(hub):
    """What the attacker tries on the exchange as their own Unix account, once
    they and the victim handed in: submitting as the victim, renaming and
    deleting the victim's hand-in (its name leaked), and writing hand-ins
    straight into the inbound folder (FORGED). Returns {attempt: what
    happened}."""
    attacker, victim = hub.account(hub.students[ATTACKER]), hub.account(hub.students[VICTIM])
    inbound = hub.exchange / COURSE_ID / 'inbound'
    [victims] = sorted(inbound.glob(f'{victim.name}+{ASSIGNMENT}+*'))
    tried = {}
    done = attacker.run(str(HUB_ENVIRONMENT / 'bin' / 'nbgrader'), 'submit', f'--student={victim.name}', ASSIGNMENT)
    tried['submit as another'] = (done.returncode, done.stdout + done.stderr)
    moved = Path(f'{victims}-moved')
    tried['rename'] = attacker.run('mv', str(victims), str(moved)).returncode
    if moved.exists():
        moved.rename(victims)  # nbgrader's own exchange: put back, so that the term goes on
    tried['delete'] = attacker.run('rm', '-rf', str(victims)).returncode
    tried['victim\'s hand-in intact'] = (victims / NOTEBOOK.name).is_file()
    now = datetime.datetime.now(datetime.timezone.utc)
    tried['forged'] = {how: name(hub, now) for how, name in FORGED.items()}
    for folder in tried['forged'].values():
        stamp = folder.split('+')[2]
        forge = ('mkdir "$0" && cp "$1" "$0/" && printf %s "$2" > "$0/timestamp.txt" '
                 '&& printf forged > "$0/submission_secret.txt"')
        notebook = attacker.home / ASSIGNMENT / NOTEBOOK.name
        done = attacker.run('sh', '-c', forge, str(inbound / folder), str(notebook), stamp)
        assert done.returncode == 0, done.stderr
    return tried


def attack_before_the_restart(hub, facts, tokens):
    """The attacker, while their server and the victim's run: another's
    kernel, the limits of their own server (tests/hub_attacks.py); then, for
    their server's next start, symlinks to root's files where the hub copies
    the course, a classroom package of their own where the copy runs, a home
    over the disk limit, and settings of their own that turn the formgrader
    on; for the backup, files that take no disk (sparse)."""
    attacker, victim = hub.account(hub.students[ATTACKER]), hub.account(hub.students[VICTIM])
    victims_kernel = start_kernel(hub, victim.name, tokens[VICTIM])
    own_kernel = start_kernel(hub, attacker.name, tokens[ATTACKER])
    on_the_machine = Path('/tmp') / f'{hub.tag}-on-the-machine'
    on_the_machine.write_text('')
    with ThreadPoolExecutor(1) as pool:
        # The limits of their own server, while they listen to the victim's kernel
        own = pool.submit(run_in_kernel, attacker.uid, own_kernel, IN_OWN_KERNEL.format(
            processes=200, memory=5 * 2**28, file='300M'))
        run_in_kernel(victim.uid, victims_kernel, 'print("ready")')
        probe = attacker.popen(str(HUB_ENVIRONMENT / 'bin' / 'python'), '-c', PROBE_ANOTHERS_KERNELS,
                               str(victim.uid))
        try:
            assert probe.stdout.readline().strip() == 'listening', probe.stderr.read()
            # The victim works meanwhile: what the kernel prints goes out on its output channel
            run_in_kernel(victim.uid, victims_kernel, 'for line in range(5): print("the victim\'s secret answer")')
            facts['probe of another\'s kernels'] = json.loads(probe.stdout.read())
        finally:
            probe.kill()
            probe.wait()
        try:
            facts['own kernel'] = json.loads(own.result())
        finally:
            on_the_machine.unlink()
    facts['the machine\'s /tmp'] = on_the_machine.name
    facts['own server\'s cgroups'] = cgroup_limits(attacker.uid)
    facts['left in /tmp'] = sorted(path.name for path in Path('/tmp').glob('left-by-a-student'))
    # Root's files the symlinks point at (hub.folder is root's)
    program, folder, new = hub.folder / 'roots-program', hub.folder / 'roots-folder', hub.folder / 'roots-new-file'
    program.write_text('#!/bin/sh\necho root\n')
    program.chmod(0o755)
    folder.mkdir()
    facts['root\'s files'] = (program, folder, new)
    facts['root\'s files before'] = roots_files(program, folder, new)
    course = attacker.home / 'course'
    for link, target in (('requirements.txt', program), ('helpers.py', new), ('data_preparation', folder)):
        done = attacker.run('sh', '-c', f'rm -rf {course / link} && ln -s {target} {course / link}')
        assert done.returncode == 0, done.stderr
    # Python code of their own, where the hub's copy of the course runs as them (from their home)
    for module in ('classroom/__init__.py', 'classroom/hub/__init__.py', 'classroom/hub/home_copy.py'):
        done = attacker.run('sh', '-c', 'mkdir -p "$(dirname "$0")" && printf %s "$1" > "$0"',
                            str(attacker.home / module), RAN_AS_THE_HUBS_COPY)
        assert done.returncode == 0, done.stderr
    # Files of SPARSE bytes that take no disk, in their home and in their backdated hand-in (refused anyway)
    backdated = hub.exchange / COURSE_ID / 'inbound' / facts['exchange attacks']['forged']['backdated']
    for sparse in (attacker.home / 'sparse', backdated / 'sparse'):
        done = attacker.run('truncate', f'--size={SPARSE}', str(sparse))
        assert done.returncode == 0, done.stderr
    done = attacker.run('fallocate', '-l', '250M', str(attacker.home / 'filler'))
    assert done.returncode == 0, done.stderr
    # Any web page may then call their server's API from the student's browser, and the formgrader is on
    settings = attacker.home / '.jupyter' / 'jupyter_server_config.json'
    done = attacker.run('sh', '-c', f'mkdir -p {settings.parent} && echo \'{{"ServerApp": {{"allow_origin": "*", '
                                    f'"jpserver_extensions": {{"nbgrader.server_extensions.formgrader": true}}}}}}\' '
                                    f'> {settings}')
    assert done.returncode == 0, done.stderr


# The size of the attacker's sparse files: what a backup would take without tar's --sparse
SPARSE = 2**28
# What the attacker's own classroom package does when imported: leaves a mark in their home
RAN_AS_THE_HUBS_COPY = "import os, sys\nopen(os.path.expanduser('~/ran-as-the-hubs-copy'), 'a').write(repr(sys.argv))\n"


def cgroup_limits(uid):
    """The limits of the cgroups the Jupyter server of `uid` runs in."""
    [server] = [process for process in psutil.process_iter(['uids', 'cmdline']) if process.info['uids'].real == uid
                and any('jupyterhub-singleuser' in part for part in process.info['cmdline'] or [])]
    cgroups = dict(line.split(':')[1:] for line in Path(f'/proc/{server.pid}/cgroup').read_text().splitlines())
    return {name: int(Path('/sys/fs/cgroup', controller, cgroups[controller].lstrip('/'), name).read_text())
            for controller, name in (('memory', 'memory.limit_in_bytes'), ('cpu', 'cpu.cfs_quota_us'),
                                     ('cpu', 'cpu.cfs_period_us'), ('pids', 'pids.max'))}


def roots_files(*paths):
    """(owner, mode, content or listing) of each path, or None where there is none."""
    def state(path):
        if not os.path.lexists(path):
            return None
        info = os.lstat(path)
        content = sorted(os.listdir(path)) if path.is_dir() else path.read_bytes()
        return info.st_uid, info.st_mode, content
    return [state(path) for path in paths]


def attacker_starts_own_server(hub, facts, token):
    """After the restart, the attacker asks for their own server with their
    own token: over the disk limit first, then with the filler removed."""
    attacker = hub.account(hub.students[ATTACKER])
    url = f'{hub.url}/hub/api/users/{attacker.name}/server'
    status, answer = request(url, token, 'POST')

    def settled():
        user = hub.api(f'users/{attacker.name}')[1]
        return not user.get('pending') and user
    user = wait_for(settled, 120, 'the refused start')
    facts['start over the disk limit'] = (status, answer, bool(user['servers']), hub.log_tail())
    assert attacker.run('rm', str(attacker.home / 'filler')).returncode == 0
    request(url, token, 'POST')
    hub.wait_ready(attacker.name)
    facts['root\'s files after'] = roots_files(*facts['root\'s files'])
    marked = attacker.home / 'ran-as-the-hubs-copy'
    facts['the hub ran the student\'s classroom package'] = marked.read_text() if marked.exists() else None
    facts['formgrader with own settings'] = request(f'{hub.url}/user/{attacker.name}/formgrader', token)[0]
    call = urllib.request.Request(f'{hub.url}/user/{attacker.name}/api/status', headers={
        'Authorization': f'token {token}', 'Origin': 'https://elsewhere.example'})
    with urllib.request.urlopen(call, timeout=60, context=UNVERIFIED) as answer:
        facts['origins allowed with own settings'] = answer.headers.get('Access-Control-Allow-Origin')


def back_up(hub):
    """make hub-backup's command, into a folder of the test's: the backup's
    path, or what the command said (the restore's test shows it)."""
    done = subprocess.run([str(HUB_ENVIRONMENT / 'bin' / 'python'), '-m', 'classroom.hub.backup', 'create',
                           str(hub.folder / 'backups')], env=hub.environment(), capture_output=True, text=True)
    return Path(done.stdout.strip()) if done.returncode == 0 else done.stdout + done.stderr


def class_files(hub):
    """{path: (owner's name, mode, sha256)} of everything in the exchange and
    in the homes' course, assignment and teaching folders (the work of a
    term; a server may write elsewhere, its settings, at any time)."""
    files = {}
    folders = [hub.exchange] + [hub.account(name).home / part for name in hub.accounts()
                                for part in ('course', ASSIGNMENT, 'teaching')]
    for folder in folders:
        for path in [folder, *folder.rglob('*')] if folder.exists() else []:
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else None
            files[str(path)] = (pwd.getpwuid(info.st_uid).pw_name, oct(info.st_mode), digest)
    return files


class HubSession:
    """A visitor of the hub's own pages (cookies kept), who does not follow
    redirects: a login's is looked at, not followed (it would start a server)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *arguments):
            return None

    def __init__(self, hub):
        self.hub = hub
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), self.NoRedirect,
            urllib.request.HTTPSHandler(context=UNVERIFIED))

    def get(self, page):
        """(status, where it redirects) of the hub's page `page`."""
        try:
            with self.opener.open(f'{self.hub.url}/hub/{page}', timeout=60) as answer:
                return answer.status, answer.headers.get('Location')
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers.get('Location')

    def post(self, page, fields):
        """Fills in and sends the form of the hub's page `page`: (status, page, where it redirects)."""
        form = self.opener.open(f'{self.hub.url}/hub/{page}', timeout=60).read().decode()
        fields = {**fields, '_xsrf': re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)}
        try:
            with self.opener.open(f'{self.hub.url}/hub/{page}', urllib.parse.urlencode(fields).encode(),
                                  timeout=60) as answer:
                return answer.status, answer.read().decode(), answer.headers.get('Location')
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read().decode(), answer.headers.get('Location')

    def log_in(self, name, password=None):
        return self.post('login', {'username': name, 'password': password or self.hub.password})


def sign_up_and_approve(hub, student):
    """The class's own authenticator (NativeAuthenticator), through the hub's
    pages: the teacher and `student` sign up, the student tries to log in
    before the teacher approves them, and after. Returns what the hub
    answered at each step."""
    teacher_session, student_session = HubSession(hub), HubSession(hub)
    answers = {}
    for session, name in ((teacher_session, hub.teacher), (student_session, student)):
        status, _, _ = session.post('signup', {'username': name, 'signup_password': hub.password,
                                               'signup_password_confirmation': hub.password,
                                               'email': f'{name}@example.org'})
        answers[f'{"teacher" if name == hub.teacher else "student"} signs up'] = status
    status, page, _ = student_session.log_in(student)
    answers['student logs in before the approval'] = (status, 'has not been authorized' in page)
    status, _, location = teacher_session.log_in(hub.teacher)
    answers['teacher logs in'] = (status, location)
    # A redirect back to the list of sign-ups
    answers['teacher approves'] = teacher_session.get(f'authorize/{student}')[0]
    status, _, location = student_session.log_in(student)
    answers['student logs in once approved'] = (status, location)
    # Sign-ups with a common, a weak and a password holding the user name
    for number, password in enumerate(['1234567890', 'aaaaaaaaaa', '{name}-and-more']):
        name = f'{hub.tag}-weak{number}'
        password = password.format(name=name)
        _, page, _ = HubSession(hub).post('signup', {'username': name, 'signup_password': password,
                                                     'signup_password_confirmation': password,
                                                     'email': f'{name}@example.org'})
        answers[f'sign-up with {password}'] = 'Your information has been sent' in page
    # Someone guesses the teacher's password, on the login page and through
    # the REST API (a token for a user name and password), from this machine
    guesser = HubSession(hub)
    for number in range(3):
        guesser.log_in(hub.teacher, password=f'guess-{number}')
        request(f'{hub.url}/hub/api/users/{hub.teacher}/tokens', method='POST',
                body={'auth': {'username': hub.teacher, 'password': f'api-guess-{number}'}})
    status, _, location = HubSession(hub).log_in(hub.teacher)
    answers['the right password from where the guesses came'] = (status, location)
    # The teacher signed out meanwhile (their browser keeps only what the hub
    # left in it), and signs in again while the guessing goes on
    teacher_session.get('logout')
    guesser.log_in(hub.teacher, password='guess-again')
    status, _, location = teacher_session.log_in(hub.teacher)
    answers['the teacher in the browser they signed in with'] = (status, location)
    return answers


class BrowserStudent:
    """A student in headless Chromium, in JupyterLab on the hub. Each step
    runs in a thread of the student's own, so the teacher works meanwhile;
    a step runs only once the steps before it succeeded, and the browser's
    tests raise what went wrong first."""

    def __init__(self, hub, name, profile):
        self.hub, self.name = hub, name
        self.thread = ThreadPoolExecutor(1)
        self.driver = None
        self.steps = []
        # What the student saw: the Nbgrader menu, the side bars' tabs, the news
        self.seen = {}
        self.step(self.start_chromium, profile)

    def step(self, action, *arguments):
        """Runs `action` in the student's thread after the steps before it; returns its future."""
        before = list(self.steps)

        def after_the_others():
            for earlier in before:
                earlier.result()
            return action(*arguments)
        self.steps.append(self.thread.submit(after_the_others))
        return self.steps[-1]

    def raise_any_failure(self):
        """Raises the exception of the first step that failed, if one did (once every step is done)."""
        wait(self.steps)
        for step in self.steps:
            step.result()

    def close(self):
        """Waits for the steps, then closes Chromium."""
        wait(self.steps)
        self.thread.shutdown()
        if self.driver:
            self.driver.quit()

    def start_chromium(self, profile):
        self.driver = start_chromium(profile, accept_insecure_certs=True)

    def shown(self, selector, matches):
        """The elements under `selector` shown, whose text `matches`; none
        while the list is drawn again (it is, after each action)."""
        try:
            return [element for element in self.driver.find_elements(By.CSS_SELECTOR, selector)
                    if matches(element.text) and element.is_displayed() and element.is_enabled()]
        except StaleElementReferenceException:
            return []

    def link(self, selector, text):
        """The first link of the Assignments tab under `selector` whose text holds `text`, or None."""
        found = self.shown(f'#nbgrader-assignment-list {selector}', lambda shown_text: text in shown_text)
        return found[0] if found else None

    def button(self, text):
        found = self.shown('#nbgrader-assignment-list button', lambda shown_text: shown_text == text)
        return found[0] if found else None

    def open_assignments(self):
        """Opens the Assignments tab from the Nbgrader menu; notes the items that menu shows."""
        self.seen['Nbgrader menu'] = run_command(self.driver, 'Nbgrader', 'nbgrader:open-assignment-list')

    def log_in_fetch_and_submit(self):
        driver = self.driver
        driver.get(f'{self.hub.url}/hub/login')
        driver.find_element(By.ID, 'username_input').send_keys(self.name)
        driver.find_element(By.ID, 'password_input').send_keys(self.hub.password)
        driver.find_element(By.ID, 'login_submit').click()
        # The hub starts the server (the account made on the way) and JupyterLab opens the course
        wait_for(lambda: any(item.text == 'Nbgrader' for item in
                             driver.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-itemLabel')), 180, 'the Nbgrader menu')
        self.seen['side bar tabs'] = [tab.get_attribute('title') for tab in
                                      driver.find_elements(By.CSS_SELECTOR, '.jp-SideBar .lm-TabBar-tab')]
        self.open_assignments()
        wait_for(lambda: self.button('Fetch'), 60, 'the released assignment').click()
        # The fetched assignment lists its notebooks; one opens in JupyterLab
        wait_for(lambda: self.link('a.assignment-notebooks-link', ASSIGNMENT), 60, 'the fetched assignment').click()
        wait_for(lambda: self.link('.assignment-notebooks a', NOTEBOOK.stem), 60, 'the notebook\'s link').click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-Cell'), 60, 'the notebook')
        screenshot(driver, 'hub-student-notebook')
        self.open_assignments()
        wait_for(lambda: self.button('Submit'), 60, 'the Submit button').click()
        wait_for(lambda: self.button('Fetch Feedback'), 60, 'the submission')

    def read_feedback(self):
        wait_for(lambda: self.button('Fetch Feedback'), 60, 'the Fetch Feedback button').click()
        wait_for(lambda: self.link('a', 'view feedback'), 60, 'the feedback\'s link')
        screenshot(self.driver, 'hub-student-feedback')
        self.seen['news'] = [toast.text for toast in self.driver.find_elements(By.CSS_SELECTOR, '.Toastify__toast')
                             if 'news' in toast.text]


def test_the_hub_makes_each_account_with_a_private_home_and_the_learners_course(term):
    hub = term['hub']
    assert set(term['students']) == set(STUDENTS), 'missing accounts (the browser student\'s: see its test)'
    for account in [term['teacher'], *term['students'].values()]:
        assert account.home.stat().st_mode & 0o077 == 0, f'{account.home} is readable by others'
        course = account.home / 'course'
        # Wherever the course's layout puts the learners' version of the exercises
        [learners] = course.rglob(NOTEBOOK.name)
        assert learners.stat().st_uid == account.uid
        text = learners.read_text()
        assert 'BEGIN SOLUTION' not in text and 'BEGIN HIDDEN TESTS' not in text
        # The attacker made theirs a link (the symlink test)
        assert (course / 'helpers.py').is_file() or account.name == term['hub'].students[ATTACKER]
    assert (term['teacher'].home / 'teaching' / 'source' / ASSIGNMENT / NOTEBOOK.name).is_file()
    assert set(hub.accounts()) <= term['users after restart']


def test_scores_of_the_model_empty_and_wrong_answers(term):
    grades = term['grades']
    # The model answers: every check passed, and the written answers graded by hand
    expected = {'model': points(NOTEBOOK, autograded_only=False), 'empty': 0, 'wrong': 0}
    for student, score in expected.items():
        row = grades.get(term['hub'].students[student])
        assert row and row['timestamp'], f'no submission of {student} graded (the browser student\'s: see its test)'
        assert float(row['score']) == score, (student, row)
        assert float(row['max_score']) == points(NOTEBOOK, autograded_only=False)
        # The class list's names, and a total per student, in the file a learning platform imports
        by_student = term['class grades'][row['student_id']]
        email = f'{row["student_id"]}@school.example'
        assert (by_student['first_name'], by_student['email']) == (student.title(), email)
        assert float(by_student['total']) == float(by_student[ASSIGNMENT]) == score
        # Handed in as released is told apart from handed in wrong
        assert row['status'] == ('blank' if student == 'empty' else 'on time'), (student, row)


def test_the_teachers_collect_with_update_takes_a_resubmission(term):
    hub, name = term['hub'], term['hub'].students['model']
    uid = term['students']['model'].uid
    handed_in = sorted(path.read_text().strip() for path in
                       hub.exchange.glob(f'{COURSE_ID}/inbound/{name}+{ASSIGNMENT}+*/timestamp.txt')
                       if path.parent.stat().st_uid == uid)
    # Both submissions reached the exchange; the first collect took the
    # first, the second the one handed in again (its grade: the test above)
    assert len(handed_in) == 2, handed_in
    assert term['collected'] == handed_in, term['collected']


def test_the_student_fetches_feedback_without_the_hidden_tests(term):
    assert len(term['feedback']) == 1, term['feedback']
    shown = text_of(term['feedback'][0])
    assert 'the checks passed' in shown
    teaching = term['teacher'].home / 'teaching'
    handed_in = teaching / 'submitted' / term['hub'].students['model'] / ASSIGNMENT / NOTEBOOK.name
    hidden = hidden_test_lines(NOTEBOOK, handed_in)
    assert hidden and not hidden & {line.strip() for line in shown.splitlines()}


def page_config(hub, name, token):
    """The settings JupyterLab's page hands the browser in `name`'s server."""
    status, page = request(f'{hub.url}/user/{name}/lab', token)
    assert status == 200, page
    return json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                page, re.DOTALL).group(1))


def test_students_have_no_formgrader_and_the_teacher_has_it(term):
    hub, student = term['hub'], term['hub'].students['model']
    # What the student sees of it (a misspelt plugin would leave its menu item): the browser test
    disabled = page_config(hub, student, term['tokens']['model'])['disabledExtensions']
    assert set(TEACHERS_LAB_PLUGINS) <= set(disabled), disabled
    disabled = page_config(hub, hub.teacher, term['teacher_token'])['disabledExtensions']
    assert not set(TEACHERS_LAB_PLUGINS) & set(disabled), disabled
    # The formgrader's page and the list of courses to grade (server extensions)
    for path in ('formgrader', 'formgraders'):
        assert request(f'{hub.url}/user/{student}/{path}', term['tokens']['model'])[0] == 404, path
        assert request(f'{hub.url}/user/{hub.teacher}/{path}', term['teacher_token'])[0] == 200, path
    # The Assignments tab's server side stays
    status, listed = request(f'{hub.url}/user/{student}/assignments?course_id={COURSE_ID}', term['tokens']['model'])
    assert status == 200 and listed['success'], listed


def test_a_students_token_cannot_reach_another_students_server(term):
    hub, tokens = term['hub'], term['tokens']
    other = hub.students['model']
    own_status, _ = request(f'{hub.url}/user/{other}/api/contents/', tokens['model'])
    assert own_status == 200
    for student in ('empty', 'wrong'):
        status, _ = request(f'{hub.url}/user/{other}/api/contents/', tokens[student])
        assert status == 403, f'{student} reached {other}\'s server: {status}'


def test_a_students_account_cannot_read_others_work_the_source_or_the_gradebook(term):
    teacher, students = term['teacher'], term['students']
    intruder, victim = students['wrong'], students['model']
    exchange = term['hub'].exchange / COURSE_ID
    submissions = sorted(path for path in exchange.glob(f'inbound/{victim.name}+{ASSIGNMENT}+*/{NOTEBOOK.name}')
                         if path.stat().st_uid == victim.uid)
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


def test_a_students_code_under_the_teachers_autograde_reads_nothing_reaches_no_network_and_is_limited(term):
    """The attacker's answers held an attack (attacking()): autograded by
    the teacher, it read none of the teacher's files, reached no port of
    this machine (the hub's), got neither 16 GiB nor ATTACK_THREADS threads,
    and what it wrote and printed reached no feedback."""
    hub, teacher = term['hub'], term['teacher']
    name = hub.students[ATTACKER]
    teaching = teacher.home / 'teaching'
    reached = attack_report(read(teaching / 'autograded' / name / ASSIGNMENT / NOTEBOOK.name))
    assert not [what for what, how in reached.items() if str(how).startswith('read')], reached
    assert reached['network'] != 'connected', reached
    assert reached['16 GiB of memory'] != 'mapped', reached
    assert reached['threads'] < ATTACK_THREADS, reached
    assert not sorted(teaching.rglob(LEAKED_FILE))
    # Its hook printed every check's code, hidden tests included, as it ran
    feedback = teaching / 'feedback' / name / ASSIGNMENT / f'{ASSIGNMENT}.html'
    hidden = hidden_test_lines(NOTEBOOK, teaching / 'submitted' / name / ASSIGNMENT / NOTEBOOK.name)
    assert hidden and not hidden & {line.strip() for line in text_of(feedback).splitlines()}


def test_a_student_cannot_block_the_release_by_making_the_course_folder_first(term):
    hub, teacher = term['hub'], term['teacher']
    course = hub.exchange / COURSE_ID
    assert course.stat().st_uid == teacher.uid
    assert (course / 'inbound').stat().st_mode & 0o7777 == 0o3733
    # The attacker's folder, moved aside (not followed, not removed), beside the name they took beforehand
    attacker, taken = term['course folder made first']
    [aside] = [path for path in hub.exchange.iterdir() if path.name.startswith(f'.{COURSE_ID}.refused-')
               and path.name != taken]
    assert aside.stat().st_uid == attacker.uid and (aside / 'inbound').is_dir()
    assert (hub.exchange / taken / 'taken').is_dir()


def test_a_student_hands_in_as_themselves_only(term):
    status, said = term['exchange attacks']['submit as another']
    assert status != 0 and 'as yourself only' in said, said


def test_a_student_cannot_rename_or_delete_anothers_hand_in(term):
    tried = term['exchange attacks']
    assert tried['rename'] != 0 and tried['delete'] != 0, tried
    assert tried["victim's hand-in intact"]


def test_hand_ins_forged_in_the_exchange_are_refused_reported_and_never_collected(term):
    """Written straight into the inbound folder by the attacker: under the
    victim's name, in 2099, backdated. The teacher's collect names each, and
    collects each student's own hand-in (the victim's: the test of the
    resubmission)."""
    hub, log = term['hub'], term['collect log']
    for how, name in term['exchange attacks']['forged'].items():
        assert f'Refused, not collected: {name}:' in log, (how, log[-3000:])
    attacker = term['students'][ATTACKER]
    [own] = [path for path in hub.exchange.glob(f'{COURSE_ID}/inbound/{attacker.name}+{ASSIGNMENT}+*')
             if path.name not in term['exchange attacks']['forged'].values()]
    assert term['attacker collected'] == (own / 'timestamp.txt').read_text().strip()


def test_a_collect_stopped_half_way_does_not_block_the_next(term):
    """A partial copy of a hand-in left by a collect that stopped: the next collect takes the hand-in whole."""
    assert not term['partial left']
    assert term['attacker collected']


def test_a_student_cannot_listen_to_anothers_kernel(term):
    """As the attacker, another student's kernel while it prints: its TCP
    ports found in /proc/net/tcp, its connection file and sockets found in
    /proc, all subscribed to."""
    probe = term['probe of another\'s kernels']
    assert probe['kernels'], f'no kernel of the victim found: the probe tried nothing ({probe})'
    assert (probe['connection files read'], probe['heard']) == ([], []), probe


def test_the_teachers_grading_kernels_have_no_tcp_port(term):
    """A kernel of the teacher's autograde (hidden tests, every student's
    answers) on TCP ports could be listened to by any student: each kernel
    seen while grading speaks over Unix sockets. (ipykernel's one TCP port,
    the pipe its subprocesses print through, takes nothing without its
    kernel's secret and sends nothing: HUB.md.)"""
    kernels = term['kernels while grading']
    assert kernels and {kernel['transport'] for kernel in kernels} == {'ipc'}, kernels


def test_a_students_server_stays_within_its_limits(term):
    """The server's cgroups; processes, memory, a file's size and /tmp, tried from the student's own kernel."""
    assert term['own server\'s cgroups'] == {
        'memory.limit_in_bytes': 2**30, 'cpu.cfs_quota_us': 2 * 100_000, 'cpu.cfs_period_us': 100_000,
        'pids.max': int(LIMITS['COURSE_HUB_PROCESS_LIMIT'])}
    own = term['own kernel']
    assert 'processes refused' in own and own['processes started'] < int(LIMITS['COURSE_HUB_PROCESS_LIMIT']), own
    assert own['memory hog'] == -signal.SIGKILL, own
    assert own['big file'] != 0, own
    assert 'left-by-a-student' in own['tmp'] and term['the machine\'s /tmp'] not in own['tmp'], own
    assert not term['left in /tmp']


def test_stopping_a_server_ends_every_process_it_started(term):
    """A process the student started with setsid, stopped with their server by the hub's restart."""
    assert not term['setsid process alive after the restart']


def test_a_home_over_the_disk_limit_gets_no_server_until_it_shrinks(term):
    status, answer, has_server, log = term['start over the disk limit']
    assert not has_server and 'more than the class\'s limit' in log, (status, answer)


def test_the_hubs_copy_into_a_home_follows_no_students_symlink(term):
    """The attacker's symlinks in ~/course to root's program, to a file root
    would create and to root's folder; their server started again through
    the hub (the copy of the course ran): root's files are as they were."""
    assert term['root\'s files after'] == term['root\'s files before']
    assert term['root\'s files before'][2] is None


def test_the_hubs_copy_into_a_home_runs_no_code_of_the_students(term):
    """The attacker's own ~/classroom package (classroom/hub/home_copy.py
    too), which Python run from the home imported before the real one,
    outside the server's limits: their server started again through the hub
    (the copy ran), and none of it ran."""
    assert 'origins allowed with own settings' in term, 'the attacker\'s server did not start again'
    assert term['the hub ran the student\'s classroom package'] is None


def test_a_students_own_settings_do_not_configure_their_server(term):
    """~/.jupyter letting any web site call the server, and turning the
    formgrader on: JupyterHub's disable_user_config."""
    # Unset, a server answers a token's request from any page with that page's origin; '*' is the student's
    assert term['origins allowed with own settings'] != '*'
    assert term['formgrader with own settings'] == 404


def test_common_and_weak_passwords_are_refused_at_sign_up(term):
    answers = term['sign-up']
    refused = {key: accepted for key, accepted in answers.items() if key.startswith('sign-up with')}
    assert len(refused) == 3 and not any(refused.values()), refused


def test_guessing_a_password_does_not_lock_its_owner_out(term):
    """Six wrong passwords for the teacher's name, on the login page and the
    REST API: the right one is then refused from where they came (a limit
    holds), and accepted from the teacher's own browser."""
    answers = term['sign-up']
    status, location = answers['the right password from where the guesses came']
    assert status == 200 and location is None, answers
    status, location = answers['the teacher in the browser they signed in with']
    assert status == 302 and '/hub/login' not in location, answers


def test_the_hub_serves_https_with_the_certificate_it_was_given(term):
    hub = term['hub']
    served = ssl.get_server_certificate(('127.0.0.1', hub.port))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(hub.certificate.read_text())
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f'http://127.0.0.1:{hub.port}/hub/api/', timeout=30)


def test_the_idle_culler_runs_with_the_teachers_timeout(term):
    hub = term['hub']
    status, services = hub.api('services')
    assert status == 200, services
    culler = services['idle-culler']
    assert '--timeout=3600' in culler['command'] and psutil.pid_exists(culler['pid']), culler
    # Its first round, at its start: its role lets it read every user's servers
    log = sorted(hub.folder.glob('hub-*.log'))[-1].read_text()
    assert re.search(r'200 GET /hub/api/users\S* \(idle-culler@', log), log[-2000:]


def test_students_sign_up_and_log_in_once_the_teacher_approves_them(term):
    """On the hub's pages: the teacher (a name of COURSE_HUB_TEACHERS) is
    approved at once, a student only by the teacher."""
    answers = term['sign-up']
    assert answers['teacher signs up'] == answers['student signs up'] == 200, answers
    assert answers['student logs in before the approval'] == (200, True), answers
    status, location = answers['teacher logs in']
    assert status == 302 and '/hub/login' not in location, answers
    assert answers['teacher approves'] == 302, answers
    status, location = answers['student logs in once approved']
    assert status == 302 and '/hub/login' not in location, answers


def test_a_students_whole_path_in_a_browser(term):
    """Log in (after the hub's restart: the sign-up stayed), the Assignments
    tab, fetch, open, submit; the teacher grades; the student fetches the
    feedback and sees its link. Headless Chromium, during the term."""
    browser, hub = term['browser'], term['hub']
    browser.raise_any_failure()
    name = hub.students[BROWSER_STUDENT]
    assert sorted(hub.exchange.glob(f'{COURSE_ID}/inbound/{name}+{ASSIGNMENT}+*'))
    student = term['students'][BROWSER_STUDENT]
    assert sorted((student.home / ASSIGNMENT / 'feedback').glob(f'*/{ASSIGNMENT}.html'))
    # The course's quiet start: JupyterLab asked nothing about news
    assert not browser.seen['news']


def test_a_student_sees_no_formgrader_in_jupyterlab(term):
    browser = term['browser']
    if 'Nbgrader menu' not in browser.seen:
        browser.raise_any_failure()
    tabs = browser.seen['side bar tabs']
    assert any(title.startswith('File Browser') for title in tabs), tabs
    # The menu: no Formgrader, Course List or Create Assignment; the side bars: no Create Assignment
    assert (browser.seen['Nbgrader menu'], [title for title in tabs if 'Create Assignment' in title]) == \
        (['Assignment List'], [])


def test_the_hub_left_no_process_behind_when_stopped(term):
    hub = term['hub']
    hub.stop()
    psutil.wait_procs(hub.processes_left(), timeout=20)
    assert not hub.processes_left(), [process.info for process in hub.processes_left()]


def test_a_backup_restored_on_a_fresh_machine_brings_back_every_hand_in_and_grade(term):
    """The backup made at the end of the term (the hub running), restored
    after the class's accounts, homes and folder were removed, with other
    user ids: every file of the term with its owner, mode and content, the
    grades, and the hub's users with their sign-ups (passwords). (Not started
    again: a hub's start costs 5 to 10 s here, and reads the same database.)"""
    hub = term['hub']
    assert isinstance(term['backup'], Path), term['backup']
    hub.stop()
    for name in hub.accounts():
        subprocess.run(['userdel', '--remove', name], capture_output=True)
    subprocess.run(['groupdel', hub.group], capture_output=True)
    shutil.rmtree(hub.class_folder)
    # Another account takes the next user id: the restored files find their owners by name
    filler = f'{hub.tag}-filler'
    subprocess.run(['useradd', filler], check=True)
    try:
        began = time.monotonic()
        done = subprocess.run([str(HUB_ENVIRONMENT / 'bin' / 'python'), '-m', 'classroom.hub.backup', 'restore',
                               str(term['backup'])], env=hub.environment(), capture_output=True, text=True)
        restoring = time.monotonic() - began
        assert done.returncode == 0, done.stderr
        assert class_files(hub) == term['class files at the backup']
        for name in hub.accounts():
            assert hub.account(name).home.stat().st_mode & 0o777 == 0o700
        from nbgrader.api import Gradebook
        with Gradebook(f'sqlite:///{hub.account(hub.teacher).home / "teaching" / "gradebook.db"}') as gradebook:
            for row in term['grades'].values():
                assert gradebook.find_submission(ASSIGNMENT, row['student_id']).score == float(row['score'])
        with sqlite3.connect(hub.class_folder / 'hub-state' / 'jupyterhub.sqlite') as database:
            users = {name for name, in database.execute('SELECT name FROM users')}
            signed_up = {name for name, in database.execute('SELECT username FROM users_info')}
        assert set(hub.accounts()) <= users and {hub.teacher, hub.students[BROWSER_STUDENT]} <= signed_up
        LOGS.mkdir(parents=True, exist_ok=True)
        (LOGS / 'restore.json').write_text(json.dumps({'restore': round(restoring, 1)}))
    finally:
        subprocess.run(['userdel', '--remove', filler], capture_output=True)


def test_a_students_sparse_files_take_no_room_in_the_backup(term):
    """The attacker's files of SPARSE bytes that take no disk (in their home,
    in the exchange): the backup stores their holes as holes."""
    assert isinstance(term['backup'], Path), term['backup']
    assert term['backup'].stat().st_size < SPARSE


def a_hand_in(folder, written, files):
    """A hand-in folder of root's (uid 0) in `folder`, named as nbgrader names
    one handed in at `written` (a UTC datetime), holding `files` ({name: size});
    returns its path."""
    hand_in = folder / f'student+{ASSIGNMENT}+{utc_stamp(written)}+random'
    hand_in.mkdir()
    for name, size in files.items():
        with open(hand_in / name, 'wb') as file:
            file.truncate(size)
    return hand_in


def collected_by_do_copy(source, dest, max_file_size=100_000):
    """What VerifiedCollect.do_copy does with the hand-in `source`: the refusals it noted."""
    import logging
    from types import SimpleNamespace

    from classroom.hub.exchange import VerifiedCollect

    collect = SimpleNamespace(refused=[], log=logging.getLogger('collect'),
                              coursedir=SimpleNamespace(max_file_size=max_file_size))
    VerifiedCollect.do_copy(collect, str(source), str(dest))
    return collect.refused


def test_a_collect_refuses_a_sparse_file_over_nbgraders_size_limit(tmp_path):
    """A file that takes no disk (sparse), bigger than the class's
    max_file_size (1 MB here; 100 MB by default), handed in: refused (never
    read whole into memory), the other hand-ins collected."""
    now = datetime.datetime.now(datetime.timezone.utc)
    hand_in = a_hand_in(tmp_path, now, {'notebook.ipynb': 100, 'sparse': 2**30})
    [refused] = collected_by_do_copy(hand_in, tmp_path / 'collected', max_file_size=1000)
    assert 'more than the 1024000' in refused and not (tmp_path / 'collected').exists()
    fine = a_hand_in(tmp_path, now - datetime.timedelta(seconds=1), {'notebook.ipynb': 100})
    assert collected_by_do_copy(fine, tmp_path / 'collected') == []
    assert (tmp_path / 'collected' / 'notebook.ipynb').stat().st_size == 100


def test_a_collect_refuses_a_hand_in_rewritten_or_gone_and_goes_on(tmp_path):
    """A hand-in whose files were written after the time it says (between
    the check and the copy), and one its student removed meanwhile: each
    refused, neither stops the collect."""
    hand_in = a_hand_in(tmp_path, datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1),
                        {'notebook.ipynb': 100})
    [refused] = collected_by_do_copy(hand_in, tmp_path / 'collected')
    assert 'after its hand-in' in refused and not (tmp_path / 'collected').exists()
    shutil.rmtree(hand_in)
    [refused] = collected_by_do_copy(hand_in, tmp_path / 'collected')
    assert 'No such file' in refused


def test_a_backup_never_replaces_another(tmp_path, monkeypatch):
    """Two backups in the same second: the second fails, the first stays whole."""
    from classroom.hub import backup

    class_folder = tmp_path / 'class'
    (class_folder / 'hub-state').mkdir(parents=True)
    (class_folder / 'exchange').mkdir()
    sqlite3.connect(class_folder / 'hub-state' / 'jupyterhub.sqlite').close()
    (class_folder / 'hub-state' / 'jupyterhub_cookie_secret').write_text('secret')
    monkeypatch.setattr(backup, 'accounts_of', lambda group: [])
    monkeypatch.setattr(backup.time, 'strftime', lambda *arguments: '20270115T170000Z')
    first = backup.create(tmp_path / 'backups', class_folder, 'no-group')
    kept = first.read_bytes()
    (class_folder / 'hub-state' / 'jupyterhub_cookie_secret').write_text('changed')
    with pytest.raises(FileExistsError):
        backup.create(tmp_path / 'backups', class_folder, 'no-group')
    assert first.read_bytes() == kept and sorted(path.name for path in first.parent.iterdir()) == [first.name]


def test_a_second_start_copies_only_what_the_learner_lacks(tmp_path):
    from classroom.hub.home_copy import copy_missing

    course, home = tmp_path / 'course', tmp_path / 'home'
    (course / 'notebooks').mkdir(parents=True)
    (course / 'notebooks' / 'a.ipynb').write_text('released')
    (course / 'helpers.py').write_text('released')
    assert len(copy_missing(course, home)) == 2
    (home / 'notebooks' / 'a.ipynb').write_text('the learner\'s work')
    (home / 'helpers.py').unlink()
    (course / 'notebooks' / 'b.ipynb').write_text('added later')
    assert copy_missing(course, home) == [home / 'helpers.py', home / 'notebooks' / 'b.ipynb']
    assert (home / 'notebooks' / 'a.ipynb').read_text() == 'the learner\'s work'
    # Links in the home, even broken ones, are neither followed nor replaced
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (course / 'data').mkdir()
    (course / 'data' / 'c.csv').write_text('released')
    (course / 'd.py').write_text('released')
    (home / 'data').symlink_to(elsewhere)
    (home / 'd.py').symlink_to(elsewhere / 'created-through-a-link')
    assert copy_missing(course, home) == []
    assert list(elsewhere.iterdir()) == []


def test_accounts_made_at_once_are_all_made():
    """A class's servers start at once, each making its account in a thread
    of the hub's, the first ones the course's group too."""
    from classroom.hub.preparation import ensure_account

    group = PREFIX + secrets.token_hex(3)
    names = [f'{group}-{number}' for number in range(6)]
    try:
        with ThreadPoolExecutor(len(names)) as pool:
            made = list(pool.map(lambda name: ensure_account(name, group), names))
        assert [account.pw_name for account in made] == names
        assert set(names) <= set(grp.getgrnam(group).gr_mem)
    finally:
        for name in names:
            subprocess.run(['userdel', '--remove', name], capture_output=True)
        subprocess.run(['groupdel', group], capture_output=True)


def test_the_hub_refuses_a_clone_whose_solutions_other_users_can_read():
    from classroom.hub.preparation import refuse_readable_solutions

    # Not in pytest's tmp_path: the folder above it is root's alone
    clone = Path(tempfile.mkdtemp(prefix=f'{PREFIX}-clone-'))
    try:
        for notebook in EXERCISES:
            copy = clone / notebook.relative_to(COURSE_ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text('{}')
            copy.chmod(0o644)
        for folder in [clone, *clone.rglob('*')]:
            if folder.is_dir():
                folder.chmod(0o755)
        with pytest.raises(PermissionError, match='chmod -R go-rwx'):
            refuse_readable_solutions(clone)
        clone.chmod(0o700)
        refuse_readable_solutions(clone)
    finally:
        shutil.rmtree(clone)
