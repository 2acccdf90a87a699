"""Executes course notebooks in a fresh kernel each, headless, and prints,
per notebook, whether it ran to the end and how many seconds it took.

    python -m tools.run_notebooks                      # every notebook, copies into build/executed/ (make run)
    python -m tools.run_notebooks --in-place           # regenerates the stored outputs (make outputs)
    python -m tools.run_notebooks --in-place NOTEBOOK  # one notebook's stored outputs
"""
import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

from classroom.course import COURSE_ROOT, NOTEBOOKS, execute, read


def run(paths, out_folder=None):
    """Executes each notebook; writes it into `out_folder`, or, when that is
    None, back in place (only after a run that reached the end: a partial
    run's outputs are never stored). Returns the number that failed."""
    failed = 0
    for path in paths:
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
        relative = path.relative_to(COURSE_ROOT)
        if out_folder is None:
            if status == 'pass':
                nbformat.write(notebook, path)
        else:
            target = out_folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target)
        print(f'{status}  {seconds:6.1f} s  {relative}', flush=True)
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('notebooks', nargs='*', type=Path, help='default: every course notebook')
    where = parser.add_mutually_exclusive_group()
    where.add_argument('--out', type=Path, default=COURSE_ROOT / 'build' / 'executed',
                       help='folder for the executed copies')
    where.add_argument('--in-place', action='store_true', help='store the outputs in the notebooks themselves')
    args = parser.parse_args()
    paths = [path.resolve() for path in args.notebooks] or NOTEBOOKS
    outside = [str(path) for path in paths if path not in NOTEBOOKS]
    if outside:
        parser.error(f'not a notebook of the course with stored outputs (a chapter under notebooks/, or a '
                     f'teacher\'s version under source/): {", ".join(outside)}')
    return 1 if run(paths, None if args.in_place else args.out) else 0


if __name__ == '__main__':
    sys.exit(main())
