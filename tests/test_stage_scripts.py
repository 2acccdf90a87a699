"""The committed stage scripts are exactly what the notebooks write."""
from collections import defaultdict

import pytest

from classroom.course import COURSE_ROOT, NOTEBOOKS, code_cells, writefile_cells

STAGES = ('data_preparation', 'model_configuration', 'model_training')


def all_writers():
    writers = defaultdict(list)
    for notebook in NOTEBOOKS:
        for path, text in writefile_cells(notebook):
            writers[path].append((notebook.name, text))
    return writers


def test_every_written_script_is_committed_byte_for_byte():
    writers = all_writers()
    assert writers, 'no %%writefile cell found in the notebooks'
    for path, cells in writers.items():
        committed = COURSE_ROOT / path
        assert committed.is_file(), f'{path} is written by {cells[0][0]} but not committed'
        for notebook, text in cells:
            assert committed.read_text() == text, (
                f'{path} differs from its %%writefile cell in {notebook}: '
                f're-run that cell, or mend the script and the cell together'
            )


def test_no_script_is_written_by_two_cells():
    twice = {path: [nb for nb, _ in cells] for path, cells in all_writers().items() if len(cells) > 1}
    assert not twice, f'written by more than one cell: {twice}'


def test_every_committed_stage_script_has_a_writer():
    writers = all_writers()
    committed = [
        path.relative_to(COURSE_ROOT).as_posix()
        for stage in STAGES
        for path in sorted((COURSE_ROOT / stage).glob('*.py'))
    ]
    assert committed
    orphans = [path for path in committed if path not in writers]
    assert not orphans, f'committed stage scripts that no notebook writes: {orphans}'


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda path: path.name)
def test_each_written_script_is_run_with_run_i(notebook):
    sources = [source for source, _ in code_cells(notebook)]
    for path, _ in writefile_cells(notebook):
        assert path.split('/')[0] in STAGES + ('data_generation',), (
            f'{notebook.name} writes {path}: stage scripts go to '
            f'data_preparation/, model_configuration/ or model_training/ (relative to the course root)'
        )
        # A module that DataLoader workers must import is imported instead,
        # and a program that runs in several processes is started by torchrun
        module = path.removesuffix('.py').replace('/', '.')
        assert any(f'%run -i {path}' in source or f'from {module} import ' in source
                   or launched_by_torchrun(path, source)
                   for source in sources), (
            f'{notebook.name} writes {path} but never runs it with %run -i {path} '
            f'(nor imports it with from {module} import ..., nor starts it with !torchrun ... {path})'
        )


def launched_by_torchrun(path, source):
    return any(line.startswith('!') and 'torchrun' in line and path in line.split()
               for line in source.splitlines())
