"""Other CPU kernels than this machine's own, and strict nbval under them.

A stored output must be one its computation determines, not one that holds
only where it was made. PyTorch's CPU build picks its SIMD kernels (ATen),
its BLAS and vector maths (MKL) and its convolutions (oneDNN) by the CPU it
finds, and splits work between threads; each choice can change the last bits
of a result. The variables below force other choices on any one machine, so
that a maintainer sees there what another machine would print.
tools/find_cpu_kernel_paths.py measures which variables change what.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from classroom.course import COURSE_ROOT

# The environment variables that choose PyTorch's CPU kernels or its threads
KERNEL_VARIABLES = (
    'ATEN_CPU_CAPABILITY', 'MKL_ENABLE_INSTRUCTIONS', 'MKL_CBWR', 'ONEDNN_MAX_CPU_ISA',
    'OMP_NUM_THREADS', 'MKL_NUM_THREADS',
)

KERNEL_SETS = {
    # The oldest kernels of every library at once, on one thread: a CPU
    # without AVX2, and a path that no machine of ours takes by itself
    'oldest-one-thread': {
        'ATEN_CPU_CAPABILITY': 'default', 'MKL_ENABLE_INSTRUCTIONS': 'SSE4_2',
        'ONEDNN_MAX_CPU_ISA': 'SSE41', 'OMP_NUM_THREADS': '1',
    },
    # A machine with AVX2 and no AVX-512 (most AMD ones), on four threads
    'avx2-four-threads': {
        'ATEN_CPU_CAPABILITY': 'avx2', 'MKL_ENABLE_INSTRUCTIONS': 'AVX2',
        'ONEDNN_MAX_CPU_ISA': 'AVX2', 'OMP_NUM_THREADS': '4',
    },
}
# The one `make test` runs every chapter under, besides this machine's own
SECOND_KERNEL_SET = 'oldest-one-thread'

SANITIZE = COURSE_ROOT / 'tests' / 'sanitize.cfg'
ANSI_COLOUR = re.compile(r'(\x1b|#x1B)\[[0-9;]*m')


def environment(settings):
    """os.environ with `settings` (a dict of KERNEL_VARIABLES, empty for this
    machine's own kernels) in place of any kernel variable already set."""
    env = {name: value for name, value in os.environ.items() if name not in KERNEL_VARIABLES}
    env.update(settings)
    return env


def nbval_under(kernel_set, notebook):
    """Re-executes `notebook` under strict nbval (the course's sanitizing
    rules, nothing loosened) with `kernel_set`'s kernels. Returns (passed,
    report): whether every cell's outputs equal the stored ones, and for each
    cell that differs, its number (nbval's: code cells from 0) and the diff."""
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / 'results.xml'
        # An empty ini of our own: no pytest.ini above the notebook applies
        ini = Path(scratch) / 'pytest.ini'
        ini.write_text('[pytest]\n')
        run = subprocess.run(
            [sys.executable, '-m', 'pytest', '-c', str(ini), '--rootdir', scratch, '-p', 'no:cacheprovider',
             '-p', 'no:xdist', '--nbval', '--nbval-sanitize-with', str(SANITIZE), '--junitxml', str(results),
             '-vv', str(notebook)],
            env=environment(KERNEL_SETS[kernel_set]), capture_output=True, text=True,
        )
        if not results.exists():
            return False, run.stdout + run.stderr
        report = []
        for case in ElementTree.parse(results).iter('testcase'):
            for problem in [*case.iter('failure'), *case.iter('error')]:
                text = ANSI_COLOUR.sub('', problem.text or problem.get('message', ''))
                # nbval's own words after the cell's source: which output, and the diff
                report.append(f"{case.get('name')}: {text.partition('Traceback:')[2].strip() or text}")
        return run.returncode == 0, '\n'.join(report) or run.stdout[-2000:]
