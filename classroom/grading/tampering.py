"""Locked cells a learner edited, and graded cells a learner deleted: each
graded as released, and reported by name when grading.

Autograding puts every locked cell (a check, a given piece of code) back as
the teacher wrote it before running a submission. nbgrader 0.9.6 compares
each cell with the teacher's current version, hidden tests included, so it
reports "Attribute 'checksum' ... has changed!" for every check that holds
hidden tests, in every submission, edited or not; and after the teacher
re-releases an assignment with a check's message reworded, it would blame
everyone who fetched the earlier release. Here:

- every release records its locked cells as the learners got them
  (RecordReleasedCells, in records.RELEASED_CELLS);
- a hand-in is compared with the release it came from (the recorded release
  whose locked cells it matches best): only a cell the learner changed is
  reported (EDITED), with the student's name; every locked cell is still
  put back, in its current version;
- a graded cell that is missing from the hand-in, deleted or stripped of
  its nbgrader metadata, is put back as released, next to the cells it
  followed in the release, and reported (RESTORED); nbgrader's own
  add_missing_cells is off by default and would score it 0.

rules.py puts OverwriteCellsReportingEdits in place of nbgrader's
OverwriteCells, and RecordReleasedCells at the end of generate_assignment.
"""
import re

import nbformat
from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Bool

from classroom.grading.records import RELEASED_CELLS, beside_gradebook, digest, read_record, write_record

EDITED = '%s edited the locked cell %s of %s/%s: it is graded as released, the edit is ignored'
RESTORED = ('%s\'s hand-in of %s/%s lacked the graded cell %s (deleted, or its nbgrader metadata removed): '
            'it is put back as released and graded')
# The same reports, read back from the log (student, cell, assignment, notebook)
EDITED_REPORT = re.compile(r'(\S+) edited the locked cell (\S+) of ([^/\s]+)/(\S+):')
RESTORED_REPORT = re.compile(r"(\S+)'s hand-in of ([^/\s]+)/(\S+) lacked the graded cell (\S+) ")


def as_released(source):
    """A locked cell's source as learners receive it: the hidden tests cut
    out, as nbgrader's release does."""
    cell = nbformat.v4.new_code_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class RecordReleasedCells(NbGraderPreprocessor):
    """The last step of generate_assignment: records the released notebook's
    cells (the order of those nbgrader tracks, and the sha256 of each locked
    one as learners get it) unless the last release recorded the same."""

    def preprocess(self, nb, resources):
        path = beside_gradebook(resources['nbgrader']['db_url'], RELEASED_CELLS)
        if path is None:
            return nb, resources
        tracked = [cell for cell in nb.cells if cell.metadata.get('nbgrader', {}).get('grade_id')]
        release = {
            'order': [cell.metadata.nbgrader.grade_id for cell in tracked],
            'locked': {cell.metadata.nbgrader.grade_id: digest(cell.source)
                       for cell in tracked if utils.is_locked(cell)},
        }
        record = read_record(path)
        releases = record.setdefault(resources['nbgrader']['assignment'], {}).setdefault(
            resources['nbgrader']['notebook'], [])
        if not releases or releases[-1] != release:
            releases.append(release)
            write_record(path, record)
        return nb, resources


def release_of(nb, releases):
    """The recorded release a hand-in came from: the one whose locked cells
    its cells match most often (the latest of equals); None where nothing
    was recorded."""
    handed_in = {cell.metadata.nbgrader.grade_id: digest(cell.source)
                 for cell in nb.cells if cell.metadata.get('nbgrader', {}).get('grade_id')}
    best, best_matches = None, -1
    for release in releases:
        matches = sum(handed_in.get(grade_id) == sha for grade_id, sha in release['locked'].items())
        if matches >= best_matches:
            best, best_matches = release, matches
    return best


class OverwriteCellsReportingEdits(OverwriteCells):
    """OverwriteCells that reports a locked cell only when the learner edited
    it, compared with the release they got (EDITED), and puts back the graded
    cells missing from a hand-in (RESTORED)."""

    add_missing_cells = Bool(
        True, help='Whether a graded cell missing from a hand-in is put back as released (and reported)',
    ).tag(config=True)

    def preprocess(self, nb, resources):
        self.student_id = resources['nbgrader']['student']
        path = beside_gradebook(resources['nbgrader']['db_url'], RELEASED_CELLS)
        releases = read_record(path).get(resources['nbgrader']['assignment'], {}).get(
            resources['nbgrader']['notebook'], [])
        self.release = release_of(nb, releases)
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
                if self.release and grade_id in self.release['locked']:
                    self.edited = given.locked and digest(cell.source) != self.release['locked'][grade_id]
                else:
                    # Released before releases were recorded: the current version stands for it
                    self.edited = given.locked and cell.source != as_released(given.source)
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new):
        if attr != 'checksum':
            super().report_change(name, attr, old, new)
        elif self.edited:
            self.log.warning(EDITED, self.student_id, name, self.assignment_id, self.notebook_id)

    def add_missing_grade_cells(self, nb, resources):
        """Puts each graded cell that the hand-in lacks back as released: after
        the nearest cell it followed in the release that the hand-in has (or
        before the nearest one it preceded), and reports it."""
        source_notebook = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = {cell.name: cell for cell in source_notebook.source_cells}
        solutions = {cell.name for cell in source_notebook.solution_cells}
        order = self.release['order'] if self.release else list(source_cells)
        for grade_cell in source_notebook.grade_cells:
            present = {cell['metadata']['nbgrader']['grade_id']: index for index, cell in enumerate(nb.cells)
                       if utils.is_grade(cell) or utils.is_solution(cell)}
            if grade_cell.name in present:
                continue
            self.log.warning(RESTORED, self.student_id, self.assignment_id, self.notebook_id, grade_cell.name)
            # nbformat's nodes all the way down, as the cells read from the file
            restored = nbformat.from_dict(self.missing_cell_transform(
                source_cells[grade_cell.name], grade_cell.max_score, is_solution=grade_cell.name in solutions))
            nb.cells.insert(insertion_index(grade_cell.name, order, present, len(nb.cells)), restored)
        return nb, resources


def insertion_index(name, order, present, length):
    """Where the missing cell `name` goes back: after the nearest cell before
    it in `order` that the hand-in has ({grade_id: index}), else before the
    nearest one after it, else at the end."""
    position = order.index(name) if name in order else len(order)
    for earlier in reversed(order[:position]):
        if earlier in present:
            return present[earlier] + 1
    for later in order[position + 1:]:
        if later in present:
            return present[later]
    return length
