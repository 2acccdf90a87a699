"""The guides, by reader: README.md for learners (short, the learner's
commands first, `make test` shown for what it is), TEACHING.md,
CONTRIBUTING.md and benchmarks/README.md for the rest; their links lead
somewhere, every command is explained in one of them and listed by reader in
`make help`, the notebooks send the reader to the file that holds what they
point to, and the site's landing page includes the README's parts instead of
copying them."""
import re
import subprocess

import nbformat

from classroom.course import COURSE_ROOT, NOTEBOOKS

README = COURSE_ROOT / 'README.md'
GUIDES = [README, *(COURSE_ROOT / name for name in ('TEACHING.md', 'HUB.md', 'CONTRIBUTING.md', 'PUBLISHING.md',
                                                    'benchmarks/README.md'))]
LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')
INCLUDE = re.compile(r'```\{include\} (\S+)\n:start-after: (.+)\n:end-before: (.+)\n```')


def test_the_readme_is_short_and_starts_with_the_learners_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    first_block = text.split('```bash\n', 1)[1].split('```', 1)[0]
    commands = [line.split('#')[0].split() for line in first_block.splitlines()]
    assert {tuple(command[:2]) for command in commands} == {('make', 'lab'), ('make', 'check')}
    # Linux's choice is in the block a Linux user copies from, not after it
    assert ['make', 'lab', 'TORCH=cpu'] in commands
    # make test is shown after them, for what it is: no one runs it by surprise
    about_test = next(paragraph for paragraph in text.split('\n\n') if paragraph.startswith('**`make test`'))
    about_test = ' '.join(about_test.split())
    for what in ('every test of the course', 'nbgrader', 'as root', '/opt/pytorch-course-hub/env', 'Unix accounts',
                 '`TORCH=cpu` is given again', 'Nothing in the notebooks or the exercises needs it'):
        assert what in about_test, what


def make_targets():
    """{target: the group its `##` text names first} for every command the Makefile explains."""
    return dict(re.findall(r'^([a-z-]+):.*## ([a-z]+): ', (COURSE_ROOT / 'Makefile').read_text(), flags=re.M))


def test_make_help_lists_every_command_by_reader_the_learners_first():
    targets = make_targets()
    explained = re.findall(r'^([a-z-]+):.*## ', (COURSE_ROOT / 'Makefile').read_text(), flags=re.M)
    assert sorted(targets) == sorted(explained), 'give each command a reader: ## learners|teachers|hub|maintainers: ...'
    shown = subprocess.run(['make', '-s', 'help'], cwd=COURSE_ROOT, capture_output=True, text=True, check=True).stdout
    sections = [section.splitlines() for section in shown.strip().split('\n\n')]
    assert [section[0] for section in sections] == [
        'For learners:', 'For teachers (TEACHING.md):', "For a class's JupyterHub, as root (HUB.md):",
        'For maintainers and contributors (CONTRIBUTING.md):']
    for section, group in zip(sections, ['learners', 'teachers', 'hub', 'maintainers']):
        listed = [line.split()[1] for line in section[1:]]
        assert listed == [target for target in targets if targets[target] == group], section[0]
    learners = [line.split()[1] for line in sections[0][1:]]
    assert {'lab', 'check', 'solutions'} <= set(learners) and 'test' not in learners
    # make solutions runs with make lab's set-up alone, not the teachers' tools
    assert re.search(r'^solutions: setup ##', (COURSE_ROOT / 'Makefile').read_text(), flags=re.M)


def test_every_link_between_the_guides_leads_to_a_file():
    for guide in GUIDES:
        for target in LINK.findall(guide.read_text()):
            if not re.match(r'[a-z]+:', target):
                assert (guide.parent / target).exists(), f'{guide.relative_to(COURSE_ROOT)} links to {target}'


def test_every_make_command_is_explained_in_a_guide():
    guides = ''.join(guide.read_text() for guide in GUIDES)
    targets = re.findall(r'^([a-z]+):.*## ', (COURSE_ROOT / 'Makefile').read_text(), flags=re.M)
    assert 'check' in targets
    assert not [target for target in targets if f'make {target}' not in guides]


def markdown_of(notebook):
    return [cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == 'markdown']


