"""The learner's path, in a real browser: JupyterLab started as `make lab`
starts it (classroom/lab.py), the chapter run with Run All in headless Chromium,
and what the learner then sees. The same for the exercises' student copies.

JupyterLab serves a copy of the course, so that its autosave, the scripts the
chapter writes, its logs and checkpoints never touch the working tree."""
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request

import nbformat
import psutil
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from classroom import lab
from tests.browser import leaving_the_machine, requests_made, screenshot, start_chromium
from classroom.course import (
    CHAPTERS, COURSE_ROOT, EXERCISES, code_cells, free_port, learners_version, wait_for, writefile_cells,
)

CHAPTER = CHAPTERS[0]
# The notebook that writes a class and imports it (notebook 05), run after the chapter
CLASS_CHAPTER = next(path for path in CHAPTERS if any(written.startswith('stepbystep/')
                                                      for written, _ in writefile_cells(path)))
LEFT_OUT_OF_THE_COPY = ('.git', '.venv', 'build', 'data', 'runs', 'checkpoints', '__pycache__',
                        '.ipynb_checkpoints', '.pytest_cache')
# The stage folders that the file browser must show at the course's root
STAGE_FOLDERS = ['data_generation', 'data_preparation', 'model_configuration', 'model_training', 'notebooks']
RUN_TIMEOUT = 300


def is_check(cell):
    """An autograder cell: graded, and not the learner's to write."""
    meta = cell.metadata.get('nbgrader', {})
    return bool(meta.get('grade')) and not meta.get('solution')


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope='module')
def course_copy(tmp_path_factory):
    """A copy of the course without the files that the %%writefile cells of
    the chapter and of the class's notebook write (Run All must write them
    again); its notebooks/exercises/ holds the learners' versions, as a fresh
    clone does."""
    root = tmp_path_factory.mktemp('course') / 'course'
    shutil.copytree(COURSE_ROOT, root, ignore=shutil.ignore_patterns(*LEFT_OUT_OF_THE_COPY))
    for path, _ in writefile_cells(CHAPTER) + writefile_cells(CLASS_CHAPTER):
        (root / path).unlink(missing_ok=True)
    return root


@pytest.fixture(scope='module')
def server(course_copy, tmp_path_factory):
    """JupyterLab on a free port, started with classroom/lab.py's command line and
    environment on the copy; JupyterLab's per-user state (workspaces, user
    settings, runtime files) goes to a fresh folder. Stopped at the end, with
    every kernel it started."""
    state = tmp_path_factory.mktemp('jupyter-state')
    port, token = free_port(), secrets.token_hex(16)
    options = ['--no-browser', f'--port={port}', '--ServerApp.ip=127.0.0.1', f'--IdentityProvider.token={token}']
    if os.geteuid() == 0:
        options.append('--allow-root')  # as make lab's LAB_FLAGS=--allow-root
    env = lab.environment()
    env.update(JUPYTERLAB_WORKSPACES_DIR=str(state / 'workspaces'), JUPYTERLAB_SETTINGS_DIR=str(state / 'settings'),
               JUPYTER_RUNTIME_DIR=str(state / 'runtime'))
    log = open(state / 'server.log', 'w')
    process = subprocess.Popen(lab.command(options, root=course_copy), env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=course_copy)
    base = f'http://127.0.0.1:{port}'

    def ready():
        if process.poll() is not None:
            raise AssertionError(f'JupyterLab exited with {process.returncode}:\n{(state / "server.log").read_text()}')
        try:
            return get_json(f'{base}/api/status?token={token}')
        except OSError:
            return None

    try:
        wait_for(ready, 90, 'JupyterLab to answer')
        yield {'base': base, 'token': token, 'root': course_copy}
    finally:
        children = psutil.Process(process.pid).children(recursive=True) if process.poll() is None else []
        try:
            request = urllib.request.Request(f'{base}/api/shutdown?token={token}', method='POST')
            urllib.request.urlopen(request, timeout=10).close()
            process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in children:  # kernels the server did not stop
            if child.is_running():
                child.kill()
        log.close()


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp('chromium-profile'))
    yield driver
    driver.quit()


def open_in_lab(browser, server, path):
    browser.get(f'{server["base"]}/lab/tree/{path}?reset&token={server["token"]}')
    # the notebook's kernel has started and is waiting
    wait_for(lambda: browser.find_elements(
        By.CSS_SELECTOR, '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]'),
        120, 'the kernel to be ready')
    wait_for(lambda: len(cells(browser)) > 0, 30, 'the cells to show')


