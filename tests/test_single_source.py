"""What a learner reads in a notebook's `helpers` cells is what helpers.py runs."""
import ast

from classroom.course import COURSE_ROOT, NOTEBOOKS, code_cells


def top_level_definitions(source):
    """Maps each top-level function, class or constant to its exact source."""
    definitions = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            definitions[node.name] = ast.get_source_segment(source, node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                definitions[target.id] = ast.get_source_segment(source, node)
    return definitions


HELPERS = top_level_definitions((COURSE_ROOT / 'helpers.py').read_text())


def shown_in_notebooks():
    shown = {}
    for notebook in NOTEBOOKS:
        for source, tags in code_cells(notebook):
            if 'helpers' in tags:
                for name, text in top_level_definitions(source).items():
                    shown[name] = (notebook.name, text)
    return shown


def test_helpers_cells_equal_helpers_py():
    shown = shown_in_notebooks()
    assert shown, 'no cell tagged `helpers` in the notebooks'
    for name, (notebook, text) in shown.items():
        assert name in HELPERS, f'{notebook} shows {name}, which helpers.py does not have'
        assert text == HELPERS[name], (
            f'{name} in {notebook} differs from helpers.py: change both together'
        )


def test_every_helper_is_shown_in_a_notebook():
    hidden = sorted(set(HELPERS) - set(shown_in_notebooks()))
    assert not hidden, f'helpers.py defines {hidden}, which no `helpers` cell shows'


def test_every_helper_has_a_docstring():
    # Shift-Tab in Jupyter and help() show it to learners
    tree = ast.parse((COURSE_ROOT / 'helpers.py').read_text())
    undocumented = [node.name for node in tree.body
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not ast.get_docstring(node)]
    assert not undocumented, f'helpers.py: {undocumented} have no docstring'
