"""Login throttling and the security headers every response carries."""
import datetime
import secrets

from flask import current_app, g, make_response, request

from models.base import LoginAttempt, now
from views.pages import render_page

# Failures are counted per (user name, client address): one person's typos lock nobody else.
PAIR_MAX_FAILURES = 5          # a user name from one address: that pair waits 15 minutes
ADDRESS_MAX_FAILURES = 30      # one address across many user names (password spraying) …
ADDRESS_MIN_USERNAMES = 5      # … of at least this many names: the address waits 15 minutes
DELAY_AFTER = 5                # failures of one user name from addresses it never signed in from
MAX_DELAY = 60                 # seconds: brute force from many addresses is slowed, never locked
KNOWN_ADDRESS_DAYS = 90        # an address the user signed in from lately is "her own"
WINDOW = datetime.timedelta(minutes=15)


def client_address():
    """The socket's address, or X-Forwarded-For's when KEFU_PROXY_COUNT trusts that many proxies
    (ProxyFix rewrites remote_addr then; the header is never read otherwise)."""
    return request.remote_addr or 'unknown'


def record_login(username, ok):
    LoginAttempt.create(username=(username or '')[:64], address=client_address(), ok=ok, at=now())
    if not ok:
        current_app.logger.warning('failed login for %r from %s', username, client_address())


def _failures(since, after=None, **where):
    """Failed logins (newest first) since `since`, after the attempt `after` when given, matching
    `where` (username, address)."""
    query = LoginAttempt.select(LoginAttempt.at, LoginAttempt.username).where(
        (LoginAttempt.ok == False) & (LoginAttempt.at >= since))  # noqa: E712
    if after is not None:
        query = query.where(LoginAttempt.id > after.id)
    for name, value in where.items():
        query = query.where(getattr(LoginAttempt, name) == value)
    return list(query.order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc()))


def _last_success(at, **where):
    """The latest successful login up to `at` matching `where`, or None."""
    query = LoginAttempt.select(LoginAttempt.id, LoginAttempt.at).where(
        (LoginAttempt.ok == True) & (LoginAttempt.at <= at))  # noqa: E712
    for name, value in where.items():
        query = query.where(getattr(LoginAttempt, name) == value)
    return query.order_by(LoginAttempt.id.desc()).first()


def _lock_end(attempts, count, at):
    """End of the lock that `count` failures within 15 minutes start (15 minutes from the last
    of them), when it is still running at `at`."""
    for i in range(len(attempts) - count + 1):
        if attempts[i].at - attempts[i + count - 1].at <= WINDOW:
            end = attempts[i].at + WINDOW
            return end if end > at else None
    return None


def _spraying_end(attempts, at):
    """Like `_lock_end` for an address, counting only runs across many user names."""
    for i in range(len(attempts) - ADDRESS_MAX_FAILURES + 1):
        run = attempts[i:i + ADDRESS_MAX_FAILURES]
        if run[0].at - run[-1].at <= WINDOW and \
                len({a.username for a in run}) >= ADDRESS_MIN_USERNAMES:
            end = run[0].at + WINDOW
            return end if end > at else None
    return None


def user_delay(username, address, at):
    """Seconds this user name must still wait from this address: 0 from an address the user
    signed in from lately; else doubling from 2 s after the 5th failure since her last sign-in,
    at most a minute — enough to make guessing from many addresses slow, never a lockout."""
    if not username:
        return 0
    known = _last_success(at, username=username, address=address)
    if known is not None and known.at >= at - datetime.timedelta(days=KNOWN_ADDRESS_DAYS):
        return 0
    attempts = _failures(at - WINDOW, _last_success(at, username=username), username=username)
    if len(attempts) < DELAY_AFTER:
        return 0
    delay = min(2 ** (len(attempts) - DELAY_AFTER + 1), MAX_DELAY)
    waited = (at - attempts[0].at).total_seconds()
    return max(0, int(delay - waited + 0.999))


def refusal(username, address, at=None):
    """Why a login attempt is refused before the password is even checked, as (message, seconds
    to wait), or None. The same answer whether or not the user exists. Refused attempts are not
    recorded as failures, so hammering does not lengthen a lock."""
    at = at or now()
    since = at - 2 * WINDOW
    if username:
        end = _lock_end(_failures(since, _last_success(at, username=username, address=address),
                                  username=username, address=address), PAIR_MAX_FAILURES, at)
        if end is not None:
            return '登录失败次数过多，请 15 分钟后再试。', (end - at).total_seconds()
    end = _spraying_end(_failures(since, address=address), at)
    if end is not None:
        return ('此网络地址在短时间内以多个用户名登录失败（疑似密码猜测），已暂停从该地址登录，'
                '请 15 分钟后再试。'), (end - at).total_seconds()
    wait = user_delay(username, address, at)
    if wait:
        return '该用户名近期登录失败较多，为防止密码猜测，请 %d 秒后再试。' % wait, wait
    return None


def login_refused(username):
    """A 429 page while this attempt must wait (see `refusal`)."""
    found = refusal((username or '').strip()[:64], client_address())
    if found is None:
        return None
    message, seconds = found
    current_app.logger.warning('login throttled for %r from %s', username, client_address())
    response = make_response(render_page('auth/throttled.html', message=message, title='登录受限'),
                             429)
    response.headers['Retry-After'] = str(max(1, int(seconds + 0.999)))
    return response


def csp_nonce():
    if not hasattr(g, 'csp_nonce'):
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def add_security_headers(response):
    nonce = getattr(g, 'csp_nonce', None)
    script = "'self'" + (" 'nonce-%s'" % nonce if nonce else '')
    response.headers.setdefault(
        'Content-Security-Policy',
        "default-src 'self'; script-src %s; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'" % script)
    response.headers.setdefault('X-Content-Type-Options', 'nosniff')
    response.headers.setdefault('X-Frame-Options', 'DENY')
    response.headers.setdefault('Referrer-Policy', 'same-origin')
    if not is_public_asset(request.path):
        # Pages and downloads (Excel, the unit file, uploaded photos) carry owners' personal
        # data: neither a shared proxy nor the browser cache of a shared office PC keeps them.
        # Overrides what send_file set (public, max-age).
        response.headers['Cache-Control'] = 'private, no-store'
        response.headers['Pragma'] = 'no-cache'
        response.headers.pop('Expires', None)
    return response


# Only the portal's own static files (styles, scripts, fonts, icons) may be cached.
PUBLIC_PREFIXES = ('/static/', '/admin/static/')


def is_public_asset(path):
    return path.startswith(PUBLIC_PREFIXES) or path == '/favicon.ico'

