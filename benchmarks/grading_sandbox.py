"""What autograding in a sandbox costs (`make bench`): the same submissions
autograded by `nbgrader autograde --force` with the course's settings, with
the sandbox (classroom/grading/sandbox.py) and without it
(`--SandboxedKernelManager.sandbox=False`), in turns, side by side.

A course folder of its own (make release's function), STUDENTS students
handing in the model answers of every exercise notebook; each assignment is
autograded REPEATS times each way, alternating, and the best time of each
way is kept, since other programs only ever slow a run down. Prints the
table and writes it to build/bench_grading_sandbox.md.

    python -m benchmarks.grading_sandbox
"""
import datetime
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat

from classroom.course import COURSE_ROOT, EXERCISES, read
from classroom.grading.commands import nbgrader, release, stamp_hand_copied_submissions
from tests.submissions import submission

STUDENTS = 2
REPEATS = 3
WAYS = {'in the sandbox': [], 'without it': ['--SandboxedKernelManager.sandbox=False']}
REPORT = COURSE_ROOT / 'build' / 'bench_grading_sandbox.md'


def hand_in_model_answers(course):
    """STUDENTS students hand in the model answers of every exercise notebook."""
    for number in range(STUDENTS):
        for notebook in EXERCISES:
            handed_in = course / 'submitted' / f'student-{number}' / notebook.stem / notebook.name
            handed_in.parent.mkdir(parents=True)
            released = read(course / 'release' / notebook.stem / notebook.name)
            nbformat.write(submission(released, notebook, 'model_answers'), handed_in)
    stamp_hand_copied_submissions(course)


def autograde_seconds(course, assignment, options):
    began = time.monotonic()
    nbgrader(course, 'autograde', assignment, '--force', *options)
    return time.monotonic() - began


def main():
    with tempfile.TemporaryDirectory(prefix='bench-grading-') as folder:
        course = Path(folder) / 'course'
        release(course)
        hand_in_model_answers(course)
        rows = []
        for notebook in EXERCISES:
            best = {way: float('inf') for way in WAYS}
            for _ in range(REPEATS):
                for way, options in WAYS.items():
                    best[way] = min(best[way], autograde_seconds(course, notebook.stem, options) / STUDENTS)
            rows.append((notebook.stem, best['without it'], best['in the sandbox']))
    cpu = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
    model = next((line.split(':', 1)[1].strip() for line in cpu.splitlines() if line.startswith('Model name')), '?')
    lines = [
        f'Autograding one submission, with and without the sandbox ({STUDENTS} submissions per run, best of '
        f'{REPEATS} runs each way, alternating), {datetime.date.today()}, {platform.node()}: {model}, '
        f'{len(os.sched_getaffinity(0))} cores',
        '',
        '| assignment | without the sandbox | in the sandbox | ratio |',
        '| --- | --- | --- | --- |',
        *[f'| {name} | {bare:.2f} s | {boxed:.2f} s | {boxed / bare:.2f} |' for name, bare, boxed in rows],
    ]
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
