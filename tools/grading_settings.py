"""The grading rules that both of the course's nbgrader settings files apply,
set here once: nbgrader_config.py (make release, make grade) and
hub/nbgrader_config.py (every server of the class's hub, which reads this
file beside it: tools/hub.py copies both into the servers' environment)."""
from feedback import OfflineFeedbackExporter


def apply_grading_rules(c):
    """Sets the course's grading rules on nbgrader's settings `c` (the
    object get_config() returns in an nbgrader_config.py)."""
    # Feedback that a browser shows offline: MathJax written into the page,
    # not loaded from a CDN
    c.GenerateFeedback.exporter_class = OfflineFeedbackExporter
