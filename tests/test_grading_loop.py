"""The grading loop end to end, as a teacher runs it in a term: `make
release`'s, `make roster`'s, `make due`'s and `make grade`'s own functions
(classroom/grading/commands.py) on a course folder of their own. Three simulated students
hand in every assignment: the model answers (one notebook with a check
deleted and another stripped of its metadata, one through nbgrader's
exchange), the empty release version, and plausible wrong answers
(tests/wrong_answers/), one of them with a locked check edited; a fourth
hands in one assignment only, late, with right answers of which one warns,
under the name a browser gives a second download; a fifth, on the class
list, hands in nothing; a sixth, not on the list, hands in a file that is no
notebook and a notebook that kills its kernel. The class list carries the
platforms' ids, some students without the ones a platform needs. A second
grading run (the fixture `regraded`) takes hand grades, a re-release with a
check's message reworded, resubmissions and moved due dates. The expected
scores come from the notebooks' points."""
import contextlib
import csv
import datetime
import html
import io
import re
import socket
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlparse

import nbformat
import pytest

from classroom.course import COURSE_ROOT, EXERCISES, is_check, nbgrader_of, points, read, wait_for
from tests.submissions import (
    ATTACK_THREADS, LEAKED_FILE, WARNING_ANSWERS, attack_report, submission, with_attack, wrong_answers,
)

STUDENTS = ('model_answers', 'empty_answers', 'wrong_answers')
# Hands in one assignment only, a day and two hours late, with right answers
# of which one warns when its check runs, under the name a browser gives a
# second download of the same file
LATE_STUDENT = 'warned_answers'
LATE_NOTEBOOK = next(path for path in EXERCISES if path.stem in WARNING_ANSWERS)
RENAMED = f'{LATE_NOTEBOOK.stem} (1).ipynb'
HOURS_LATE = 26
# On the roster, hands in nothing
ABSENT = 'absent'
# The one locked cell a student edits: wrong_answers's, a check of LATE_NOTEBOOK
EDITED_CHECK = 'updates_checks'
# wrong_answers's submission of this notebook also attacks its grading
# (tests/submissions.py, with_attack)
ATTACKED_NOTEBOOK = next(path for path in EXERCISES if path not in (EXERCISES[0], LATE_NOTEBOOK))
# model_answers deletes this notebook's first check, and strips the second of
# its nbgrader metadata
TAMPERED_NOTEBOOK = next(path for path in EXERCISES if path != LATE_NOTEBOOK)
# model_answers hands this one in through nbgrader's exchange, which writes a
# submission_secret.txt beside it
THROUGH_THE_EXCHANGE = EXERCISES[0]
# Not on the class list: hands in one notebook as a file that is no notebook,
# and another whose first answer kills the kernel
UNLISTED = 'unlisted'
UNREADABLE_NOTEBOOK, CRASHING_NOTEBOOK = EXERCISES[0], EXERCISES[-1]
# The learning platforms' ids on the class list: Canvas matches by ID or an
# SIS id, Moodle by e-mail. wrong_answers has an SIS id only, warned_answers
# no e-mail, absent nothing a platform matches on
PLATFORM_IDS = {
    'model_answers': {'lms_user_id': '1001', 'sis_user_id': 'S-1001', 'sis_login_id': 'model@school.example',
                      'section': 'Monday'},
    'empty_answers': {'lms_user_id': '1002', 'section': 'Monday'},
    'wrong_answers': {'sis_user_id': 'S-1003', 'section': 'Tuesday'},
    'warned_answers': {'sis_login_id': 'warned@school.example', 'section': 'Tuesday'},
    'absent': {},
}


def roster_rows():
    """The class list: every student, with names, an e-mail address (but
    warned_answers) and the platforms' ids of PLATFORM_IDS."""
    from classroom.grading.roster import COLUMNS

    return [{**dict.fromkeys(COLUMNS, ''), 'id': student_id(student), 'first_name': student.split('_')[0].title(),
             'last_name': f'Lastname {index}',
             'email': '' if student == LATE_STUDENT else f'student{index}@school.example', **PLATFORM_IDS[student]}
            for index, student in enumerate([*STUDENTS, LATE_STUDENT, ABSENT])]


def student_id(student):
    """A simulated student's id: their roster id, a user name (no underscore)."""
    return student.replace('_', '-')


def hand_in(course, notebook, student, answers=None, name=None):
    """Writes `student`'s submission of `notebook` into the course folder,
    answered as `answers` (default: as the student's name says), under the
    file name `name` (default: the released one)."""
    handed_in = course / 'submitted' / student_id(student) / notebook.stem / (name or notebook.name)
    handed_in.parent.mkdir(parents=True)
    released = read(course / 'release' / notebook.stem / notebook.name)
    answered = submission(released, notebook, answers or student)
    checks = [cell for cell in answered.cells if is_check(cell)]
    if (student, notebook) == ('wrong_answers', LATE_NOTEBOOK):
        edited = next(cell for cell in checks if nbgrader_of(cell).get('grade_id') == EDITED_CHECK)
        edited.source = "print('the checks passed')  # a learner's edit of a locked check"
    if (student, notebook) == ('model_answers', TAMPERED_NOTEBOOK):
        answered.cells.remove(checks[0])
        del checks[1].metadata['nbgrader']
    nbformat.write(answered, handed_in)
    if (student, notebook) == ('model_answers', THROUGH_THE_EXCHANGE):
        (handed_in.parent / 'submission_secret.txt').write_text('a secret only nbgrader\'s submit knows')
    return handed_in


def hand_in_unlisted(course):
    """The unlisted student's two hand-ins that cannot be graded."""
    unreadable = course / 'submitted' / UNLISTED / UNREADABLE_NOTEBOOK.stem / UNREADABLE_NOTEBOOK.name
    unreadable.parent.mkdir(parents=True)
    unreadable.write_text('{"cells": [ a notebook cut short by a full disk')
    crashing = course / 'submitted' / UNLISTED / CRASHING_NOTEBOOK.stem / CRASHING_NOTEBOOK.name
    crashing.parent.mkdir(parents=True)
    answered = submission(read(course / 'release' / CRASHING_NOTEBOOK.stem / CRASHING_NOTEBOOK.name),
                          CRASHING_NOTEBOOK, 'model_answers')
    next(cell for cell in answered.cells if nbgrader_of(cell).get('solution')).source = 'import os\nos._exit(1)'
    nbformat.write(answered, crashing)


def written_answer(notebook):
    """The grade_id of a notebook's written answer, graded by hand."""
    return next(nbgrader_of(cell)['grade_id'] for cell in read(notebook).cells
                if nbgrader_of(cell).get('grade') and nbgrader_of(cell).get('solution'))


@pytest.fixture(scope='module')
def graded(tmp_path_factory):
    """A course folder released, given a roster and a due date, handed in by
    the students, and graded, with the grading tool's own functions; with
    what grading printed."""
    from classroom.grading.commands import assignment_name, grade, release, set_due_date
    from classroom.grading.roster import COLUMNS, import_roster

    course = tmp_path_factory.mktemp('course')
    assert release(course) == [assignment_name(notebook) for notebook in EXERCISES]
    roster = course.parent / 'class.csv'
    with open(roster, 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(roster_rows())
    import_roster(roster, course)
    for notebook in EXERCISES:
        for student in STUDENTS:
            hand_in(course, notebook, student)
    # Due in an hour: the others handed in just now, on time
    due = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) + datetime.timedelta(hours=1)
    assert set_due_date(course, LATE_NOTEBOOK.stem, due.strftime('%Y-%m-%d %H:%M UTC')) == due.replace(tzinfo=None)
    late = hand_in(course, LATE_NOTEBOOK, LATE_STUDENT, name=RENAMED)
    handed_in_at = due + datetime.timedelta(hours=HOURS_LATE)
    (late.parent / 'timestamp.txt').write_text(handed_in_at.strftime('%Y-%m-%d %H:%M:%S.%f UTC'))
    hand_in_unlisted(course)
    printed, log = io.StringIO(), io.StringIO()
    # Something listening on this machine, for the attack to reach
    with socket.create_server(('127.0.0.1', 0)) as listening:
        attack(course, listening.getsockname()[1])
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(log):
            grades = grade(course)
    assert grades == course / 'grades.csv'
    return SimpleNamespace(course=course, printed=printed.getvalue(), log=log.getvalue(), due=due)


