"""nbgrader's settings for the course's grading loop (`make release`,
`make grade`, tools/grading.py). nbgrader reads this file when it runs in the
course's root folder; the course folder it works in is build/course/, and its
database, gradebook.db, lies there too. The grading rules themselves (time
limit, warnings, edited checks, late penalties, feedback, the export) are
tools/grading_rules.py's, shared with the class's hub."""
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(COURSE_ROOT / 'tools'))

import grading_rules  # noqa: E402

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

# source/ (the teacher's versions), release/, submitted/, autograded/ and
# feedback/ are folders of this one; tools/grading.py can point elsewhere
c.CourseDirectory.root = str(COURSE_ROOT / 'build' / 'course')

grading_rules.apply(c)

# A late submission loses a share of its score per day started, 10% unless
# set here (tools/late_penalty.py); 0 turns late penalties off:
# c.LatePenaltyPerDay.share_per_day = 0.25
