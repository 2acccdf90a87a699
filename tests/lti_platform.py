"""A school's learning platform as an LTI 1.3 tool meets it, simulated on
127.0.0.1 for the tests: its own RSA key and key set (JWKS), the OpenID
Connect login that the platform starts (third-party initiated login), its
authorization endpoint answering with a signed id_token in a form post, the
OAuth 2 token endpoint (client credentials, the tool's JWT checked with the
tool's public key), and Assignment and Grade Services' line items and scores.

It follows IMS's LTI 1.3 Core (https://www.imsglobal.org/spec/lti/v1p3/),
the Security Framework (https://www.imsglobal.org/spec/security/v1p0/) and
AGS 2.0 (https://www.imsglobal.org/spec/lti-ags/v2p0/), and checks what a
platform would: the registered client id and redirect URI, the media types,
the bearer token, the score's fields. A score replaces the one before for
the same line item and user, as AGS says; every request is logged.
`fail_next` makes it answer a request with given statuses first."""
import functools
import html
import http.cookiejar
import json
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from classroom.course import free_port
from classroom.grading.passback import LINE_ITEM_SCOPE, LINE_ITEM_TYPE, LINE_ITEMS_TYPE, SCORE_SCOPE, SCORE_TYPE
from classroom.lti_tool import CLAIM, CONTEXT_CLAIM, DEPLOYMENT_CLAIM, GRADE_SERVICE_CLAIM, ROLES_CLAIM, Platform, \
    record_launch

LEARNER_ROLE = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'
ACTIVITY = {'Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'}
GRADING = {'FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'}
# Line items per page: a class's four assignments take two pages (Link: next)
PAGE = 2
# ISO 8601 with a fraction of a second and an offset, as AGS asks of a score
TIMESTAMP = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d')


def platform_user(name, roles=(LEARNER_ROLE,)):
    """A user of the platform: a stable id, and names and an e-mail address
    that may change."""
    return {'sub': f'platform-id-of-{name}', 'given_name': name.title(), 'family_name': 'Student',
            'email': f'{name}@school.example', 'roles': list(roles)}


