"""The grading rules that both of the course's nbgrader settings files apply,
set here once: nbgrader_config.py (make release, make grade) and
hub/nbgrader_config.py (every server of the class's hub, which reads this
file beside it: tools/hub.py copies both into the servers' environment)."""
from feedback import HideHiddenTests, OfflineFeedbackExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades


def apply_grading_rules(c):
    """Sets the course's grading rules on nbgrader's settings `c` (the
    object get_config() returns in an nbgrader_config.py)."""
    # Autograding runs each notebook from the top; a cell that runs longer
    # than this is a learner's endless loop, not a slow machine
    c.Execute.timeout = 120
    # Feedback shows the learner their answers, the visible checks and the
    # points, but not the hidden tests (nbgrader's own feedback would)
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
    # Feedback that a browser shows offline: MathJax written into the page,
    # not loaded from a CDN
    c.GenerateFeedback.exporter_class = OfflineFeedbackExporter
