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


def recent_failures(username, address, at=None):
    since = (at or now()) - WINDOW
    base = LoginAttempt.select(fn.COUNT(LoginAttempt.id)).where(
        (LoginAttempt.ok == False) & (LoginAttempt.at >= since))  # noqa: E712
    by_user = base.where(LoginAttempt.username == username).scalar() if username else 0
    by_address = base.where(LoginAttempt.address == address).scalar()
    return max(by_user or 0, by_address or 0)


def login_refused(username):
    """A 429 page while the user name or the address has 5 failures in the last 15 minutes."""
    if recent_failures((username or '').strip()[:64], client_address()) >= MAX_FAILURES:
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

