"""Executes every course notebook in a fresh kernel, headless, and prints,
per notebook, whether it ran to the end and how many seconds it took.

    python tools/run_notebooks.py [OUT_FOLDER]   # executed copies (make run: build/executed/)
    python tools/run_notebooks.py --in-place     # regenerates the stored outputs (make outputs)
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

from course import COURSE_ROOT, NOTEBOOKS, NOTEBOOKS_FOLDER, execute, read


def main(out_folder=None):
    failed = 0
    for path in NOTEBOOKS:
        notebook = read(path)
        start = time.perf_counter()
        try:
            execute(notebook, path.parent)
            status = 'pass'
        except CellExecutionError as error:
            status = 'FAIL'
            failed += 1
            print(str(error).strip().splitlines()[-1], file=sys.stderr)
        seconds = time.perf_counter() - start
        relative = path.relative_to(NOTEBOOKS_FOLDER)
        if out_folder is None:
            # In place only after a full run: a partial run's outputs are never stored
            if status == 'pass':
                nbformat.write(notebook, path)
        else:
            target = out_folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target)
        print(f'{status}  {seconds:6.1f} s  {relative}', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    argument = sys.argv[1] if len(sys.argv) > 1 else str(COURSE_ROOT / 'build' / 'executed')
    sys.exit(main(None if argument == '--in-place' else Path(argument)))
