"""What is built from the published address (tools/publish.py): nothing
when it is unset, and links that open each chapter from it when it is set."""
import json
from urllib.parse import parse_qs, urlparse

from classroom.course import CHAPTERS, COURSE_ROOT, NOTEBOOKS
from tools.publish import readme_section, site_note, site_theme_options

MIRROR = 'https://github.com/example-school/training-loop-mirror'


def test_an_unset_address_gives_no_links_and_says_so():
    assert site_theme_options('', 'main', 'https://hub.example-school.edu') == {}
    assert 'names no published address' in site_note('', '')
    section = '\n'.join(readme_section('', 'main'))
    assert 'names none yet' in section and 'http' not in section


def test_an_address_off_github_gitlab_and_bitbucket_gets_no_buttons_and_says_why():
    address = 'https://git.example-school.edu/course.git'
    assert site_theme_options(address, 'main', '') == {}
    assert 'need an address on GitHub, GitLab or Bitbucket' in site_note(address, '')


def test_the_readme_links_open_every_chapter_from_the_published_address():
    section = readme_section(f'{MIRROR}.git', 'term-2')
    colab = section[2]
    for chapter in CHAPTERS:
        assert (f'https://colab.research.google.com/github/example-school/training-loop-mirror/blob/term-2/'
                f'notebooks/{chapter.name}') in colab
    assert section[3] == (f'[Open in Binder](https://mybinder.org/v2/gh/example-school/training-loop-mirror/term-2'
                          f'?urlpath=lab/tree/notebooks/{CHAPTERS[0].name}) (it builds from `binder/`).')
    hub = section[4].split('`')[1]
    assert hub.startswith('https://HUB/hub/user-redirect/git-pull?')
    assert parse_qs(urlparse(hub).query) == {
        'repo': [f'{MIRROR}.git'], 'branch': ['term-2'],
        'urlpath': [f'lab/tree/training-loop-mirror/notebooks/{CHAPTERS[0].name}']}
    assert len(section) <= 6


def test_binder_installs_the_course_s_own_pins_on_the_python_of_the_stored_outputs():
    lines = [line for line in (COURSE_ROOT / 'binder' / 'requirements.txt').read_text().splitlines()
             if line.strip() and not line.startswith('#')]
    assert lines == ['--extra-index-url https://download.pytorch.org/whl/cpu', '-r ../requirements.txt']
    python = {json.loads(path.read_text())['metadata']['language_info']['version'].rsplit('.', 1)[0]
              for path in NOTEBOOKS}
    assert (COURSE_ROOT / 'binder' / 'runtime.txt').read_text().split() == [f'python-{python.pop()}']
    assert not python
