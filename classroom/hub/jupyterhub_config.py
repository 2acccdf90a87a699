"""The class's JupyterHub (`make hub`): one teacher (or a few) and their
students on this machine, each in their own Unix account, with nbgrader's
exchange between them. Run as root, from the servers' environment (the
Makefile makes it from the operating system's python3, so that every user
can run it):

    make hub        # http://127.0.0.1:8000 unless COURSE_HUB_IP / COURSE_HUB_PORT say otherwise

Every setting of the class is here, once; the COURSE_HUB_* variables change
the few that differ between classes (the tests use them too). What the hub
does on this machine (accounts, the learners' course in each home, the
exchange folder) is preparation.py's, beside this file. The teachers' guide
is HUB.md.
"""
import asyncio
import grp
import os
import sys
from pathlib import Path

# The clone this file lies in: the hub builds the learners' course and the
# teachers' nbgrader course from it. The servers' environment holds a copy of
# the course's package (classroom), which finds the clone through this
os.environ['COURSE_ROOT'] = str(Path(__file__).resolve().parents[2])

from classroom.grading.roster import USER_NAME  # noqa: E402
from classroom.hub import preparation as hub  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub defines it when it reads this file)

# --- The class --------------------------------------------------------------
# nbgrader's course id: the exchange keeps each course's assignments apart
COURSE_ID = 'pytorch-training-loop'
# What the class shares, readable by every user: the learners' course that
# each home gets a copy of, the exchange, and the hub's own state (root only)
CLASS_FOLDER = Path(os.environ.get('COURSE_HUB_FOLDER', '/srv/pytorch-course'))
EXCHANGE = CLASS_FOLDER / 'exchange'
STATE = CLASS_FOLDER / 'hub-state'
# How users sign in: the hub's own sign-up, each account approved by a
# teacher (signup), or from the school's learning platform with LTI 1.3 (lti,
# classroom/hub/lti_signin.py, with the platform's COURSE_LTI_* settings)
AUTH = os.environ.get('COURSE_HUB_AUTH', 'signup')
if AUTH not in ('signup', 'lti'):
    sys.exit(f'COURSE_HUB_AUTH={AUTH!r}: the choices are signup (the default) and lti')
# The teachers: hub admins (they approve sign-ups) with an nbgrader course;
# with LTI, also everyone the platform launches as the course's Instructor
TEACHERS = set(os.environ.get('COURSE_HUB_TEACHERS', 'teacher' if AUTH == 'signup' else '').split())
# Every account the hub makes is in this Unix group, and the hub starts
# servers for accounts of this group only
GROUP = os.environ.get('COURSE_HUB_GROUP', 'pytorch-course')
# Who can reach the hub: this machine only, unless told otherwise
IP = os.environ.get('COURSE_HUB_IP', '127.0.0.1')
PORT = int(os.environ.get('COURSE_HUB_PORT', '8000'))

if os.geteuid() != 0:
    sys.exit('The class\'s hub runs as root (sudo make hub): it makes a Unix account for each user and '
             'starts their server as that account.')
hub.prepare(CLASS_FOLDER, EXCHANGE)
STATE.mkdir(mode=0o700, exist_ok=True)

# --- The hub ----------------------------------------------------------------
# HTTPS when given a certificate and its key (make hub SSL_CERT=... SSL_KEY=...;
# HUB.md, "HTTPS"): the proxy then speaks HTTPS only
SSL_CERT, SSL_KEY = os.environ.get('COURSE_HUB_SSL_CERT', ''), os.environ.get('COURSE_HUB_SSL_KEY', '')
if bool(SSL_CERT) != bool(SSL_KEY):
    sys.exit('HTTPS needs both a certificate and its key: give SSL_CERT and SSL_KEY, or neither (HUB.md, "HTTPS")')
if SSL_CERT:
    c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = SSL_CERT, SSL_KEY
c.JupyterHub.bind_url = f'{"https" if SSL_CERT else "http"}://{IP}:{PORT}'
# The hub's own API and the proxy's API: loopback, ports of their own
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = int(os.environ.get('COURSE_HUB_API_PORT', '8081'))
c.ConfigurableHTTPProxy.api_url = f'http://127.0.0.1:{os.environ.get("COURSE_HUB_PROXY_API_PORT", "8001")}'
# JupyterHub's reference proxy (npm's configurable-http-proxy), installed in
# the servers' environment by the Makefile (classroom/hub/requirements.txt says why not
# the Python port)
c.ConfigurableHTTPProxy.command = [str(Path(sys.prefix, 'proxy', 'node_modules', '.bin', 'configurable-http-proxy'))]
# Users, tokens and the cookie secret survive a restart of the hub
c.JupyterHub.db_url = f'sqlite:///{STATE / "jupyterhub.sqlite"}'
c.JupyterHub.cookie_secret_file = str(STATE / 'jupyterhub_cookie_secret')
c.ConfigurableHTTPProxy.pid_file = str(STATE / 'jupyterhub-proxy.pid')

