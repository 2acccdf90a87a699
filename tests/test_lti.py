"""LTI 1.3 with the school's platform, simulated here (tests/lti_platform.py):
grades sent back through Assignment and Grade Services, with retries that
never duplicate a line item or a score, and the tool's token request checked
with its public key. The sign-in through the class's hub is in the second
half (root and the hub's environment)."""
import functools
import grp
import os
import time
from types import SimpleNamespace

import pytest

from classroom.grading.passback import FinalScore, GradeService, ServiceError, passback, scores_url
from classroom.grading.roster import USER_NAME
from classroom.hub.preparation import ensure_account, set_teacher, teachers_group
from classroom.lti_tool import (CLASS_LIST_FILE, CONTEXT_CLAIM, DEPLOYMENT_CLAIM, INSTRUCTOR_ROLE, KEY_FILE,
                                LAUNCHES_FILE, LTI_FOLDER, Platform, hub_name, new_private_key, public_jwk,
                                read_launches, read_private_key, record_launch)
from tests.class_hub import HUB_ENVIRONMENT, ClassHub, request
from tests.lti_platform import LEARNER_ROLE, SimulatedPlatform, platform_user

# The tool's key, one per test process (making one takes a while)
TOOL_KEY = functools.cache(new_private_key)
STUDENTS = ('ada', 'ben', 'cy')
ASSIGNMENTS = ('01_first', '02_second', '03_third')


def tool_of(platform, folder):
    """The tool as the hub registered it with `platform` (which knows its
    public key), and the launches of STUDENTS recorded in `folder`, their
    hub names their names. Returns (GradeService, launches)."""
    platform.register('http://127.0.0.1:9', {'keys': [public_jwk(TOOL_KEY())]})
    platform.record_launches(folder, STUDENTS)
    return GradeService(platform.settings(), TOOL_KEY(), first_wait=0.01), read_launches(folder)


def class_scores():
    """Final scores of STUDENTS in ASSIGNMENTS: cy handed in nothing for the
    last, and ada's second waits for a hand grade."""
    return [FinalScore(student, assignment, None if (student, assignment) == ('cy', '03_third') else 2.0 + index,
                       10.0, (student, assignment) == ('ada', '02_second'))
            for index, student in enumerate(STUDENTS) for assignment in ASSIGNMENTS]


def scores_posted(platform, line_item):
    """The statuses the platform answered to the scores posted to `line_item`."""
    path = scores_url(line_item).removeprefix(platform.url)
    return [status for method, logged, status in platform.log if (method, logged) == ('POST', path)]


def test_a_hub_name_comes_from_the_platforms_stable_id_and_is_an_account_name():
    name = hub_name('https://canvas.instructure.com', 'a6d5c443-1f51-4783-ba1a-7686ffe3b54a')
    assert USER_NAME.match(name), name
    assert name == hub_name('https://canvas.instructure.com', 'a6d5c443-1f51-4783-ba1a-7686ffe3b54a')
    others = {hub_name('https://canvas.instructure.com', str(number)) for number in range(1000)}
    assert len(others) == 1000 and name not in others
    assert hub_name('https://moodle.school.example', '2') != hub_name('https://canvas.instructure.com', '2')


def test_passback_sends_each_score_once_and_sending_again_adds_no_line_item_nor_score(tmp_path):
    with SimulatedPlatform() as platform:
        service, launches = tool_of(platform, tmp_path / 'lti')
        # The first line item is made, but the platform's answer is lost: the
        # tool must look again rather than make a second one
        platform.create_then_fail.add(('POST', platform.line_items_url.removeprefix(platform.url)))
        # Nor does it filter the list: the tool reads every page, and each item
        platform.filters = False
        first = passback(class_scores(), launches, service)
        second = passback(class_scores(), launches, service)
    assert first.sent == second.sent and not first.failed and not second.failed
    assert first.skipped == [('cy', '03_third', 'nothing handed in')]
    # One line item per assignment (the third on the second page of the list)
    assert sorted(item['resourceId'] for item in platform.line_items.values()) == list(ASSIGNMENTS)
    assert {item['scoreMaximum'] for item in platform.line_items.values()} == {10.0}
    items = {item['resourceId']: item_id for item_id, item in platform.line_items.items()}
    expected = {(items[score.assignment], f'platform-id-of-{score.student}'): score
                for score in class_scores() if score.score is not None}
    assert set(platform.scores) == set(expected)
    for key, score in expected.items():
        sent = platform.scores[key]
        assert (sent['scoreGiven'], sent['scoreMaximum']) == (score.score, score.maximum)
        waiting = score.waiting_for_hand_grade
        assert (sent['activityProgress'], sent['gradingProgress']) == \
            (('Submitted', 'PendingManual') if waiting else ('Completed', 'FullyGraded')), score
    # Each score was posted twice, and the platform kept one per student
    assert scores_posted(platform, items['01_first']) == [200] * 6


