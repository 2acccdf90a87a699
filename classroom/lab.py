"""Starts JupyterLab, or the classic Notebook, on the course: the course's
root is the file browser's root, the chapter notebook opens, and the course's
own settings (in .jupyter/) keep the first start free of prompts that have
nothing to do with the course.

    course-lab [OPTIONS...]              # make lab: JupyterLab
    course-lab --notebook [OPTIONS...]   # make notebook: the classic interface

OPTIONS go to Jupyter as they are (make's LAB_FLAGS), e.g. --no-browser --port 8890.
The browser tests start JupyterLab with the same `command` and `environment`.
"""
import os
import sys
from pathlib import Path

from classroom.course import CHAPTERS, COURSE_ROOT

# The course's Jupyter settings, kept in the repository
SETTINGS = COURSE_ROOT / '.jupyter'
# The notebook that opens first
FIRST_NOTEBOOK = CHAPTERS[0].relative_to(COURSE_ROOT)


def command(options=(), root=COURSE_ROOT, app='lab'):
    """The command line that starts Jupyter's `app` ('lab' or 'notebook') with
    `root` as the file browser's root, opening the chapter notebook (its copy
    under `root`), with the `options` given on the command line."""
    jupyter = Path(sys.executable).with_name('jupyter')
    return [str(jupyter), app, f'--ServerApp.root_dir={root}', *options, str(Path(root) / FIRST_NOTEBOOK)]


def environment(base=None):
    """`base` (default: this process's environment) with the course's settings
    folder first on JUPYTER_CONFIG_PATH."""
    env = dict(os.environ if base is None else base)
    env['JUPYTER_CONFIG_PATH'] = os.pathsep.join(filter(None, [str(SETTINGS), env.get('JUPYTER_CONFIG_PATH')]))
    return env


def main(arguments=None):
    """make lab (make notebook with --notebook): Jupyter on the course, in this process."""
    arguments = sys.argv[1:] if arguments is None else arguments
    app = 'lab'
    if arguments[:1] == ['--notebook']:
        app, arguments = 'notebook', arguments[1:]
    line = command(arguments, app=app)
    # Jupyter takes over this process, so that Ctrl+C stops it as usual
    os.execve(line[0], line, environment())


if __name__ == '__main__':
    main()
