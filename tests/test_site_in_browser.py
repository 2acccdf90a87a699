"""The static site (`make site`), built from the stored outputs and opened in
headless Chromium from its files, as a reader opens build/site/index.html:
every page reachable from the landing page, every internal link resolves,
every image loads, nothing is requested from another host, and the chapters'
plots, maths and scripts show. Built for a school's mirror of the course and
its JupyterHub, each chapter's launch buttons open that chapter from there."""
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urldefrag, urlparse

import nbformat
import pytest
from selenium.webdriver.common.by import By

from tests.browser import leaving_the_machine, network_log, screenshot, start_chromium
from tools.build_site import build_site, script_page
from classroom.course import CHAPTERS, COURSE_ROOT, EXERCISES, writefile_cells
from tools.publish import hub_link

SECRETS = ('BEGIN SOLUTION', 'END SOLUTION', 'BEGIN HIDDEN TESTS', 'END HIDDEN TESTS')
# The published address the site is built for (COURSE_REPOSITORY overrides
# the course's own) and the hub a teacher gives (COURSE_HUB)
MIRROR = 'https://github.com/example-school/training-loop-mirror'
HUB = 'https://hub.example-school.edu'


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site') / 'site'
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('COURSE_REPOSITORY', f'{MIRROR}.git')
        patch.setenv('COURSE_HUB', HUB)
        pages = build_site(out)
    return {'folder': out, 'pages': pages, 'seconds': time.monotonic() - start}


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp('chromium-profile'))
    yield driver
    driver.quit()


def local_file(url):
    return Path(unquote(urlparse(url).path))


def open_page(browser, path):
    browser.get(path.as_uri())
    # the theme's scripts have run and the images have loaded (or failed)
    for _ in range(100):
        if browser.execute_script(
                "return document.readyState === 'complete' && [...document.images].every(img => img.complete)"):
            break
        time.sleep(0.1)


@pytest.fixture(scope='module')
def crawl(site, browser):
    """Every page reachable from the landing page, opened in the browser:
    for each, its links, its images' sizes, its links to the previous and
    next pages, the code it shows, and what it requested."""
    root = site['folder']
    network_log(browser)
    seen, queue, report = set(), [root / 'index.html'], {}
    while queue:
        page = queue.pop(0)
        if page in seen:
            continue
        seen.add(page)
        open_page(browser, page)
        seen_here = browser.execute_script(
            "const href = selector => (document.querySelector(selector) || {}).href || null;"
            "return {links: [...document.querySelectorAll('a[href]')].map(a => a.href),"
            " images: [...document.images].map(img => [img.currentSrc || img.src, img.naturalWidth]),"
            " previous: href('a.left-prev'), next: href('a.right-next'),"
            " code: [...document.querySelectorAll('main div.highlight pre')].map(pre => pre.textContent)}")
        seen_here['requested'], seen_here['failed'] = network_log(browser)
        report[page] = seen_here
        for link in seen_here['links']:
            target, _ = urldefrag(link)
            if target.startswith('file:') and target.endswith('.html') and local_file(target).is_file():
                queue.append(local_file(target))
    return report


def test_the_landing_page_says_what_the_course_is_and_how_to_run_it(site, browser):
    open_page(browser, site['folder'] / 'index.html')
    screenshot(browser, 'site-landing-page')
    text = browser.find_element(By.TAG_NAME, 'main').text
    assert 'make lab' in text and 'training loop' in text.lower()
    toc = browser.execute_script(
        "return [...document.querySelectorAll('main .toctree-wrapper a.reference')].map(a => a.getAttribute('href'))")
    assert toc == [f'{chapter.stem}.html' for chapter in CHAPTERS]


def test_every_page_is_reached_and_every_internal_link_resolves(site, crawl):
    root = site['folder']
    assert {root / f'{chapter.stem}.html' for chapter in CHAPTERS} <= set(crawl)
    broken = []
    for page, seen in crawl.items():
        for link in seen['links']:
            target, fragment = urldefrag(link)
            if not target.startswith('file:'):
                continue
            path = local_file(target)
            if not path.is_file():
                broken.append(f'{page.name}: {link}')
            elif fragment and path.suffix == '.html' and f'id="{fragment}"' not in path.read_text():
                broken.append(f'{page.name}: {link} (no such anchor)')
    assert broken == []


def test_every_image_and_file_loads_and_nothing_leaves_the_machine(crawl):
    for page, seen in crawl.items():
        assert seen['failed'] == [], page
        assert all(width > 0 for _, width in seen['images']), (page, seen['images'])
        assert leaving_the_machine(seen['requested']) == [], page
        assert all(url.startswith(('file:', 'data:')) for url in seen['requested']), page


def test_links_from_page_to_page_follow_the_course_order(site, crawl):
    order = ['index'] + [chapter.stem for chapter in CHAPTERS]
    for previous, page, following in zip(order, order[1:], order[2:] + [None]):
        seen = crawl[site['folder'] / f'{page}.html']
        assert seen['previous'].endswith(f'/{previous}.html')
        assert (seen['next'] or '').endswith(f'/{following}.html') if following else seen['next'] is None