def test_a_503_is_tried_again_and_a_400_is_not(tmp_path):
    with SimulatedPlatform() as platform:
        service, launches = tool_of(platform, tmp_path / 'lti')
        first_item = f'{platform.line_items_url}/1'
        # ada's score: 503, then accepted; ben's: refused (400); cy's: accepted
        platform.fail_next[('POST', scores_url(first_item).removeprefix(platform.url))] = [503, None, 400]
        report = passback([score for score in class_scores() if score.assignment == '01_first'], launches, service)
    assert [sent[0] for sent in report.sent] == ['ada', 'cy']
    [(student, _, why)] = report.failed
    assert student == 'ben' and ' 400 ' in why
    assert scores_posted(platform, first_item) == [503, 200, 400, 200]
    assert {user for _, user in platform.scores} == {'platform-id-of-ada', 'platform-id-of-cy'}


def test_the_platform_checks_the_tools_signature_and_a_refused_token_is_not_asked_again(tmp_path):
    with SimulatedPlatform() as platform:
        service, launches = tool_of(platform, tmp_path / 'lti')
        # The platform knows another key than the one the tool signs with
        platform.tool_keys = {'keys': [{**public_jwk(new_private_key()), 'kid': service.key_id}]}
        with pytest.raises(ServiceError, match='401'):
            passback(class_scores(), launches, service)
        platform.tool_keys = {'keys': [public_jwk(service.private_key)]}
        report = passback(class_scores(), launches, service)
    assert [(method, path) for method, path, _ in platform.log].count(('POST', '/token')) == 2
    assert len(report.sent) == 8 and not report.failed


def test_a_launch_records_the_stable_id_and_the_grade_service_never_a_teacher_in_the_class_list(tmp_path):
    folder = tmp_path / 'lti'
    folder.mkdir()
    with SimulatedPlatform() as platform:
        platform.register('http://127.0.0.1:9', None)
        student, teacher = platform_user('ada'), platform_user('tess', roles=[])
        record_launch(folder, os.getgid(), 'lti-ada', platform.claims(student, 'n1'), teacher=False)
        record_launch(folder, os.getgid(), 'lti-tess', platform.claims(teacher, 'n2'), teacher=True)
        # ada's e-mail changes on the platform: the same hub user, the new address
        record_launch(folder, os.getgid(), 'lti-ada', platform.claims({**student, 'email': 'ada@new.example'}, 'n3'),
                      teacher=False)
    launches = read_launches(folder)
    assert launches['users']['lti-ada']['sub'] == 'platform-id-of-ada'
    assert launches['contexts'] == {platform.context_id: {
        'title': 'The PyTorch training loop', 'deployment_id': platform.deployment_id,
        'lineitems': platform.line_items_url, 'scopes': launches['contexts'][platform.context_id]['scopes']}}
    assert (folder / 'class-list.csv').read_text().splitlines() == [
        'id,first_name,last_name,email', 'lti-ada,Ada,Student,ada@new.example']
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o640, path


def test_the_hub_names_every_missing_or_plain_http_platform_setting_at_once():
    with pytest.raises(ValueError) as refused:
        Platform.from_environment({'COURSE_LTI_ISSUER': 'https://canvas.instructure.com', 'COURSE_LTI_CLIENT_ID': '1',
                                   'COURSE_LTI_JWKS_URL': 'http://platform.example/jwks'})
    message = str(refused.value)
    for variable in ('COURSE_LTI_DEPLOYMENT_ID', 'COURSE_LTI_AUTHORIZE_URL', 'COURSE_LTI_TOKEN_URL'):
        assert f'{variable} is not set' in message
    assert "COURSE_LTI_JWKS_URL='http://platform.example/jwks' is not an https:// address" in message
    assert 'COURSE_LTI_ISSUER' not in message and 'COURSE_LTI_CLIENT_ID' not in message


# --- Signing in through the class's hub (as root, with the hub's environment) ---

PREFIX = 'ltitest'


@pytest.fixture(scope='module')
def lti_hub():
    """The class's hub with COURSE_HUB_AUTH=lti, registered with a simulated
    platform; removed with everything it made afterwards."""
    if os.geteuid() != 0:
        pytest.skip('the hub makes Unix accounts: run as root (CI does)')
    if not (HUB_ENVIRONMENT / 'bin' / 'jupyterhub').is_file():
        pytest.fail(f'no JupyterHub in {HUB_ENVIRONMENT}: run `make hub-env` (as root) first', pytrace=False)
    with SimulatedPlatform() as platform:
        # A student account of the class, to try the LTI folder's permissions with
        hub = ClassHub(PREFIX, ['reader'], sign_up=True)
        hub.settings.update({
            'COURSE_HUB_AUTH': 'lti', 'COURSE_HUB_PUBLIC_URL': hub.url,
            'COURSE_LTI_ISSUER': platform.issuer, 'COURSE_LTI_CLIENT_ID': platform.client_id,
            'COURSE_LTI_DEPLOYMENT_ID': platform.deployment_id, 'COURSE_LTI_JWKS_URL': f'{platform.url}/jwks',
            'COURSE_LTI_AUTHORIZE_URL': f'{platform.url}/authorize', 'COURSE_LTI_TOKEN_URL': platform.token_url,
            'COURSE_LTI_CONTEXT_ID': platform.context_id,
        })
        # The platform reads the tool's keys where the hub serves them
        platform.register(hub.url, f'{hub.url}/hub/lti13/jwks')
        try:
            began = time.monotonic()
            hub.start()
            yield SimpleNamespace(hub=hub, platform=platform, folder=hub.class_folder / LTI_FOLDER,
                                  started_in=time.monotonic() - began)
        finally:
            hub.remove_everything()


