"""Where the portal sends a browser: one safe-URL check for every redirect target (login's next,
the saved views' next, Flask-Admin's ?url=), tried with known bypass vectors; and no GET request
changes anything (signing out included): every GET route of app.url_map is walked."""
import hashlib
from urllib.parse import quote

import pytest

from conftest import PASSWORD, TOKEN_RE, logout
from models.base import User, db
from views.auth import safe_url

# Known ways to smuggle another site past a "starts with /" check.
OFF_SITE = [
    '//evil.example', '///evil.example', '////evil.example', '/\\evil.example', '\\\\evil.example',
    '\\/evil.example', '/\\/evil.example', '/\t/evil.example', '/\n/evil.example',
    '/\r\n/evil.example', '/\x00/evil.example', '/\x0b/evil.example', '/\x7f/evil.example',
    '/%09/evil.example', '/%0a/evil.example', '/%2f/evil.example', '/%2F%2Fevil.example',
    '%2f%2fevil.example', '/%5cevil.example', '/%252f%252fevil.example', '/%5c%5cevil.example',
    'https://evil.example', 'http://evil.example/', 'HTTPS://evil.example', 'https:evil.example',
    'http:/evil.example', 'http:///evil.example', '//localhost@evil.example',
    'http://localhost@evil.example/', 'http://localhost.evil.example/', 'http://evil.example\\@localhost',
    'https://localhost:1/', 'javascript:alert(1)', 'JavaScript:alert(1)', ' javascript:alert(1)',
    'java\nscript:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)', 'evil.example', 'evil.example/admin', '.evil.example', '?next=//evil',
    '/\u2028/evil.example', '/\u200b/evil.example', '/\u202e/evil.example', '\u3000//evil.example',
    '/\x1c/evil.example', '\x00', '', '   ', None, 42, '/' + 'a' * 5000,
]
# Same-site targets, and what the browser is sent.
ON_SITE = [
    ('/', '/'),
    ('/admin/unit/', '/admin/unit/'),
    ('/admin/unit/?search=1602&page=2', '/admin/unit/?search=1602&page=2'),
    ('  /admin/unit/  ', '/admin/unit/'),
    ('http://localhost/admin/unit/?x=1', '/admin/unit/?x=1'),
    ('/admin/unit/?search=张三', '/admin/unit/?search=%E5%BC%A0%E4%B8%89'),
    ('/a/%E5%BC%A0', '/a/%E5%BC%A0'),
    ('/admin/unit/edit/?id=3#kefu-restore', '/admin/unit/edit/?id=3#kefu-restore'),
    ('/\uff0fevil.example', '/%EF%BC%8Fevil.example'),     # a fullwidth slash is a path character
]


@pytest.mark.parametrize('target', OFF_SITE)
def test_off_site_targets_are_refused(app, target):
    with app.test_request_context(base_url='http://localhost'):
        assert safe_url(target) is None


@pytest.mark.parametrize('target, expected', ON_SITE)
def test_same_site_targets_are_kept_as_ascii_paths(app, target, expected):
    with app.test_request_context(base_url='http://localhost'):
        assert safe_url(target) == expected


def assert_stays_here(response, expected=None):
    if response.status_code == 400:           # refused outright (a NUL in the address): fine too
        return
    assert response.status_code in (301, 302, 303), response.status_code
    assert expected is None or response.headers['Location'] == expected
    location = response.headers['Location']
    assert location.startswith('/') and not location.startswith(('//', '/\\'))
    assert not any(c in location for c in '\t\r\n\x00\\')
    assert 'evil' not in location.split('?')[0]


VECTORS = [v for v in OFF_SITE if isinstance(v, str) and v.strip()]


@pytest.mark.parametrize('target', VECTORS + ['/\x0b/evil.example', '/\r\nSet-Cookie: x=1'])
def test_login_next_never_leaves_the_site(app, users, target):
    client = app.test_client()
    page = client.get('/login').get_data(as_text=True)
    token = TOKEN_RE.search(page)
    response = client.post('/login?next=' + quote(target, safe=''), data={
        'username': 'clerk', 'password': PASSWORD,
        'csrf_token': token.group(1) or token.group(2)})
    assert_stays_here(response, '/')


def test_login_next_of_the_site_is_followed(app, users):
    client = app.test_client()
    token = TOKEN_RE.search(client.get('/login').get_data(as_text=True))
    response = client.post('/login?next=%2Fadmin%2Funit%2F%3Fsearch%3D1602', data={
        'username': 'clerk', 'password': PASSWORD,
        'csrf_token': token.group(1) or token.group(2)})
    assert response.headers['Location'] == '/admin/unit/?search=1602'


