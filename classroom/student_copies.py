"""Makes the learners' versions of the exercise notebooks from the teacher's
(source/<assignment>/<assignment>.ipynb): solutions, hidden tests and outputs
removed by nbgrader's own preprocessors, checks locked.

    course-copies --in-place      # make exercises: notebooks/exercises/
    course-copies [OUT_FOLDER]    # make student: default build/student

--in-place writes the learners' versions that the course keeps in
notebooks/exercises/ (run it after changing a teacher's version; a test fails
until they are in sync). It refuses to replace a notebook that holds a
learner's work: outputs, or an answer cell without nbgrader's placeholder.
OUT_FOLDER gets the learners' copy of the whole course, without source/: the
chapters, the learners' versions, and everything they need to run. (The
model solutions, `make solutions`, need no nbgrader: classroom/solutions.py.)

No nbgrader course or database is involved: the preprocessors are applied to
each notebook directly. Needs requirements-teacher.txt.
"""
import shutil
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata, ClearHiddenTests, ClearOutput, ClearSolutions, ComputeChecksums, LockCells,
)

from classroom.course import (
    CHAPTERS, COURSE_ROOT, EXERCISES, copy_learner_files, learners_version, nbgrader_of, own_empty_folder,
)

# In the order nbgrader's own `generate_assignment` applies them
STUDENT_PREPROCESSORS = [
    CheckCellMetadata,  # refuses malformed nbgrader metadata
    LockCells,          # the learner cannot edit or delete the checks
    ClearSolutions,     # each solution region becomes "YOUR CODE HERE"
    ClearOutput,        # the teacher's outputs would give answers away
    ClearHiddenTests,   # the checks kept for grading are removed
    ComputeChecksums,   # of the cells as released: `nbgrader validate` names a changed check
    CheckCellMetadata,
]


# What nbgrader's ClearSolutions leaves in an answer cell
PLACEHOLDERS = {'code': 'raise NotImplementedError()', 'markdown': 'YOUR ANSWER HERE'}

# Besides the outputs, the timings of the teacher's run go too
CLEARED_METADATA = {'collapsed', 'scrolled', 'execution'}


def student_copy(notebook):
    """The learner's version of one exercise notebook (a new notebook)."""
    notebook = nbformat.from_dict(notebook)
    resources = {}
    for preprocessor in STUDENT_PREPROCESSORS:
        options = {'remove_metadata_fields': CLEARED_METADATA} if preprocessor is ClearOutput else {}
        notebook, resources = preprocessor(**options).preprocess(notebook, resources)
    return notebook


def build_student_copies(out_folder):
    """Writes the learners' copy of the course into `out_folder` (replacing a
    copy this function made before) and returns the notebooks it wrote."""
    out_folder = own_empty_folder(out_folder)
    copy_learner_files(out_folder)

    written = []
    for chapter in CHAPTERS:
        # The chapters hold no solutions: learners get them as they are
        target = out_folder / chapter.relative_to(COURSE_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(chapter, target)
        written.append(target)
    return written + write_learners_versions(out_folder)


def holds_learners_work(notebook):
    """Whether a learners' version has been worked in: it holds outputs, or
    an answer cell whose placeholder was replaced."""
    for cell in notebook.cells:
        if cell.cell_type == 'code' and (cell.outputs or cell.execution_count is not None):
            return True
        if nbgrader_of(cell).get('solution') and PLACEHOLDERS[cell.cell_type] not in cell.source:
            return True
    return False


def write_learners_versions(root=COURSE_ROOT):
    """Writes the learners' version of every exercise notebook under `root`
    (notebooks/exercises/NAME) and returns their paths. Refuses, before
    writing anything, to replace one that holds a learner's work."""
    targets = [Path(root) / learners_version(exercise) for exercise in EXERCISES]
    worked_in = [str(target) for target in targets
                 if target.is_file() and holds_learners_work(nbformat.read(target, as_version=4))]
    if worked_in:
        raise FileExistsError(
            f'refusing to overwrite {", ".join(worked_in)}: they hold a learner\'s answers or outputs; '
            f'move them elsewhere first (or `git checkout` them, if the work may go)'
        )
    for exercise, target in zip(EXERCISES, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student_copy(nbformat.read(exercise, as_version=4)), target)
    return targets


def main(arguments=None):
    """The command line of the module's docstring (course-copies)."""
    arguments = sys.argv[1:] if arguments is None else arguments
    if arguments == ['--in-place']:
        written = write_learners_versions()
    else:
        written = build_student_copies(Path(arguments[0] if arguments else COURSE_ROOT / 'build' / 'student'))
    for path in written:
        print(path)


if __name__ == '__main__':
    main()
