"""Sign-in of the class's hub: nativeauthenticator (sign-up, the teacher's
approval) with passwords that are not common or weak, and a limit on wrong
passwords that one student cannot turn against another.

nativeauthenticator's own lockout counts wrong passwords per account: five
from anyone, and the account's owner is locked out too. Here wrong
passwords are counted per account AND per place they come from:

- a browser that signed in as that account before carries a signed cookie
  (`course-device`) saying so: its wrong passwords count for it alone;
- any other request counts for the account from its network address (the
  address the hub's proxy saw), and, as a backstop against addresses made
  up, for every such request to the account together, with a higher limit.

Past a limit, the hub answers as for a wrong password without checking it,
until the window has passed. A student guessing another's password from
their own machine, or from the hub's own machine with made-up addresses,
never locks the owner out of the browser they used before; on a browser new
to the account, the owner waits out the window like the guesser.
"""
import secrets
import time
from collections import defaultdict, deque

from nativeauthenticator import NativeAuthenticator
from traitlets import Bool, Integer

DEVICE_COOKIE = 'course-device'
# How many different characters a password needs: refuses 'aaaaaaaaaaaa', 'abababababab'
DISTINCT_CHARACTERS = 5


class FailureCounts:
    """Wrong passwords by key, within a sliding window."""

    def __init__(self, window):
        self.window = window
        self.times = defaultdict(deque)

    def recent(self, key):
        """How many failures `key` had within the window (older ones are forgotten)."""
        times = self.times.get(key)
        if not times:
            return 0
        while times and times[0] < time.monotonic() - self.window:
            times.popleft()
        return len(times)

    def add(self, key):
        """Counts a failure of `key` now."""
        self.times[key].append(time.monotonic())
        # Names and addresses made up by the thousand must not grow it forever
        if len(self.times) > 10_000:
            for stale in [key for key in self.times if not self.recent(key)]:
                del self.times[stale]


class ClassAuthenticator(NativeAuthenticator):
    """NativeAuthenticator with the class's password rules and limits (see the module's docstring)."""

    check_common_password = Bool(True, config=True)
    # nativeauthenticator's per-account lockout: off, replaced by the counts below
    allowed_failed_logins = Integer(0, config=True)
    failures_allowed = Integer(5, config=True, help='Wrong passwords for one account from one address or browser')
    account_failures_allowed = Integer(
        50, config=True, help='Wrong passwords for one account from every browser that never signed in as it')
    failure_window = Integer(600, config=True, help='Seconds a wrong password counts for')

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.failures = FailureCounts(self.failure_window)

    def is_password_common(self, password):
        return super().is_password_common(password) or super().is_password_common(password.lower())

    def is_password_strong(self, password):
        return super().is_password_strong(password) and len(set(password.lower())) >= DISTINCT_CHARACTERS

    def create_user(self, username, password, **kwargs):
        """Refuses, besides the rules above, a password that holds the user name."""
        if username.lower() in password.lower():
            return None
        return super().create_user(username, password, **kwargs)

    def address(self, handler):
        """Where a request came from: the last address the proxies added to
        X-Forwarded-For, past the ones JupyterHub trusts (trusted_downstream_ips).
        Never X-Real-Ip, which anyone can send and tornado would believe."""
        trusted = set(getattr(self.parent, 'trusted_downstream_ips', None) or [])
        forwarded = [part.strip() for part in handler.request.headers.get('X-Forwarded-For', '').split(',')]
        for address in reversed(forwarded):
            if address and address not in trusted:
                return address
        return handler.request.connection.context.address[0]

    def device(self, handler, username):
        """The id of the browser's device cookie, if it signed in as `username` before."""
        try:
            value = handler.get_secure_cookie(DEVICE_COOKIE, max_age_days=365)
        except Exception:  # a request without cookies (the REST API's token request)
            return None
        if value:
            name, _, device = value.decode().partition(':')
            if name == username:
                return device
        return None

    def limits(self, handler, username):
        """[(key, limit)] that a login attempt for `username` counts against."""
        device = self.device(handler, username)
        if device:
            return [(('device', username, device), self.failures_allowed)]
        return [(('address', username, self.address(handler)), self.failures_allowed),
                (('account', username), self.account_failures_allowed)]

    async def authenticate(self, handler, data):
        username = self.normalize_username(data['username'])
        limits = self.limits(handler, username)
        if any(self.failures.recent(key) >= limit for key, limit in limits):
            self.log.warning('Sign-in as %s refused without checking: too many wrong passwords from %s',
                             username, limits[0][0][2])
            return None
        signed_in = await super().authenticate(handler, data)
        if signed_in:
            if not self.device(handler, username):
                handler.set_secure_cookie(DEVICE_COOKIE, f'{username}:{secrets.token_hex(16)}', expires_days=365,
                                          path=handler.hub.base_url, httponly=True,
                                          secure=handler.request.protocol == 'https', samesite='strict')
            return signed_in
        for key, _ in limits:
            self.failures.add(key)
        return None