@pytest.mark.parametrize('target', VECTORS + ['/\r\n/evil.example'])
def test_saved_view_next_never_leaves_the_site(client_as, target):
    from models.preferences import SavedView
    clerk = client_as('clerk')
    clerk.post_form('/preferences/views', {'table_name': 'unit', 'name': '一号楼', 'query': ''})
    view = SavedView.get(SavedView.name == '一号楼')
    response = clerk.post_form('/preferences/views/%d/delete' % view.id, {'next': target})
    assert_stays_here(response, '/preferences/views')


@pytest.mark.parametrize('target', ['/\t/evil.example', '//evil.example', 'https://evil.example',
                                    '/%09/evil.example', 'javascript:alert(1)'])
def test_flask_admin_return_url_never_leaves_the_site(make, projects, client_as, target):
    unit = make.unit(projects['mine'])
    supervisor = client_as('supervisor')
    page = supervisor.get('/admin/unit/edit/?id=%d&url=%s' % (unit.id, quote(target, safe='')))
    assert 'evil.example' not in page.get_data(as_text=True)       # the 返回 link too
    response = supervisor.post_form('/admin/unit/delete/?url=' + quote(target, safe=''),
                                    {'id': unit.id})
    assert_stays_here(response)


def test_no_response_of_the_app_redirects_off_site(app, client_as):
    """The second line: a view that built an unsafe Location is corrected to '/'."""
    from flask import redirect
    app.view_functions['home.healthz'], saved = (lambda: redirect('/\t/evil.example')), \
        app.view_functions['home.healthz']
    try:
        response = app.test_client().get('/healthz')
    finally:
        app.view_functions['home.healthz'] = saved
    assert response.headers['Location'] == '/'


# ------------------------------------------------------------------ signing out

def test_get_logout_does_not_sign_out(app, client_as):
    clerk = client_as('clerk')
    token = User.get(User.username == 'clerk').session_token
    page = clerk.get('/logout')
    assert page.status_code == 200 and '确定要退出登录吗' in page.get_data(as_text=True)
    assert User.get(User.username == 'clerk').session_token == token
    assert clerk.get('/admin/unit/').status_code == 200


def test_logout_post_without_token_does_not_sign_out(app, client_as):
    clerk = client_as('clerk')
    response = clerk.client.post('/logout')
    assert response.status_code == 303 and response.headers['Location'] == '/logout'
    assert clerk.get('/admin/unit/').status_code == 200


def test_logout_post_with_token_signs_out_everywhere(app, client_as):
    here, elsewhere = client_as('clerk'), client_as('clerk')
    response = logout(here.client)
    assert response.status_code == 302 and response.headers['Location'] == '/login'
    assert elsewhere.get('/admin/unit/').status_code == 302


def test_menu_offers_sign_out_that_posts(client_as):
    page = client_as('clerk').get('/').get_data(as_text=True)
    assert 'href="/logout"' in page                       # without script: the confirmation page
    assert 'name="csrf-token"' in page and 'session.js' in page   # with it: a POST with the token


# ------------------------------------------------------------------ no GET changes anything

# Tables a GET may write: a failed login is not a GET; an export's own record of who read what.
READ_RECORDS = {'export_log', 'login_attempt'}
ARGUMENTS = {'export_type': 'xlsx', 'filename': 'portal.js', 'table': 'design_defect',
             'field': 'photo'}


def fingerprint():
    """A hash of every row of every table (the test database is small)."""
    digest = hashlib.sha256()
    for table in sorted(db.get_tables()):
        if table in READ_RECORDS:
            continue
        cursor = db.execute_sql('SELECT * FROM "%s"' % table)
        rows = sorted(repr(row) for row in cursor.fetchall())
        digest.update(('%s:%s' % (table, rows)).encode('utf-8'))
    return digest.hexdigest()


def get_urls(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if 'GET' not in rule.methods:
            continue
        values = {name: ARGUMENTS.get(name, 1) for name in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        yield rule.endpoint, url + ('&' if '?' in url else '?') + 'id=1&url=/'


@pytest.mark.parametrize('role', ['admin', 'clerk'])
def test_no_get_route_changes_anything(app, make, projects, client_as, role):
    unit = make.unit(projects['mine'])
    make.contract(projects['mine'], unit=unit)
    portal = client_as(role)
    token = User.get(User.username == role).session_token
    urls = list(get_urls(app))
    assert len(urls) > 100                     # the whole URL map, not a hand-made list
    before = fingerprint()
    for _, url in urls:
        portal.get(url)
    if fingerprint() != before:                # name the routes that did it
        changed = []
        for endpoint, url in urls:
            state = fingerprint()
            portal.get(url)
            if fingerprint() != state:
                changed.append(endpoint)
        assert changed == [], 'GET changed the database'
    assert User.get(User.username == role).session_token == token
    assert portal.get('/account/password').status_code == 200     # still signed in
