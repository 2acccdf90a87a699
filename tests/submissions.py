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
