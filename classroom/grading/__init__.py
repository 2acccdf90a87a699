"""The exercises graded with nbgrader: the commands of a term (commands.py:
make release, roster, due, grade; hand_ins.py readies the hand-ins, report.py
sums up), the grading rules that the course's and the hub's nbgrader settings
share (rules.py, with the nbgrader plug-ins it sets: feedback.py,
tampering.py, resubmissions.py, late_penalty.py, export.py,
platform_downloads.py, records.py for what they keep, and the sandbox every
submission's code runs in, sandbox.py), the class's final grades (grades.py),
the class list (roster.py), how a release keeps a teacher's edits
(course_source.py) and the final scores sent to the school's platform
(passback.py: LTI Assignment and Grade Services)."""
