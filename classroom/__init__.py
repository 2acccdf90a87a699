"""The course's own code, installed as one package (pyproject.toml):

- course.py: where the course is, its notebooks, how a notebook is executed;
- lab.py (make lab), check.py (make check), ddp.py (make ddp): the learners' commands;
- tied_torchrun.py: torchrun as make ddp starts it, ending when make ddp ends;
- student_copies.py: the learners' versions of the exercises (make exercises,
  make student, make solutions);
- grading/: the exercises graded with nbgrader, for the course's folder and
  the class's hub alike (make release, roster, due, grade);
- hub/ (the top-level folder hub/): the class's JupyterHub.
"""
