"""The guides, by reader: README.md for learners (short, the two commands
first), TEACHING.md, CONTRIBUTING.md and benchmarks/README.md for the rest;
their links lead somewhere, every command is explained in one of them, and
the site's landing page includes the README's parts instead of copying them."""
import re
import subprocess

from classroom.course import COURSE_ROOT

README = COURSE_ROOT / 'README.md'
GUIDES = [README, *(COURSE_ROOT / name for name in ('TEACHING.md', 'HUB.md', 'CONTRIBUTING.md', 'PUBLISHING.md',
                                                    'benchmarks/README.md'))]
LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')
INCLUDE = re.compile(r'```\{include\} (\S+)\n:start-after: (.+)\n:end-before: (.+)\n```')


def test_the_readme_is_short_and_starts_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    first_block = text.split('```bash\n', 1)[1].split('```', 1)[0]
    assert [line.split()[:2] for line in first_block.splitlines()] == [['make', 'lab'], ['make', 'test']]


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