# --- Who may sign in --------------------------------------------------------
c.Authenticator.admin_users = TEACHERS
# A user name is a Unix account name too: lower-case letters, digits and
# dashes (a roster's ids are checked against the same rule)
c.Authenticator.username_pattern = USER_NAME.pattern
c.Authenticator.allow_all = True


class NoTimer:
    """A stand-in for the statsd client that JupyterHub 5 removed from its
    handlers: nativeauthenticator 1.3.0 (the latest) still times each login
    with it, and without one every login fails with
    AttributeError: 'LoginHandler' object has no attribute 'statsd' (500)."""

    def timer(self, name):
        return self

    def start(self):
        return self

    def stop(self, send=True):
        pass


if AUTH == 'signup':
    # Students sign up at /hub/signup with a user name and a password; a
    # teacher approves each one at /hub/authorize before they can sign in. A
    # teacher signs up first, under a name of TEACHERS, and is approved at once.
    import nativeauthenticator
    import nativeauthenticator.handlers

    # Passwords: at least 10 characters, none of nativeauthenticator's list of
    # common ones, not the user name, 5 different characters at least; wrong
    # passwords limited per account and per browser or address, never locking
    # the owner out of their browser (classroom/hub/sign_in.py says how and why)
    c.JupyterHub.authenticator_class = 'classroom.hub.sign_in.ClassAuthenticator'
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / 'templates')]
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.ask_email_on_signup = True
    nativeauthenticator.handlers.LoginHandler.statsd = NoTimer()
else:
    # Everyone comes from the school's platform: the platform says who they
    # are (a stable id, made into their hub name) and whether they teach
    # the course. The tool's key and the launches the grade passback needs
    # lie in the LTI folder, root's and the teachers' group's alone

    from classroom.hub import lti_signin
    from classroom.lti_tool import FOLDER_VARIABLE, LTI_FOLDER, Platform, is_secure_url

    # The address the platform and the students reach the hub at (HTTPS)
    PUBLIC_URL = os.environ.get('COURSE_HUB_PUBLIC_URL', '')
    if not is_secure_url(PUBLIC_URL):
        sys.exit(f'COURSE_HUB_AUTH=lti needs COURSE_HUB_PUBLIC_URL, the https:// address the platform reaches the '
                 f'hub at (e.g. https://hub.school.example), not {PUBLIC_URL!r}')
    try:
        PLATFORM = Platform.from_environment()
    except ValueError as error:
        sys.exit(str(error))
    TEACHERS_GROUP = hub.teachers_group(GROUP)
    hub.ensure_group(TEACHERS_GROUP)
    REGISTRATION = lti_signin.configure(c, PLATFORM, CLASS_FOLDER / LTI_FOLDER, grp.getgrnam(TEACHERS_GROUP).gr_gid,
                                        TEACHERS, PUBLIC_URL)
    print('The tool\'s addresses, to register on the platform (HUB.md):', file=sys.stderr)
    for what, url in REGISTRATION.items():
        print(f'  {what}: {url}', file=sys.stderr)

# --- Each user's server -----------------------------------------------------
# Started as the user's own Unix account, from the servers' environment
c.JupyterHub.spawner_class = 'classroom.hub.spawner.ClassSpawner'
c.Spawner.cmd = [str(Path(sys.prefix) / 'bin' / 'jupyterhub-singleuser')]
c.Spawner.notebook_dir = '~'
c.Spawner.default_url = f'/lab/tree/{hub.COURSE_IN_HOME}'
c.Spawner.environment = {
    # nbgrader reads these (classroom/hub/nbgrader_config.py)
    'COURSE_ID': COURSE_ID,
    'COURSE_EXCHANGE': str(EXCHANGE),
    # The servers' environment first: its jupyter, nbgrader and python
    'PATH': os.pathsep.join([str(Path(sys.prefix) / 'bin'), '/usr/local/bin', '/usr/bin', '/bin']),
    # Kernels talk over Unix sockets beside their connection file, in the
    # server's own /tmp (spawner.py): no other user can reach them, as they
    # could a TCP port (preparation.py sets the transport)
    'JUPYTER_RUNTIME_DIR': '/tmp/jupyter-runtime',
}
# A user's own ~/.jupyter and ~/.local/share/jupyter do not configure their
# server (JupyterHub's security advice): the class's settings hold
c.Spawner.disable_user_config = True
if AUTH == 'lti':
    # course-passback finds the platform's settings, the tool's key and the
    # launches there (a teacher's account can read them, a student's cannot)
    c.Spawner.environment[FOLDER_VARIABLE] = str(CLASS_FOLDER / LTI_FOLDER)
