"""Executes every course notebook in a fresh kernel, headless, and saves the
executed copies into a folder (build/executed/ by `make run`); prints, per
notebook, whether it ran to the end and how many seconds it took."""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from notebook_cells import COURSE_ROOT, NOTEBOOKS


def main(out_folder):
    out_folder = Path(out_folder)
    failed = 0
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        # The kernel starts in the notebook's folder, as in JupyterLab
        client = NotebookClient(notebook, timeout=600, resources={'metadata': {'path': str(path.parent)}})
        start = time.perf_counter()
        try:
            client.execute()
            status = 'pass'
        except CellExecutionError as error:
            status = 'FAIL'
            failed += 1
            print(str(error).strip().splitlines()[-1], file=sys.stderr)
        seconds = time.perf_counter() - start
        relative = path.relative_to(COURSE_ROOT / 'notebooks')
        target = out_folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
        print(f'{status}  {seconds:6.1f} s  {relative}', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else COURSE_ROOT / 'build' / 'executed'))