def attack(course, port):
    """Puts the attack on its grading into wrong_answers's submission of
    ATTACKED_NOTEBOOK: it tries to read what a payload would want (paths it
    may know: the course folder's, the clone's, the notebook beside it)."""
    name = ATTACKED_NOTEBOOK.stem
    other = next(notebook.stem for notebook in EXERCISES if notebook != ATTACKED_NOTEBOOK)
    targets = {
        'the source, hidden tests included': course / 'source' / name / f'{name}.ipynb',
        "another assignment's source": course / 'source' / other / f'{other}.ipynb',
        'the gradebook': course / 'gradebook.db',
        "another student's submission": course / 'submitted' / student_id('model_answers') / name / f'{name}.ipynb',
        "the clone's teacher's version": ATTACKED_NOTEBOOK,
        'the notebook under grading, beside it': f'{name}.ipynb',
    }
    handed_in = course / 'submitted' / student_id('wrong_answers') / name / f'{name}.ipynb'
    nbformat.write(with_attack(read(handed_in), targets, port), handed_in)


@pytest.fixture(scope='module')
def graded_course(graded):
    return graded.course


def grade_table(course):
    """grades_by_assignment.csv as {(assignment, student): its row}."""
    with open(course / 'grades_by_assignment.csv', newline='') as file:
        return {(row['assignment'], row['student_id']): row for row in csv.DictReader(file)}


def class_table(course):
    """grades.csv, a row per student, as {student id: its row}."""
    with open(course / 'grades.csv', newline='') as file:
        return {row['student_id']: row for row in csv.DictReader(file)}


by_name = pytest.mark.parametrize('notebook', EXERCISES, ids=lambda path: path.name)


@by_name
def test_every_exercise_has_a_wrong_answer_that_runs_and_its_own(notebook):
    # Each autograder cell follows at least one answer that has a wrong
    # version: a check failing only because an earlier exercise's wrong
    # answer broke it would not count
    answers = wrong_answers(notebook)
    solution_ids = {nbgrader_of(cell)['grade_id'] for cell in read(notebook).cells if nbgrader_of(cell).get('solution')}
    for which in ('WRONG_ANSWERS', 'MORE_WRONG_ANSWERS'):
        unknown = set(wrong_answers(notebook, which)) - solution_ids
        assert not unknown, f'{which} of {notebook.name} names no solution cell: {sorted(unknown)}'
    answered_since_last_check = False
    for cell in read(notebook).cells:
        if nbgrader_of(cell).get('grade_id') in answers:
            answered_since_last_check = True
        if is_check(cell):
            assert answered_since_last_check, f'{nbgrader_of(cell)["grade_id"]}: no wrong answer before it'
            answered_since_last_check = False


@by_name
def test_the_grade_table_gives_each_student_the_expected_score(notebook, graded_course):
    table = grade_table(graded_course)
    # The class list, and the unlisted student nbgrader added when autograding failed
    assert len(table) == len(EXERCISES) * (len(roster_rows()) + 1)
    expected = {
        # Everything but the answers graded by hand, which wait for the teacher
        'model_answers': points(notebook, autograded_only=True),
        'empty_answers': 0,
        'wrong_answers': 0,
    }
    assert 0 < expected['model_answers'] < points(notebook, autograded_only=False)
    for student, score in expected.items():
        row = table[(notebook.stem, student_id(student))]
        assert float(row['score']) == score, f'{student}: {row["score"]} of {row["max_score"]}, expected {score}'
        assert float(row['max_score']) == points(notebook, autograded_only=False)
        # Handed in without a single answer is told apart from a wrong answer
        assert row['status'] == ('blank' if student == 'empty_answers' else 'on time'), student


@by_name
def test_each_wrong_answer_loses_its_exercise_points_and_each_model_answer_earns_them(notebook, graded_course):
    from nbgrader.api import Gradebook

    checks = [nbgrader_of(cell) for cell in read(notebook).cells if is_check(cell)]
    with Gradebook(f'sqlite:///{graded_course / "gradebook.db"}') as gradebook:
        def score(check, student):
            return gradebook.find_grade(check['grade_id'], notebook.stem, notebook.stem, student_id(student)).score

        for check in checks:
            assert score(check, 'model_answers') == check['points'], check['grade_id']
            assert score(check, 'wrong_answers') == 0, f'{check["grade_id"]} passes a wrong answer'
            assert score(check, 'empty_answers') == 0, f'{check["grade_id"]} passes an empty answer'

    # The wrong answers are code that runs: only the checks fail on them
    autograded = read(graded_course / 'autograded' / student_id('wrong_answers') / notebook.stem / notebook.name)
    for cell in autograded.cells:
        if nbgrader_of(cell).get('grade_id') in wrong_answers(notebook):
            errors = [output for output in cell.outputs if output.output_type == 'error']
            assert not errors, f'the wrong answer {nbgrader_of(cell)["grade_id"]} does not even run: {errors}'


def text_of(html_file):
    """What a browser shows of an HTML file, roughly: no tags, no entities."""
    return html.unescape(re.sub(r'<[^>]+>', '', html_file.read_text()))


def hidden_test_lines(notebook, handed_in):
    """The lines of the notebook's hidden tests that the feedback must not
    show, as the feedback computes them (feedback.py): those that appear
    nowhere else in the notebook, nor in the student's own hand-in
    `handed_in` (a line they wrote or were shown is no secret to them)."""
    from classroom.grading.feedback import hidden_test_lines as secret_lines

    own = {line.strip() for cell in read(handed_in).cells for line in cell.source.splitlines()}
    return secret_lines(read(notebook), 'BEGIN HIDDEN TESTS', 'END HIDDEN TESTS') - own


@by_name
def test_every_student_gets_feedback_without_the_hidden_tests(notebook, graded_course):
    for student in STUDENTS:
        handed_in = graded_course / 'submitted' / student_id(student) / notebook.stem / notebook.name
        hidden = hidden_test_lines(notebook, handed_in)
        assert hidden
        feedback = graded_course / 'feedback' / student_id(student) / notebook.stem / f'{notebook.stem}.html'
        assert feedback.is_file(), f'no feedback for {student}'
        shown = text_of(feedback)
        shown_lines = {line.strip() for line in shown.splitlines()}
        # The visible checks are there (so the search below would find a hidden one)...
        assert 'the checks passed' in shown
        assert 'HIDDEN TESTS' not in shown
        # ...and no hidden one, not even in a traceback
        assert not hidden & shown_lines, f'hidden tests in {student}\'s feedback: {sorted(hidden & shown_lines)}'


class LoadedURLs(HTMLParser):
    """The URLs a page loads as it opens (scripts, stylesheets, images,
    frames, the fonts and images of its styles), not the links a reader may
    follow; a script's own text is not read."""

    SOURCE = {'script': 'src', 'link': 'href', 'img': 'src', 'iframe': 'src', 'frame': 'src', 'source': 'src',
              'embed': 'src', 'video': 'src', 'audio': 'src', 'track': 'src', 'object': 'data'}
    IN_STYLES = re.compile(r'url\(\s*[\'"]?([^\'")\s]+)|@import\s+[\'"]([^\'"]+)')

    def __init__(self):
        super().__init__()
        self.urls, self.in_style = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get(self.SOURCE.get(tag)):
            self.urls.append(attrs[self.SOURCE[tag]])
        self.in_style = tag == 'style'
        self.styles(attrs.get('style') or '')

    def handle_data(self, data):
        if self.in_style:
            self.styles(data)

    def styles(self, css):
        self.urls += [url or imported for url, imported in self.IN_STYLES.findall(css)]


def test_every_feedback_page_opens_offline_with_its_math(graded_course):
    """A feedback page loads nothing from another host (nbgrader's template
    would load MathJax from a CDN): a learner reads it without a network, and
    the notebooks' math still shows, since MathJax is written into the pages
    of the notebooks that have some."""
    from classroom.grading.feedback import MATHJAX_SETTINGS, has_math

    pages = sorted(graded_course.glob('feedback/*/*/*.html'))
    # Every student's every notebook, and the late student's one
    assert len(pages) == len(EXERCISES) * len(STUDENTS) + 1
    with_math = {notebook.stem for notebook in EXERCISES if has_math(read(notebook))}
    # Else the test would not see MathJax written in
    assert with_math
    for page in pages:
        parser = LoadedURLs()
        parser.feed(page.read_text())
        remote = [url for url in parser.urls if urlparse(url).netloc]
        assert not remote, f'{page.relative_to(graded_course)} loads {remote}'
        assert (MATHJAX_SETTINGS in page.read_text()) == (page.parent.name in with_math), page


