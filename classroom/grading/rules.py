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
- A submission's code runs in a sandbox (sandbox.py): it reads nothing but
  what its notebook needs (not the source, the gradebook, other students'
  work), reaches no network, within limits of memory, processes and time;
  nothing it writes reaches the feedback.
- A locked cell the learner edited is graded as released, and reported by
  name, compared with the release the learner got (tampering.py, which
  records every release); the others are put back quietly. A graded cell
  the learner deleted, or stripped of its metadata, is put back as released
  and reported.
- A hand grade stays through a resubmission only if its answer is unchanged
  (resubmissions.py); otherwise it is set aside, and the answer waits.
- A submission handed in after its due date loses a share of its score per
  day started (late_penalty.py; `c.LatePenaltyPerDay.share_per_day`).
- Feedback shows the learner their answers, the visible checks and the
  points with today's late penalty, never the hidden tests, and opens
  offline: MathJax is written into the pages that have math, not loaded
  from a CDN (feedback.py). release_feedback releases what it can, and
  names the submissions that did not come through the exchange.
- `nbgrader export` writes the class's grade files, for the teacher and for
  Canvas's and Moodle's imports (export.py, every number from grades.py).
- `nbgrader zip_collect` reads Canvas's and Moodle's submission downloads
  (platform_downloads.py).
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
    from classroom.grading.feedback import (
        GetGradesWithCurrentPenalty, HideHiddenTests, OfflineFeedbackExporter, ReleaseFeedbackSkippingUnreleasable)
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import Execute, OverwriteCells, SaveAutoGrades
    from classroom.grading.late_penalty import LatePenaltyPerDay
    from classroom.grading.platform_downloads import ArchiveTimesExtractor, PlatformDownloadCollector
    from classroom.grading.resubmissions import SaveAutoGradesCheckingHandGrades
    from classroom.grading.sandbox import SandboxedExecute
    from classroom.grading.tampering import OverwriteCellsReportingEdits, RecordReleasedCells

    c.Execute.timeout = CELL_TIMEOUT
    c.Execute.extra_arguments = KERNEL_ARGUMENTS
    c.Autograde.sanitize_preprocessors = [
        OverwriteCellsReportingEdits if step is OverwriteCells else step
        for step in _default('Autograde', 'sanitize_preprocessors')
    ]
    # Each submission's code runs in a sandbox (sandbox.py); a hand grade
    # whose answer changed in a resubmission is set aside (resubmissions.py)
    autograde_steps = {Execute: SandboxedExecute, SaveAutoGrades: SaveAutoGradesCheckingHandGrades}
    c.Autograde.autograde_preprocessors = [
        autograde_steps.get(step, step) for step in _default('Autograde', 'autograde_preprocessors')
    ]
    c.GenerateAssignment.preprocessors = [*_default('GenerateAssignment', 'preprocessors'), RecordReleasedCells]
    c.AssignLatePenalties.plugin_class = LatePenaltyPerDay
    c.ExportApp.plugin_class = ClassGradesExport
    c.GenerateFeedback.preprocessors = [GetGradesWithCurrentPenalty, CSSHTMLHeaderPreprocessor, HideHiddenTests]
    c.GenerateFeedback.exporter_class = OfflineFeedbackExporter
    c.ExchangeFactory.release_feedback = ReleaseFeedbackSkippingUnreleasable
    c.ZipCollectApp.extractor_plugin = ArchiveTimesExtractor
    c.ZipCollectApp.collector_plugin = PlatformDownloadCollector


def _default(class_name, trait):
    """nbgrader's default value of one of its classes' settings."""
    from nbgrader import converters

    return getattr(converters, class_name).class_traits()[trait].default()
