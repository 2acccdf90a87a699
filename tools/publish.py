"""Where the course is published, named once, and everything built from it:
the first lines of every notebook's setup cell (which fetches the course when
a notebook is opened alone), the site's launch buttons and the README's
launch links. See PUBLISHING.md.

    python -m tools.publish    # make publish: writes the setup cells and the README's links

COURSE_REPOSITORY in the environment overrides REPOSITORY (a git URL or a
folder): for the tests, and for a school that serves its own mirror. The
setup cells read it when they run; the site when it is built.
"""
import os
import re
import string
from urllib.parse import urlencode

import nbformat

from classroom.course import CHAPTERS, COURSE_ROOT, LEARNERS_EXERCISES, NOTEBOOKS

# The course's git repository, as a learner's machine reaches it (for the
# Colab, Binder and JupyterHub links: https://github.com/OWNER/NAME), and its
# branch. Empty until a publisher sets it; nothing invents one
REPOSITORY = ''
BRANCH = 'main'

# The first code cell of every notebook; $repository and $branch stand for the address
SETUP_CELL_TEMPLATE = COURSE_ROOT / 'tools' / 'setup_cell.txt'
README = COURSE_ROOT / 'README.md'
README_START = '<!-- launch links: written by `make publish` from tools/publish.py -->'
README_END = '<!-- end of the launch links -->'
COLAB = 'https://colab.research.google.com'
BINDER = 'https://mybinder.org'
# Where the theme's buttons find the notebooks, relative to the repository
NOTEBOOKS_PATH = 'notebooks'


def repository():
    """The address the course is fetched from: COURSE_REPOSITORY, else REPOSITORY ('' when neither is set)."""
    return os.environ.get('COURSE_REPOSITORY') or REPOSITORY


def hub():
    """The address of a school's JupyterHub the site's chapters get a launch button for (COURSE_HUB; '' for none)."""
    return os.environ.get('COURSE_HUB', '').rstrip('/')


def setup_cell(repository=REPOSITORY, branch=BRANCH):
    """The source of every notebook's first code cell: tools/setup_cell.txt
    with the published address and branch written in."""
    template = string.Template(SETUP_CELL_TEMPLATE.read_text().rstrip('\n'))
    return template.substitute(repository=repr(repository), branch=repr(branch))


def web_repository(address):
    """'https://github.com/OWNER/NAME' for an address on GitHub, GitLab or
    Bitbucket (the hosts Colab, Binder and the site's theme know), else None."""
    match = re.fullmatch(r'https://(github\.com|gitlab\.com|bitbucket\.org)/([^/]+)/([^/]+?)(?:\.git)?/?', address)
    return f'https://{match[1]}/{match[2]}/{match[3]}' if match else None


def colab_link(address, branch, notebook):
    """Opens `notebook` (a path in the repository) in Colab; None unless the address is on GitHub."""
    web = web_repository(address)
    if not web or not web.startswith('https://github.com/'):
        return None
    return f'{COLAB}/github/{web.removeprefix("https://github.com/")}/blob/{branch}/{notebook}'


def binder_link(address, branch, notebook):
    """Builds the course on mybinder.org and opens `notebook` in JupyterLab; None unless the address is on GitHub."""
    web = web_repository(address)
    if not web or not web.startswith('https://github.com/'):
        return None
    return f'{BINDER}/v2/gh/{web.removeprefix("https://github.com/")}/{branch}?urlpath=lab/tree/{notebook}'


def hub_link(hub, address, branch, notebook):
    """nbgitpuller's link: the hub clones (or updates) the course into a folder
    named after the repository and opens `notebook` in JupyterLab."""
    name = address.rstrip('/').rsplit('/', 1)[-1].removesuffix('.git')
    query = urlencode({'repo': address, 'branch': branch, 'urlpath': f'lab/tree/{name}/{notebook}'}, safe='/')
    return f'{hub.rstrip("/")}/hub/user-redirect/git-pull?{query}'


