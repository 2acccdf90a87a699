"""Sends the class's final scores to the school's learning platform through
LTI Assignment and Grade Services (AGS), for a class that signs in to the hub
from the platform (classroom/hub/lti_signin.py).

    course-passback                      # a teacher on the hub: the course ~/teaching
    course-passback --course FOLDER      # make grade PASSBACK=1: build/course/

- The scores are the course's final ones, late penalty taken off, as the
  grade files show them (final_scores, the one place that reads them).
- Each assignment has one line item (a gradebook column) on the platform,
  found by its `resourceId` (the assignment's name) and `tag`, and made only
  when none is found: sending again never adds a column.
- Each student's score goes to that line item under the platform's user id
  that their sign-in recorded. AGS scores replace each other, so a score
  sent twice is one score. Work that waits for a hand grade is sent as
  PendingManual, the points so far given; nothing is sent for an assignment
  a student did not hand in, nor for a student who never opened the course
  from the platform (both are listed).
- A request that fails with a server error (5xx), 429 (too many requests:
  the platform asks to be asked later) or a timeout is tried again, up to
  ATTEMPTS times, waiting twice as long each time; any other 4xx is the
  request's fault, is never sent again, and is reported with the platform's
  answer.
- The tool authenticates with an OAuth 2 client-credentials token, asked
  for with a JWT signed by its private key (private_key_jwt); the platform
  checks it with the tool's public key (the hub's /hub/lti13/jwks).

The LTI folder (classroom/lti_tool.py) holds the platform's settings, the
tool's key and the launches; only root and the class's teachers can read it.
"""
import argparse
import csv
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from classroom.lti_tool import DEFAULT_FOLDER, FOLDER_VARIABLE, Platform, public_jwk, read_launches, \
    read_private_key

LINE_ITEM_SCOPE = 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem'
SCORE_SCOPE = 'https://purl.imsglobal.org/spec/lti-ags/scope/score'
LINE_ITEMS_TYPE = 'application/vnd.ims.lis.v2.lineitemcontainer+json'
LINE_ITEM_TYPE = 'application/vnd.ims.lis.v2.lineitem+json'
SCORE_TYPE = 'application/vnd.ims.lis.v1.score+json'
# Marks the line items this course made, beside each one's resourceId
LINE_ITEM_TAG = 'pytorch-course'
# Tries of a request that failed for a reason that may pass (RETRIED, timeouts)
ATTEMPTS = 5
RETRIED = {429, 500, 502, 503, 504}
TEACHING = Path.home() / 'teaching'


@dataclass(frozen=True)
class FinalScore:
    """A student's final result in one assignment."""
    student: str
    assignment: str
    score: float | None  # None: nothing to send (see why)
    maximum: float
    waiting_for_hand_grade: bool
    why: str = ''  # when score is None: 'nothing handed in', or 'not graded' (make grade's report says why)


def final_scores(course_folder):
    """Every student's final score in every assignment of `course_folder`, in
    the course's order: the class's final grades (grades.py's final_grades,
    the late penalty taken off) as the course's export writes them into
    grades_by_assignment.csv. The export is run as `nbgrader export` runs it
    (in the course folder, with its settings: the teacher's share of the
    penalty too), into a folder of its own, so the scores are those of the
    gradebook now."""
    from classroom.grading.grades import MISSING

    course_folder = Path(course_folder).resolve()
    if not (course_folder / 'gradebook.db').is_file():
        raise FileNotFoundError(f'{course_folder} holds no gradebook.db: grade the class first')
    # nbgrader runs alembic, installed beside it
    environment = {**os.environ, 'PATH': os.pathsep.join([str(Path(sys.executable).parent), os.environ['PATH']])}
    with tempfile.TemporaryDirectory() as folder:
        exported = Path(folder) / 'grades.csv'
        done = subprocess.run([sys.executable, '-m', 'nbgrader', 'export', f'--to={exported}',
                               f'--CourseDirectory.root={course_folder}'],
                              cwd=course_folder, env=environment, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f'nbgrader export failed:\n{done.stderr[-3000:]}')
        with open(exported.with_name('grades_by_assignment.csv'), newline='') as file:
            rows = list(csv.DictReader(file))
    return [FinalScore(row['student_id'], row['assignment'], float(row['score']) if row['score'] else None,
                       float(row['max_score']), row['needs_manual_grade'] == 'yes',
                       '' if row['score'] else 'nothing handed in' if row['status'] == MISSING else row['status'])
            for row in rows]


class ServiceError(Exception):
    """A request the platform refused, or that kept failing."""


class Transient(ServiceError):
    """A failure that may pass: a 5xx, a 429, a timeout, a refused connection;
    `retry_after`: the seconds the platform asked to wait, if it said."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


def next_page(link_header):
    """The address of the next page from a Link header, or None."""
    for part in (link_header or '').split(','):
        match = re.match(r'\s*<([^>]+)>\s*;(.*)', part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


def scores_url(line_item):
    """A line item's scores endpoint: its path and /scores, its query kept."""
    parts = urllib.parse.urlsplit(line_item)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip('/') + '/scores'))