def test_a_feedback_page_shows_its_math_in_a_browser_with_nothing_from_another_host(graded_course, tmp_path):
    """In the operating system's Chromium, MathJax typesets the math of a
    feedback page (as SVG), leaving no TeX as text, and no request leaves the
    machine."""
    from tests.browser import leaving_the_machine, requests_made, start_chromium
    from classroom.grading.feedback import has_math

    notebook = next(notebook for notebook in EXERCISES if has_math(read(notebook)))
    page = graded_course / 'feedback' / student_id('model_answers') / notebook.stem / f'{notebook.stem}.html'
    driver = start_chromium(tmp_path / 'chromium-profile')
    try:
        driver.get(page.as_uri())
        formulas = 'return document.querySelectorAll("mjx-container svg").length'
        typeset = wait_for(lambda: driver.execute_script(formulas), 30, 'MathJax to typeset the page')
        text = driver.execute_script(
            'return Array.from(document.querySelectorAll(".text_cell_render"), cell => cell.innerText).join("\\n")')
        requested = requests_made(driver)
    finally:
        driver.quit()
    assert typeset and not re.findall(r'\$[^$\n]+\$', text)
    assert not leaving_the_machine(requested), leaving_the_machine(requested)


def test_nbgrader_run_inside_the_course_folder_gets_the_course_settings(graded_course, tmp_path):
    # nbgrader reads nbgrader_config.py from the folder it runs in
    import shutil

    from traitlets.config.loader import PyFileConfigLoader

    def settings(folder):
        return PyFileConfigLoader('nbgrader_config.py', path=str(folder)).load_config()

    config = settings(graded_course)
    assert config.CourseDirectory.root == str(graded_course.resolve())
    # nbgrader's exchange commands need a course id: the hub's
    hub_settings = (COURSE_ROOT / 'classroom' / 'hub' / 'jupyterhub_config.py').read_text()
    assert config.CourseDirectory.course_id and f"COURSE_ID = '{config.CourseDirectory.course_id}'" in hub_settings
    assert config.Execute.timeout == 120
    assert 'HideHiddenTests' in [preprocessor.__name__ for preprocessor in config.GenerateFeedback.preprocessors]
    # Its paths are relative: a copy of the course folder beside it (as deep) is a course of its own...
    text = (graded_course / 'nbgrader_config.py').read_text()
    assert not re.findall(r'''['"]/''', text)
    assert len(tmp_path.parts) == len(graded_course.parts)
    shutil.copy(graded_course / 'nbgrader_config.py', tmp_path / 'nbgrader_config.py')
    assert settings(tmp_path).CourseDirectory.root == str(tmp_path.resolve())
    # ...and where the course's settings are not, it says so rather than grading without them
    (tmp_path / 'deeper').mkdir()
    shutil.copy(graded_course / 'nbgrader_config.py', tmp_path / 'deeper' / 'nbgrader_config.py')
    with pytest.raises(SystemExit, match="the course's nbgrader settings, is missing: run make release"):
        settings(tmp_path / 'deeper')


def test_the_hubs_servers_get_the_course_grading_rules_from_the_settings_the_hub_copies(tmp_path):
    """classroom/hub/preparation.py copies the servers' nbgrader settings, one file,
    into the servers' environment: read there, with nothing beside them, they
    set the same grading rules as the course's, from the installed package."""
    from traitlets.config.loader import PyFileConfigLoader

    from classroom.hub.preparation import copy_nbgrader_settings

    servers = tmp_path / 'etc' / 'jupyter'
    copy_nbgrader_settings(servers)
    assert [path.name for path in servers.iterdir()] == ['nbgrader_config.py']

    def rules(folder):
        c = PyFileConfigLoader('nbgrader_config.py', path=str(folder)).load_config()
        return (c.Execute.timeout, c.Execute.extra_arguments,
                [rule.__name__ for rule in c.Autograde.sanitize_preprocessors],
                c.AssignLatePenalties.plugin_class.__name__, c.ExportApp.plugin_class.__name__,
                [rule.__name__ for rule in c.GenerateFeedback.preprocessors],
                c.GenerateFeedback.exporter_class.__name__,
                [step.__name__ for step in c.Autograde.autograde_preprocessors])

    servers_rules = rules(servers)
    assert servers_rules == rules(COURSE_ROOT)
    # Both autograde in the sandbox (classroom/grading/sandbox.py)
    assert 'SandboxedExecute' in servers_rules[-1] and 'Execute' not in servers_rules[-1]
    assert 'HideHiddenTests' in servers_rules[-3] and servers_rules[-2] == 'OfflineFeedbackExporter'



def test_the_kubernetes_image_installs_the_package_and_the_settings_the_hub_copies():
    # classroom/hub/Dockerfile cannot import classroom/hub/preparation.py: it names the same file,
    # and installs the course's package by its name, from the wheels alone. .dockerignore lets
    # through exactly what the COPY lines take, so never source/ (benchmarks/hub_image.py builds
    # the image and runs a server from it, as root)
    import tomllib

    from classroom.hub.preparation import NBGRADER_SETTINGS

    dockerfile = (COURSE_ROOT / 'classroom' / 'hub' / 'Dockerfile').read_text().replace('\\\n', ' ')
    settings = str(NBGRADER_SETTINGS.relative_to(COURSE_ROOT))
    assert f'COPY {settings} /usr/local/etc/jupyter/' in dockerfile
    package = tomllib.loads((COURSE_ROOT / 'pyproject.toml').read_text())['project']['name']
    assert re.search(rf'pip install [^\n]*--no-index [^\n]* {package}$', dockerfile, re.M)
    copied = {source.rstrip('/') for line in re.findall(r'^COPY (?!--from)(.+) \S+$', dockerfile, re.M)
              for source in line.split()}
    rules = [line for line in (COURSE_ROOT / '.dockerignore').read_text().splitlines()
             if line and not line.startswith('#')]
    assert rules[0] == '*' and all(rule.startswith('!') for rule in rules[1:])
    assert {rule[1:].rstrip('/') for rule in rules[1:]} == copied

def test_a_submissions_code_reads_nothing_of_the_course_reaches_no_network_and_is_limited(graded_course):
    """The attack in wrong_answers's submission (attack()) ran in its
    grading, in the sandbox: it read none of the files it tried, reached no
    port of this machine, got neither 16 GiB of memory nor ATTACK_THREADS
    threads, and the file it wrote went nowhere (the feedback least of all;
    the hidden tests its hook printed: test_every_student_gets_feedback_...)."""
    name = ATTACKED_NOTEBOOK.stem
    graded = read(graded_course / 'autograded' / student_id('wrong_answers') / name / f'{name}.ipynb')
    reached = attack_report(graded)
    assert not [what for what, how in reached.items() if str(how).startswith('read')], reached
    assert reached['network'] != 'connected', reached
    assert reached['16 GiB of memory'] != 'mapped', reached
    assert reached['threads'] < ATTACK_THREADS, reached
    assert not sorted(graded_course.rglob(LEAKED_FILE))


def test_a_right_answer_that_warns_scores_its_points_and_the_warning_is_shown(graded_course):
    autograded = read(graded_course / 'autograded' / student_id(LATE_STUDENT) / LATE_NOTEBOOK.stem
                      / LATE_NOTEBOOK.name)
    checks = [cell for cell in autograded.cells if is_check(cell)]
    warned = [cell for cell in checks if any('UserWarning' in output.get('text', '') for output in cell.outputs)]
    assert warned, 'no check shows the answer\'s warning: the test proves nothing'
    assert not [output for cell in checks for output in cell.outputs if output.get('name') == 'stderr']
    row = grade_table(graded_course)[(LATE_NOTEBOOK.stem, student_id(LATE_STUDENT))]
    assert float(row['raw_score']) == points(LATE_NOTEBOOK, autograded_only=True)


