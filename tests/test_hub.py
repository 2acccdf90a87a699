"""The class's JupyterHub for real, as root: the course's jupyterhub_config.py
(DummyAuthenticator in place of the sign-up, nothing else changed) on free
ports, one teacher and three students, each a Unix account of its own made
by the hub. An assignment goes out through nbgrader's exchange; each student
fetches it and submits it through their own server (the calls JupyterLab's
Assignments tab makes): the model answers, the empty release version,
plausible wrong answers. The teacher releases, collects and releases
feedback with the formgrader's buttons (its API, in the teacher's server,
through the hub), autogrades and hand grades; the student fetches the
feedback. Isolation is tried: a student's token against another's server,
and a student's Unix account against another's submission, the teacher's
source and the gradebook. The hub is restarted in the middle and loses
nothing. The class's own sign-up is tried on a hub of its own.

Every account, folder and process the test made is removed at the end, even
after a failure. Needs root and the servers' environment (`make hub-env`)."""
import csv
import http.cookiejar
import json
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from class_hub import COURSE_ID, HUB_ENVIRONMENT, LOGS, ClassHub, hand_in, nbgrader_as, request
from course import COURSE_ROOT, EXERCISES, is_check, nbgrader_of, points, read, wait_for
from hub import TEACHERS_LAB_PLUGINS
from submissions import submission
from test_grading_loop import hidden_test_lines, text_of

# The assignment the class hands in: notebook 03's exercises, the quickest of
# the four to autograde (4.0 s against 6.8 s for the chapter's, one run each)
NOTEBOOK = next(path for path in EXERCISES if path.stem.startswith('03_'))
ASSIGNMENT = NOTEBOOK.stem
# Test accounts and groups all start with this, and a random part of their own
PREFIX = 'hubtest'
# Each student's short name, and how they answer (tests/test_grading_loop.py)
STUDENTS = {'model': 'model_answers', 'empty': 'empty_answers', 'wrong': 'wrong_answers'}
# Who takes the whole path in a browser (tests marked hub_browser); a server only then
BROWSER_STUDENT = 'lab'

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the hub makes Unix accounts: run as root (CI does)')


@pytest.fixture(scope='module')
def term():
    """A term on the hub up to the students' feedback; yields what the tests
    look at. Everything made is removed afterwards, even after a failure."""
    if not (HUB_ENVIRONMENT / 'bin' / 'jupyterhub').is_file():
        pytest.fail(f'no JupyterHub in {HUB_ENVIRONMENT}: run `make hub-env` (as root) first', pytrace=False)
    hub = ClassHub(PREFIX, [*STUDENTS, BROWSER_STUDENT])
    facts = {'hub': hub, 'timings': {}}
    try:
        yield from run_the_term(hub, facts)
    finally:
        hub.remove_everything()