class GradeService:
    """The platform's Assignment and Grade Services, as the tool `platform`
    signing with `private_key` (PEM)."""

    def __init__(self, platform, private_key, attempts=ATTEMPTS, first_wait=1.0, timeout=30):
        self.platform, self.private_key = platform, private_key
        self.key_id = public_jwk(private_key)['kid']
        self.attempts, self.first_wait, self.timeout = attempts, first_wait, timeout
        self.token, self.token_expires = None, 0.0

    def request(self, method, url, body=None, content_type=None, accept='application/json', form=False, token=True):
        """(headers, parsed JSON or None) of one request. Raises Transient
        (may pass) or ServiceError (the platform refused it)."""
        headers = {'Accept': accept}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
            headers['Content-Type'] = 'application/x-www-form-urlencoded' if form else content_type
        if token:
            headers['Authorization'] = f'Bearer {self.access_token()}'
        call = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(call, timeout=self.timeout) as answer:
                text = answer.read().decode()
                return answer.headers, json.loads(text) if text.strip() else None
        except urllib.error.HTTPError as error:
            said = f'{method} {url}: {error.code} {error.reason}: {error.read().decode(errors="replace")[:500]}'
            if error.code in RETRIED:
                wait = error.headers.get('Retry-After') or ''
                raise Transient(said, min(60, int(wait)) if wait.isdigit() else None) from None
            raise ServiceError(said) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as error:
            raise Transient(f'{method} {url}: {getattr(error, "reason", error)}') from None

    def again(self, attempt, failure):
        """Waits before try `attempt` + 1 (twice as long each time; a
        Retry-After of the platform's when it gave one, up to a minute);
        raises `failure` after the last try."""
        if attempt + 1 >= self.attempts:
            raise ServiceError(f'{failure} (tried {self.attempts} times)')
        time.sleep(self.first_wait * 2 ** attempt if failure.retry_after is None else failure.retry_after)

    def retried(self, method, url, **options):
        """request(), tried again while it fails for a reason that may pass:
        only for requests that may be sent twice."""
        for attempt in range(self.attempts):
            try:
                return self.request(method, url, **options)
            except Transient as failure:
                self.again(attempt, failure)

    def access_token(self):
        """A bearer token for the grade services (client credentials, with a
        JWT signed by the tool's key), asked for again shortly before it expires."""
        import jwt

        if self.token and time.time() < self.token_expires - 60:
            return self.token
        now = int(time.time())
        assertion = jwt.encode(
            {'iss': self.platform.client_id, 'sub': self.platform.client_id, 'aud': self.platform.token_url,
             'iat': now, 'exp': now + 300, 'jti': str(uuid.uuid4())},
            self.private_key, algorithm='RS256', headers={'kid': self.key_id})
        _, answer = self.retried('POST', self.platform.token_url, form=True, token=False, body={
            'grant_type': 'client_credentials',
            'client_assertion_type': 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            'client_assertion': assertion, 'scope': f'{LINE_ITEM_SCOPE} {SCORE_SCOPE}',
        })
        self.token, self.token_expires = answer['access_token'], now + int(answer.get('expires_in', 3600))
        return self.token

    def find_line_item(self, line_items, assignment):
        """The line item of `assignment` in the container `line_items`, or None."""
        query = urllib.parse.urlencode({'resource_id': assignment, 'tag': LINE_ITEM_TAG})
        parts = urllib.parse.urlsplit(line_items)
        url = urllib.parse.urlunsplit(parts._replace(query='&'.join(filter(None, [parts.query, query]))))
        while url:
            headers, items = self.retried('GET', url, accept=LINE_ITEMS_TYPE)
            # A platform may ignore the filters: check each item
            for item in items or []:
                if item.get('resourceId') == assignment and item.get('tag') == LINE_ITEM_TAG:
                    return item
            url = next_page(headers.get('Link'))
        return None

    def line_item(self, line_items, assignment, maximum):
        """The address of `assignment`'s line item, made if none exists. A
        creation that may have reached the platform (a timeout) is never sent
        again before looking for its result."""
        for attempt in range(self.attempts):
            found = self.find_line_item(line_items, assignment)
            if found:
                return found['id']
            try:
                _, made = self.request('POST', line_items, content_type=LINE_ITEM_TYPE, accept=LINE_ITEM_TYPE, body={
                    'label': assignment, 'scoreMaximum': maximum, 'resourceId': assignment, 'tag': LINE_ITEM_TAG})
                return made['id']
            except Transient as failure:
                self.again(attempt, failure)

    def send_score(self, line_item, user_id, score):
        """Sends a FinalScore to `line_item` for the platform's user `user_id`."""
        waiting = score.waiting_for_hand_grade
        self.retried('POST', scores_url(line_item), content_type=SCORE_TYPE, body={
            'userId': user_id, 'scoreGiven': score.score, 'scoreMaximum': score.maximum,
            'activityProgress': 'Submitted' if waiting else 'Completed',
            'gradingProgress': 'PendingManual' if waiting else 'FullyGraded',
            # When the score was sent: each try is the latest word on it
            'timestamp': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds'),
        })


