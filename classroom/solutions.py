"""`make solutions` (course-solutions): the model solutions of the exercises,
one notebook per exercise notebook, in build/solutions/, away from the
learner's own notebooks: the teacher's versions (source/) with their outputs,
less the hidden tests, which stay the teacher's.

    course-solutions    # make solutions

It runs in a learner's .venv, made from requirements.txt alone: it needs no
teachers' tools (nbgrader), only the notebooks' format.
"""
import sys

import nbformat

from classroom.course import COURSE_ROOT, EXERCISES, hidden_line_numbers, own_empty_folder


def without_hidden_tests(notebook):
    """`notebook` (an nbformat notebook, changed in place) with every line of
    its hidden tests removed, nbgrader's markers included."""
    for cell in notebook.cells:
        hidden = hidden_line_numbers(cell.source)
        if hidden:
            cell.source = '\n'.join(line for number, line in enumerate(cell.source.splitlines(), start=1)
                                    if number not in hidden)
    return notebook


def write_solutions(out_folder):
    """Writes the model solutions into `out_folder` (replacing what this
    function wrote there before; never a folder it did not make) and returns
    their paths."""
    out_folder = own_empty_folder(out_folder)
    written = []
    for exercise in EXERCISES:
        written.append(out_folder / exercise.name)
        nbformat.write(without_hidden_tests(nbformat.read(exercise, as_version=4)), written[-1])
    return written


def main(arguments=None):
    """make solutions: prints the path of each notebook written."""
    arguments = sys.argv[1:] if arguments is None else arguments
    if arguments:
        print(f'make solutions takes no argument, not {" ".join(arguments)}', file=sys.stderr)
        return 2
    for path in write_solutions(COURSE_ROOT / 'build' / 'solutions'):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