@pytest.mark.parametrize('chapter', CHAPTERS, ids=lambda path: path.name)
def test_a_chapter_shows_its_plots_and_maths_and_links_to_its_scripts(site, browser, chapter):
    open_page(browser, site['folder'] / f'{chapter.stem}.html')
    stored = sum('image/png' in output.get('data', {})
                 for cell in nbformat.read(chapter, as_version=4).cells for output in cell.get('outputs', []))
    plots = browser.execute_script(
        "return [...document.querySelectorAll('main .cell_output img')]"
        ".map(img => [img.naturalWidth, img.naturalHeight])")
    assert len(plots) == stored
    assert all(width > 100 and height > 100 for width, height in plots), plots
    # maths written between dollars is typeset, none left as text
    maths = browser.find_elements(By.CSS_SELECTOR, 'main mjx-container')
    source = ''.join(cell.source for cell in nbformat.read(chapter, as_version=4).cells if cell.cell_type == 'markdown')
    assert (len(maths) > 0) == ('$' in source)
    prose = browser.execute_script(
        "return [...document.querySelectorAll('main p')].map(p => p.textContent).join('\\n')")
    assert not re.search(r'\$[^$\s][^$]*\$', prose)
    if chapter == CHAPTERS[0]:
        screenshot(browser, 'site-chapter-top')
        if maths:
            browser.execute_script('arguments[0].scrollIntoView({block: "center"})', maths[0])
            screenshot(browser, 'site-chapter-maths')
        first_plot = browser.find_elements(By.CSS_SELECTOR, 'main .cell_output img')
        if first_plot:
            browser.execute_script('arguments[0].scrollIntoView({block: "center"})', first_plot[0])
            time.sleep(0.3)
            screenshot(browser, 'site-chapter-plot')
    # the setup cell, the same cell atop every notebook, is folded away
    folded = browser.execute_script(
        "const cells = [...document.querySelectorAll('main .cell')];"
        "return cells.length ? [cells[0].classList.contains('tag_hide-input'),"
        " (cells[0].querySelector('details') || {}).open, cells[0].textContent.includes('course_setup.py')] : []")
    assert folded == [True, False, True]
    links = browser.execute_script("return [...document.querySelectorAll('main a')].map(a => a.getAttribute('href'))")
    for path, _ in writefile_cells(chapter):
        assert f'{script_page(path)}.html' in links, path
    assert f'{script_page("helpers.py")}.html' in links


def test_each_script_page_shows_the_script(site, crawl, browser):
    written = {path for chapter in CHAPTERS for path, _ in writefile_cells(chapter)} | {'helpers.py'}
    for path in sorted(written):
        seen = crawl[site['folder'] / f'{script_page(path)}.html']
        assert [code.strip() for code in seen['code']] == [(COURSE_ROOT / path).read_text().strip()], path
    open_page(browser, site['folder'] / f'{script_page("data_preparation/v1.py")}.html')
    screenshot(browser, 'site-stage-script')


def test_the_site_holds_no_exercise(site):
    names = {exercise.stem for exercise in EXERCISES}
    for path in site['folder'].rglob('*'):
        assert not any(name in path.name for name in names), path
        if path.is_file() and path.suffix in ('.html', '.js', '.txt', '.ipynb', '.json'):
            text = path.read_text(errors='replace')
            assert not any(marker in text for marker in SECRETS), path


def test_each_chapter_s_launch_buttons_open_it_from_the_published_address(site, crawl):
    for chapter in CHAPTERS:
        path = chapter.relative_to(COURSE_ROOT).as_posix()
        assert path == f'notebooks/{chapter.name}'
        links = crawl[site['folder'] / f'{chapter.stem}.html']['links']
        launch = {service: [link for link in links if link.startswith(start)] for service, start in [
            ('Colab', 'https://colab.research.google.com/'), ('Binder', 'https://mybinder.org/'), ('hub', HUB)]}
        assert launch == {
            'Colab': [f'https://colab.research.google.com/github/example-school/training-loop-mirror/blob/main/{path}'],
            'Binder': [f'https://mybinder.org/v2/gh/example-school/training-loop-mirror/main?urlpath=lab/tree/{path}'],
            'hub': [launch['hub'][0]]}
        # nbgitpuller clones the mirror into a folder named after it, then
        # opens the chapter there; the README's link is the same
        hub = urlparse(launch['hub'][0])
        assert f'{hub.scheme}://{hub.netloc}{hub.path}' == f'{HUB}/hub/user-redirect/git-pull'
        assert parse_qs(hub.query) == {
            'repo': [MIRROR], 'branch': ['main'], 'urlpath': [f'lab/tree/training-loop-mirror/{path}']}
        assert parse_qs(urlparse(hub_link(HUB, MIRROR, 'main', path)).query) == parse_qs(hub.query)
    landing = crawl[site['folder'] / 'index.html']['links']
    assert f'{HUB}/' in landing and MIRROR in landing


def test_the_build_is_quick(site):
    print(f'site built in {site["seconds"]:.1f} s')
    assert site['seconds'] < 60