def run_command(browser, menu, command):
    """Clicks `menu` in the menu bar, then its item that runs `command`;
    returns the labels of the items the menu showed."""
    items = browser.find_elements(By.CSS_SELECTOR, '.lm-MenuBar-itemLabel')
    next(item for item in items if item.text == menu).click()
    item = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'.lm-Menu-item[data-command="{command}"]'),
                    10, f'the menu item {command}')
    # One call: JupyterLab hides (not removes) the items of commands no plugin defined
    shown = browser.execute_script(
        "return [...document.querySelectorAll('.lm-Menu .lm-Menu-item')].filter(item => item.offsetParent)"
        ".map(item => item.querySelector('.lm-Menu-itemLabel')?.textContent ?? '')")
    item[0].click()
    return shown


def cells(browser):
    return browser.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell')


def prompts(browser):
    """The input prompt of each code cell, as shown: '[3]:', '[*]:' or '[ ]:'."""
    return browser.execute_script(
        "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]"
        ".map(cell => cell.querySelector('.jp-InputArea-prompt').textContent.trim())")


def all_ran(browser, expected):
    shown = prompts(browser)
    return len(shown) == expected and all(re.fullmatch(r'\[\d+\]:', prompt) for prompt in shown)


def cells_with_errors(browser):
    """The indexes (among code cells) of the cells that show a traceback."""
    return browser.execute_script(
        "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]"
        ".map((cell, index) => [...cell.querySelectorAll("
        "'.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".some(output => output.textContent.includes('Traceback')) ? index : -1)"
        ".filter(index => index >= 0)")


def shown_images(browser):
    """(natural width, natural height) of each image shown in the outputs."""
    return browser.execute_script(
        "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')]"
        ".map(img => [img.naturalWidth, img.naturalHeight])")


def run_all(browser, server, notebook, name):
    """Opens `notebook` from its link, runs Run All and waits for every cell;
    returns the seconds it took and the prompts JupyterLab showed on opening.
    Screenshots: lab-NAME-opened, lab-NAME-after-run-all."""
    start = time.monotonic()
    open_in_lab(browser, server, notebook.relative_to(COURSE_ROOT).as_posix())
    time.sleep(2)  # JupyterLab's own prompts come once the layout is restored
    prompts_shown = browser.execute_script(
        "return [...document.querySelectorAll('.Toastify__toast, .jp-Dialog')].map(e => e.textContent)")
    screenshot(browser, f'lab-{name}-opened')
    expected = len(code_cells(notebook))
    run_command(browser, 'Run', 'runmenu:run-all')
    wait_for(lambda: all_ran(browser, expected), RUN_TIMEOUT, 'Run All to finish')
    seconds = time.monotonic() - start
    first_image = browser.find_elements(By.CSS_SELECTOR, '.jp-OutputArea-output img')
    if first_image:
        browser.execute_script('arguments[0].scrollIntoView({block: "center"})', first_image[0])
        time.sleep(0.5)
    screenshot(browser, f'lab-{name}-after-run-all')
    return {'seconds': seconds, 'prompts': prompts_shown}


@pytest.fixture(scope='module')
def chapter_run(browser, server):
    """The chapter, opened from its link and run with Run All."""
    requests_made(browser)
    return run_all(browser, server, CHAPTER, 'chapter')


def test_the_first_start_asks_nothing(chapter_run):
    # no news prompt, no dialog: the course's settings (.jupyter/) are used
    assert chapter_run['prompts'] == []


def test_run_all_runs_every_cell_of_the_chapter(browser, chapter_run):
    assert all_ran(browser, len(code_cells(CHAPTER)))


def test_the_only_errors_are_the_cells_tagged_raises_exception(browser, chapter_run):
    tagged = [index for index, (_, tags) in enumerate(code_cells(CHAPTER)) if 'raises-exception' in tags]
    assert cells_with_errors(browser) == tagged


def test_the_plots_show_as_images(browser, chapter_run):
    stored = sum('image/png' in output.get('data', {})
                 for cell in nbformat.read(CHAPTER, as_version=4).cells for output in cell.get('outputs', []))
    images = shown_images(browser)
    assert len(images) == stored > 0
    assert all(width > 100 and height > 100 for width, height in images), images


def test_no_request_leaves_the_machine(browser, chapter_run):
    assert leaving_the_machine(requests_made(browser)) == []


def test_the_file_browser_shows_the_course_root(browser, chapter_run):
    browser.find_element(By.CSS_SELECTOR, '.jp-BreadCrumbs-home').click()

    def listed():
        names = [item.text for item in browser.find_elements(By.CSS_SELECTOR, '.jp-DirListing-itemText')]
        return names if 'helpers.py' in names else None

    names = wait_for(listed, 15, 'the file browser to show the course root')
    screenshot(browser, 'lab-file-browser-at-the-course-root')
    assert set(STAGE_FOLDERS) <= set(names), names


def open_listed(browser, name):
    """Double-clicks `name` in the file browser's listing, as a learner does."""
    def double_click():
        try:
            items = [element for element in browser.find_elements(By.CSS_SELECTOR, '.jp-DirListing-item')
                     if element.find_element(By.CSS_SELECTOR, '.jp-DirListing-itemText').text == name]
            if items:
                ActionChains(browser).double_click(items[0]).perform()
                return True
        except StaleElementReferenceException:  # the listing was redrawn meanwhile
            pass
        return False

    wait_for(double_click, 15, f'{name} in the file browser')


