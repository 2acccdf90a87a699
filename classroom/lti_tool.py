"""The course as an LTI 1.3 tool of the school's learning platform: what the
hub's sign-in (classroom/hub/lti_signin.py, in the hub's process, as root) and
the grade passback (classroom/grading/passback.py, as a teacher) share.

Everything lies in one folder, LTI_FOLDER under the class's folder
(/srv/pytorch-course/lti), owned by root and the class's teachers' Unix
group, closed to everyone else (students included):

- `tool-key.pem`: the tool's RSA private key. The hub makes it on its first
  start with LTI and keeps it; the platform checks the tool's signed token
  requests with its public half, which the hub serves at /hub/lti13/jwks.
- `platform.json`: the platform's issuer, client id, deployment ids,
  endpoints and the courses accepted (all of them when none is named),
  written by the hub at each start from COURSE_LTI_* variables.
- `launches.json`: what each sign-in from the platform told the hub: the
  user's stable platform id (`sub`) under their hub name, and each course's
  (context's) grade service endpoint.
- `class-list.csv`: the students who signed in, in the class list's format
  (id, first_name, last_name, email), for `course-roster`.

A hub name is made from the platform's issuer and stable user id, never from
a display name or an e-mail address (they change): `lti-` and 16 letters
and digits (hub_name)."""
import base64
import csv
import datetime
import hashlib
import io
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from classroom.course import write_atomically

LTI_FOLDER = 'lti'
KEY_FILE = 'tool-key.pem'
PLATFORM_FILE = 'platform.json'
LAUNCHES_FILE = 'launches.json'
CLASS_LIST_FILE = 'class-list.csv'
# Where a teacher's server finds the folder (jupyterhub_config.py sets it)
FOLDER_VARIABLE = 'COURSE_LTI_FOLDER'
DEFAULT_FOLDER = Path('/srv/pytorch-course') / LTI_FOLDER
# Read by the teachers' group, written by root alone
FOLDER_MODE, FILE_MODE = 0o750, 0o640

# The claims of an LTI 1.3 launch that the course reads
CLAIM = 'https://purl.imsglobal.org/spec/lti/claim/'
DEPLOYMENT_CLAIM = CLAIM + 'deployment_id'
ROLES_CLAIM = CLAIM + 'roles'
CONTEXT_CLAIM = CLAIM + 'context'
GRADE_SERVICE_CLAIM = 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint'
# The course's teachers: the context (course) role Instructor. Neither its
# sub-roles (a teaching assistant) nor an institution's Instructor role (a
# teacher of the school, maybe not of this course) count
INSTRUCTOR_ROLE = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'

# The platform's settings: environment variable of each
SETTINGS = {
    'issuer': 'COURSE_LTI_ISSUER',
    'client_id': 'COURSE_LTI_CLIENT_ID',
    'deployment_ids': 'COURSE_LTI_DEPLOYMENT_ID',
    'jwks_url': 'COURSE_LTI_JWKS_URL',
    'authorize_url': 'COURSE_LTI_AUTHORIZE_URL',
    'token_url': 'COURSE_LTI_TOKEN_URL',
}
# Optional: the platform's courses (context ids) whose launches are accepted
CONTEXTS_VARIABLE = 'COURSE_LTI_CONTEXT_ID'
# Only a test's platform, on this machine, may go without HTTPS
LOOPBACK = {'127.0.0.1', 'localhost', '::1'}


@dataclass(frozen=True)
class Platform:
    """The school's platform as the tool was registered there."""
    issuer: str
    client_id: str
    deployment_ids: tuple
    jwks_url: str
    authorize_url: str
    token_url: str
    context_ids: tuple = ()

    @classmethod
    def from_environment(cls, environment=os.environ):
        """The settings from COURSE_LTI_* variables (SETTINGS); a ValueError
        naming every one that is missing or wrong."""
        values, problems = {}, []
        for field, variable in SETTINGS.items():
            value = environment.get(variable, '').strip()
            if not value:
                problems.append(f'{variable} is not set')
            elif field != 'client_id' and field != 'deployment_ids' and not is_secure_url(value):
                problems.append(f'{variable}={value!r} is not an https:// address')
            values[field] = value
        if problems:
            raise ValueError('COURSE_HUB_AUTH=lti needs the platform\'s settings (HUB.md, "Signing in from the '
                             'school\'s platform"): ' + '; '.join(problems))
        values['deployment_ids'] = tuple(values['deployment_ids'].split())
        values['context_ids'] = tuple(environment.get(CONTEXTS_VARIABLE, '').split())
        return cls(**values)

    @classmethod
    def read(cls, folder):
        """The settings the hub wrote into the LTI folder `folder` when it
        started (write): what grade passback sends to."""
        settings = json.loads((Path(folder) / PLATFORM_FILE).read_text())
        return cls(**{**settings, 'deployment_ids': tuple(settings['deployment_ids']),
                      'context_ids': tuple(settings.get('context_ids', ()))})

    def write(self, folder, group_id):
        """Writes the settings into the LTI folder `folder` (PLATFORM_FILE),
        readable by root and the group `group_id` (the teachers') alone, for
        the teachers' tools that read them (read)."""
        write_private(Path(folder) / PLATFORM_FILE, json.dumps(asdict(self), indent=2) + '\n', group_id)


def is_secure_url(url):
    """An https:// address, or an http:// one on this machine (a test's platform)."""
    parts = urlsplit(url)
    return bool(parts.netloc) and (parts.scheme == 'https' or (parts.scheme == 'http' and parts.hostname in LOOPBACK))