def run_the_term(hub, facts):
    timings = facts['timings']
    timings['hub start'] = hub.start()
    status, _ = hub.api('users', 'POST', {'usernames': hub.accounts()})
    assert status == 201, hub.log_tail()

    # Every server at once, as a class starts; the teacher's first start
    # builds their nbgrader course (~/teaching)
    class_servers = [hub.teacher, *[hub.students[name] for name in STUDENTS]]
    timings['4 servers ready'] = max(hub.spawn_at_once(class_servers).values())
    teacher = hub.account(hub.teacher)
    students = {student: hub.account(hub.students[student]) for student in STUDENTS}
    tokens = {student: hub.user_token(hub.students[student]) for student in STUDENTS}
    teacher_token = hub.user_token(hub.teacher)
    facts.update(teacher=teacher, students=students, tokens=tokens, teacher_token=teacher_token)

    def formgrader(action):
        """One of the formgrader's buttons, through the hub, in the teacher's server."""
        status, answer = request(f'{hub.url}/user/{hub.teacher}/formgrader/api/assignment/{ASSIGNMENT}/{action}',
                                 teacher_token, 'POST')
        assert status == 200 and answer['success'], (action, answer)

    formgrader('release')

    # Each student through their own server, all at once: the Assignments tab's calls
    began = time.monotonic()
    with ThreadPoolExecutor(len(students)) as pool:
        answers = [lambda released, answers=answers: submission(released, NOTEBOOK, answers)
                   for answers in STUDENTS.values()]
        list(pool.map(hand_in, [hub] * len(students), students.values(), tokens.values(), [NOTEBOOK] * 3, answers))
    timings['3 students fetch, save, submit'] = time.monotonic() - began
    # The hub restarts in the middle of the term: nothing is lost
    hub.stop()
    timings['hub restart'] = hub.start()
    status, users = hub.api('users')
    facts['users after restart'] = {user['name'] for user in users}

    # Back to work: the teacher's server, and a student's who will read their feedback
    student = students['model']
    began = time.monotonic()
    hub.spawn_at_once([hub.teacher, student.name])
    timings['2 servers ready'] = time.monotonic() - began

    began = time.monotonic()
    formgrader('collect')
    nbgrader_as(teacher, 'autograde', ASSIGNMENT)
    timings['autograde 3 submissions'] = time.monotonic() - began
    began = time.monotonic()
    nbgrader_as(teacher, 'generate_feedback', ASSIGNMENT)
    formgrader('release_feedback')
    timings['feedback'] = time.monotonic() - began
    # The teacher grades the model student's written answers by hand, full marks
    written = [(nbgrader_of(cell)['grade_id'], nbgrader_of(cell)['points']) for cell in read(NOTEBOOK).cells
               if nbgrader_of(cell).get('grade') and not is_check(cell)]
    assert written
    done = teacher.run(str(HUB_ENVIRONMENT / 'bin' / 'python'), '-c', (
        'from nbgrader.api import Gradebook\n'
        f'with Gradebook("sqlite:///{teacher.home}/teaching/gradebook.db") as gradebook:\n'
        f'    for grade_id, score in {written!r}:\n'
        f'        gradebook.find_grade(grade_id, {ASSIGNMENT!r}, {ASSIGNMENT!r}, {hub.students["model"]!r})'
        '.manual_score = score\n'
        '    gradebook.db.commit()\n'))
    assert done.returncode == 0, done.stderr
    grades = teacher.home / 'teaching' / 'grades.csv'
    nbgrader_as(teacher, 'export', f'--to={grades}')
    with open(grades, newline='') as file:
        facts['grades'] = {row['student_id']: row for row in csv.DictReader(file) if row['assignment'] == ASSIGNMENT}

    # The student fetches their feedback
    server = f'{hub.url}/user/{student.name}'
    status, listed = request(f'{server}/assignments/fetch_feedback', tokens['model'], 'POST',
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
        # Wherever the course's layout puts the learners' version of the exercises
        [learners] = course.rglob(NOTEBOOK.name)
        assert learners.stat().st_uid == account.uid
        text = learners.read_text()
        assert 'BEGIN SOLUTION' not in text and 'BEGIN HIDDEN TESTS' not in text
        assert (course / 'helpers.py').is_file()
    assert (term['teacher'].home / 'teaching' / 'source' / ASSIGNMENT / NOTEBOOK.name).is_file()
    assert set(hub.accounts()) <= term['users after restart']


def test_scores_of_the_model_empty_and_wrong_answers(term):
    grades = term['grades']
    # The model answers: every check passed, and the written answers graded by hand
    expected = {'model': points(NOTEBOOK, autograded_only=False), 'empty': 0, 'wrong': 0}
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


def test_students_sign_up_and_log_in_once_the_teacher_approves_them():
    """The class's own authenticator (NativeAuthenticator), through the hub's
    pages: sign-up, a refused login before approval, the teacher's approval."""
    hub = ClassHub(PREFIX, ['signup'], sign_up=True)
    student, password = hub.students['signup'], 'a long enough password'

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *arguments):
            return None  # a login answers with a redirect: looked at, not followed (it would start a server)

    def session():
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect)

    def post(opener, page, fields):
        form = opener.open(f'{hub.url}/hub/{page}', timeout=60).read().decode()
        fields['_xsrf'] = re.search(r'name="_xsrf" value="([^"]+)"', form).group(1)
        try:
            with opener.open(f'{hub.url}/hub/{page}', urllib.parse.urlencode(fields).encode(), timeout=60) as answer:
                return answer.status, answer.read().decode(), answer.headers.get('Location')
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read().decode(), answer.headers.get('Location')

    def log_in(opener, name):
        return post(opener, 'login', {'username': name, 'password': password})

    try:
        hub.start()
        teacher_session, student_session = session(), session()
        for opener, name in ((teacher_session, hub.teacher), (student_session, student)):
            status, _, _ = post(opener, 'signup', {'username': name, 'signup_password': password,
                                                   'signup_password_confirmation': password,
                                                   'email': f'{name}@example.org'})
            assert status == 200
        status, page, _ = log_in(student_session, student)
        assert status == 200 and 'has not been authorized' in page
        status, _, location = log_in(teacher_session, hub.teacher)
        assert status == 302 and '/hub/login' not in location, (status, location)
        with pytest.raises(urllib.error.HTTPError) as approved:  # a redirect back to the list of sign-ups
            teacher_session.open(f'{hub.url}/hub/authorize/{student}', timeout=60)
        assert approved.value.code == 302
        status, _, location = log_in(student_session, student)
        assert status == 302 and '/hub/login' not in location, (status, location)
    finally:
        hub.remove_everything()


