"""Login throttling and the security headers every response carries."""
import datetime
import secrets

from flask import current_app, g, request
from peewee import fn

from models.base import LoginAttempt, now
from views.pages import render_page

MAX_FAILURES = 5
WINDOW = datetime.timedelta(minutes=15)


def client_address():
    return request.remote_addr or 'unknown'


def record_login(username, ok):
    LoginAttempt.create(username=(username or '')[:64], address=client_address(), ok=ok, at=now())
    if not ok:
        current_app.logger.warning('failed login for %r from %s', username, client_address())


def _failure_times(username, address, since):
    """Failure times (newest first) for the user name, counted since its last successful login,
    and for the address; an attacker's own successful login does not clear an address."""
    failures = LoginAttempt.select(LoginAttempt.at).where(
        (LoginAttempt.ok == False) & (LoginAttempt.at >= since))  # noqa: E712
    by_address = [a.at for a in failures.where(LoginAttempt.address == address)
                  .order_by(LoginAttempt.at.desc())]
    by_user = []
    if username:
        last_ok = LoginAttempt.select(fn.MAX(LoginAttempt.at)).where(
            (LoginAttempt.ok == True) & (LoginAttempt.username == username)).scalar()  # noqa: E712
        query = failures.where(LoginAttempt.username == username)
        if last_ok is not None:
            query = query.where(LoginAttempt.at > last_ok)
        by_user = [a.at for a in query.order_by(LoginAttempt.at.desc())]
    return by_user, by_address


def locked_until(username, address, at=None):
    """When the lock on this user name or address ends, or None when there is none.

    5 failures within 15 minutes lock for 15 minutes from the 5th. Refused attempts are not
    recorded as failures, so hammering a locked account does not lengthen the lock forever.
    """
    at = at or now()
    until = None
    for times in _failure_times(username, address, at - 2 * WINDOW):
        for i in range(len(times) - MAX_FAILURES + 1):
            if times[i] - times[i + MAX_FAILURES - 1] <= WINDOW:
                end = times[i] + WINDOW
                if end > at and (until is None or end > until):
                    until = end
                break
    return until


def recent_failures(username, address, at=None):
    """Failures in the last 15 minutes for the user name or the address (the larger count)."""
    since = (at or now()) - WINDOW
    by_user, by_address = _failure_times(username, address, since)
    return max(len(by_user), len(by_address))


def login_refused(username):
    """A 429 page while the user name or the address is locked; the same page whether or not
    the user exists."""
    if locked_until((username or '').strip()[:64], client_address()) is not None:
        current_app.logger.warning('login throttled for %r from %s', username, client_address())
        return render_page('auth/throttled.html', title='登录受限'), 429
    return None


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
    if request.path.startswith(('/admin', '/unit', '/files', '/due', '/reports')) or \
            request.path == '/':
        response.headers.setdefault('Cache-Control', 'no-store')
    return response