def hub_name(issuer, subject):
    """The hub (and Unix) name of the platform's user `subject` (the `sub`
    claim: stable, unique on that platform): `lti-` and 16 characters of a
    SHA-256 digest in base 32 (lower-case letters and digits 2-7), within
    roster.USER_NAME; 80 bits, so that two students never share one."""
    digest = hashlib.sha256(f'{issuer}\n{subject}'.encode()).digest()
    return 'lti-' + base64.b32encode(digest).decode().lower()[:16]


def is_instructor(claims):
    """Whether a launch comes from a teacher of the course (INSTRUCTOR_ROLE)."""
    return INSTRUCTOR_ROLE in (claims.get(ROLES_CLAIM) or [])


def write_private(path, text, group_id):
    """Writes `path` whole (the hub's, root's: readable by the group
    `group_id` alone), then puts it in place."""
    def write(partial):
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, 'w') as file:
            os.fchown(file.fileno(), os.geteuid(), group_id)
            os.fchmod(file.fileno(), FILE_MODE)
            file.write(text)
    write_atomically(path, write)


def prepare_folder(folder, group_id):
    """The LTI folder (root's, the teachers' group may read it) and, the first
    time, the tool's key; returns the key (PEM). Refuses a folder or key
    that anyone outside root and that group could read."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.is_symlink() or not folder.is_dir():
        raise PermissionError(f'{folder} must be a folder of its own, not a link')
    os.chown(folder, os.geteuid(), group_id, follow_symlinks=False)
    folder.chmod(FOLDER_MODE)
    key = folder / KEY_FILE
    if not key.exists():
        write_private(key, new_private_key(), group_id)
    mode = key.lstat().st_mode
    if not stat.S_ISREG(mode) or key.lstat().st_uid != os.geteuid():
        raise PermissionError(f'{key} must be a file of the hub\'s (root\'s), not a link')
    os.chown(key, os.geteuid(), group_id, follow_symlinks=False)
    key.chmod(FILE_MODE)
    return key.read_text()


def new_private_key():
    """A new RSA key (2048 bits, what RS256 needs), as PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def read_private_key(folder):
    """The tool's private key (PEM); a PermissionError saying who may read it."""
    path = Path(folder) / KEY_FILE
    try:
        return path.read_text()
    except PermissionError:
        raise PermissionError(f'{path}: only root and the class\'s teachers can read the tool\'s key; a teacher '
                              f'who was made one since their server started: stop it and start it again') from None
    except FileNotFoundError:
        raise FileNotFoundError(f'{path} does not exist: the hub makes it on its first start with '
                                f'COURSE_HUB_AUTH=lti (HUB.md)') from None


def public_jwk(private_key_pem):
    """The public half of the tool's key as a JSON Web Key (RS256, for
    signatures), its key id the RFC 7638 thumbprint (stable across restarts)."""
    from cryptography.hazmat.primitives import serialization

    numbers = serialization.load_pem_private_key(private_key_pem.encode(), password=None).public_key().public_numbers()

    def b64(number):
        return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8, 'big')).decode().rstrip('=')
    required = {'e': b64(numbers.e), 'kty': 'RSA', 'n': b64(numbers.n)}
    thumbprint = hashlib.sha256(json.dumps(required, separators=(',', ':'), sort_keys=True).encode()).digest()
    return {**required, 'alg': 'RS256', 'use': 'sig', 'kid': base64.urlsafe_b64encode(thumbprint).decode().rstrip('=')}


def read_launches(folder):
    """What the sign-ins recorded: {'users': {hub name: ...}, 'contexts': {context id: ...}}."""
    path = Path(folder) / LAUNCHES_FILE
    if not path.exists():
        return {'users': {}, 'contexts': {}}
    return json.loads(path.read_text())


def record_launch(folder, group_id, name, claims, teacher):
    """Records a verified launch of the hub's user `name`: their platform id,
    names and e-mail, roles, and their course's grade service endpoint; then
    the class list of every student who signed in (CLASS_LIST_FILE)."""
    launches = read_launches(folder)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    context = claims.get(CONTEXT_CLAIM) or {}
    user = launches['users'].setdefault(name, {'contexts': []})
    user.update(sub=claims['sub'], given_name=claims.get('given_name', ''), family_name=claims.get('family_name', ''),
                email=claims.get('email', ''), teacher=teacher, last_launch=now)
    if context.get('id'):
        if context['id'] not in user['contexts']:
            user['contexts'].append(context['id'])
        known = launches['contexts'].setdefault(context['id'], {})
        known.update(title=context.get('title') or context.get('label') or '', deployment_id=claims[DEPLOYMENT_CLAIM])
        service = claims.get(GRADE_SERVICE_CLAIM) or {}
        if service.get('lineitems'):
            known.update(lineitems=service['lineitems'], scopes=service.get('scope', []))
    write_private(Path(folder) / LAUNCHES_FILE, json.dumps(launches, indent=2, sort_keys=True) + '\n', group_id)
    students = sorted((name, user) for name, user in launches['users'].items() if not user['teacher'])
    rows = [{'id': name, 'first_name': user['given_name'], 'last_name': user['family_name'], 'email': user['email']}
            for name, user in students]
    write_private(Path(folder) / CLASS_LIST_FILE, csv_text(rows), group_id)


def csv_text(rows):
    """The class list's CSV text (header: id, first_name, last_name, email)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=['id', 'first_name', 'last_name', 'email'])
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()