@dataclass
class Report:
    """What a passback did: (student, assignment, why) of each score."""
    sent: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)


def course_context(launches, context=None):
    """(id, details) of the platform course the grades go to: `context`, or
    the one course whose launches gave a grade service."""
    courses = {key: value for key, value in launches['contexts'].items() if value.get('lineitems')}
    if context and context not in courses:
        raise ValueError(f'no launch from course {context!r} gave a grade service; the courses with one are: '
                         f'{", ".join(courses) or "none"}')
    if not context and len(courses) != 1:
        listed = '; '.join(f'{key} ({value["title"]})' for key, value in courses.items())
        if not listed:
            raise ValueError('no launch gave a grade service yet: open the course from the platform once, as its '
                             'teacher, with the tool\'s Assignment and Grade Services turned on (HUB.md)')
        raise ValueError(f'launches from {len(courses)} courses gave a grade service ({listed}): choose one with '
                         f'--context')
    key = context or next(iter(courses))
    value = courses[key]
    missing = {LINE_ITEM_SCOPE, SCORE_SCOPE} - set(value.get('scopes', []))
    if missing:
        raise ValueError(f'the platform does not let the tool {" and ".join(sorted(missing))}: turn on its '
                         f'Assignment and Grade Services where the tool is registered (HUB.md)')
    return key, value


def passback(scores, launches, service, context=None):
    """Sends `scores` (FinalScore) to the course of `launches` (context
    chosen as course_context does) through `service` (GradeService);
    returns a Report. Raises ServiceError when the platform refuses the
    tool a token."""
    context_id, course = course_context(launches, context)
    # A token first: a platform that refuses the tool stops it here, once
    service.access_token()
    user_ids = {name: user['sub'] for name, user in launches['users'].items()
                if context_id in user['contexts'] and not user['teacher']}
    report = Report()
    assignments = list(dict.fromkeys(score.assignment for score in scores))
    for assignment in assignments:
        handed_in = [score for score in scores if score.assignment == assignment]
        try:
            line_item = service.line_item(course['lineitems'], assignment, handed_in[0].maximum)
        except ServiceError as error:
            report.failed += [(score.student, assignment, str(error)) for score in handed_in]
            continue
        for score in handed_in:
            if score.score is None:
                report.skipped.append((score.student, assignment, score.why or 'nothing handed in'))
            elif score.student not in user_ids:
                report.skipped.append((score.student, assignment, 'never opened the course from the platform'))
            else:
                try:
                    service.send_score(line_item, user_ids[score.student], score)
                    report.sent.append((score.student, assignment, f'{score.score:g} / {score.maximum:g}'))
                except ServiceError as error:
                    report.failed.append((score.student, assignment, str(error)))
    return report


def default_folder():
    """The LTI folder: COURSE_LTI_FOLDER (a teacher's server has it), else
    under COURSE_HUB_FOLDER, else the hub's default."""
    if os.environ.get(FOLDER_VARIABLE):
        return Path(os.environ[FOLDER_VARIABLE])
    if os.environ.get('COURSE_HUB_FOLDER'):
        return Path(os.environ['COURSE_HUB_FOLDER']) / DEFAULT_FOLDER.name
    return DEFAULT_FOLDER


def main(arguments=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--course', type=Path, default=TEACHING, help='the nbgrader course folder')
    parser.add_argument('--lti-folder', type=Path, default=default_folder(), help='the hub\'s LTI folder')
    parser.add_argument('--context', help='the platform course (context id) to send to, when there are several')
    args = parser.parse_args(arguments)
    try:
        folder = args.lti_folder
        key = read_private_key(folder)
        service = GradeService(Platform.read(folder), key)
        launches = read_launches(folder)
        course_context(launches, args.context)  # before the export: a wrong choice fails at once
        report = passback(final_scores(args.course), launches, service, args.context)
    except (ValueError, OSError, RuntimeError, ServiceError) as error:
        print(f'passback: {error}', file=sys.stderr)
        return 2
    for student, assignment, what in report.sent:
        print(f'sent     {student} {assignment}: {what}')
    for student, assignment, why in report.skipped:
        print(f'not sent {student} {assignment}: {why}')
    for student, assignment, why in report.failed:
        print(f'FAILED   {student} {assignment}: {why}', file=sys.stderr)
    print(f'{len(report.sent)} scores sent, {len(report.skipped)} not sent, {len(report.failed)} failed')
    return 1 if report.failed else 0


if __name__ == '__main__':
    sys.exit(main())