def test_the_notebooks_point_to_the_file_that_holds_the_benchmarks_results():
    """make bench's results are in benchmarks/README.md, not in the README:
    every README a notebook names is a file's path, and the file exists."""
    for notebook in NOTEBOOKS:
        for text in markdown_of(notebook):
            text = ' '.join(text.split())
            for mention in re.finditer(r'\S*README\S*', text):
                path = re.sub(r'[`\[\]():,.;]+$', '', mention.group().strip('`[('))
                assert path.endswith('README.md') and (COURSE_ROOT / path).is_file(), (
                    f'{notebook.name} names {mention.group()!r} in: {text[max(0, mention.start() - 80):mention.end()]}')
            for sentence in re.split(r'(?<=[.:;])\s', text):
                if 'make bench' in sentence and re.search(r'results|numbers|table|shows', sentence):
                    assert 'benchmarks/README.md' in sentence, f'{notebook.name}: {sentence}'


def test_the_notebooks_promise_the_same_numbers_only_where_they_were_checked():
    """The outputs were checked on x86-64 CPU kernels only: a notebook that
    promises your numbers match says on which processors, and that ARM's were
    not tried, as the README does."""
    promises = 0
    for notebook in NOTEBOOKS:
        for text in markdown_of(notebook):
            text = ' '.join(text.split())
            if 'numbers match' in text:
                promises += 1
                assert 'x86-64' in text and 'ARM' in text, f'{notebook.name}: {text[:300]}'
                assert 'whatever the processor' not in text, notebook.name
    assert promises >= 2


def test_the_landing_page_includes_the_readmes_marked_parts():
    includes = INCLUDE.findall((COURSE_ROOT / 'site' / 'index.md').read_text())
    assert includes, 'site/index.md includes nothing from the README'
    text = README.read_text()
    for source, start, end in includes:
        assert source == 'README.md'
        assert text.count(start) == text.count(end) == 1 and text.index(start) < text.index(end)
    opening = text.split(includes[0][1])[1].split(includes[0][2])[0]
    assert 'A runnable course' in opening
    assert opening.strip().split('\n\n')[0] not in (COURSE_ROOT / 'site' / 'index.md').read_text()


def tracked_files():
    """The course's files as git has them (nothing a run made)."""
    listing = subprocess.run(['git', 'ls-files'], cwd=COURSE_ROOT, capture_output=True, text=True, check=True)
    return listing.stdout.splitlines()


def contributors_map():
    text = (COURSE_ROOT / 'CONTRIBUTING.md').read_text()
    return text.split('\n## What is in it\n', 1)[1].split('\n## ', 1)[0]


def test_the_contributors_tree_has_a_line_for_every_folder():
    text = (COURSE_ROOT / 'CONTRIBUTING.md').read_text()
    tree = text.split('```text\n', 1)[1].split('```', 1)[0]
    assert len(tree.splitlines()) <= 24, 'the tree should fit on one screen'
    listed = {line.split()[0] for line in tree.splitlines()}
    folders = {path.split('/')[0] + '/' for path in tracked_files() if '/' in path}
    assert folders <= listed, f'the tree leaves out {sorted(folders - listed)}'


def test_the_contributors_map_names_every_top_level_entry_and_every_module():
    named = set(re.findall(r'`([^`]+)`', contributors_map()))
    files = tracked_files()
    top_level = {path.split('/')[0] + '/' if '/' in path else path for path in files}
    assert not top_level - named, f'CONTRIBUTING.md\'s map leaves out {sorted(top_level - named)}'
    # Every module of the course's code; the tests themselves are named by their pattern
    modules = {path for path in files if path.endswith('.py')
               and not re.fullmatch(r'tests/(test_\w+|wrong_answers/\w+)\.py', path)}
    assert not modules - named, f'CONTRIBUTING.md\'s map leaves out {sorted(modules - named)}'


def test_every_file_the_makefile_names_exists():
    # A command that runs a moved file fails only when someone types it
    makefile = (COURSE_ROOT / 'Makefile').read_text()
    named = re.findall(r'(?:\$\(CURDIR\)/)?((?:[\w-]+/)*[\w-]+\.(?:py|txt|json|toml|yaml|cfg))\b', makefile)
    assert named
    missing = sorted({path for path in named if not (COURSE_ROOT / path).exists()})
    assert not missing, f'the Makefile names {missing}, which do not exist'
