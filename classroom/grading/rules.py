"""The course's grading rules, set once for nbgrader wherever it grades: the
course's own nbgrader_config.py (`make release`, `make grade`) and the hub's
(classroom/hub/nbgrader_config.py) both call apply(). `make check` (classroom/check.py)
runs its kernel with the same KERNEL_ARGUMENTS.

- A cell that runs longer than CELL_TIMEOUT seconds is a learner's endless
  loop, not a slow machine: it is stopped and scores 0.
- A warning is shown on stdout, not stderr. nbgrader fails a check cell that
  writes to stderr, so a correct answer that merely warns (say,
  `torch.tensor` of a tensor) would lose every point of its check; on stdout
  the warning still shows in the feedback, and the check scores.
- A locked cell the learner edited is graded as released, and reported by
  name (tampering.py); the others are put back quietly.
- A submission handed in after its due date loses a share of its score per
  day started (late_penalty.py; `c.LatePenaltyPerDay.share_per_day`).
- Feedback shows the learner their answers, the visible checks and the
  points, never the hidden tests, and opens offline: MathJax is written
  into the pages that have math, not loaded from a CDN (feedback.py).
- `nbgrader export` writes the class's grades: one row per student with
  names, e-mails, a column per assignment and the total, as a learning
  platform imports it, and the details per assignment beside it
  (export.py).
"""
CELL_TIMEOUT = 120

# Run first in every grading kernel; it leaves no name behind in the
# learner's namespace (a notebook that forgot an import fails as it would
# in their own JupyterLab)
WARNINGS_ON_STDOUT = (
    "__import__('warnings').showwarning = "
    "lambda message, category, filename, lineno, file=None, line=None: "
    "__import__('sys').stdout.write(__import__('warnings').formatwarning(message, category, filename, lineno, line))"
)
KERNEL_ARGUMENTS = [f'--IPKernelApp.exec_lines={WARNINGS_ON_STDOUT}']


def apply(c):
    """Sets the course's grading rules on nbgrader's config object `c`."""
    # Imported here: make check uses the constants above without nbgrader
    from classroom.grading.export import ClassGradesExport
    from classroom.grading.feedback import HideHiddenTests, OfflineFeedbackExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades, OverwriteCells
    from classroom.grading.late_penalty import LatePenaltyPerDay
    from classroom.grading.tampering import OverwriteCellsReportingEdits

    c.Execute.timeout = CELL_TIMEOUT
    c.Execute.extra_arguments = KERNEL_ARGUMENTS
    c.Autograde.sanitize_preprocessors = [
        OverwriteCellsReportingEdits if step is OverwriteCells else step
        for step in _default('Autograde', 'sanitize_preprocessors')
    ]
    c.AssignLatePenalties.plugin_class = LatePenaltyPerDay
    c.ExportApp.plugin_class = ClassGradesExport
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
    c.GenerateFeedback.exporter_class = OfflineFeedbackExporter


def _default(class_name, trait):
    """nbgrader's default value of one of its classes' settings."""
    from nbgrader import converters

    return getattr(converters, class_name).class_traits()[trait].default()