def test_late_work_loses_a_tenth_of_its_score_per_day_started(graded_course):
    row = grade_table(graded_course)[(LATE_NOTEBOOK.stem, student_id(LATE_STUDENT))]
    full = points(LATE_NOTEBOOK, autograded_only=True)
    assert row['status'] == 'late'
    assert abs(float(row['hours_late']) - HOURS_LATE) < 0.01
    # 26 hours: two days started
    assert float(row['late_penalty']) == pytest.approx(0.2 * full, abs=0.01)
    assert float(row['score']) == pytest.approx(0.8 * full, abs=0.01)
    # The others handed in on time keep every point
    on_time = grade_table(graded_course)[(LATE_NOTEBOOK.stem, student_id('model_answers'))]
    assert (on_time['status'], on_time['late_penalty']) == ('on time', '0')


def test_the_class_grades_have_a_row_per_student_with_names_missing_work_and_totals(graded_course):
    by_assignment, by_student = grade_table(graded_course), class_table(graded_course)
    roster = {row['id']: row for row in roster_rows()}
    assert set(by_student) == {*roster, UNLISTED}
    # Handed in but not gradable: told apart from nothing handed in
    assert [by_assignment[(notebook.stem, UNLISTED)]['status'] for notebook in EXERCISES] == [
        'not graded' if notebook in (UNREADABLE_NOTEBOOK, CRASHING_NOTEBOOK) else 'missing' for notebook in EXERCISES]
    assert by_student.pop(UNLISTED)['total'] == '0'
    for student, row in by_student.items():
        assert (row['first_name'], row['last_name'], row['email']) == (
            roster[student]['first_name'], roster[student]['last_name'], roster[student]['email'])
        scores = [by_assignment[(notebook.stem, student)]['score'] for notebook in EXERCISES]
        assert [row[notebook.stem] for notebook in EXERCISES] == scores
        assert float(row['total']) == pytest.approx(sum(float(score) for score in scores if score), abs=0.01)
    # Nothing handed in: an empty score, not a 0, and the status says why
    for notebook in EXERCISES:
        absent = by_assignment[(notebook.stem, ABSENT)]
        assert (absent['status'], absent['score']) == ('missing', '')
    assert by_student[ABSENT]['total'] == '0'
    assert [by_assignment[(notebook.stem, student_id(LATE_STUDENT))]['status'] for notebook in EXERCISES] == [
        'late' if notebook == LATE_NOTEBOOK else 'missing' for notebook in EXERCISES]


def test_grading_reports_the_edited_locked_cell_and_no_other(graded):
    from classroom.grading.tampering import EDITED_REPORT

    # nbgrader's own report named every check with hidden tests, edited or not
    assert "Attribute 'checksum'" not in graded.log
    edited = [(student, cell) for student, cell, _, _ in EDITED_REPORT.findall(graded.log)]
    assert edited == [(student_id('wrong_answers'), EDITED_CHECK)]
    assert f'{student_id("wrong_answers")}: {EDITED_CHECK} in {LATE_NOTEBOOK.stem}' in graded.printed
    # Graded as released: the edit (a print) would have passed
    autograded = read(graded.course / 'autograded' / student_id('wrong_answers') / LATE_NOTEBOOK.stem
                      / LATE_NOTEBOOK.name)
    cell = next(cell for cell in autograded.cells if nbgrader_of(cell).get('grade_id') == EDITED_CHECK)
    assert 'a learner\'s edit' not in cell.source


def write_roster(path, text):
    path.write_text(text)
    return path


