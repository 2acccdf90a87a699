"""Simulated learners' notebooks, for the tests of the grading loop and of
`make check`: an exercise notebook's learners' version answered with the model
answers, left empty, answered with plausible wrong answers
(tests/wrong_answers/<notebook's stem>.py: WRONG_ANSWERS, one per exercise),
with the model answers but other wrong ones in some exercises
(MORE_WRONG_ANSWERS there), or with the model answers but one written so that
it warns when its check runs (WARNING_ANSWERS)."""
import runpy

from classroom.course import COURSE_ROOT, nbgrader_of, read

SOLUTION_MARKERS = ('### BEGIN SOLUTION', '### END SOLUTION')
WRONG_ANSWERS_FOLDER = COURSE_ROOT / 'tests' / 'wrong_answers'
# {notebook's stem: (an answer's grade_id, a line of its model answer, the
# same line as a learner may write it: right, but warning when it runs)}.
# torch.tensor() of a tensor copies it and says a UserWarning
WARNING_ANSWERS = {
    '03_samplers_splits_exercises': ('sampler_answer', 'torch.as_tensor(labels)', 'torch.tensor(labels)'),
}


def wrong_answers(exercise_notebook, which='WRONG_ANSWERS'):
    """{grade_id of a solution cell: a plausible wrong answer's code} for one
    exercise notebook, from tests/wrong_answers/<notebook's stem>.py: its
    WRONG_ANSWERS, or (which='MORE_WRONG_ANSWERS') its other ones."""
    path = WRONG_ANSWERS_FOLDER / f'{exercise_notebook.stem}.py'
    return runpy.run_path(str(path))[which]


def model_answer(cell):
    """A solution cell of the teacher's version as a learner who got it right
    would hand it in: the model answer without nbgrader's markers."""
    return '\n'.join(line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS)


def submission(release_notebook, exercise_notebook, student):
    """The release version of an exercise notebook, answered as `student`
    answers (model_answers, empty_answers, wrong_answers, more_wrong_answers
    or warned_answers)."""
    answers = {nbgrader_of(cell)['grade_id']: model_answer(cell)
               for cell in read(exercise_notebook).cells if nbgrader_of(cell).get('solution')}
    if student == 'wrong_answers':
        answers.update(wrong_answers(exercise_notebook))
    if student == 'more_wrong_answers':
        answers.update(wrong_answers(exercise_notebook, 'MORE_WRONG_ANSWERS'))
    if student == 'warned_answers':
        grade_id, model_line, warning_line = WARNING_ANSWERS[exercise_notebook.stem]
        assert model_line in answers[grade_id], f'{grade_id} no longer says {model_line}'
        answers[grade_id] = answers[grade_id].replace(model_line, warning_line)
    if student != 'empty_answers':
        for cell in release_notebook.cells:
            grade_id = nbgrader_of(cell).get('grade_id')
            if nbgrader_of(cell).get('solution'):
                cell.source = answers[grade_id]
    return release_notebook


# The attack a student's code makes on its grading (with_attack): what its
# report line starts with, and the file it writes beside the notebook
ATTACK_REPORT = 'what the attack reached: '
LEAKED_FILE = 'leaked_by_the_attack.txt'
# More threads than a grading kernel may start, fewer than a machine refuses
ATTACK_THREADS = 1100
ATTACK_CODE = '''\
import json as _json, mmap as _mmap, socket as _socket, threading as _threading
_reached = {}
for _what, _path in %(targets)r.items():
    try:
        with open(_path, 'rb') as _file:
            _reached[_what] = 'read %%d bytes' %% len(_file.read())
    except OSError as _error:
        _reached[_what] = type(_error).__name__
try:
    _socket.create_connection(('127.0.0.1', %(port)d), timeout=10).close()
    _reached['network'] = 'connected'
except OSError as _error:
    _reached['network'] = type(_error).__name__
try:
    _mmap.mmap(-1, 16 * 2**30).close()
    _reached['16 GiB of memory'] = 'mapped'
except (OSError, MemoryError) as _error:
    _reached['16 GiB of memory'] = type(_error).__name__
_threading.stack_size(2**16)
_stop, _started = _threading.Event(), 0
try:
    for _ in range(%(threads)d):
        _threading.Thread(target=_stop.wait, daemon=True).start()
        _started += 1
except RuntimeError:
    pass
_stop.set()
_threading.stack_size(0)
_reached['threads'] = _started
with open(%(leaked)r, 'w') as _file:
    _file.write('written by the code under grading')
# Every later cell's code, hidden tests included, printed into its output
get_ipython().events.register('pre_run_cell', lambda info: print(info.raw_cell))
print(%(report)r + _json.dumps(_reached))
del _json, _mmap, _socket, _threading, _reached, _stop, _started
'''


def with_attack(notebook, targets, port):
    """`notebook` (answered) with an attack on its grading before its first
    answer: it tries to read each file of `targets` ({what: path}), to
    connect to 127.0.0.1:`port`, to map 16 GiB of memory and to start
    ATTACK_THREADS threads, writes LEAKED_FILE beside the notebook, hooks
    every later cell to print its code (the hidden tests), and prints what
    it reached as one line: ATTACK_REPORT and JSON."""
    code = ATTACK_CODE % {'targets': {what: str(path) for what, path in targets.items()}, 'port': port,
                          'threads': ATTACK_THREADS, 'leaked': LEAKED_FILE, 'report': ATTACK_REPORT}
    first_answer = next(cell for cell in notebook.cells if nbgrader_of(cell).get('solution'))
    first_answer.source = code + '\n' + first_answer.source
    return notebook


def attack_report(graded_notebook):
    """What the attack of with_attack reached, as it printed it in a graded
    notebook: {what: how}."""
    import json

    for cell in graded_notebook.cells:
        for output in cell.get('outputs', []):
            for line in output.get('text', '').splitlines():
                if line.startswith(ATTACK_REPORT):
                    return json.loads(line[len(ATTACK_REPORT):])
    raise AssertionError('the attack printed no report: it did not run')
