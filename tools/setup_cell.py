import os
import sys
from pathlib import Path

# What the notebooks import; on Colab, what Colab lacks of these is installed
# at the versions requirements.txt pins
NOTEBOOK_PACKAGES = ('torch', 'numpy', 'matplotlib', 'pillow', 'tensorboard')


def _set_up_course():
    """Makes the course's root folder (the one holding helpers.py) the working
    directory and importable. A notebook opened outside the course (in Colab,
    on a hub, from a download) first fetches the course into a folder beside
    it, or reuses the one fetched before, never overwriting what is there."""
    import shutil
    import subprocess
    import tempfile
    from importlib import metadata

    class CourseSetupError(Exception):
        # Jupyter shows this one sentence, without a traceback
        def _render_traceback_(self):
            return [f'CourseSetupError: {self}']

    def fetch(address, target):
        # A shallow clone into a temporary folder, renamed only once complete
        partial = Path(tempfile.mkdtemp(prefix=f'.{target.name}-', dir=target.parent))
        branch = ['--branch', PUBLISHED_BRANCH] if PUBLISHED_BRANCH else []
        try:
            subprocess.run(['git', 'clone', '--quiet', '--depth', '1', *branch, address, str(partial)],
                           check=True, capture_output=True, text=True, timeout=300,
                           env={**os.environ, 'GIT_TERMINAL_PROMPT': '0'})  # fail, never ask for a password
            partial.rename(target)
            return
        except FileNotFoundError:
            reason = 'git is not installed here'
        except subprocess.TimeoutExpired:
            reason = 'no answer in 5 minutes'
        except subprocess.CalledProcessError as error:
            reason = ' '.join(line.removeprefix('fatal: ') for line in error.stderr.splitlines() if line.strip())
        shutil.rmtree(partial, ignore_errors=True)
        raise CourseSetupError(
            f'Could not fetch the course from {address} ({reason}): connect to the internet, set '
            f'COURSE_REPOSITORY to a copy you can reach, or open this notebook inside the course folder')

    def match_colab_to_the_pins(root):
        # Colab keeps its own versions; only what it lacks is installed
        pins = dict(line.split('#')[0].strip().split('==') for line in
                    (root / 'requirements.txt').read_text().splitlines() if '==' in line.split('#')[0])
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
                raise CourseSetupError(f'Could not install {", ".join(missing)} on Colab: '
                                       f'{(result.stderr.strip().splitlines() or ["pip failed"])[-1]}')
        print(f'On Colab: installed {", ".join(missing) or "nothing"}; '
              + (f'kept {", ".join(different)}, so the numbers they print may differ slightly.'
                 if different else 'every version matches the stored outputs.'))

    # The course's root is the nearest folder, upwards, that holds helpers.py
    root = next((folder for folder in [Path.cwd(), *Path.cwd().parents] if (folder / 'helpers.py').is_file()), None)
    if root is None:
        address = os.environ.get('COURSE_REPOSITORY') or PUBLISHED_REPOSITORY
        if not address:
            raise CourseSetupError(
                f'{Path.cwd()} is not inside the course, and no address to fetch it from is set: open this '
                f'notebook inside the course folder (the one holding helpers.py), or set COURSE_REPOSITORY '
                f'to the course\'s git address')
        root = Path.cwd() / Path(address.rstrip('/')).name.removesuffix('.git')
        if not root.exists():
            fetch(address, root)
            print(f'Fetched the course from {address} into {root}, now the working folder.')
        elif (root / 'helpers.py').is_file():
            print(f'Using the course fetched before into {root} (kept as it is, with your changes).')
        else:
            raise CourseSetupError(f'{root} is in the way: it holds no course (no helpers.py); '
                                   f'move it, or open this notebook in another folder')
    os.chdir(root)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        import google.colab  # noqa: F401 (only Colab has it)
    except ImportError:
        return root
    match_colab_to_the_pins(root)
    return root


course_root = _set_up_course()
