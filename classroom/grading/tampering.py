"""Which locked cells a learner edited, reported by name when grading.

Autograding puts every locked cell (a check, a given piece of code) back as
the teacher wrote it before running a submission. nbgrader 0.9.6 compares
each cell with the teacher's version, hidden tests included, so it reports
"Attribute 'checksum' ... has changed!" for every check that holds hidden
tests, in every submission, edited or not: the one edit in a class drowns.
Here a cell is compared with what the learners were given (the teacher's
version without its hidden tests): only a cell the learner changed is
reported, with the student's name; every locked cell is still put back.
rules.py puts this class in place of nbgrader's OverwriteCells.
"""
import nbformat
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells


def as_released(source):
    """A locked cell's source as learners receive it: the hidden tests cut
    out, as nbgrader's release does."""
    cell = nbformat.v4.new_code_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class OverwriteCellsReportingEdits(OverwriteCells):
    """OverwriteCells that reports a locked cell only when the learner edited
    it: one warning naming the student, the notebook and the cell."""

    def preprocess(self, nb, resources):
        self.student_id = resources['nbgrader']['student']
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        self.edited = False
        grade_id = cell.metadata.get('nbgrader', {}).get('grade_id')
        if grade_id is not None:
            try:
                given = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                pass  # nbgrader itself warns, and drops the cell's grade_id
            else:
                self.edited = given.locked and cell.source != as_released(given.source)
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr != 'checksum':
            super().report_change(name, attr, old, new)
        elif self.edited:
            self.log.warning(
                "%s edited the locked cell %s of %s/%s: it is graded as released, the edit is ignored",
                self.student_id, name, self.assignment_id, self.notebook_id)
