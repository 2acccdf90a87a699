"""The grading loop end to end, as a teacher runs it in a term: `make
release`'s, `make roster`'s, `make due`'s and `make grade`'s own functions
(classroom/grading/commands.py) on a course folder of their own. Three simulated students
hand in every assignment: the model answers, the empty release version, and
plausible wrong answers (tests/wrong_answers/), one of them with a locked
check edited; a fourth hands in one assignment only, late, with right
answers of which one warns; a fifth, on the roster, hands in nothing. The
expected scores come from the notebooks' points."""
import contextlib
import csv
import datetime
import html
import io
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlparse

import nbformat
import pytest

from classroom.course import COURSE_ROOT, EXERCISES, is_check, nbgrader_of, points, read, wait_for
from tests.submissions import WARNING_ANSWERS, submission, wrong_answers

STUDENTS = ('model_answers', 'empty_answers', 'wrong_answers')
# Hands in one assignment only, a day and two hours late, with right answers
# of which one warns when its check runs
LATE_STUDENT = 'warned_answers'
LATE_NOTEBOOK = next(path for path in EXERCISES if path.stem in WARNING_ANSWERS)
HOURS_LATE = 26
# On the roster, hands in nothing
ABSENT = 'absent'
# The one locked cell a student edits: wrong_answers's, a check of LATE_NOTEBOOK
EDITED_CHECK = 'updates_checks'


def roster_rows():
    """The class list: every student, with names and an e-mail address."""
    return [{'id': student.replace('_', '-'), 'first_name': student.split('_')[0].title(),
             'last_name': f'Lastname {index}', 'email': f'student{index}@school.example'}
            for index, student in enumerate([*STUDENTS, LATE_STUDENT, ABSENT])]


def student_id(student):
    """A simulated student's id: their roster id, a user name (no underscore)."""
    return student.replace('_', '-')


def hand_in(course, notebook, student, answers=None):
    """Writes `student`'s submission of `notebook` into the course folder,
    answered as `answers` (default: as the student's name says)."""
    handed_in = course / 'submitted' / student_id(student) / notebook.stem / notebook.name
    handed_in.parent.mkdir(parents=True)
    released = read(course / 'release' / notebook.stem / notebook.name)
    answered = submission(released, notebook, answers or student)
    if (student, notebook) == ('wrong_answers', LATE_NOTEBOOK):
        edited = next(cell for cell in answered.cells if nbgrader_of(cell).get('grade_id') == EDITED_CHECK)
        edited.source = "print('the checks passed')  # a learner's edit of a locked check"
    nbformat.write(answered, handed_in)
    return handed_in


@pytest.fixture(scope='module')
def graded(tmp_path_factory):
    """A course folder released, given a roster and a due date, handed in by
    the students, and graded, with the grading tool's own functions; with
    what grading printed."""
    from classroom.grading.commands import assignment_name, grade, release, set_due_date
    from classroom.grading.roster import import_roster

    course = tmp_path_factory.mktemp('course')
    assert release(course) == [assignment_name(notebook) for notebook in EXERCISES]
    roster = course.parent / 'class.csv'
    with open(roster, 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=['id', 'first_name', 'last_name', 'email'])
        writer.writeheader()
        writer.writerows(roster_rows())
    import_roster(roster, course)
    for notebook in EXERCISES:
        for student in STUDENTS:
            hand_in(course, notebook, student)
    # Due in an hour: the others handed in just now, on time
    due = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) + datetime.timedelta(hours=1)
    assert set_due_date(course, LATE_NOTEBOOK.stem, due.strftime('%Y-%m-%d %H:%M UTC')) == due.replace(tzinfo=None)
    late = hand_in(course, LATE_NOTEBOOK, LATE_STUDENT)
    handed_in_at = due + datetime.timedelta(hours=HOURS_LATE)
    (late.parent / 'timestamp.txt').write_text(handed_in_at.strftime('%Y-%m-%d %H:%M:%S.%f UTC'))
    printed, log = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(log):
        grades = grade(course)
    assert grades == course / 'grades.csv'
    return SimpleNamespace(course=course, printed=printed.getvalue(), log=log.getvalue())


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
    assert set(answers) <= solution_ids, f'not solution cells of {notebook.name}: {sorted(set(answers) - solution_ids)}'
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
    assert len(table) == len(EXERCISES) * len(roster_rows())
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


