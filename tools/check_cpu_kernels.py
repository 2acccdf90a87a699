"""Lists every stored output that changes when a notebook runs on other CPU
kernels than this machine's own (tools/cpu_kernel_sets.py): re-executes each
notebook under strict nbval once per kernel set and prints, cell by cell,
what differs. Run it after adding or changing a printed number: a number
that moves here will move on some learner's machine too.

    python -m tools.check_cpu_kernels                          # every notebook, every kernel set
    python -m tools.check_cpu_kernels NOTEBOOK [--set NAME]    # make kernel-check NB=NOTEBOOK
"""
import argparse
import sys
import time
from pathlib import Path

from classroom.course import NOTEBOOKS
from tools.cpu_kernel_sets import KERNEL_SETS, nbval_under


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('notebooks', nargs='*', type=Path, help='default: every notebook of the course, exercises too')
    parser.add_argument('--set', dest='kernel_sets', action='append', choices=sorted(KERNEL_SETS),
                        help='a kernel set to run under (repeatable); default: all of them')
    args = parser.parse_args()
    missing = [str(path) for path in args.notebooks if not path.is_file()]
    if missing:
        parser.error(f'no such notebook: {", ".join(missing)}')
    stable = True
    for notebook in args.notebooks or NOTEBOOKS:
        for kernel_set in args.kernel_sets or KERNEL_SETS:
            start = time.perf_counter()
            passed, report = nbval_under(kernel_set, notebook)
            seconds = time.perf_counter() - start
            print(f"{'same' if passed else 'DIFFERS':8} {seconds:6.1f} s  {notebook.name} under {kernel_set}",
                  flush=True)
            if not passed:
                stable = False
                print('    ' + report.replace('\n', '\n    '), flush=True)
    return 0 if stable else 1


if __name__ == '__main__':
    sys.exit(main())
