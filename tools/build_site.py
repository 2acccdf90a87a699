"""Builds the course as a static web site, from the notebooks' stored outputs:
nothing is executed and nothing is downloaded, and the pages load nothing
from another host. One page per chapter, in course order; one page per script
a chapter writes (and one for helpers.py), linked from the cell that writes it.
The exercises are left out: their teacher's version holds the solutions.

    python -m tools.build_site [OUT_FOLDER]    # make site; default: build/site

Sphinx's settings and the landing page are in site/ (its opening and its
commands come from README.md, included); the pages' sources are
put together in OUT_FOLDER's sibling OUT_FOLDER-source. Needs requirements-site.txt.
"""
import shutil
import sys
from pathlib import Path

import nbformat
from sphinx.cmd.build import build_main

from classroom.course import CHAPTERS, COURSE_ROOT, WRITEFILE
from tools.publish import hub, repository, site_note

SITE_SETTINGS = COURSE_ROOT / 'site'
# Pages of their own for the files the chapters write, under this folder
FILES_FOLDER = 'files'
HELPERS = 'helpers.py'
README = 'README.md'


def script_page(path):
    """The docname (path without suffix, in the site) of a script's page."""
    return f'{FILES_FOLDER}/{Path(path).with_suffix("").as_posix()}'


def link(from_page, to_source, text):
    """A Markdown link from one page to another's source file (NAME.md or
    NAME.ipynb), relative to the first."""
    depth = from_page.count('/')
    return f'[{text}]({"../" * depth}{to_source})'


def with_links(notebook, page):
    """`notebook` with a short Markdown cell after each %%writefile cell that
    links to the written script's page, and one at the end that links to
    helpers.py. Returns it and the scripts it writes."""
    cells, written = [], []
    for cell in notebook.cells:
        cells.append(cell)
        match = WRITEFILE.match(cell.source + '\n') if cell.cell_type == 'code' else None
        if match:
            path = match.group(1)
            written.append(path)
            cells.append(nbformat.v4.new_markdown_cell(
                f'The cell above writes {link(page, f"{script_page(path)}.md", f"`{path}`")}.'))
    cells.append(nbformat.v4.new_markdown_cell(
        f'The helpers this notebook shows are kept in {link(page, f"{script_page(HELPERS)}.md", f"`{HELPERS}`")}.'))
    notebook.cells = cells
    return notebook, written


def with_setup_cell_folded(notebook):
    """`notebook` with its setup cell's code folded away on the page (MyST-NB's
    hide-input): the same long cell opens every notebook, and the chapter
    starts after it."""
    setup = next(cell for cell in notebook.cells if cell.cell_type == 'code')
    setup.metadata.setdefault('tags', []).append('hide-input')
    return notebook


def write_script_page(source_folder, path, writers):
    """A page that shows the course's file `path` and links to the pages of
    the notebooks that write it."""
    page = script_page(path)
    target = source_folder / f'{page}.md'
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(COURSE_ROOT / path, target.with_suffix('.py.txt'))
    written_by = ', '.join(link(page, f'{writer}.ipynb', title) for writer, title in writers)
    lines = [
        '---', 'orphan: true', '---', '', f'# `{path}`', '',
        f'Written by {written_by}.' if writers else 'Imported by the notebooks.', '',
        f'```{{literalinclude}} {target.with_suffix(".py.txt").name}', ':language: python', '```', '',
    ]
    target.write_text('\n'.join(lines))


def title_of(notebook):
    """The text of the notebook's first heading."""
    for cell in notebook.cells:
        if cell.cell_type == 'markdown' and cell.source.startswith('# '):
            return cell.source.splitlines()[0][2:].strip()
    raise ValueError('a notebook without a title heading')


def prepare_sources(source_folder):
    """Puts the landing page, Sphinx's settings, the chapters and the script
    pages together in `source_folder` (emptied first)."""
    if source_folder.exists():
        shutil.rmtree(source_folder)
    source_folder.mkdir(parents=True)
    shutil.copy2(SITE_SETTINGS / 'conf.py', source_folder / 'conf.py')

    writers = {}
    pages = []
    for chapter in CHAPTERS:
        page = chapter.stem
        notebook, written = with_links(with_setup_cell_folded(nbformat.read(chapter, as_version=4)), page)
        nbformat.write(notebook, source_folder / f'{page}.ipynb')
        pages.append(page)
        for path in written:
            writers.setdefault(path, []).append((page, title_of(notebook)))
    for path in sorted(writers):
        write_script_page(source_folder, path, writers[path])
    write_script_page(source_folder, HELPERS, [])

    # The landing page includes marked parts of the README (one source);
    # conf.py keeps the README itself from becoming a page
    shutil.copy2(COURSE_ROOT / README, source_folder / README)
    landing = (SITE_SETTINGS / 'index.md').read_text()
    landing = landing.replace('%LAUNCH%', site_note(repository(), hub()))
    (source_folder / 'index.md').write_text(landing.replace('%TOCTREE%', '\n'.join(pages)))
    return pages


def build_site(out_folder):
    """Builds the site into `out_folder` (replaced) and returns the chapters'
    page names, in course order. Raises if Sphinx fails."""
    out_folder = Path(out_folder)
    source_folder = out_folder.with_name(out_folder.name + '-source')
    pages = prepare_sources(source_folder)
    if out_folder.exists():
        shutil.rmtree(out_folder)
    doctrees = source_folder / '.doctrees'
    status = build_main(['-b', 'html', '-q', '-d', str(doctrees), str(source_folder), str(out_folder)])
    if status:
        raise RuntimeError(f'Sphinx failed ({status}) building {out_folder}')
    return pages


if __name__ == '__main__':
    out = Path(sys.argv[1] if len(sys.argv) > 1 else COURSE_ROOT / 'build' / 'site').resolve()
    build_site(out)
    print(f'{out / "index.html"}')