def test_a_roster_with_wrong_rows_is_refused_whole_with_every_row_named(tmp_path, capsys):
    from classroom.grading.roster import COLUMNS, USER_NAME, import_roster, read_roster
    from classroom.grading.roster import main as roster_command

    bad = write_roster(tmp_path / 'class.csv', 'id,first_name,email,lms_user_id\nada,Ada,ada@school.example,7\n'
                       ',Bo,bo@x,\nCarl 1,Carl,carl@x,\nada,Ada,ada2@x,\ndee,Dee,dee.school.example,\n'
                       'eve,Eve,ADA@school.example,7\n')
    with pytest.raises(ValueError) as refused:
        import_roster(bad, tmp_path)
    message = str(refused.value)
    assert message.startswith(f'{bad}: nothing imported, fix these rows first:')
    for problem in ['line 3: no id', "line 4: 'Carl 1' cannot be a student id", 'line 5: ada again (first on line 2)',
                    "line 6: 'dee.school.example' is not an e-mail address",
                    # Two students sharing an e-mail or a platform id would get each other's grades
                    'line 7: email ADA@school.example already belongs to line 2',
                    'line 7: lms_user_id 7 already belongs to line 2']:
        assert problem in message
    no_id = write_roster(tmp_path / 'names.csv', 'name,email\nAda,ada@x\n')
    with pytest.raises(ValueError, match='has no id column .*the first row must name the columns'):
        read_roster(no_id)
    # A spreadsheet's byte-order mark and extra columns are fine
    fine = tmp_path / 'export.csv'
    fine.write_text('id,email,section\nada,ada@school.example,B\n', encoding='utf-8-sig')
    assert read_roster(fine) == [{**dict.fromkeys(COLUMNS, ''), 'id': 'ada', 'email': 'ada@school.example',
                                  'section': 'B'}]
    # On the hub, an id is a user name: no capitals, no underscores
    assert read_roster(write_roster(tmp_path / 'ids.csv', 'id\nAda_L\n')) == [
        {**dict.fromkeys(COLUMNS, ''), 'id': 'Ada_L'}]
    with pytest.raises(ValueError, match="'Ada_L' cannot be a student id \\(a user name: "):
        read_roster(tmp_path / 'ids.csv', ids=USER_NAME)
    # The hub's course-roster: one line, no traceback
    assert roster_command([str(tmp_path / 'ids.csv'), '--course', str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"roster: {tmp_path / 'ids.csv'}: nothing imported")


def test_a_due_date_or_assignment_that_is_wrong_gets_one_clear_error(graded_course):
    from classroom.grading.commands import grade, set_due_date

    name = LATE_NOTEBOOK.stem
    with pytest.raises(ValueError, match=f"no assignment 'nope' in {graded_course}; the assignments are .*{name}"):
        set_due_date(graded_course, 'nope', '2027-01-15 17:00 UTC')
    with pytest.raises(ValueError, match='give the due date as a day, a time and a time zone'):
        set_due_date(graded_course, name, '2027-01-15 17:00')
    with pytest.raises(ValueError, match='is not a date and time that exists'):
        set_due_date(graded_course, name, '2027-02-30 17:00 UTC')
    with pytest.raises(ValueError, match="no assignment 'nope'"):
        grade(graded_course, assignment='nope')
    with pytest.raises(FileNotFoundError, match=f'no submission in {graded_course}/submitted/nobody/{name}/'):
        grade(graded_course, assignment=name, student='nobody')


# Canvas's gradebook import, as Canvas's guide "How do I import grades in the
# Gradebook?" describes it (https://community.canvaslms.com/t5/Instructor-Guide/
# How-do-I-import-grades-in-the-Gradebook/ta-p/807), in the shape of the CSV
# file its own gradebook export writes:
CANVAS_IMPORT = SimpleNamespace(
    # The header starts with the student's name and Canvas's user id...
    first_columns=('Student', 'ID'),
    # ...then the SIS columns the school has, and Section ends the student columns
    sis_columns=('SIS User ID', 'SIS Login ID', 'Integration ID'),
    last_student_column='Section',
    # Every later column is an assignment, named by its title (or "Title (id)"):
    # a title Canvas does not know becomes a new assignment, so a total would too
    not_assignments=('total', 'Total', 'Current Score', 'Final Score'),
    # A row whose first cell is "Points Possible", before the students, gives
    # each assignment's maximum (read for the assignments it creates)
    points_possible='Points Possible',
    # A student is found by ID, an SIS id or the Integration ID (or by name), never by e-mail
    matched_on=('ID', 'SIS User ID', 'SIS Login ID', 'Integration ID'),
    # A grade is a number; a blank cell records no grade
    grade=re.compile(r'^(\d+(\.\d+)?)?$'),
)
# Moodle's CSV grade import, as "Grade import" (https://docs.moodle.org/en/Grade_import)
# and its import code (grade/import/csv/classes/load_data.php) describe it:
MOODLE_IMPORT = SimpleNamespace(
    # The first row names the columns; the teacher maps one to the users'
    # e-mail address ("Map from" ... "Map to: Email address"; matched exactly)
    # and each grade column to a grade item
    user_column='Email address',
    # A row whose user field is blank aborts the import when it comes first,
    # and takes the previous row's user further down: every row needs one
    # A grade is a number, or blank or '-' for none: any other text aborts the import
    grade=re.compile(r'^(-|\d+(\.\d+)?)?$'),
    # A column mapped to "new grade item" becomes one, out of 100 points
    # unless set: no total column, and each item's maximum set from make grade's report
    not_assignments=('total', 'Total', 'Course total'),
)


def read_rows(path):
    """A CSV file as a list of rows (lists)."""
    with open(path, newline='', encoding='utf-8') as file:
        return list(csv.reader(file))


def test_the_platform_files_follow_each_platforms_import_rules(graded_course):
    grades = grade_table(graded_course)
    roster = {row['id']: row for row in roster_rows()}
    course_order = [notebook.stem for notebook in EXERCISES]
    maxima = [f'{points(notebook, autograded_only=False):g}' for notebook in EXERCISES]

    def final(student, assignment):
        """What a platform should record: a final score, or nothing."""
        row = grades[(assignment, student)]
        return row['score'] if row['score'] and row['needs_manual_grade'] == 'no' else ''

    header, points_possible, *students = read_rows(graded_course / 'lms' / 'canvas.csv')
    assert header[:2] == list(CANVAS_IMPORT.first_columns)
    sections = header.index(CANVAS_IMPORT.last_student_column)
    assert set(header[2:sections]) <= set(CANVAS_IMPORT.sis_columns)
    assert header[sections + 1:] == course_order
    assert not set(header) & set(CANVAS_IMPORT.not_assignments)
    assert points_possible[0] == CANVAS_IMPORT.points_possible and points_possible[sections + 1:] == maxima
    matched_on = [header.index(column) for column in CANVAS_IMPORT.matched_on if column in header]
    # Everyone on the class list that Canvas can find, and no one else
    can_find = {student for student, row in roster.items() if row['lms_user_id'] or row['sis_user_id']
                or row['sis_login_id']}
    assert can_find and can_find != set(roster)
    found = {}
    for row in students:
        assert len(row) == len(header) and any(row[index] for index in matched_on), row
        [student] = [student for student, listed in roster.items()
                     if (listed['lms_user_id'], listed['sis_user_id'], listed['sis_login_id']) ==
                     (row[1], row[header.index('SIS User ID')], row[header.index('SIS Login ID')])]
        assert row[0] == f'{roster[student]["last_name"]}, {roster[student]["first_name"]}'
        assert row[sections] == roster[student]['section']
        assert all(CANVAS_IMPORT.grade.match(cell) for cell in row[sections + 1:]), row
        found[student] = row[sections + 1:]
    assert set(found) == can_find
    assert found == {student: [final(student, name) for name in course_order] for student in can_find}
    # Final scores only: the model answers' written ones wait for the teacher
    assert set(found[student_id('model_answers')]) == {''}
    assert found[student_id('empty_answers')] == ['0'] * len(EXERCISES)

    header, *students = read_rows(graded_course / 'lms' / 'moodle.csv')
    assert header[0] == MOODLE_IMPORT.user_column
    assignments = header.index(course_order[0])
    assert header[assignments:] == course_order and not set(header) & set(MOODLE_IMPORT.not_assignments)
    with_email = {row['email']: student for student, row in roster.items() if row['email']}
    assert with_email and len(with_email) < len(roster)
    assert [row[0] for row in students] == sorted(with_email, key=with_email.get)
    for row in students:
        assert row[0] and all(MOODLE_IMPORT.grade.match(cell) for cell in row[assignments:]), row
        scores = [float(cell) for cell in row[assignments:] if cell not in ('', '-')]
        assert all(score <= float(maximum) for score, maximum in zip(scores, maxima))
        assert row[assignments:] == [final(with_email[row[0]], name) for name in course_order]


def test_the_grade_files_list_assignments_in_the_course_order(graded_course):
    # nbgrader lists assignments by due date: the one with a due date came last
    course_order = [notebook.stem for notebook in EXERCISES]
    assert course_order == sorted(course_order) and LATE_NOTEBOOK != EXERCISES[-1]
    header = read_rows(graded_course / 'grades.csv')[0]
    assert header[header.index('email') + 1:header.index('total')] == course_order
    assert [row['assignment'] for row in grade_table(graded_course).values()][:len(EXERCISES)] == course_order


def test_teaching_md_states_each_assignments_points():
    """TEACHING.md's table gives each exercise notebook's points, autograded
    and by hand: the maximum a teacher sets on the learning platform."""
    stated = dict(re.findall(r'^\| `(\w+)\.ipynb` \|.*\| (\d+ \(\d+ \+ \d+\)) \|$',
                             (COURSE_ROOT / 'TEACHING.md').read_text(), re.MULTILINE))
    assert stated == {notebook.stem: f'{points(notebook, autograded_only=False)} '
                      f'({points(notebook, autograded_only=True)} + '
                      f'{points(notebook, autograded_only=False) - points(notebook, autograded_only=True)})'
                      for notebook in EXERCISES}


def test_make_grade_ends_with_one_summary_saved_in_the_course(graded):
    """One bad hand-in stops nobody: the unreadable notebook is skipped, the
    crashing one fails alone, everyone else is graded; the summary names
    every problem and what is left to do, and is saved."""
    from classroom.grading.report import REPORT_NAME

    report = (graded.course / REPORT_NAME).read_text()
    assert graded.printed.endswith(report)
    sections = {}
    for line in report.splitlines():
        if line and not line.startswith('  '):
            title = line.split(':')[0]
            sections[title] = [line.split(': ', 1)[1]] if line.endswith(('none', 'nobody')) else []
        elif line:
            sections[title].append(line.strip())

    def listed(start):
        return next(lines for title, lines in sections.items() if title.startswith(start))

    [unreadable, crashed] = listed('Errors')
    assert unreadable.startswith(f'{UNLISTED}, {UNREADABLE_NOTEBOOK.stem}: not graded: {UNREADABLE_NOTEBOOK.name} '
                                 f'is not a notebook that can be read')
    assert crashed.startswith(f'{UNLISTED}, {CRASHING_NOTEBOOK.stem}: autograding failed, not graded: ')
    assert 'DeadKernelError' in crashed
    assert listed('Notebooks renamed') == [f"{student_id(LATE_STUDENT)}, {LATE_NOTEBOOK.stem}: '{RENAMED}' is "
                                          f"{LATE_NOTEBOOK.name}"]
    assert not (graded.course / 'submitted' / student_id(LATE_STUDENT) / LATE_NOTEBOOK.stem / RENAMED).exists()
    assert listed('Locked cells edited') == [f'{student_id("wrong_answers")}: {EDITED_CHECK} in {LATE_NOTEBOOK.stem}']
    first, second = [nbgrader_of(cell)['grade_id'] for cell in read(TAMPERED_NOTEBOOK).cells if is_check(cell)][:2]
    assert listed('Graded cells missing') == [f'{student_id("model_answers")}: {check} in {TAMPERED_NOTEBOOK.stem}'
                                              for check in (first, second)]
    waiting = {}
    for (assignment, student), row in grade_table(graded.course).items():
        if row['needs_manual_grade'] == 'yes':
            waiting.setdefault(assignment, []).append(student)
    assert waiting and listed('Hand grades waiting') == [f'{name}: {", ".join(ids)}' for name, ids in waiting.items()]
    [late] = listed('Late')
    assert late.startswith(f'{student_id(LATE_STUDENT)}, {LATE_NOTEBOOK.stem}: {HOURS_LATE} h late')
    assert listed('Not on the class list') == [UNLISTED]
    assert listed('Left out of lms/canvas.csv') == [ABSENT]
    assert listed('Left out of lms/moodle.csv') == [student_id(LATE_STUDENT)]
    assert listed('Maximum points') == [f'{notebook.stem}: {points(notebook, autograded_only=False)}'
                                        for notebook in EXERCISES]
    assert not [title for title in sections if title.startswith('Feedback that shows other grades')]


def test_a_deleted_or_stripped_check_is_put_back_as_released_and_graded(graded_course):
    notebook = TAMPERED_NOTEBOOK
    autograded = read(graded_course / 'autograded' / student_id('model_answers') / notebook.stem / notebook.name)
    released = read(graded_course / 'release' / notebook.stem / notebook.name)

    def tracked(cells):
        return [nbgrader_of(cell)['grade_id'] for cell in cells if nbgrader_of(cell).get('grade_id')]

    # Each one where the release has it among the graded and locked cells; its points earned
    assert tracked(autograded.cells) == tracked(released.cells)
    assert float(grade_table(graded_course)[(notebook.stem, student_id('model_answers'))]['raw_score']) == \
        points(notebook, autograded_only=True)


def test_the_one_grade_function_gives_what_every_grade_file_shows(graded_course):
    """grades.final_grades, for a passback to the platform: per student and
    assignment, the final score, the maximum and the status, as the files,
    with the late penalty the course's nbgrader_config.py sets."""
    from nbgrader.api import Gradebook
    from traitlets.config.loader import PyFileConfigLoader

    from classroom.grading.export import points as shown
    from classroom.grading.grades import final_grades
    from classroom.grading.late_penalty import LatePenaltyPerDay

    table = grade_table(graded_course)
    config = PyFileConfigLoader('nbgrader_config.py', path=str(graded_course)).load_config()
    with Gradebook(f'sqlite:///{graded_course / "gradebook.db"}') as gradebook:
        grades = list(final_grades(gradebook, LatePenaltyPerDay(config=config).share_per_day, graded_course))
    assert len(grades) == len(table)
    for grade in grades:
        row = table[(grade.assignment, grade.student_id)]
        assert (shown(grade.score), shown(grade.max_score), grade.status) == (row['score'], row['max_score'],
                                                                              row['status'])
        assert grade.final == (bool(row['score']) and row['needs_manual_grade'] == 'no')


def test_release_feedback_releases_what_it_can_and_names_the_rest(graded_course, tmp_path):
    """nbgrader's release_feedback, run in the course folder as its
    documentation runs it: the feedback of the submission that came through
    the exchange reaches it; the hand-copied ones are named, not released,
    and stop nothing."""
    import subprocess
    import sys

    exchange = tmp_path / 'exchange'
    exchange.mkdir()
    released = subprocess.run([sys.executable, '-m', 'nbgrader', 'release_feedback', THROUGH_THE_EXCHANGE.stem,
                               f'--Exchange.root={exchange}'], cwd=graded_course, capture_output=True, text=True)
    assert released.returncode == 0, released.stderr
    assert len(list(exchange.glob('*/feedback/*.html'))) == 1
    for student in (*STUDENTS[1:],):
        assert f'Not released: {student_id(student)}, whose submission was not handed in through the exchange' in \
            released.stderr


def write_zip(path, files):
    """A zip archive of {name: (bytes, its time as a tuple)}, as a platform's download."""
    import zipfile

    with zipfile.ZipFile(path, 'w') as archive:
        for name, (data, when) in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)


