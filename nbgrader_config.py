"""nbgrader's settings for the course's grading loop (`make release`,
`make grade`, classroom/grading/commands.py). nbgrader reads this file when it
runs in the course's root folder; the course folder it works in is
build/course/, and its database, gradebook.db, lies there too. The grading
rules themselves (time limit, warnings, edited checks, late penalties,
feedback, the export) are classroom/grading/rules.py's, shared with the
class's hub."""
from pathlib import Path

from classroom.grading import rules as grading_rules

COURSE_ROOT = Path(__file__).resolve().parent

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

# source/ (the teacher's versions), release/, submitted/, autograded/ and
# feedback/ are folders of this one; classroom/grading/commands.py can point elsewhere
c.CourseDirectory.root = str(COURSE_ROOT / 'build' / 'course')
# nbgrader's exchange commands (release_assignment, collect, release_feedback)
# need one; the same as the class's hub (classroom/hub/jupyterhub_config.py)
c.CourseDirectory.course_id = 'pytorch-training-loop'

grading_rules.apply(c)

# A late submission loses a share of its score per day started, 10% unless
# set here (classroom/grading/late_penalty.py); 0 turns late penalties off:
# c.LatePenaltyPerDay.share_per_day = 0.25
