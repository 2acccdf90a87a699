"""Reads the course's notebooks as data, for the tests that check them."""
import json
import re
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(
    path for path in (COURSE_ROOT / 'notebooks').rglob('*.ipynb')
    if '.ipynb_checkpoints' not in path.parts
)
WRITEFILE = re.compile(r'%%writefile(?: -a)? (\S+)\n')


def code_cells(notebook):
    cells = json.loads(Path(notebook).read_text())['cells']
    return [
        (''.join(cell['source']), cell.get('metadata', {}).get('tags', []))
        for cell in cells
        if cell['cell_type'] == 'code'
    ]


def writefile_cells(notebook):
    """(path, text written) for each %%writefile cell, in order."""
    found = []
    for source, _ in code_cells(notebook):
        match = WRITEFILE.match(source)
        if match:
            # %%writefile writes the cell's body, plus the final
            # newline that the notebook's JSON does not store
            found.append((match.group(1), source[match.end():] + '\n'))
    return found