def test_zip_collect_reads_canvas_and_moodle_downloads(graded_course, tmp_path):
    """nbgrader's zip_collect, run in a course folder on the archives Canvas
    and Moodle give for download: each notebook lands in its student's
    submission folder, under its released name, with the time it has in
    the archive; a file that names nobody on the class list is skipped."""
    import shutil
    import subprocess
    import sys

    from classroom.grading.commands import write_course_config
    from classroom.grading.roster import CLASS_LIST

    notebook = THROUGH_THE_EXCHANGE
    course = tmp_path / 'course'
    shutil.copytree(graded_course / 'release' / notebook.stem, course / 'release' / notebook.stem)
    shutil.copy(graded_course / CLASS_LIST, course / CLASS_LIST)
    write_course_config(course)
    roster = {student: row for student, row in ((row['id'], row) for row in roster_rows())}
    model, empty, wrong = (roster[student_id(student)] for student in STUDENTS)
    content = {student: f'{{"the notebook of": "{student}"}}'.encode() for student in roster}
    archive = course / 'downloaded' / notebook.stem / 'archive'
    archive.mkdir(parents=True)
    # Canvas: <name>[_LATE]_<user id>_<submission id>_<file>, "-1" for a second upload
    write_zip(archive / 'submissions.zip', {
        f'lastname0model_{model["lms_user_id"]}_4242_{notebook.name}': (content[model['id']], (2027, 1, 15, 16, 59, 0)),
        f'lastname1empty_LATE_{empty["lms_user_id"]}_4343_{notebook.stem}-1.ipynb': (content[empty['id']],
                                                                                     (2027, 1, 16, 9, 30, 0)),
        f'someone_9999_4444_{notebook.name}': (b'{}', (2027, 1, 15, 12, 0, 0)),
    })
    # Moodle: a folder per student, <First Last>_<participant id>_assignsubmission_file_
    write_zip(archive / 'moodle-download.zip', {
        f'{wrong["first_name"]} {wrong["last_name"]}_77_assignsubmission_file_/{notebook.name}': (
            content[wrong['id']], (2027, 1, 14, 8, 0, 0)),
        f'Nobody Known_78_assignsubmission_file_/{notebook.name}': (b'{}', (2027, 1, 14, 8, 0, 0)),
        # An upload named as Moodle names another student's file, and newer
        f'{wrong["first_name"]} {wrong["last_name"]}_77_assignsubmission_file_/'
        f'{model["first_name"]} {model["last_name"]}_76_assignsubmission_file_{notebook.name}': (
            b'{}', (2027, 1, 17, 8, 0, 0)),
    })

    collected = subprocess.run([sys.executable, '-m', 'nbgrader', 'zip_collect', notebook.stem],
                               cwd=course, capture_output=True, text=True)

    assert collected.returncode == 0, collected.stderr
    handed_in = {path.parent.parent.name: path for path in course.glob(f'submitted/*/{notebook.stem}/*.ipynb')}
    assert {student: path.name for student, path in handed_in.items()} == {
        model['id']: notebook.name, empty['id']: notebook.name, wrong['id']: notebook.name}
    for student, when in ((model['id'], (2027, 1, 15, 16, 59)), (empty['id'], (2027, 1, 16, 9, 30)),
                          (wrong['id'], (2027, 1, 14, 8, 0))):
        assert handed_in[student].read_bytes() == content[student]
        # The archive's time, read as this machine's local time
        local = datetime.datetime(*when).astimezone(datetime.timezone.utc)
        assert (handed_in[student].parent / 'timestamp.txt').read_text().startswith(
            local.strftime('%Y-%m-%d %H:%M:%S')), student
    assert 'by the user id 9999, which no lms_user_id of the class list is' in collected.stderr
    assert "Moodle names its student 'Nobody Known', and no students of the class list have that name" in \
        collected.stderr
    assert (f"Moodle names its student '{wrong['first_name']} {wrong['last_name']}', but the file's own name "
            f"names '{model['first_name']} {model['last_name']}'") in collected.stderr


def test_hand_ins_nbgrader_cannot_grade_are_named_and_those_that_would_stop_it_left_out(tmp_path, monkeypatch):
    """Before nbgrader runs: a hand-in with nbgrader metadata of another
    version would stop nbgrader's whole autograde, so its student is left out
    of that assignment's run; the others that cannot be graded are named; of
    two renamed copies, the newer is taken."""
    import os

    from classroom.grading import commands
    from classroom.grading.hand_ins import prepare

    first, second = EXERCISES[:2]
    for notebook in (first, second):
        (tmp_path / 'release' / notebook.stem).mkdir(parents=True)
        nbformat.write(read(notebook), tmp_path / 'release' / notebook.stem / notebook.name)
    old = read(first)
    for cell in old.cells:
        if 'nbgrader' in cell.metadata:
            cell.metadata.nbgrader['schema_version'] = 1
    handed_in = {('old', first.stem, first.name): old,
                 ('copies', second.stem, f'{second.stem} (1).ipynb'): read(second),
                 ('copies', second.stem, f'{second.stem} (2).ipynb'): read(second),
                 ('lost', 'never_released', 'never_released.ipynb'): read(second),
                 ('other', first.stem, 'notes.ipynb'): read(second)}
    for when, ((student, assignment, name), notebook) in enumerate(handed_in.items()):
        path = tmp_path / 'submitted' / student / assignment / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        os.utime(path, (1_800_000_000 + when, 1_800_000_000 + when))

    found = prepare(tmp_path)

    assert found.renamed == [('copies', second.stem, f'{second.stem} (2).ipynb', second.name)]
    assert (tmp_path / 'submitted' / 'copies' / second.stem / f'{second.stem} (1).ipynb').is_file()
    assert found.extra == [('copies', second.stem, f'{second.stem} (1).ipynb'), ('other', first.stem, 'notes.ipynb')]
    assert set(found.skipped) == {('old', first.stem), ('lost', 'never_released'), ('other', first.stem)}
    assert 'nbgrader metadata of version 1, not the released 3' in found.skipped[('old', first.stem)]
    assert found.unsafe == {('old', first.stem)}
    runs = []
    monkeypatch.setattr(commands, 'nbgrader', lambda course, *arguments, **options: runs.append(arguments) or '')
    commands.autograde(tmp_path, commands.ALL, None, found.unsafe)
    assert runs == [('autograde', first.stem, '--CourseDirectory.student_id_exclude=old'), ('autograde', second.stem)]


