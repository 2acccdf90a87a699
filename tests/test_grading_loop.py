"""The grading loop end to end, as a teacher runs it in a term: `make
release`'s and `make grade`'s own functions (tools/grading.py) on a course
folder of their own, with three simulated students handing in every
assignment: the model answers, the empty release version, and plausible
wrong answers (tests/wrong_answers/). The expected scores come from the
notebooks' points."""
import csv
import html
import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import nbformat
import pytest

from course import COURSE_ROOT, EXERCISES, is_check, nbgrader_of, points, read, wait_for
from submissions import submission, wrong_answers

STUDENTS = ('model_answers', 'empty_answers', 'wrong_answers')


@pytest.fixture(scope='module')
def graded_course(tmp_path_factory):
    """A course folder released, handed in by the three students, and graded,
    with the grading tool's own functions."""
    from grading import assignment_name, grade, release

    course = tmp_path_factory.mktemp('course')
    assert release(course) == [assignment_name(notebook) for notebook in EXERCISES]
    for notebook in EXERCISES:
        for student in STUDENTS:
            handed_in = course / 'submitted' / student / notebook.stem / notebook.name
            handed_in.parent.mkdir(parents=True)
            released = read(course / 'release' / notebook.stem / notebook.name)
            nbformat.write(submission(released, notebook, student), handed_in)
    grades = grade(course)
    assert grades == course / 'grades.csv'
    return course


def grade_table(course):
    """grades.csv as {(assignment, student): its row}."""
    with open(course / 'grades.csv', newline='') as file:
        return {(row['assignment'], row['student_id']): row for row in csv.DictReader(file)}


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
    assert len(table) == len(EXERCISES) * len(STUDENTS)
    expected = {
        # Everything but the answers graded by hand, which wait for the teacher
        'model_answers': points(notebook, autograded_only=True),
        'empty_answers': 0,
        'wrong_answers': 0,
    }
    assert 0 < expected['model_answers'] < points(notebook, autograded_only=False)
    for student, score in expected.items():
        row = table[(notebook.stem, student)]
        assert float(row['score']) == score, f'{student}: {row["score"]} of {row["max_score"]}, expected {score}'
        assert float(row['max_score']) == points(notebook, autograded_only=False)


@by_name
def test_each_wrong_answer_loses_its_exercise_points_and_each_model_answer_earns_them(notebook, graded_course):
    from nbgrader.api import Gradebook

    checks = [nbgrader_of(cell) for cell in read(notebook).cells if is_check(cell)]
    with Gradebook(f'sqlite:///{graded_course / "gradebook.db"}') as gradebook:
        def score(check, student):
            return gradebook.find_grade(check['grade_id'], notebook.stem, notebook.stem, student).score

        for check in checks:
            assert score(check, 'model_answers') == check['points'], check['grade_id']
            assert score(check, 'wrong_answers') == 0, f'{check["grade_id"]} passes a wrong answer'
            assert score(check, 'empty_answers') == 0, f'{check["grade_id"]} passes an empty answer'

    # The wrong answers are code that runs: only the checks fail on them
    autograded = read(graded_course / 'autograded' / 'wrong_answers' / notebook.stem / notebook.name)
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
        feedback = graded_course / 'feedback' / student / notebook.stem / f'{notebook.stem}.html'
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
    from feedback import MATHJAX_SETTINGS, has_math

    pages = sorted(graded_course.glob('feedback/*/*/*.html'))
    assert len(pages) == len(EXERCISES) * len(STUDENTS)
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
    from browser import leaving_the_machine, requests_made, start_chromium
    from feedback import has_math

    notebook = next(notebook for notebook in EXERCISES if has_math(read(notebook)))
    page = graded_course / 'feedback' / 'model_answers' / notebook.stem / f'{notebook.stem}.html'
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


def test_the_hubs_servers_get_the_course_grading_rules_from_the_files_the_hub_copies(tmp_path, monkeypatch):
    """tools/hub.py copies the servers' nbgrader settings, and what they
    import, into the servers' environment: read there, with the course's
    tools/ off the path, they set the same grading rules as the course's."""
    import sys
    from pathlib import Path

    from traitlets.config.loader import PyFileConfigLoader

    from hub import copy_nbgrader_settings

    servers = tmp_path / 'etc' / 'jupyter'
    copy_nbgrader_settings(servers)
    tools = COURSE_ROOT / 'tools'
    monkeypatch.setattr(sys, 'path', [path for path in sys.path if Path(path).resolve() != tools])
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, '__file__', None) or '/').parent == tools:
            monkeypatch.delitem(sys.modules, name)

    def rules(folder):
        c = PyFileConfigLoader('nbgrader_config.py', path=str(folder)).load_config()
        return (c.Execute.timeout, [rule.__name__ for rule in c.GenerateFeedback.preprocessors],
                c.GenerateFeedback.exporter_class.__name__)

    # The servers' settings first, before the course's puts tools/ back on the path
    servers_rules = rules(servers)
    assert servers_rules == rules(COURSE_ROOT)
    assert 'HideHiddenTests' in servers_rules[1] and servers_rules[2] == 'OfflineFeedbackExporter'


def test_grading_again_keeps_the_hand_grades_and_regrades_only_what_was_handed_in_again(graded_course, tmp_path):
    """A hand grade given between two `make grade` runs is kept, and not
    flagged for grading again; a submission handed in again is autograded
    again, and no other."""
    import shutil

    from nbgrader.api import Gradebook

    from grading import grade

    course = shutil.copytree(graded_course, tmp_path / 'course')
    notebook = EXERCISES[0]
    written = next(nbgrader_of(cell)['grade_id'] for cell in read(notebook).cells
                   if nbgrader_of(cell).get('grade') and nbgrader_of(cell).get('solution'))
    database = f'sqlite:///{course / "gradebook.db"}'
    with Gradebook(database) as gradebook:
        hand_grade = gradebook.find_grade(written, notebook.stem, notebook.stem, 'model_answers')
        # As the formgrader records a hand grade
        hand_grade.manual_score = 1
        hand_grade.needs_manual_grade = False
        gradebook.db.commit()
    # Every submission was copied in by hand: grade gave each a timestamp
    stamps = sorted(course.glob('submitted/*/*/timestamp.txt'))
    assert len(stamps) == len(EXERCISES) * len(STUDENTS)
    autograded = {path: path.stat().st_mtime_ns for path in course.glob('autograded/*/*/*.ipynb')}
    # wrong_answers hands notebook 01 in again, later
    again = course / 'submitted' / 'wrong_answers' / notebook.stem
    (again / 'timestamp.txt').write_text('2099-01-01 00:00:00.000000 UTC')

    grade(course)

    with Gradebook(database) as gradebook:
        hand_grade = gradebook.find_grade(written, notebook.stem, notebook.stem, 'model_answers')
        assert hand_grade.manual_score == 1 and not hand_grade.needs_manual_grade
    regraded = [path for path, before in autograded.items() if path.stat().st_mtime_ns != before]
    assert regraded == [course / 'autograded' / 'wrong_answers' / notebook.stem / notebook.name]


def test_a_second_release_keeps_the_teachers_edit_and_hands_it_out(graded_course, tmp_path):
    """An edit made in the formgrader (in the course folder's source/) stays
    through `make release` and reaches the learners' version; once the
    repository changed the same notebook too, release stops and changes
    nothing."""
    import json
    import shutil

    from course_source import MANIFEST_NAME, SourceConflict
    from grading import release

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
