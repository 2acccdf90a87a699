"""The rest of every notebook's first cell. The cell itself (tools/setup_cell.txt,
written into every notebook by `make publish`) finds the course, the folder
holding helpers.py, or fetches it beside a notebook opened alone, then calls
set_up() from this file, which the course carries: in the learners' copy and
in every nbgrader assignment too (LEARNER_FILES in classroom/course.py)."""
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# What the notebooks import; on Colab, what Colab lacks of these is installed
# at the versions requirements.txt pins
NOTEBOOK_PACKAGES = ('torch', 'numpy', 'matplotlib', 'pillow', 'tensorboard')


def set_up(course, address, fetched_now, error):
    """Makes the folder `course` the working directory and importable. When
    it lies beside the notebook rather than around it, says that it was
    fetched from `address` just now (`fetched_now`) or before. On Colab,
    installs what Colab lacks at the pinned versions. `error` is the
    exception class the cell shows in one line, without a traceback."""
    course = Path(course)
    if course not in [Path.cwd(), *Path.cwd().parents]:
        print(f'Fetched the course from {address} into {course}, now the working folder.' if fetched_now else
              f'Using the course fetched before into {course} (kept as it is, with your changes).')
    os.chdir(course)
    if str(course) not in sys.path:
        sys.path.insert(0, str(course))
    try:
        import google.colab  # noqa: F401 (only Colab has it)
    except ImportError:
        return
    match_colab_to_the_pins(course, error)


def match_colab_to_the_pins(course, error):
    """Installs, at requirements.txt's pins, the packages the notebooks import
    that Colab lacks, keeps Colab's own versions of the others, and says
    which differ from those of the stored outputs."""
    pins = dict(line.split('#')[0].strip().split('==') for line in
                (course / 'requirements.txt').read_text().splitlines() if '==' in line.split('#')[0])
    missing, different = [], []
    for name in NOTEBOOK_PACKAGES:
        try:
            here = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(f'{name}=={pins[name]}')
            continue
        if here != pins[name]:
            different.append(f'{name} {here} (the outputs shown come from {pins[name]})')
    if missing:
        result = subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', *missing],
                                capture_output=True, text=True)
        if result.returncode:
            raise error(f'Could not install {", ".join(missing)} on Colab: '
                        f'{(result.stderr.strip().splitlines() or ["pip failed"])[-1]}')
    print(f'On Colab: installed {", ".join(missing) or "nothing"}; '
          + (f'kept {", ".join(different)}, so the numbers they print may differ slightly.'
             if different else 'every version matches the stored outputs.'))