def test_a_stage_script_opens_with_the_text_its_cell_wrote(browser, chapter_run, server):
    path, text = next((path, text) for path, text in writefile_cells(CHAPTER) if path == 'data_preparation/v1.py')
    assert (server['root'] / path).read_text() == text  # Run All wrote it: the copy had none
    browser.find_element(By.CSS_SELECTOR, '.jp-BreadCrumbs-home').click()
    for name in path.split('/'):
        open_listed(browser, name)

    def editor_text():
        lines = browser.execute_script(
            "const editor = [...document.querySelectorAll('.jp-FileEditor')].find(e => e.offsetParent !== null);"
            "return editor ? [...editor.querySelectorAll('.cm-line')].map(line => line.textContent) : null")
        return '\n'.join(lines) if lines else None

    shown = wait_for(editor_text, 15, f'{path} in an editor tab')
    screenshot(browser, 'lab-stage-script-in-the-editor')
    tab = browser.find_element(By.CSS_SELECTOR, '.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current').text
    assert tab == path.split('/')[-1]
    assert shown == text  # the file's last newline shows as an empty last line


@pytest.fixture(scope='module')
def class_run(browser, server, chapter_run):
    """The notebook that writes the class StepByStep and imports it, run
    with Run All after the chapter."""
    return run_all(browser, server, CLASS_CHAPTER, 'class')


def test_run_all_runs_the_class_notebook_with_errors_only_where_tagged(browser, class_run):
    assert all_ran(browser, len(code_cells(CLASS_CHAPTER)))
    tagged = [index for index, (_, tags) in enumerate(code_cells(CLASS_CHAPTER)) if 'raises-exception' in tags]
    assert cells_with_errors(browser) == tagged
    stored = sum('image/png' in output.get('data', {})
                 for cell in nbformat.read(CLASS_CHAPTER, as_version=4).cells for output in cell.get('outputs', []))
    assert len(shown_images(browser)) == stored > 0
    assert leaving_the_machine(requests_made(browser)) == []


def test_the_class_notebook_writes_the_class_it_then_imports(class_run, server):
    # The copy had no stepbystep/v0.py: Run All wrote it, and the cells after
    # the import ran without error (the test above)
    for path, text in writefile_cells(CLASS_CHAPTER):
        assert (server['root'] / path).read_text() == text


# The first exercise notebook only: what the interface shows is the same for
# each, and every student copy's checks are run headless by
# tests/test_student_copy_runs.py (a browser run costs about 16 s a notebook)
@pytest.mark.parametrize('exercise', EXERCISES[:1], ids=lambda path: path.name)
def test_the_student_copy_shows_every_check_failing_on_the_empty_answers(browser, server, exercise):
    """Run All stops at the first error, as it does for a learner, who then
    runs on from the next cell: each check fails in turn."""
    notebook = nbformat.read(COURSE_ROOT / learners_version(exercise), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == 'code']
    checks = [index for index, cell in enumerate(code) if is_check(cell)]
    open_in_lab(browser, server, learners_version(exercise).as_posix())
    run_command(browser, 'Run', 'runmenu:run-all')
    shot = False
    for _ in range(len(code)):
        wait_for(lambda: '[*]:' not in prompts(browser), RUN_TIMEOUT, 'the cells to run')
        if not shot:
            first_error = browser.find_elements(By.CSS_SELECTOR, '.jp-OutputArea-output[data-mime-type*="stderr"]')
            if first_error:
                browser.execute_script('arguments[0].scrollIntoView({block: "center"})', first_error[0])
                time.sleep(0.5)
            screenshot(browser, f'lab-{exercise.stem}-student-copy-run-all')
            shot = True
        waiting = [index for index, prompt in enumerate(prompts(browser)) if prompt == '[ ]:']
        if not waiting:
            break
        # the learner selects the next cell that has not run, and runs it and all below
        cell = cells(browser)[waiting[0]]
        browser.execute_script('arguments[0].scrollIntoView({block: "center"})', cell)
        cell.find_element(By.CSS_SELECTOR, '.jp-InputArea-prompt').click()
        run_command(browser, 'Run', 'notebook:run-all-below')
    assert all(re.fullmatch(r'\[\d+\]:', prompt) for prompt in prompts(browser))
    failing = cells_with_errors(browser)
    assert set(checks) <= set(failing), f'checks that passed on an empty answer: {sorted(set(checks) - set(failing))}'
    # what comes before the first answer (imports, data) runs without error
    first_answer = min(index for index, cell in enumerate(code) if cell.metadata.get('nbgrader', {}).get('solution'))
    assert min(failing) >= first_answer

