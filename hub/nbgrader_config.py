"""nbgrader's settings for every server the class's hub starts, teacher's and
students' alike. tools/hub.py copies this file, and the feedback
preprocessor and private_submit.py beside it, into the servers' environment
(etc/jupyter/), where nbgrader reads them for every user. The course id and the exchange come from the hub
(jupyterhub_config.py sets them once, in each server's environment)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grading_settings import apply_grading_rules  # noqa: E402

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

c.CourseDirectory.course_id = os.environ.get('COURSE_ID', '')
if os.environ.get('COURSE_EXCHANGE'):
    c.Exchange.root = os.environ['COURSE_EXCHANGE']
# Another student cannot read a submission even knowing its name
c.ExchangeFactory.submit = 'private_submit.PrivateSubmit'

# A teacher's nbgrader course (source/, release/, submitted/, gradebook.db)
# lies in their home folder, wherever they start nbgrader from; a student has none
TEACHING = Path.home() / 'teaching'
if TEACHING.is_dir():
    c.CourseDirectory.root = str(TEACHING)

# The grading rules the course's settings share (tools/grading_settings.py,
# which tools/hub.py copies beside this file too)
apply_grading_rules(c)