def hub_user(hub, user):
    """The hub's record of the platform's `user`, or None."""
    status, found = hub.api(f'users/{hub_name(user_issuer(hub), user["sub"])}')
    return found if status == 200 else None


def user_issuer(hub):
    return hub.settings['COURSE_LTI_ISSUER']


def test_a_student_from_the_platform_gets_an_account_named_from_their_stable_id(lti_hub):
    hub, platform = lti_hub.hub, lti_hub.platform
    student = platform_user('ada')
    launch = platform.launch(student)
    status, location = launch.answer
    assert (status, location) == (302, '/hub/'), launch.answer
    assert any(cookie.name == 'jupyterhub-hub-login' for cookie in launch.browser.cookies)
    user = hub_user(hub, student)
    assert user and not user['admin'], user
    assert USER_NAME.match(user['name'])
    # A new e-mail address and name on the platform: the same account
    renamed = {**student, 'given_name': 'Adeline', 'email': 'adeline@school.example'}
    assert platform.launch(renamed).answer[0] == 302
    launches = read_launches(lti_hub.folder)
    assert launches['users'][user['name']]['sub'] == student['sub']
    assert launches['users'][user['name']]['email'] == 'adeline@school.example'
    assert launches['contexts'][platform.context_id]['lineitems'] == platform.line_items_url


def test_the_platforms_instructor_is_a_teacher_until_the_role_is_gone(lti_hub):
    hub, platform = lti_hub.hub, lti_hub.platform
    teacher = platform_user('tess', roles=[INSTRUCTOR_ROLE])
    assert platform.launch(teacher).answer[0] == 302
    assert hub_user(hub, teacher)['admin']
    # A learner of the course: no longer a teacher
    assert platform.launch({**teacher, 'roles': [LEARNER_ROLE]}).answer[0] == 302
    assert not hub_user(hub, teacher)['admin']


def test_a_forged_foreign_expired_or_replayed_launch_is_refused(lti_hub):
    hub, platform = lti_hub.hub, lti_hub.platform
    now = int(time.time())
    attempts = {
        'signed with another key': ({'signing key': new_private_key()}, 400),
        'for another tool (audience)': ({'aud': 'another-tool'}, 401),
        'expired': ({'iat': now - 400, 'exp': now - 100}, 400),
        'from another deployment': ({DEPLOYMENT_CLAIM: 'deployment-2'}, 403),
        'from another course': ({CONTEXT_CLAIM: {'id': 'course-202', 'title': 'Another course'}}, 403),
    }
    for what, (changes, refused_with) in attempts.items():
        user = platform_user(f'mallory-{len(what)}')
        status, location = platform.launch(user, **changes).answer
        assert (what, status) == (what, refused_with), location
        assert hub_user(hub, user) is None, what
    # A launch that worked, posted again with the cookies it came with
    user = platform_user('eve')
    launch = platform.launch(user)
    assert launch.answer[0] == 302
    assert platform.replay(launch)[0] == 400


def test_the_tools_key_is_served_public_and_read_by_root_and_teachers_only(lti_hub):
    hub, folder = lti_hub.hub, lti_hub.folder
    key = folder / KEY_FILE
    status, served = request(f'{hub.url}/hub/lti13/jwks')
    assert status == 200 and served == {'keys': [public_jwk(key.read_text())]}
    assert not {'d', 'p', 'q', 'dp', 'dq', 'qi'} & set(served['keys'][0])
    teachers = grp.getgrnam(teachers_group(hub.group)).gr_gid
    assert (folder.stat().st_uid, folder.stat().st_gid, folder.stat().st_mode & 0o777) == (0, teachers, 0o750)
    for path in folder.iterdir():
        assert (path.stat().st_uid, path.stat().st_gid, path.stat().st_mode & 0o777) == (0, teachers, 0o640), path
    # A student's account of the class cannot read it; a teacher's can
    student = hub.students['reader']
    ensure_account(student, hub.group)
    ensure_account(hub.teacher, hub.group)
    set_teacher(hub.teacher, hub.group, True)
    for path in (key, folder / LAUNCHES_FILE, folder / CLASS_LIST_FILE):
        assert not hub.account(student).can_read(path), path
        assert hub.account(hub.teacher).can_read(path), path
    assert not hub.account(student).can_list(folder)


def test_the_platform_grants_a_token_to_the_tool_checked_with_the_key_the_hub_serves(lti_hub):
    folder, platform = lti_hub.folder, lti_hub.platform
    service = GradeService(Platform.read(folder), read_private_key(folder))
    assert service.access_token() in platform.access_tokens
    assert platform.tool_keys.endswith('/hub/lti13/jwks')
