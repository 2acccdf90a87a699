"""The course's rule for work handed in after its due date: each day started
past the due date takes a share of the score (10% by default), so a
submission 26 hours late keeps 80% of its points and one 10 days late keeps
none. A teacher changes the share in nbgrader_config.py:

    c.LatePenaltyPerDay.share_per_day = 0.25   # 0 turns penalties off

Due dates are nbgrader's own (the formgrader's Manage Assignments, or
`nbgrader db assignment add NAME --duedate=...`); an assignment without one
is never late. rules.py makes nbgrader's autograde use this rule,
and export.py applies it again to the score when grades are exported,
so that points given by hand after autograding lose the same share.
"""
import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

SECONDS_PER_DAY = 24 * 60 * 60


class LatePenaltyPerDay(LateSubmissionPlugin):
    """Takes `share_per_day` of a late submission's score for each day
    started past its due date."""

    share_per_day = Float(
        0.1, min=0, max=1,
        help='The share of the score a submission loses for each day (or part of one) past its due date',
    ).tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        """The points `score` loses when handed in `total_seconds_late`
        seconds late (nbgrader calls this once per notebook)."""
        return penalty(score, total_seconds_late, self.share_per_day)


def penalty(score, seconds_late, share_per_day):
    """The points a score loses when handed in `seconds_late` seconds after
    the due date: `share_per_day` of it for each day started, at most all."""
    if seconds_late <= 0:
        return 0.0
    days_started = math.ceil(seconds_late / SECONDS_PER_DAY)
    return score * min(1.0, share_per_day * days_started)
