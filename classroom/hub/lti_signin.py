"""Signing in from the school's learning platform with LTI 1.3
(COURSE_HUB_AUTH=lti; HUB.md, "Signing in from the school's platform"):
jupyterhub-ltiauthenticator's LTI 1.3 authenticator, with the course's rules.

- A student who opens the course from the platform gets a hub account at
  once, no sign-up: its name comes from the platform's stable user id
  (lti_tool.hub_name), never from a display name or an e-mail address.
- A launch with the context role Instructor makes a teacher (a hub admin,
  with an nbgrader course), as do the names in COURSE_HUB_TEACHERS; the role
  is read again at every launch, so a teacher removed from the course on
  the platform is no admin after their next launch.
- A launch from another deployment of the tool than the hub's, from a course
  (context) other than those named (when some are: COURSE_LTI_CONTEXT_ID), or
  without a user id (an anonymous launch), is refused (403).
- A launch is accepted once: its nonce is remembered until the id_token
  expires, so the same form posted again (a replay) is refused (400); the
  authenticator itself checks the nonce against the browser's cookie only,
  which a replay carries too. The platform's signature, issuer, audience,
  expiry and age are the authenticator's own checks.
- Each launch is recorded (lti_tool.record_launch) for the grade passback.
- The tool's public key is served at /hub/lti13/jwks, for the platform.
"""
import json
import time
from urllib.parse import urlsplit

from jupyterhub.handlers import BaseHandler
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler
from tornado.web import HTTPError
from traitlets import Dict, Int, Set, Unicode

from classroom.lti_tool import (CONTEXT_CLAIM, DEPLOYMENT_CLAIM, hub_name, is_instructor, prepare_folder, public_jwk,
                                record_launch)


class ToolKeysHandler(BaseHandler):
    """The tool's public key set (JWKS), which the platform checks the tool's
    signed token requests with."""

    def get(self):
        """Answers with the tool's public key, as a JWKS of one key."""
        self.set_header('Content-Type', 'application/json')
        self.write(json.dumps({'keys': [self.authenticator.tool_jwk]}))


class OneTimeLaunchHandler(LTI13CallbackHandler):
    """The authenticator's launch handler, refusing a launch seen before."""

    def decode_and_validate_launch_request(self):
        id_token = super().decode_and_validate_launch_request()
        self.authenticator.use_nonce(id_token['nonce'], id_token['exp'])
        return id_token


class CourseLTIAuthenticator(LTI13Authenticator):
    """LTI 1.3 sign-in with the course's rules (see the module's docstring)."""

    callback_handler = OneTimeLaunchHandler
    deployment_ids = Set(Unicode(), config=True, help='The deployments of the tool whose launches are accepted')
    context_ids = Set(Unicode(), config=True, help='The courses whose launches are accepted; empty: every one')
    teachers = Set(Unicode(), config=True, help='Hub names that are teachers whatever their role on the platform')
    records_folder = Unicode(config=True, help='The LTI folder (classroom/lti_tool.py)')
    records_group = Int(config=True, help="The teachers' Unix group id, which may read the LTI folder")
    tool_jwk = Dict(config=True, help="The tool's public key, as a JSON Web Key")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # {nonce: when its id_token expires}: one hub process sees every launch
        self.used_nonces = {}

    def get_handlers(self, app):
        return [*super().get_handlers(app), ('/lti13/jwks', ToolKeysHandler)]

    def use_nonce(self, nonce, expires):
        """Accepts a launch's nonce once (until its id_token expires)."""
        now = time.time()
        self.used_nonces = {seen: until for seen, until in self.used_nonces.items() if until >= now}
        if nonce in self.used_nonces:
            raise HTTPError(400, 'This launch was used before: open the course from the platform again')
        self.used_nonces[nonce] = expires

    async def authenticate(self, handler, data=None):
        """The hub user of a verified launch (`data`, the id_token's claims)."""
        deployment = data.get(DEPLOYMENT_CLAIM)
        if deployment not in self.deployment_ids:
            self.log.warning('Refused a launch from deployment %r (the hub accepts %s)', deployment,
                             ', '.join(sorted(self.deployment_ids)))
            raise HTTPError(403, 'This hub is not registered for the platform deployment you came from')
        context = (data.get(CONTEXT_CLAIM) or {}).get('id')
        if self.context_ids and context not in self.context_ids:
            self.log.warning('Refused a launch from course %r (the hub accepts %s)', context,
                             ', '.join(sorted(self.context_ids)))
            raise HTTPError(403, 'This hub is not open to the course you came from')
        if not data.get('sub'):
            raise HTTPError(403, 'The platform sent no user id (an anonymous launch): the hub needs one')
        name = hub_name(data['iss'], data['sub'])
        teacher = is_instructor(data) or name in self.teachers
        record_launch(self.records_folder, self.records_group, name, data, teacher)
        self.log.info('LTI launch: %s (%s) from course %r', name, 'teacher' if teacher else 'student', context)
        return {'name': name, 'admin': teacher}


def configure(c, platform, folder, group_id, teachers, public_url):
    """Sets the hub's `c` to sign users in from `platform` (a lti_tool.Platform)
    at `public_url`, the address the platform reaches the hub at; prepares the
    LTI folder and the tool's key. Returns the addresses to register the
    tool with on the platform."""
    key = prepare_folder(folder, group_id)
    platform.write(folder, group_id)
    c.JupyterHub.authenticator_class = CourseLTIAuthenticator
    settings = c.CourseLTIAuthenticator
    settings.issuer = platform.issuer
    settings.client_id = {platform.client_id}
    settings.authorize_url = platform.authorize_url
    settings.jwks_endpoint = platform.jwks_url
    settings.deployment_ids = set(platform.deployment_ids)
    settings.context_ids = set(platform.context_ids)
    settings.teachers = set(teachers)
    settings.records_folder = str(folder)
    settings.records_group = group_id
    settings.tool_jwk = public_jwk(key)
    # The addresses the hub builds (the redirect URI) take the public scheme,
    # whatever a proxy in front says
    settings.uri_scheme = urlsplit(public_url).scheme
    if urlsplit(public_url).scheme == 'https':
        # The platform posts the launch from its own site, and may show the
        # hub in a frame: the hub's cookies (the launch's state and nonce,
        # the login) must travel with cross-site requests
        c.JupyterHub.tornado_settings = {'cookie_options': {'samesite': 'None', 'secure': True}}
    hub = public_url.rstrip('/') + '/hub'
    return {
        'target link URI': f'{hub}/',
        'OpenID Connect initiation (login) URL': f'{hub}/lti13/oauth_login',
        'redirect URI': f'{hub}/lti13/oauth_callback',
        'public key set (JWKS) URL': f'{hub}/lti13/jwks',
    }

