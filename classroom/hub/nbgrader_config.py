"""nbgrader's settings for every server the class's hub starts, teacher's and
students' alike. preparation.py copies this file into the servers'
environment (etc/jupyter/), where nbgrader reads it for every user; the
grading rules and the exchange it names are the course's package
(classroom), installed in that environment. The course id and the exchange
come from the hub (jupyterhub_config.py sets them once, in each server's
environment)."""
import os
from pathlib import Path

from classroom.grading import rules as grading_rules

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

c.CourseDirectory.course_id = os.environ.get('COURSE_ID', '')
if os.environ.get('COURSE_EXCHANGE'):
    c.Exchange.root = os.environ['COURSE_EXCHANGE']
# A hand-in is its account's: submitted as the account running it only,
# readable by the teacher alone, and collected only if that account wrote
# it when it says (classroom/hub/exchange.py)
c.ExchangeFactory.submit = 'classroom.hub.exchange.PrivateSubmit'
c.ExchangeFactory.collect = 'classroom.hub.exchange.VerifiedCollect'

# A teacher's nbgrader course (source/, release/, submitted/, gradebook.db)
# lies in their home folder, wherever they start nbgrader from; a student has none
TEACHING = Path.home() / 'teaching'
if TEACHING.is_dir():
    c.CourseDirectory.root = str(TEACHING)

# The same grading rules as the course's own nbgrader_config.py
grading_rules.apply(c)