def hidden_test_lines(notebook):
    """The lines of the hidden tests that appear nowhere else in the notebook."""
    hidden, shown = set(), set()
    for cell in read(notebook).cells:
        in_hidden = False
        for line in cell.source.splitlines():
            if 'BEGIN HIDDEN TESTS' in line:
                in_hidden = True
            elif 'END HIDDEN TESTS' in line:
                in_hidden = False
            elif line.strip():
                (hidden if in_hidden else shown).add(line.strip())
    return hidden - shown


@by_name
def test_every_student_gets_feedback_without_the_hidden_tests(notebook, graded_course):
    hidden = hidden_test_lines(notebook)
    assert hidden
    for student in STUDENTS:
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


def test_nbgrader_run_inside_the_course_folder_gets_the_course_settings(graded_course):
    # nbgrader reads nbgrader_config.py from the folder it runs in
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader('nbgrader_config.py', path=str(graded_course)).load_config()
    assert config.CourseDirectory.root == str(graded_course.resolve())
    assert config.Execute.timeout == 120
    assert 'HideHiddenTests' in [preprocessor.__name__ for preprocessor in config.GenerateFeedback.preprocessors]


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
                c.GenerateFeedback.exporter_class.__name__)

    servers_rules = rules(servers)
    assert servers_rules == rules(COURSE_ROOT)
    assert 'HideHiddenTests' in servers_rules[-2] and servers_rules[-1] == 'OfflineFeedbackExporter'



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

