"""nbgrader's settings for the course's grading loop (`make release`,
`make grade`, tools/grading.py). nbgrader reads this file when it runs in the
course's root folder; the course folder it works in is build/course/, and its
database, gradebook.db, lies there too."""
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(COURSE_ROOT / 'tools'))

from feedback import HideHiddenTests  # noqa: E402
from grading_settings import apply_grading_rules  # noqa: E402
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

# source/ (the teacher's versions), release/, submitted/, autograded/ and
# feedback/ are folders of this one; tools/grading.py can point elsewhere
c.CourseDirectory.root = str(COURSE_ROOT / 'build' / 'course')

# Autograding runs each notebook from the top; a cell that runs longer than
# this is a learner's endless loop, not a slow machine
c.Execute.timeout = 120

# Feedback shows the learner their answers, the visible checks and the
# points, but not the hidden tests (nbgrader's own feedback would)
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]

# The grading rules the hub's settings share (tools/grading_settings.py)
apply_grading_rules(c)
