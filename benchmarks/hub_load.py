"""A class of 30 on the course's JupyterHub, measured on this machine (`make
bench`, as root; results in benchmarks/README.md, "JupyterHub load").

The hub of jupyterhub_config.py (tests/class_hub.py: test accounts, free
ports, everything removed at the end) with a teacher and N students
(default 30), each a Unix account the hub makes on their first start:

1. the hub's start, until its API answers;
2. every server asked for at once: each user's time from the request until
   the hub calls their server ready, and each server's memory once all run
   (resident and unique set sizes of the user's processes);
3. the teacher releases the chapter's exercises; every student fetches,
   answers and submits at once through their own server (the calls of
   JupyterLab's Assignments tab); a third hand in the model answers, a
   third the empty release version, a third plausible wrong answers;
4. the teacher collects and autogrades every submission; each score is
   checked against the notebook's points.

Other programs running on the machine slow every step: the numbers are one
run's, with the machine's load printed beside them.

    python -m benchmarks.hub_load [--students N]
"""
import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from classroom.course import COURSE_ROOT, EXERCISES, points
# The tests' class hub and simulated students, measured here at scale
from tests.class_hub import ClassHub, hand_in, nbgrader_as
from tests.submissions import submission

NOTEBOOK = EXERCISES[0]
ANSWERS = ('model_answers', 'empty_answers', 'wrong_answers')
OUT = COURSE_ROOT / 'build' / 'bench_hub_load.md'


def memory_per_server(hub):
    """[(resident MB, unique MB)] of each user's processes, summed per user."""
    uids = {hub.account(name).uid: name for name in hub.accounts()}
    per_user = {name: [0, 0] for name in hub.accounts()}
    for process in psutil.process_iter(['uids']):
        try:
            name = uids.get(process.info['uids'].real)
            if name:
                memory = process.memory_full_info()
                per_user[name][0] += memory.rss / 2**20
                per_user[name][1] += memory.uss / 2**20
        except psutil.Error:
            pass
    return list(per_user.values())


def cpu_model():
    """The processor's name, as Linux reports it."""
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.machine()


def summary(values):
    return f'median {statistics.median(values):.1f}, min {min(values):.1f}, max {max(values):.1f}'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--students', type=int, default=30)
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error('run it as root: the hub makes Unix accounts and starts servers as their users')
    answers = {f's{number:02d}': ANSWERS[number % 3] for number in range(args.students)}
    hub = ClassHub('hubload', answers)
    results = {'machine': f'{cpu_model()}, {os.cpu_count()} cores, '
                          f'load average before {os.getloadavg()[0]:.1f}'}
    try:
        results['hub start, s'] = f'{hub.start():.1f}'
        hub.api('users', 'POST', {'usernames': hub.accounts()})
        ready_after = hub.spawn_at_once(hub.accounts())
        students_ready = [ready_after[name] for name in hub.students.values()]
        results[f'{args.students} students + teacher spawned at once: each until ready, s'] = summary(students_ready)
        results['all ready, s'] = f'{max(ready_after.values()):.1f}'
        memory = memory_per_server(hub)
        results['memory per idle server, resident MB'] = summary([rss for rss, _ in memory])
        results['memory per idle server, unique MB'] = summary([uss for _, uss in memory])

        teacher = hub.account(hub.teacher)
        nbgrader_as(teacher, 'release_assignment', NOTEBOOK.stem)
        tokens = {name: hub.user_token(name) for name in hub.students.values()}
        began = time.monotonic()
        with ThreadPoolExecutor(args.students) as pool:
            jobs = [pool.submit(hand_in, hub, hub.account(name), tokens[name], NOTEBOOK,
                                lambda released, way=answers[student]: submission(released, NOTEBOOK, way))
                    for student, name in hub.students.items()]
            for job in jobs:
                job.result()
        results[f'{args.students} fetch, save and submit at once, s'] = f'{time.monotonic() - began:.1f}'

        began = time.monotonic()
        nbgrader_as(teacher, 'collect', '--update', NOTEBOOK.stem)
        results['collect, s'] = f'{time.monotonic() - began:.1f}'
        began = time.monotonic()
        nbgrader_as(teacher, 'autograde', NOTEBOOK.stem)
        results[f'autograde {args.students}, s'] = f'{time.monotonic() - began:.1f}'
        grades = teacher.home / 'teaching' / 'grades.csv'
        nbgrader_as(teacher, 'export', f'--to={grades}')
        with open(grades.with_name('grades_by_assignment.csv'), newline='') as file:
            scores = {row['student_id']: float(row['score']) for row in csv.DictReader(file)
                      if row['assignment'] == NOTEBOOK.stem and row['status'] != 'missing'}
        expected = {'model_answers': points(NOTEBOOK, autograded_only=True), 'empty_answers': 0, 'wrong_answers': 0}
        wrong = {name: scores.get(name) for student, name in hub.students.items()
                 if scores.get(name) != expected[answers[student]]}
        results['collected and graded right'] = f'{len(scores) - len(wrong)} of {args.students}'
        if wrong:
            results['graded wrong'] = json.dumps(wrong)
    finally:
        hub.remove_everything()
    rows = [f'| {key} | {value} |' for key, value in results.items()]
    table = '\n'.join(['| measure | value |', '| --- | --- |', *rows])
    print(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(table + '\n')
    if 'graded wrong' in results:
        sys.exit('some submissions were graded wrong')


if __name__ == '__main__':
    main()