def test_grading_again_keeps_the_hand_grades_and_regrades_only_what_was_handed_in_again(graded_course, tmp_path):
    """A hand grade given between two `make grade` runs is kept, and not
    flagged for grading again; a submission handed in again is autograded
    again, and no other; grading one assignment of one student leaves the
    others' new submissions waiting."""
    import shutil

    from nbgrader.api import Gradebook

    from classroom.grading.commands import grade

    course = shutil.copytree(graded_course, tmp_path / 'course')
    notebook = EXERCISES[0]
    written = next(nbgrader_of(cell)['grade_id'] for cell in read(notebook).cells
                   if nbgrader_of(cell).get('grade') and nbgrader_of(cell).get('solution'))
    database = f'sqlite:///{course / "gradebook.db"}'
    with Gradebook(database) as gradebook:
        hand_grade = gradebook.find_grade(written, notebook.stem, notebook.stem, student_id('model_answers'))
        # As the formgrader records a hand grade
        hand_grade.manual_score = 1
        hand_grade.needs_manual_grade = False
        gradebook.db.commit()
    # Every submission was copied in by hand: grade gave each a timestamp
    stamps = sorted(course.glob('submitted/*/*/timestamp.txt'))
    assert len(stamps) == len(EXERCISES) * len(STUDENTS) + 1
    autograded = {path: path.stat().st_mtime_ns for path in course.glob('autograded/*/*/*.ipynb')}
    # wrong_answers hands notebook 01 in again, later; so do empty_answers,
    # and model_answers another notebook
    for student, handed_in in [('wrong_answers', notebook), ('empty_answers', notebook),
                               ('model_answers', LATE_NOTEBOOK)]:
        stamp = course / 'submitted' / student_id(student) / handed_in.stem / 'timestamp.txt'
        stamp.write_text('2099-01-01 00:00:00.000000 UTC')

    grade(course, assignment=notebook.stem, student=student_id('wrong_answers'))

    with Gradebook(database) as gradebook:
        hand_grade = gradebook.find_grade(written, notebook.stem, notebook.stem, student_id('model_answers'))
        assert hand_grade.manual_score == 1 and not hand_grade.needs_manual_grade
    regraded = [path for path, before in autograded.items() if path.stat().st_mtime_ns != before]
    assert regraded == [course / 'autograded' / student_id('wrong_answers') / notebook.stem / notebook.name]


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
    assert set(by_student) == set(roster)
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
    from classroom.grading.commands import EDITED_CELL

    # nbgrader's own report named every check with hidden tests, edited or not
    assert "Attribute 'checksum'" not in graded.log
    edited = [(student, cell) for student, cell, _ in EDITED_CELL.findall(graded.log)]
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
    from classroom.grading.roster import USER_NAME, import_roster, read_roster
    from classroom.grading.roster import main as roster_command

    bad = write_roster(tmp_path / 'class.csv', 'id,first_name,email\nada,Ada,ada@school.example\n,Bo,bo@x\n'
                       'Carl 1,Carl,carl@x\nada,Ada,ada2@x\ndee,Dee,dee.school.example\n')
    with pytest.raises(ValueError) as refused:
        import_roster(bad, tmp_path)
    message = str(refused.value)
    assert message.startswith(f'{bad}: nothing imported, fix these rows first:')
    for problem in ['line 3: no id', "line 4: 'Carl 1' cannot be a student id", 'line 5: ada again (first on line 2)',
                    "line 6: 'dee.school.example' is not an e-mail address"]:
        assert problem in message
    no_id = write_roster(tmp_path / 'names.csv', 'name,email\nAda,ada@x\n')
    with pytest.raises(ValueError, match='has no id column .*the first row must name the columns'):
        read_roster(no_id)
    # A spreadsheet's byte-order mark and extra columns are fine
    fine = tmp_path / 'export.csv'
    fine.write_text('id,email,section\nada,ada@school.example,B\n', encoding='utf-8-sig')
    assert read_roster(fine) == [{'id': 'ada', 'first_name': '', 'last_name': '', 'email': 'ada@school.example'}]
    # On the hub, an id is a user name: no capitals, no underscores
    assert read_roster(write_roster(tmp_path / 'ids.csv', 'id\nAda_L\n')) == [
        {'id': 'Ada_L', 'first_name': '', 'last_name': '', 'email': ''}]
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


def test_a_second_release_keeps_the_teachers_edit_and_hands_it_out(graded_course, tmp_path):
    """An edit made in the formgrader (in the course folder's source/) stays
    through `make release` and reaches the learners' version; once the
    repository changed the same notebook too, release stops and changes
    nothing."""
    import json
    import shutil

    from classroom.grading.course_source import MANIFEST_NAME, SourceConflict
    from classroom.grading.commands import release

    course = shutil.copytree(graded_course, tmp_path / 'course')
    notebook = EXERCISES[0]
    edited = course / 'source' / notebook.stem / notebook.name
    teachers = read(edited)
    hint = 'A hint the teacher added in the formgrader.'
    next(cell for cell in teachers.cells if cell.cell_type == 'markdown').source += f'\n\n{hint}'
    nbformat.write(teachers, edited)
    edit = edited.read_text()

    release(course)

    assert edited.read_text() == edit
    released = read(course / 'release' / notebook.stem / notebook.name)
    assert any(hint in cell.source for cell in released.cells)

    # As if the repository's notebook had changed since: the record says the
    # last release took another version
    manifest = course / MANIFEST_NAME
    record = json.loads(manifest.read_text())
    record['files'][f'{notebook.stem}/{notebook.name}'] = 'the sha256 of an older version'
    manifest.write_text(json.dumps(record))
    before = {path: path.read_bytes() for path in course.rglob('*') if path.is_file()}
    with pytest.raises(SourceConflict, match=re.escape(f'{edited}  (the repository\'s: {notebook})')):
        release(course)
    assert {path: path.read_bytes() for path in course.rglob('*') if path.is_file()} == before
