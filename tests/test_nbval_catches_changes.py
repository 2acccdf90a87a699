"""The notebook regression check can fail: a stored output that differs from
what the code produces makes strict nbval fail."""
import json
import subprocess
import sys


from classroom.course import COURSE_ROOT

CHAPTER = COURSE_ROOT / 'notebooks' / '01_rethinking_the_training_loop.ipynb'
SHOWN = 'first training point: [0.77127035] [2.47453822]'


def first_cells_up_to(text):
    notebook = json.loads(CHAPTER.read_text())
    for end, cell in enumerate(notebook['cells']):
        if any(text in ''.join(output.get('text', '')) for output in cell.get('outputs', [])):
            notebook['cells'] = notebook['cells'][: end + 1]
            return notebook
    raise AssertionError(f'the chapter no longer shows {text!r}')


def run_nbval(notebook, name):
    # Inside the course (a gitignored folder), so the copy finds helpers.py
    folder = COURSE_ROOT / 'build' / 'nbval-check'
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(notebook))
    return subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-p', 'no:xdist', '-q', str(path)],
        cwd=COURSE_ROOT, capture_output=True, text=True, timeout=120,
    )


def test_strict_nbval_passes_the_copy_as_stored():
    result = run_nbval(first_cells_up_to(SHOWN), 'unchanged.ipynb')
    assert result.returncode == 0, result.stdout


def test_strict_nbval_fails_when_one_stored_output_changes():
    notebook = first_cells_up_to(SHOWN)
    output = notebook['cells'][-1]['outputs'][0]
    output['text'] = ''.join(output['text']).replace('[2.47453822]', '[2.47453823]')
    result = run_nbval(notebook, 'changed.ipynb')
    assert result.returncode == 1, result.stdout
    assert '1 failed' in result.stdout
    assert '2.47453823' in result.stdout  # the report shows the difference