def site_theme_options(address, branch, hub):
    """The book theme's options for its launch buttons on each chapter page:
    Colab (GitHub only) and Binder, and JupyterHub when a hub is given. {} when
    the address is not on a host the theme knows."""
    web = web_repository(address)
    if not web:
        return {}
    buttons = {'binderhub_url': BINDER, 'notebook_interface': 'jupyterlab'}
    if web.startswith('https://github.com/'):
        buttons['colab_url'] = COLAB
    if hub:
        buttons['jupyterhub_url'] = hub
    return {'repository_url': web, 'repository_branch': branch, 'path_to_docs': NOTEBOOKS_PATH,
            'launch_buttons': buttons}


def site_note(address, hub):
    """What the landing page says about the launch buttons, in Markdown."""
    if not address:
        return ('This copy of the course names no published address (`REPOSITORY` in `tools/publish.py`), '
                'so its pages have no buttons to open a notebook in Colab, Binder or a JupyterHub.')
    if not web_repository(address):
        return (f'The course is published at `{address}`; the buttons that open a notebook in Colab, Binder or '
                'a JupyterHub need an address on GitHub, GitLab or Bitbucket, so its pages have none.')
    web = web_repository(address)
    where = 'Colab or Binder' if web.startswith('https://github.com/') else 'Binder'
    hub_words = (f', or on the JupyterHub at <{hub}>' if hub else
                 ' (a teacher adds one for the school\'s JupyterHub with `make site HUB=https://...`)')
    return f'The rocket button at the top of each chapter opens it in {where}{hub_words}, from <{web}>.'



def readme_section(address=REPOSITORY, branch=BRANCH):
    """The lines between the README's launch-link markers."""
    if not address:
        return [
            'A notebook opened alone (in Colab, on a school\'s JupyterHub, from a download) fetches the',
            'course it needs from the address the course is published at. This copy names none yet',
            '(`REPOSITORY` in `tools/publish.py`; see PUBLISHING.md), so it has no launch links:',
            'open the notebooks inside the course folder, or set `COURSE_REPOSITORY` to a copy you can reach.',
        ]
    lines = [f'A notebook opened alone fetches the course from <{address}> (branch `{branch}`) into a folder',
             'beside it.']
    colab = [(chapter.name[:2], colab_link(address, branch, f'{NOTEBOOKS_PATH}/{chapter.name}'))
             for chapter in CHAPTERS]
    if colab[0][1]:
        lines.append('Open in Colab: ' + ' · '.join(f'[{number}]({link})' for number, link in colab))
    first = f'{NOTEBOOKS_PATH}/{CHAPTERS[0].name}'
    if binder_link(address, branch, first):
        lines.append(f'[Open in Binder]({binder_link(address, branch, first)}) (it builds from `binder/`).')
    lines.append(f'On a JupyterHub (replace HUB): `{hub_link("https://HUB", address, branch, first)}`')
    return lines


def readme_with_links(text, address=REPOSITORY, branch=BRANCH):
    """The README's text with its launch-link section rewritten."""
    if README_START not in text or README_END not in text:
        raise ValueError(f'README.md has lost its launch-link markers: put {README_START} and {README_END} '
                         'back, on lines of their own, under a heading such as "Open it elsewhere"')
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    return text[:start] + '\n' + '\n'.join(readme_section(address, branch)) + '\n' + text[end:]


def write():
    """Writes the published address into every notebook's setup cell (the
    learners' versions of the exercises too, which stay what `make exercises`
    makes of the teacher's) and the README's links."""
    for path in NOTEBOOKS + LEARNERS_EXERCISES:
        notebook = nbformat.read(path, as_version=4)
        first_code = next(cell for cell in notebook.cells if cell.cell_type == 'code')
        first_code.source = setup_cell()
        nbformat.write(notebook, path)
    README.write_text(readme_with_links(README.read_text()))


if __name__ == '__main__':
    write()
