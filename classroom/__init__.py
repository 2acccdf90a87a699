"""The course's own code, installed as one package (pyproject.toml):

- course.py: where the course is, its notebooks, how a notebook is executed;
- lab.py (make lab), check.py (make check), ddp.py (make ddp): the learners' commands;
- tied_torchrun.py: torchrun as make ddp starts it, ending when make ddp ends;
- student_copies.py: the learners' versions of the exercises (make exercises,
  make student); solutions.py: the model solutions (make solutions);
- grading/: the exercises graded with nbgrader, for the course's folder and
  the class's hub alike (make release, roster, due, grade), and the grades
  sent to the school's platform (passback.py);
- lti_tool.py: the course as an LTI 1.3 tool of the school's platform, what
  the hub's sign-in and the grade passback share;
- hub/: the class's JupyterHub, its settings beside its modules.
"""
