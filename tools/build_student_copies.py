"""Builds the learners' copy of the course: the exercise notebooks with their
solutions, hidden tests and outputs removed by nbgrader's own preprocessors,
beside everything else a learner needs to run them.

    python tools/build_student_copies.py [OUT_FOLDER]    # default: build/student

No nbgrader course or database is involved: the preprocessors are applied to
each notebook directly. Needs requirements-teacher.txt.
"""
import shutil
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata, ClearHiddenTests, ClearOutput, ClearSolutions, LockCells,
)

from course import COURSE_ROOT, EXERCISES, NOTEBOOKS, copy_learner_files

# Marks a folder as made by this script, so that only such a folder is ever
# deleted when the copy is built again
MARKER = '.student-copy'

# In the order nbgrader's own `generate_assignment` applies them
STUDENT_PREPROCESSORS = [
    CheckCellMetadata,  # refuses malformed nbgrader metadata
    LockCells,          # the learner cannot edit or delete the checks
    ClearSolutions,     # each solution region becomes "YOUR CODE HERE"
    ClearOutput,        # the teacher's outputs would give answers away
    ClearHiddenTests,   # the checks kept for grading are removed
    CheckCellMetadata,
]


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
    out_folder = Path(out_folder)
    if out_folder.exists():
        if not (out_folder / MARKER).is_file() and any(out_folder.iterdir()):
            raise FileExistsError(
                f'{out_folder} exists and was not made by this script: '
                f'refusing to overwrite it; choose another folder or empty it'
            )
        shutil.rmtree(out_folder)
    out_folder.mkdir(parents=True)
    (out_folder / MARKER).write_text('Built by tools/build_student_copies.py; rebuilt on every run.\n')

    copy_learner_files(out_folder)

    written = []
    for notebook_path in NOTEBOOKS:
        target = out_folder / notebook_path.relative_to(COURSE_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        if notebook_path in EXERCISES:
            nbformat.write(student_copy(nbformat.read(notebook_path, as_version=4)), target)
        else:
            # The chapters hold no solutions: learners get them as they are
            shutil.copy2(notebook_path, target)
        written.append(target)
    return written


if __name__ == '__main__':
    out = Path(sys.argv[1] if len(sys.argv) > 1 else COURSE_ROOT / 'build' / 'student')
    for path in build_student_copies(out):
        print(path)
