"""Hand grades through a resubmission: kept for the answer they were given
on, set aside for an answer that changed.

When a learner hands in again, nbgrader 0.9.6 autogrades the new version but
keeps every hand grade, and flags each one for review whether its answer
changed or not: the old grade of a rewritten answer still counts, in the
grade files and in the feedback. Here each autograde records every answer
it graded (records.GRADED_ANSWERS: a sha256 per answer cell), and the next
one compares:

- a hand grade whose answers are unchanged is kept, with its comment, and
  is not flagged again;
- a hand grade whose answers changed is set aside: its points, extra
  credit and comment are written into SET_ASIDE (a CSV file beside the
  gradebook, one row per grade, never rewritten but to add rows) and
  removed from the gradebook, so that the answer waits for a hand grade
  again and counts for nothing until it gets one; the log says so (SET_ASIDE_REPORT).

A hand grade of a written answer was given on that answer; one that
overrides a check's result, on every answer of the notebook. A course graded
before the answers were recorded keeps nbgrader's behaviour (kept, flagged).
rules.py puts SaveAutoGradesCheckingHandGrades in place of nbgrader's
SaveAutoGrades.
"""
import csv
import datetime
import re

from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import SaveAutoGrades

from classroom.course import write_atomically
from classroom.grading.records import GRADED_ANSWERS, beside_gradebook, digest, read_record, write_record

SET_ASIDE = 'set_aside_hand_grades.csv'
SET_ASIDE_COLUMNS = ('set_aside', 'student_id', 'assignment', 'notebook', 'cell', 'manual_score', 'extra_credit',
                     'comment')
SET_ASIDE_MESSAGE = ("%s's answer %s in %s/%s changed since its hand grade (%s points, %s extra credit): the grade "
                     "is set aside (kept in %s) and the answer waits for a hand grade")
# The report read back from the log: (student, cell, assignment, notebook)
SET_ASIDE_REPORT = re.compile(r"(\S+)'s answer (\S+) in ([^/\s]+)/(\S+) changed since its hand grade")


class SaveAutoGradesCheckingHandGrades(SaveAutoGrades):
    """SaveAutoGrades that keeps a hand grade only for the answers it was
    given on (see the module's docstring)."""

    def preprocess(self, nb, resources):
        nbgrader = resources['nbgrader']
        self.answers = {cell.metadata.nbgrader['grade_id']: digest(cell.source)
                        for cell in nb.cells if utils.is_solution(cell)}
        self.record_path = beside_gradebook(nbgrader['db_url'], GRADED_ANSWERS)
        self.record = read_record(self.record_path)
        self.graded_before = self.record.get(nbgrader['student'], {}).get(nbgrader['assignment'], {}).get(
            nbgrader['notebook'])
        nb, resources = super().preprocess(nb, resources)
        if self.record_path is not None:
            self.record.setdefault(nbgrader['student'], {}).setdefault(nbgrader['assignment'], {})[
                nbgrader['notebook']] = self.answers
            write_record(self.record_path, self.record)
        return nb, resources

    def _add_score(self, cell, resources):
        grade_id = cell.metadata['nbgrader']['grade_id']
        grade = self.gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
        # Extra credit given alone is a hand grade too
        hand_graded = grade.manual_score is not None or bool(grade.extra_credit)
        was_waiting = grade.needs_manual_grade
        super()._add_score(cell, resources)
        if not hand_graded or self.graded_before is None:
            return
        given_on = [grade_id] if utils.is_solution(cell) else sorted(self.answers)
        if all(self.graded_before.get(answer) == self.answers.get(answer) for answer in given_on):
            grade.needs_manual_grade = was_waiting
        else:
            self.set_aside(grade)
            grade.manual_score = grade.extra_credit = None
            grade.needs_manual_grade = True
        self.gradebook.db.commit()

    def set_aside(self, grade):
        """Adds the hand grade and its comment (none for a check's grade) to
        SET_ASIDE, removes the comment from the gradebook, and says so."""
        try:
            comment = self.gradebook.find_comment(grade.name, self.notebook_id, self.assignment_id, self.student_id)
        except MissingEntry:  # a check's grade: nbgrader keeps comments on answers only
            comment = None
        path = beside_gradebook(self.db_url, SET_ASIDE)
        rows = []
        if path.is_file():
            with open(path, newline='', encoding='utf-8') as file:
                rows = list(csv.DictReader(file))
        rows.append({
            'set_aside': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'student_id': self.student_id, 'assignment': self.assignment_id, 'notebook': self.notebook_id,
            'cell': grade.name, 'manual_score': grade.manual_score, 'extra_credit': grade.extra_credit or '',
            'comment': (comment.manual_comment if comment else None) or '',
        })

        def write(partial):
            with open(partial, 'w', newline='', encoding='utf-8') as file:
                writer = csv.DictWriter(file, fieldnames=SET_ASIDE_COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
        write_atomically(path, write)
        if comment is not None:
            comment.manual_comment = None
        self.log.warning(SET_ASIDE_MESSAGE, self.student_id, grade.name, self.assignment_id, self.notebook_id,
                         grade.manual_score, grade.extra_credit or 0, path)