def test_a_class_list_imported_again_keeps_what_the_new_file_lacks(graded_course, tmp_path):
    """A second class list updates the students it lists, in its columns; the
    platform ids a file lacks, and the students it does not list, stay; an
    id two students would share stops the import, changing nothing."""
    import shutil

    from nbgrader.api import Gradebook

    from classroom.grading.roster import CLASS_LIST, import_roster, read_class_list

    # A gradebook of its own, without a class list yet
    shutil.copy(graded_course / 'gradebook.db', tmp_path / 'gradebook.db')
    first = write_roster(tmp_path / 'first.csv', 'id,email,lms_user_id,section\nada,ada@x.example,11,A\n'
                         'bo,bo@x.example,12,A\n')
    import_roster(first, tmp_path)
    second = write_roster(tmp_path / 'second.csv', 'id,email,sis_user_id\nada,ada@y.example,S-11\n')
    import_roster(second, tmp_path)
    kept = read_class_list(tmp_path)
    assert (kept['ada']['email'], kept['ada']['lms_user_id'], kept['ada']['sis_user_id'], kept['ada']['section']) == (
        'ada@y.example', '11', 'S-11', 'A')
    assert kept['bo']['lms_user_id'] == '12'
    with Gradebook(f'sqlite:///{tmp_path / "gradebook.db"}') as gradebook:
        assert gradebook.find_student('ada').lms_user_id == '11'
    before = (tmp_path / CLASS_LIST).read_text()
    clash = write_roster(tmp_path / 'clash.csv', 'id,lms_user_id\ncy,12\n')
    with pytest.raises(ValueError, match='cy: lms_user_id 12 already belongs to bo'):
        import_roster(clash, tmp_path)
    assert (tmp_path / CLASS_LIST).read_text() == before


# Hand grades given between the two runs: (student, points, comment)
HAND_GRADES = (('model_answers', 2, 'Clear and complete.'), ('wrong_answers', 1, 'Half of it.'),
               (LATE_STUDENT, 2, 'Right.'))
# The teacher's rewording of a check's message, in the course folder's source/
REWORDED = "Hint: "


@pytest.fixture(scope='module')
def regraded(graded, tmp_path_factory):
    """A second `make grade ASSIGNMENT=...` on a copy of the graded course,
    after hand grades in the formgrader, a second release (a check's message
    reworded, a hint added elsewhere), resubmissions (one with the same
    answers, one with its written answer rewritten, one of another
    assignment) and moved due dates; with what it printed and logged."""
    import shutil

    from nbgrader.api import Gradebook

    from classroom.grading.commands import grade, release, set_due_date

    course = tmp_path_factory.mktemp('regraded') / 'course'
    shutil.copytree(graded.course, course)
    notebook, written = LATE_NOTEBOOK, written_answer(LATE_NOTEBOOK)
    with Gradebook(f'sqlite:///{course / "gradebook.db"}') as gradebook:
        for student, score, comment in HAND_GRADES:
            # As the formgrader records a hand grade
            hand_grade = gradebook.find_grade(written, notebook.stem, notebook.stem, student_id(student))
            hand_grade.manual_score, hand_grade.needs_manual_grade = score, False
            gradebook.find_comment(written, notebook.stem, notebook.stem, student_id(student)).manual_comment = comment
        gradebook.db.commit()

    # In the formgrader: a check's message reworded, a hint added to another notebook
    teachers = course / 'source' / notebook.stem / notebook.name
    source = read(teachers)
    reworded = next(cell for cell in source.cells if is_check(cell) and nbgrader_of(cell)['grade_id'] != EDITED_CHECK)
    assert ", f'" in reworded.source
    reworded.source = reworded.source.replace(", f'", f", f'{REWORDED}", 1)
    nbformat.write(source, teachers)
    hinted = course / 'source' / EXERCISES[0].stem / EXERCISES[0].name
    hint = 'A hint the teacher added in the formgrader.'
    source = read(hinted)
    next(cell for cell in source.cells if cell.cell_type == 'markdown').source += f'\n\n{hint}'
    nbformat.write(source, hinted)
    hinted_text = hinted.read_text()
    release(course)

    # Handed in again: the same answers, a rewritten written answer, another assignment
    again = (graded.due + datetime.timedelta(hours=12)).strftime('%Y-%m-%d %H:%M:%S.%f UTC')
    for student, handed_in in (('model_answers', notebook), ('wrong_answers', notebook),
                               ('empty_answers', EXERCISES[0])):
        (course / 'submitted' / student_id(student) / handed_in.stem / 'timestamp.txt').write_text(again)
    rewritten = course / 'submitted' / student_id('wrong_answers') / notebook.stem / notebook.name
    answered = read(rewritten)
    next(cell for cell in answered.cells if nbgrader_of(cell).get('grade_id') == written).source += '\n\nAnd more.'
    nbformat.write(answered, rewritten)

    # The late notebook is due a day later (26 hours late becomes 2); the first, two days earlier
    set_due_date(course, notebook.stem, (graded.due + datetime.timedelta(days=1)).strftime('%Y-%m-%d %H:%M UTC'))
    earlier = graded.due - datetime.timedelta(days=2)
    set_due_date(course, EXERCISES[0].stem, earlier.strftime('%Y-%m-%d %H:%M UTC'))

    autograded = {path: path.stat().st_mtime_ns for path in course.glob('autograded/*/*/*.ipynb')}
    printed, log = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(log):
        grade(course, assignment=notebook.stem)
    return SimpleNamespace(course=course, printed=printed.getvalue(), log=log.getvalue(), autograded=autograded,
                           reworded=nbgrader_of(reworded)['grade_id'], hint=hint, hinted=hinted,
                           hinted_text=hinted_text)


def test_grading_again_regrades_only_what_was_handed_in_again_in_the_assignment_graded(regraded):
    regraded_now = sorted(path for path, before in regraded.autograded.items() if path.stat().st_mtime_ns != before)
    assert regraded_now == sorted(regraded.course / 'autograded' / student_id(student) / LATE_NOTEBOOK.stem /
                                  LATE_NOTEBOOK.name for student in ('model_answers', 'wrong_answers'))
    # Graded with the checks as they are now
    autograded = read(regraded_now[0])
    assert REWORDED in next(cell.source for cell in autograded.cells
                            if nbgrader_of(cell).get('grade_id') == regraded.reworded)