@pytest.mark.hub_browser
def test_a_students_whole_path_in_a_browser(term, tmp_path):
    """Log in, the Assignments tab, fetch, open, submit; the teacher grades;
    the student fetches the feedback and sees its link. Headless Chromium."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    from browser import screenshot, start_chromium
    from test_lab_in_browser import run_command

    hub, teacher = term['hub'], term['teacher']
    name = hub.students[BROWSER_STUDENT]
    driver = start_chromium(tmp_path / 'profile')

    def shown(selector, matches):
        """The elements under `selector` whose text `matches`; none while the
        list is drawn again (it is, after each action)."""
        try:
            return [element for element in driver.find_elements(By.CSS_SELECTOR, selector)
                    if matches(element.text) and element.is_enabled()]
        except StaleElementReferenceException:
            return []

    def links(text):
        return shown('#nbgrader-assignment-list a', lambda shown_text: text in shown_text)

    def button(text):
        found = shown('#nbgrader-assignment-list button', lambda shown_text: shown_text == text)
        return found[0] if found else None

    try:
        driver.get(f'{hub.url}/hub/login')
        driver.find_element(By.ID, 'username_input').send_keys(name)
        driver.find_element(By.ID, 'password_input').send_keys(hub.password)
        driver.find_element(By.ID, 'login_submit').click()
        # The hub starts the server (the account made on the way) and JupyterLab opens the course
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-itemLabel'), 180, 'JupyterLab')
        wait_for(lambda: any(item.text == 'Nbgrader' for item in
                             driver.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-itemLabel')), 60, 'the Nbgrader menu')
        run_command(driver, 'Nbgrader', 'nbgrader:open-assignment-list')
        wait_for(lambda: button('Fetch'), 60, 'the released assignment').click()
        wait_for(lambda: links(NOTEBOOK.stem), 60, 'the fetched assignment')
        driver.get(f'{hub.url}/user/{name}/lab/tree/{ASSIGNMENT}/{NOTEBOOK.name}')
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-Cell'), 60, 'the notebook')
        screenshot(driver, 'hub-student-notebook')
        run_command(driver, 'Nbgrader', 'nbgrader:open-assignment-list')
        wait_for(lambda: button('Submit'), 60, 'the Submit button').click()
        wait_for(lambda: button('Fetch Feedback'), 60, 'the submission')
        student = hub.account(name)
        assert sorted(hub.exchange.glob(f'{COURSE_ID}/inbound/{name}+{ASSIGNMENT}+*'))

        nbgrader_as(teacher, 'collect', '--update', ASSIGNMENT)
        for step in ('autograde', 'generate_feedback', 'release_feedback'):
            nbgrader_as(teacher, step, ASSIGNMENT, f'--student={name}')
        wait_for(lambda: button('Fetch Feedback'), 60, 'the Fetch Feedback button').click()
        wait_for(lambda: links('view feedback'), 60, 'the feedback\'s link')
        screenshot(driver, 'hub-student-feedback')
        # The course's quiet start: JupyterLab asked nothing about news
        assert not [toast for toast in driver.find_elements(By.CSS_SELECTOR, '.Toastify__toast')
                    if 'news' in toast.text]
        assert sorted((student.home / ASSIGNMENT / 'feedback').glob(f'*/{ASSIGNMENT}.html'))
    finally:
        driver.quit()


def test_the_hub_left_no_process_behind_when_stopped(term):
    hub = term['hub']
    hub.stop()
    psutil.wait_procs(hub.processes_left(), timeout=20)
    assert not hub.processes_left(), [process.info for process in hub.processes_left()]


def test_a_second_start_copies_only_what_the_learner_lacks(tmp_path):
    import pwd

    from hub import copy_missing

    account = pwd.getpwuid(os.getuid())
    course, home = tmp_path / 'course', tmp_path / 'home'
    (course / 'notebooks').mkdir(parents=True)
    (course / 'notebooks' / 'a.ipynb').write_text('released')
    (course / 'helpers.py').write_text('released')
    assert len(copy_missing(course, home, account)) == 2
    (home / 'notebooks' / 'a.ipynb').write_text('the learner\'s work')
    (home / 'helpers.py').unlink()
    (course / 'notebooks' / 'b.ipynb').write_text('added later')
    assert copy_missing(course, home, account) == [home / 'helpers.py', home / 'notebooks' / 'b.ipynb']
    assert (home / 'notebooks' / 'a.ipynb').read_text() == 'the learner\'s work'


def test_the_hub_refuses_a_clone_whose_solutions_other_users_can_read():
    from hub import refuse_readable_solutions

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