# A loaded machine takes its time to start a server (11 s measured on two
# busy cores): give it two minutes before calling the start failed
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


async def open_account(spawner):
    """Before each server starts: the user's Unix account, home folder and
    course (preparation.py's open_account), in a thread of its own so that the
    hub goes on answering others meanwhile (a teacher's first start builds
    their nbgrader course). A student's server also reads the students'
    settings (preparation.py): no formgrader, in JupyterLab or on the server."""
    name = spawner.user.name
    # With LTI, the platform's role, as the last launch gave it (an admin)
    teacher = name in TEACHERS or (AUTH == 'lti' and spawner.user.admin)
    await asyncio.to_thread(hub.open_account, name, GROUP, CLASS_FOLDER, teacher=teacher,
                            teachers_group_too=AUTH == 'lti')
    if teacher:
        # The course's folder in the exchange, the teachers' before any student's
        # (with LTI, the teachers are the members of the teachers' group)
        teachers = TEACHERS | {name} | (set(grp.getgrnam(TEACHERS_GROUP).gr_mem) if AUTH == 'lti' else set())
        await asyncio.to_thread(hub.open_course_exchange, EXCHANGE, COURSE_ID, name, teachers)
    else:
        # Before the servers' environment in Jupyter's search path, so its
        # settings win over those nbgrader installed there; a copy, as the
        # dictionary may be the one every spawner shares
        spawner.environment = {**spawner.environment,
                               'JUPYTER_CONFIG_PATH': str(CLASS_FOLDER / hub.STUDENTS_SETTINGS)}


c.Spawner.pre_spawn_hook = open_account


# --- Limits of each server ----------------------------------------------------
# One place for them (HUB.md, "Limits", says how to change them; the same
# keys are in z2jh-values.yaml): classroom/hub/spawner.py applies them.
# A student's server:
c.Spawner.mem_limit = os.environ.get('COURSE_HUB_MEMORY_LIMIT', '2G')
c.Spawner.cpu_limit = float(os.environ.get('COURSE_HUB_CPU_LIMIT', '1'))
c.ClassSpawner.pids_limit = int(os.environ.get('COURSE_HUB_PROCESS_LIMIT', '256'))
c.ClassSpawner.disk_limit = os.environ.get('COURSE_HUB_DISK_LIMIT', '5G')
c.ClassSpawner.tmp_size = os.environ.get('COURSE_HUB_TMP_SIZE', '1G')
# A teacher's (they autograde a class in their server's terminal)
c.ClassSpawner.teacher_limits = {'mem_limit': os.environ.get('COURSE_HUB_TEACHER_MEMORY_LIMIT', '8G'),
                                 'cpu_limit': 0, 'pids_limit': 2048, 'disk_limit': 0}
# The cgroups of this class: /sys/fs/cgroup/<controller>/<GROUP>/<user>
c.ClassSpawner.cgroup_parent = GROUP
# A server nobody used for this long is stopped (jupyterhub-idle-culler, a
# service of the hub's); its files stay. Seconds; 0: never
IDLE_TIMEOUT = int(os.environ.get('COURSE_HUB_IDLE_TIMEOUT', '3600'))
if IDLE_TIMEOUT:
    # SIGINT, which the hub stops a service with, ends it at once: Python's own
    # handler waits for the culler's main thread, asleep until its next round
    # (the hub's every stop waited 10 to 30 s for it, measured in tests/test_hub.py)
    c.JupyterHub.services.append({'name': 'idle-culler', 'command': [
        sys.executable, '-c', 'import signal; signal.signal(signal.SIGINT, signal.SIG_DFL); '
        'from jupyterhub_idle_culler import main; main()',
        f'--timeout={IDLE_TIMEOUT}', f'--cull-every={min(60, max(IDLE_TIMEOUT // 2, 1))}']})
    c.JupyterHub.load_roles.append({'name': 'idle-culler', 'services': ['idle-culler'], 'scopes': [
        'list:users', 'read:users:activity', 'read:servers', 'delete:servers']})