@functools.cache
def platform_key():
    """The platform's RSA key: one per test process (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class SimulatedPlatform:
    """The platform, serving on a free port of 127.0.0.1 while in a `with`."""

    def __init__(self, client_id='pytorch-course-tool', deployment_id='deployment-1', context_id='course-101'):
        self.port = free_port()
        self.url = self.issuer = f'http://127.0.0.1:{self.port}'
        self.client_id, self.deployment_id, self.context_id = client_id, deployment_id, context_id
        self.key, self.key_id = platform_key(), 'platform-key-1'
        self.token_url = f'{self.url}/token'
        self.line_items_url = f'{self.url}/courses/{context_id}/lineitems'
        # Where the tool's public keys are: its JWKS address, or a key set itself
        self.tool_keys = None
        # The tool's addresses, once registered, and the launches under way
        self.redirect_uri = self.login_url = self.target_link_uri = None
        self.launches = {}
        self.line_items = {}  # id: line item
        self.scores = {}  # (line item id, user id): the latest score
        self.log = []  # (method, path, status) of every request
        self.fail_next = {}  # (method, path): statuses to answer first
        self.create_then_fail = set()  # (method, path): done, then answered 503 (a lost answer)
        self.access_tokens = {}
        # Whether listing line items heeds resource_id and tag (a platform may not)
        self.filters = True
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *arguments):
                pass

            def do_GET(self):
                platform.answer(self, 'GET')

            def do_POST(self):
                platform.answer(self, 'POST')
        self.server = ThreadingHTTPServer(('127.0.0.1', self.port), Handler)

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exception):
        self.server.shutdown()
        self.server.server_close()

    def public_keys(self):
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {'keys': [{**public, 'kid': self.key_id, 'alg': 'RS256', 'use': 'sig'}]}

    # --- The platform's pages and services ----------------------------------
    def answer(self, handler, method):
        url = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get('Content-Length') or 0)
        body = handler.rfile.read(length).decode() if length else ''
        with self.lock:
            # A planned status for this request, or None: answered as usual
            planned = self.fail_next.get((method, url.path))
            status = planned.pop(0) if planned else None
        if status:
            outcome = status, {'error': 'planned failure'}, 'application/json', {}
        else:
            try:
                outcome = self.route(method, url, handler.headers, body)
            except Refused as refusal:
                outcome = refusal.status, {'error': refusal.reason}, 'application/json', {}
            if (method, url.path) in self.create_then_fail:
                self.create_then_fail.discard((method, url.path))
                outcome = 503, {'error': 'done, but the answer is lost'}, 'application/json', {}
        status, content, media_type, headers = outcome
        with self.lock:
            self.log.append((method, url.path, status))
        data = content.encode() if isinstance(content, str) else json.dumps(content).encode()
        handler.send_response(status)
        handler.send_header('Content-Type', media_type)
        handler.send_header('Content-Length', str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def route(self, method, url, headers, body):
        query = dict(urllib.parse.parse_qsl(url.query))
        if (method, url.path) == ('GET', '/jwks'):
            return 200, self.public_keys(), 'application/json', {}
        if url.path == '/authorize':
            return self.authorize(query if method == 'GET' else dict(urllib.parse.parse_qsl(body)))
        if (method, url.path) == ('POST', '/token'):
            return self.token(dict(urllib.parse.parse_qsl(body)))
        scope = self.bearer(headers)
        if url.path == urllib.parse.urlsplit(self.line_items_url).path:
            if method == 'GET':
                return self.list_line_items(headers, query, scope)
            return self.create_line_item(headers, body, scope)
        match = re.fullmatch(r'(.*/lineitems/\d+)/scores', url.path)
        if method == 'POST' and match and f'{self.url}{match.group(1)}' in self.line_items:
            return self.score(f'{self.url}{match.group(1)}', headers, body, scope)
        raise Refused(404, f'no {method} {url.path}')

    def authorize(self, request):
        """The OIDC authentication request: answered with a form that posts
        the signed id_token to the tool's registered redirect URI."""
        expected = {'response_type': 'id_token', 'response_mode': 'form_post', 'scope': 'openid', 'prompt': 'none',
                    'client_id': self.client_id, 'redirect_uri': self.redirect_uri}
        wrong = {name: request.get(name) for name, value in expected.items() if request.get(name) != value}
        if wrong or not request.get('nonce') or not request.get('state'):
            raise Refused(400, f'not an authentication request of the registered tool: {wrong}')
        user, changes = self.launches[request['login_hint']]
        claims = self.claims(user, request['nonce'])
        signing_key = changes.pop('signing key', self.key)
        claims.update(changes)
        token = jwt.encode(claims, signing_key, algorithm='RS256', headers={'kid': self.key_id})
        page = (f'<form method="post" action="{html.escape(self.redirect_uri)}">'
                f'<input type="hidden" name="id_token" value="{token}">'
                f'<input type="hidden" name="state" value="{html.escape(request["state"])}"></form>'
                '<script>document.forms[0].submit()</script>')
        return 200, page, 'text/html', {}

    def claims(self, user, nonce):
        """The claims of the id_token that launches `user` into the tool from
        the course: a resource link launch, with the grade service."""
        now = int(time.time())
        return {
            'iss': self.issuer, 'aud': self.client_id, 'sub': user['sub'], 'iat': now, 'exp': now + 300,
            'nonce': nonce, 'given_name': user['given_name'], 'family_name': user['family_name'],
            'name': f'{user["given_name"]} {user["family_name"]}', 'email': user['email'],
            CLAIM + 'message_type': 'LtiResourceLinkRequest', CLAIM + 'version': '1.3.0',
            DEPLOYMENT_CLAIM: self.deployment_id, CLAIM + 'target_link_uri': self.target_link_uri,
            CLAIM + 'resource_link': {'id': 'course-navigation'}, ROLES_CLAIM: user['roles'],
            CONTEXT_CLAIM: {'id': self.context_id, 'label': 'PT101', 'title': 'The PyTorch training loop'},
            GRADE_SERVICE_CLAIM: {'lineitems': self.line_items_url, 'scope': [
                LINE_ITEM_SCOPE, f'{LINE_ITEM_SCOPE}.readonly', SCORE_SCOPE,
                'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly']},
        }

    def token(self, form):
        """Client credentials, the client authenticated by a JWT that the
        tool signed (private_key_jwt), checked with the tool's public key."""
        if form.get('grant_type') != 'client_credentials' or \
                form.get('client_assertion_type') != 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer':
            raise Refused(400, 'unsupported_grant_type')
        assertion = form.get('client_assertion', '')
        try:
            keys = jwt.PyJWKSet.from_dict(self.tool_keys) if isinstance(self.tool_keys, dict) \
                else jwt.PyJWKClient(self.tool_keys).get_jwk_set()
            key = keys[jwt.get_unverified_header(assertion)['kid']]
            claims = jwt.decode(assertion, key.key, algorithms=['RS256'], audience=self.token_url,
                                issuer=self.client_id, options={'require': ['exp', 'iat', 'jti', 'sub']})
        except (jwt.PyJWTError, KeyError) as error:
            raise Refused(401, f'invalid_client: {error}')
        if claims['sub'] != self.client_id:
            raise Refused(401, 'invalid_client: sub')
        token = uuid.uuid4().hex
        self.access_tokens[token] = set(form.get('scope', '').split())
        return 200, {'access_token': token, 'token_type': 'Bearer', 'expires_in': 3600,
                     'scope': form.get('scope', '')}, 'application/json', {}

    def bearer(self, headers):
        token = (headers.get('Authorization') or '').removeprefix('Bearer ')
        if token not in self.access_tokens:
            raise Refused(401, 'no valid bearer token')
        return self.access_tokens[token]

    def list_line_items(self, headers, query, scope):
        if LINE_ITEM_SCOPE not in scope or LINE_ITEMS_TYPE not in (headers.get('Accept') or ''):
            raise Refused(403 if LINE_ITEM_SCOPE not in scope else 406, 'line items: scope or media type')
        items = [item for item in self.line_items.values() if not self.filters or
                 all(item.get(field) == query[name] for name, field in
                     (('resource_id', 'resourceId'), ('tag', 'tag')) if name in query)]
        start = int(query.get('page', 0))
        links = {}
        if start + PAGE < len(items):
            following = urllib.parse.urlencode({**query, 'page': start + PAGE})
            links['Link'] = f'<{self.line_items_url}?{following}>; rel="next"'
        return 200, items[start:start + PAGE], LINE_ITEMS_TYPE, links

    def create_line_item(self, headers, body, scope):
        if LINE_ITEM_SCOPE not in scope or headers.get('Content-Type') != LINE_ITEM_TYPE:
            raise Refused(403 if LINE_ITEM_SCOPE not in scope else 415, 'line item: scope or media type')
        item = json.loads(body)
        if not item.get('label') or not item.get('scoreMaximum', 0) > 0:
            raise Refused(400, 'a line item needs a label and a positive scoreMaximum')
        item['id'] = f'{self.line_items_url}/{len(self.line_items) + 1}'
        self.line_items[item['id']] = item
        return 201, item, LINE_ITEM_TYPE, {}

    def score(self, line_item, headers, body, scope):
        if SCORE_SCOPE not in scope or headers.get('Content-Type') != SCORE_TYPE:
            raise Refused(403 if SCORE_SCOPE not in scope else 415, 'score: scope or media type')
        score = json.loads(body)
        problems = [name for name, right in (
            ('userId', isinstance(score.get('userId'), str)),
            ('activityProgress', score.get('activityProgress') in ACTIVITY),
            ('gradingProgress', score.get('gradingProgress') in GRADING),
            ('timestamp', bool(TIMESTAMP.fullmatch(score.get('timestamp', '')))),
            ('scoreMaximum', 'scoreGiven' not in score or score.get('scoreMaximum', 0) > 0),
        ) if not right]
        if problems:
            raise Refused(400, f'score: wrong {", ".join(problems)}')
        self.scores[(line_item, score['userId'])] = score
        return 200, '', 'application/json', {}

    # --- The tool's side ----------------------------------------------------
    def settings(self):
        """The platform's settings as the tool keeps them (lti_tool.Platform)."""
        return Platform(self.issuer, self.client_id, (self.deployment_id,), f'{self.url}/jwks',
                        f'{self.url}/authorize', self.token_url)

    def record_launches(self, folder, names):
        """Records in `folder` a launch of each of `names` (hub names, each the
        platform_user of that name) as the hub does after checking it."""
        Path(folder).mkdir(exist_ok=True)
        for name in names:
            record_launch(folder, os.getgid(), name, self.claims(platform_user(name), uuid.uuid4().hex), teacher=False)

    # --- A user's browser ---------------------------------------------------
    def register(self, hub_url, tool_keys):
        """Registers the tool: where its launches go, where its keys are."""
        self.redirect_uri = f'{hub_url}/hub/lti13/oauth_callback'
        self.login_url = f'{hub_url}/hub/lti13/oauth_login'
        self.target_link_uri = f'{hub_url}/hub/'
        self.tool_keys = tool_keys

    def launch(self, user, **changes):
        """`user` ({sub, given_name, family_name, email, roles}) opens the tool
        from the course, in a browser of their own: the platform starts the
        login, the tool sends the browser to the authorization endpoint, whose
        form posts the id_token (with `changes` made to its claims; 'signing
        key': another key than the platform's) to the tool. Returns the
        browser, the form and the cookies it was posted with, and the tool's
        answer to it (status, where it redirects)."""
        hint = uuid.uuid4().hex
        self.launches[hint] = (user, dict(changes))
        browser = Browser()
        status, location, _ = browser.open(self.login_url, {
            'iss': self.issuer, 'login_hint': hint, 'target_link_uri': self.target_link_uri,
            'client_id': self.client_id, 'lti_deployment_id': self.deployment_id})
        assert status == 302 and location.startswith(f'{self.url}/authorize?'), (status, location)
        status, _, page = browser.open(location)
        assert status == 200, page
        form = browser.form(page)
        cookies = list(browser.cookies)
        return SimpleNamespace(browser=browser, form=form, cookies=cookies, answer=browser.post_form(form))

    @staticmethod
    def replay(launch):
        """Posts a launch's form again with the cookies it was first posted
        with, as someone who copied both would: the tool's answer."""
        browser = Browser()
        for cookie in launch.cookies:
            browser.cookies.set_cookie(cookie)
        return browser.post_form(launch.form)


class Refused(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status, self.reason = status, reason


class Browser:
    """A browser, as far as a launch needs one: cookies kept, redirects
    looked at rather than followed, forms read and posted."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *arguments):
            return None

    def __init__(self):
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), self.NoRedirect)

    def open(self, url, fields=None):
        """(status, Location, page) of a GET, or of a POST of `fields`."""
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        try:
            with self.opener.open(url, data, timeout=60) as answer:
                return answer.status, answer.headers.get('Location'), answer.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers.get('Location'), answer.read().decode(errors='replace')

    @staticmethod
    def form(page):
        """(action, {name: value}) of the first form of `page`."""
        action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))
        fields = {html.unescape(name): html.unescape(value)
                  for name, value in re.findall(r'<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"', page)}
        return action, fields

    def post_form(self, form):
        """(status, Location) of posting a form (action, fields)."""
        status, location, _ = self.open(*form)
        return status, location
