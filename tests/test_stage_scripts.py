"""The committed stage scripts, and the class of stepbystep/, are exactly what
the notebooks write; the methods notebook 05 builds one by one are the class's."""
import ast
import textwrap
from collections import defaultdict

import pytest

from classroom.course import COURSE_ROOT, NOTEBOOKS, code_cells, writefile_cells

STAGES = ('data_preparation', 'model_configuration', 'model_training')
# Written with %%writefile and imported, like a stage script, but a module
CLASS_FOLDER = 'stepbystep'


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
        for stage in (*STAGES, CLASS_FOLDER)
        for path in sorted((COURSE_ROOT / stage).glob('*.py'))
    ]
    assert committed
    orphans = [path for path in committed if path not in writers]
    assert not orphans, f'committed stage scripts that no notebook writes: {orphans}'


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=lambda path: path.name)
def test_each_written_script_is_run_with_run_i(notebook):
    sources = [source for source, _ in code_cells(notebook)]
    for path, _ in writefile_cells(notebook):
        assert path.split('/')[0] in STAGES + ('data_generation', CLASS_FOLDER), (
            f'{notebook.name} writes {path}: stage scripts go to data_preparation/, '
            f'model_configuration/ or model_training/, classes to stepbystep/ (relative to the course root)'
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


def function_texts(source, inside_class=None):
    """{name: dedented source} of each function defined at the top of
    `source`, or of each method of its class `inside_class`."""
    tree, lines = ast.parse(source), source.splitlines()
    body = tree.body
    if inside_class:
        body = next(node for node in body if isinstance(node, ast.ClassDef) and node.name == inside_class).body
    return {node.name: textwrap.dedent('\n'.join(lines[node.lineno - 1:node.end_lineno]))
            for node in body if isinstance(node, ast.FunctionDef)}


def test_the_methods_notebook_05_builds_one_by_one_are_the_class_in_stepbystep_v0():
    """The cells tagged `stepbystep` grow the class method by method; the
    %%writefile cell writes it whole: every method shown is the file's, word
    for word, each is added to the class, and none of the file's is left out."""
    notebook = COURSE_ROOT / 'notebooks' / '05_going_classy.ipynb'
    written = (COURSE_ROOT / 'stepbystep' / 'v0.py').read_text()
    methods = function_texts(written, inside_class='StepByStep')
    shown = {}
    for source, tags in code_cells(notebook):
        if 'stepbystep' not in tags:
            continue
        if source.startswith('class StepByStep'):
            shown.update(function_texts(source, inside_class='StepByStep'))
            continue
        functions = function_texts(source)
        for name in functions:
            assert f"setattr(StepByStep, '{name}', {name})" in source, f'{name} is shown but never added to the class'
        shown.update(functions)
    assert shown, 'no cell tagged stepbystep in notebook 05'
    for name, text in shown.items():
        assert text == methods.get(name), f'notebook 05 shows {name} otherwise than stepbystep/v0.py has it'
    assert set(methods) == set(shown), f'notebook 05 never shows the methods {sorted(set(methods) - set(shown))}'
