"""nbgrader's settings for the course's grading loop (`make release`,
`make grade`, tools/grading.py). nbgrader reads this file when it runs in the
course's root folder; the course folder it works in is build/course/, and its
database, gradebook.db, lies there too."""
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(COURSE_ROOT / 'tools'))

from grading_settings import apply_grading_rules  # noqa: E402

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

# source/ (the teacher's versions), release/, submitted/, autograded/ and
# feedback/ are folders of this one; tools/grading.py can point elsewhere
c.CourseDirectory.root = str(COURSE_ROOT / 'build' / 'course')

# The grading rules the hub's settings share (tools/grading_settings.py): the
# 120 s limit per cell, feedback without the hidden tests that opens offline
apply_grading_rules(c)