def test_a_resubmission_keeps_the_hand_grades_of_unchanged_answers_and_sets_aside_the_others(regraded):
    from nbgrader.api import Gradebook

    from classroom.grading.resubmissions import SET_ASIDE

    notebook, written = LATE_NOTEBOOK, written_answer(LATE_NOTEBOOK)
    with Gradebook(f'sqlite:///{regraded.course / "gradebook.db"}') as gradebook:
        def hand_grade(student):
            grade = gradebook.find_grade(written, notebook.stem, notebook.stem, student_id(student))
            comment = gradebook.find_comment(written, notebook.stem, notebook.stem, student_id(student))
            return grade.manual_score, grade.needs_manual_grade, comment.manual_comment

        assert hand_grade('model_answers') == (2, False, 'Clear and complete.')
        assert hand_grade('wrong_answers') == (None, True, None)
    with open(regraded.course / SET_ASIDE, newline='') as file:
        [set_aside] = list(csv.DictReader(file))
    assert (set_aside['student_id'], set_aside['cell'], float(set_aside['manual_score']), set_aside['comment']) == (
        student_id('wrong_answers'), written, 1, 'Half of it.')
    assert f'{student_id("wrong_answers")}: {written} in {notebook.stem}' in regraded.printed.split(
        'Hand grades set aside')[1]
    # Waiting, in every grade file; the kept one final
    wrong, model = (grade_table(regraded.course)[(notebook.stem, student_id(student))]
                    for student in ('wrong_answers', 'model_answers'))
    assert (wrong['needs_manual_grade'], wrong['score']) == ('yes', '0')
    assert (model['needs_manual_grade'], float(model['score'])) == ('no', points(notebook, autograded_only=False))
    assert notebook.stem in class_table(regraded.course)[student_id('wrong_answers')]['waiting'].split()
    column = read_rows(regraded.course / 'lms' / 'canvas.csv')[0].index(notebook.stem)
    canvas = {row[1] or row[2]: row[column] for row in read_rows(regraded.course / 'lms' / 'canvas.csv')[2:]}
    assert canvas[PLATFORM_IDS['wrong_answers']['sis_user_id']] == ''
    assert float(canvas[PLATFORM_IDS['model_answers']['lms_user_id']]) == points(notebook, autograded_only=False)


def test_a_hand_in_from_an_earlier_release_is_compared_with_that_release(regraded):
    """The teacher reworded a check's message and released again: the
    resubmissions made from the earlier release are not blamed for it; the
    one real edit still is."""
    from classroom.grading.tampering import EDITED_REPORT

    assert [(student, cell) for student, cell, _, _ in EDITED_REPORT.findall(regraded.log)] == [
        (student_id('wrong_answers'), EDITED_CHECK)]


def test_feedback_and_every_grade_file_show_the_same_late_penalty_and_score(regraded):
    """A hand grade given after autograding, and the due date moved: the
    feedback made now, the gradebook's own record (which the formgrader's
    nbgrader reads), grades_by_assignment.csv and the platform's file agree."""
    from nbgrader.api import Gradebook

    from classroom.grading.feedback import shown_grade

    notebook, student = LATE_NOTEBOOK, student_id(LATE_STUDENT)
    raw = points(notebook, autograded_only=False)
    # 2 hours late now: one day started
    expected_penalty, expected_score = round(0.1 * raw, 2), round(0.9 * raw, 2)
    row = grade_table(regraded.course)[(notebook.stem, student)]
    assert (float(row['raw_score']), float(row['late_penalty']), float(row['score'])) == (
        raw, expected_penalty, expected_score)
    page = regraded.course / 'feedback' / student / notebook.stem / f'{notebook.stem}.html'
    assert tuple(round(value, 2) for value in shown_grade(page)) == (expected_score, expected_penalty)
    shown = text_of(page)
    assert f'Score: {expected_score:g} / {raw:g}' in shown.replace('.0 /', ' /').replace('.0)', ')')
    assert f'Late submission penalty (Score: -{expected_penalty:g})' in shown
    with Gradebook(f'sqlite:///{regraded.course / "gradebook.db"}') as gradebook:
        stored = gradebook.find_submission_notebook(notebook.stem, notebook.stem, student).late_submission_penalty
    assert round(stored, 2) == expected_penalty
    header, *rows = read_rows(regraded.course / 'lms' / 'canvas.csv')
    [canvas] = [row for row in rows if row[header.index('SIS Login ID')] == PLATFORM_IDS[LATE_STUDENT]['sis_login_id']]
    assert float(canvas[header.index(notebook.stem)]) == expected_score


def test_feedback_that_no_longer_matches_the_grades_is_named(regraded):
    # The first notebook's due date moved two days earlier, its feedback not
    # made again: only the model answers lose points to it (the others scored 0)
    stale = regraded.printed.split('Feedback that shows other grades')[1].split('\nMaximum')[0]
    assert stale.splitlines()[1:] == [f'  {student_id("model_answers")}, {EXERCISES[0].stem}']


def test_a_second_release_keeps_the_teachers_edit_and_hands_it_out(regraded):
    """An edit made in the formgrader (in the course folder's source/) stays
    through `make release` and reaches the learners' version; once the
    repository changed the same notebook too, release stops and changes
    nothing."""
    import json

    from classroom.grading.course_source import MANIFEST_NAME, SourceConflict
    from classroom.grading.commands import release

    course, notebook = regraded.course, EXERCISES[0]
    assert regraded.hinted.read_text() == regraded.hinted_text
    released = read(course / 'release' / notebook.stem / notebook.name)
    assert any(regraded.hint in cell.source for cell in released.cells)

    # As if the repository's notebook had changed since: the record says the
    # last release took another version
    manifest = course / MANIFEST_NAME
    kept = manifest.read_text()
    record = json.loads(kept)
    record['files'][f'{notebook.stem}/{notebook.name}'] = 'the sha256 of an older version'
    manifest.write_text(json.dumps(record))
    try:
        before = {path: path.stat().st_mtime_ns for path in course.rglob('*') if path.is_file()}
        with pytest.raises(SourceConflict, match=re.escape(f'{regraded.hinted}  (the repository\'s: {notebook})')):
            release(course)
        assert {path: path.stat().st_mtime_ns for path in course.rglob('*') if path.is_file()} == before
    finally:
        manifest.write_text(kept)


def test_passback_sends_every_students_final_score_to_one_line_item_per_assignment(graded_course, tmp_path):
    """Grades back to a simulated platform (tests/lti_platform.py) through
    LTI Assignment and Grade Services, as `course-passback` sends them:
    the scores of the grade files, late penalty included."""
    from classroom.grading.passback import GradeService, final_scores, passback
    from classroom.lti_tool import new_private_key, public_jwk, read_launches
    from tests.lti_platform import SimulatedPlatform, platform_user

    table = grade_table(graded_course)
    # Everyone on the roster opened the course from the platform but one who handed in
    never_launched = student_id('wrong_answers')
    launched = [row['id'] for row in roster_rows() if row['id'] != never_launched]
    key = new_private_key()
    with SimulatedPlatform() as platform:
        platform.register('http://127.0.0.1:9', {'keys': [public_jwk(key)]})
        platform.record_launches(tmp_path / 'lti', launched)
        report = passback(final_scores(graded_course), read_launches(tmp_path / 'lti'),
                          GradeService(platform.settings(), key))
    assert not report.failed, report.failed
    items = {item['resourceId']: item for item in platform.line_items.values()}
    assert sorted(items) == sorted(notebook.stem for notebook in EXERCISES)
    for notebook in EXERCISES:
        assert items[notebook.stem]['scoreMaximum'] == points(notebook, autograded_only=False)
    sent = {(assignment, student) for student, assignment, _ in report.sent}
    skipped = set()
    for (assignment, student), row in table.items():
        if not row['score']:
            # Nothing handed in, or a hand-in that could not be graded (the unlisted student's)
            skipped.add((student, 'nothing handed in' if row['status'] == 'missing' else row['status']))
        elif student not in launched:
            skipped.add((student, 'never opened the course from the platform'))
        else:
            score = platform.scores[(items[assignment]['id'], platform_user(student)['sub'])]
            assert (score['scoreGiven'], score['scoreMaximum']) == (float(row['score']), float(row['max_score']))
            assert score['gradingProgress'] == (
                'PendingManual' if row['needs_manual_grade'] == 'yes' else 'FullyGraded')
            continue
        assert (assignment, student) not in sent
    assert len(platform.scores) == len(sent)
    # The late work's score, its penalty taken off
    late = table[(LATE_NOTEBOOK.stem, student_id(LATE_STUDENT))]
    assert float(late['score']) < float(late['raw_score'])
    assert platform.scores[(items[LATE_NOTEBOOK.stem]['id'], platform_user(student_id(LATE_STUDENT))['sub'])][
        'scoreGiven'] == float(late['score'])
    assert {(student, why) for student, _, why in report.skipped} == skipped
    assert (never_launched, 'never opened the course from the platform') in skipped
    assert (UNLISTED, 'not graded') in skipped
