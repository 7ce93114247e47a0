"""Hardening through HTTP: login throttling, sessions that end for real, security headers, CSP."""
import datetime
import logging
import os
import re

import itsdangerous.timed
import pytest

from conftest import PASSWORD, TOKEN_RE, login, logout
from test_login_throttle import backdate, client_from, fail
from models.base import LoginAttempt, User, now
from views import security

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(os.path.dirname(HERE), 'templates')


# ------------------------------------------------------------------ throttling

def test_five_failures_lock_the_user_even_with_the_right_password(app, users):
    client = app.test_client()
    assert fail(client, 'clerk', 4).status_code == 200
    assert fail(client, 'clerk').status_code == 200          # the 5th failure is still answered
    response = login(client, 'clerk')
    assert response.status_code == 429
    assert '15 分钟后再试' in response.get_data(as_text=True)


def test_four_failures_do_not_lock(app, users):
    client = app.test_client()
    fail(client, 'clerk', 4)
    assert login(client, 'clerk').status_code == 302


def test_lock_page_is_the_same_for_an_unknown_user(app, users):
    known, unknown = app.test_client(), client_from(app, '10.0.0.9')
    fail(known, 'clerk', 5)
    fail(unknown, 'no-such-user', 5)
    known_page = login(known, 'clerk')
    unknown_page = login(unknown, 'no-such-user')
    assert known_page.status_code == unknown_page.status_code == 429
    strip = lambda r: re.sub(r'nonce="[^"]+"|value="[^"]+"', '', r.get_data(as_text=True))
    assert strip(known_page) == strip(unknown_page)


def test_user_failures_from_another_address_only_slow_a_new_address(app, users):
    fail(client_from(app, '10.0.0.1'), 'clerk', 5)
    other = client_from(app, '10.0.0.2')
    response = login(other, 'clerk')
    assert response.status_code == 429 and '秒后再试' in response.get_data(as_text=True)
    backdate(60)                          # a delay of seconds, not a 15-minute lock
    assert login(other, 'clerk').status_code == 302


def test_address_is_locked_after_30_failures_on_many_user_names(app, users):
    client = client_from(app, '10.0.0.3')
    for n in range(30):
        fail(client, 'a%d' % (n % 10))
    response = login(client, 'supervisor')
    assert response.status_code == 429 and '多个用户名' in response.get_data(as_text=True)
    elsewhere = client_from(app, '10.0.0.4')
    assert login(elsewhere, 'supervisor').status_code == 302


def test_lock_ends_after_15_minutes(app, users):
    client = app.test_client()
    fail(client, 'clerk', 5)
    backdate(60 * 16)
    assert login(client, 'clerk').status_code == 302


def test_lock_lasts_15_minutes_from_the_fifth_failure(app, users):
    client = app.test_client()
    fail(client, 'clerk', 4)
    backdate(60 * 14)        # four failures 14 minutes ago, the fifth now
    fail(client, 'clerk')
    backdate(60 * 10)        # ten minutes later the first four are 24 minutes old
    assert login(client, 'clerk').status_code == 429
    backdate(60 * 6)         # sixteen minutes after the fifth
    assert login(client, 'clerk').status_code == 302


def test_refused_attempts_do_not_lengthen_the_lock(app, users):
    client = app.test_client()
    fail(client, 'clerk', 5)
    for _ in range(5):
        assert login(client, 'clerk', 'wrong-password-1').status_code == 429
    assert LoginAttempt.select().where(LoginAttempt.ok == False).count() == 5  # noqa: E712


def test_a_successful_login_clears_the_user_count(app, users):
    client = app.test_client()
    fail(client, 'clerk', 4)
    assert login(client, 'clerk').status_code == 302
    logout(client)
    elsewhere = client_from(app, '10.0.0.5')      # the address of the four has its own count
    fail(elsewhere, 'clerk')
    assert login(elsewhere, 'clerk').status_code == 302


def test_throttled_login_is_logged(app, users, caplog):
    client = app.test_client()
    fail(client, 'clerk', 5)
    with caplog.at_level(logging.WARNING):
        login(client, 'clerk')
    assert any('login throttled' in r.getMessage() and 'clerk' in r.getMessage()
               for r in caplog.records)


def test_lock_end_is_computed_from_the_window(app, users):
    base = now()
    with app.test_request_context():
        for minutes in (20, 13, 12, 8, 4, 1):
            LoginAttempt.create(username='clerk', address='10.1.1.1', ok=False,
                                at=base - datetime.timedelta(minutes=minutes))
        # failures at -13 … -1 are 5 within 15 minutes: locked until 14 minutes from now
        _, seconds = security.refusal('clerk', '10.1.1.1', at=base)
        assert seconds == 14 * 60
        assert security.refusal('clerk', '10.1.1.1',
                                at=base + datetime.timedelta(minutes=14)) is None


# ------------------------------------------------------------------ sessions

def test_session_cookie_is_httponly_and_samesite_lax(app, users):
    response = login(app.test_client(), 'clerk')
    cookie = [h for h in response.headers.getlist('Set-Cookie') if h.startswith('session=')][0]
    assert 'HttpOnly' in cookie and 'SameSite=Lax' in cookie
    assert 'Secure' not in cookie


def test_session_cookie_is_secure_when_configured_for_https(app, users):
    app.config['SESSION_COOKIE_SECURE'] = True
    client = app.test_client()
    page = client.get('/login', base_url='https://localhost').get_data(as_text=True)
    token = TOKEN_RE.search(page)
    response = client.post('/login', base_url='https://localhost', data={
        'username': 'clerk', 'password': PASSWORD, 'csrf_token': token.group(1) or token.group(2)})
    cookie = [h for h in response.headers.getlist('Set-Cookie') if h.startswith('session=')][0]
    assert '; Secure' in cookie


@pytest.fixture
def clock(monkeypatch):
    """Moves the clock the session cookie's signature is checked against."""
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    state = {'minutes': 0}
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, 'get_timestamp',
                        lambda self: real(self) + state['minutes'] * 60)

    def advance(minutes):
        state['minutes'] += minutes
    return advance


def test_session_ends_after_30_idle_minutes(client_as, clock):
    clerk = client_as('clerk')
    assert clerk.get('/admin/unit/').status_code == 200
    clock(31)
    response = clerk.get('/admin/unit/')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_activity_keeps_the_session_alive(client_as, clock):
    clerk = client_as('clerk')
    for _ in range(3):           # 87 minutes in all, never 30 idle
        clock(29)
        assert clerk.get('/admin/unit/').status_code == 200
    clock(31)
    assert clerk.get('/admin/unit/').status_code == 302


def test_a_copied_cookie_of_an_idle_session_is_refused(app, client_as, clock):
    clerk = client_as('clerk')
    cookie = clerk.get_cookie('session').value
    clock(31)
    thief = app.test_client()
    thief.set_cookie('session', cookie)
    response = thief.get('/')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_logout_sends_an_old_cookie_to_the_login_page(app, client_as):
    clerk = client_as('clerk')
    cookie = clerk.get_cookie('session').value
    logout(clerk.client)
    thief = app.test_client()
    thief.set_cookie('session', cookie)
    response = thief.get('/admin/unit/')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_password_change_ends_the_other_sessions(app, client_as):
    here, elsewhere = client_as('clerk'), client_as('clerk')
    response = here.post_form('/account/password', {
        'current': PASSWORD, 'new': 'Brand-new-pass-42', 'again': 'Brand-new-pass-42'})
    assert response.status_code == 302
    assert here.get('/admin/unit/').status_code == 200
    response = elsewhere.get('/admin/unit/')
    assert response.status_code == 302 and '/login' in response.headers['Location']


@pytest.mark.parametrize('new, message', [
    ('short-1', '密码至少 10 位'),
    ('1234567890', '密码过于常见'),
    ('clerk-clerk-2026', '包含用户名'),
    (PASSWORD, '不能与当前密码相同'),
])
def test_weak_new_password_is_refused(client_as, new, message):
    clerk = client_as('clerk')
    response = clerk.post_form('/account/password', {'current': PASSWORD, 'new': new, 'again': new})
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert login(clerk.client, 'clerk').status_code == 302       # the old password still works


def test_password_change_needs_the_current_password(client_as):
    clerk = client_as('clerk')
    response = clerk.post_form('/account/password', {
        'current': 'not-the-password', 'new': 'Brand-new-pass-42', 'again': 'Brand-new-pass-42'})
    assert '当前密码不正确' in response.get_data(as_text=True)


# ------------------------------------------------------------------ headers

@pytest.mark.parametrize('path', ['/login', '/healthz', '/no-such-page', '/static/portal.js'])
def test_security_headers_on_anonymous_responses(app, users, path):
    check_headers(app.test_client().get(path))


@pytest.mark.parametrize('path', ['/', '/admin/unit/', '/admin/unit/new/', '/admin/change_log/',
                                  '/account/password', '/admin/unit/edit/?id=999999'])
def test_security_headers_on_pages_of_a_logged_in_user(client_as, path):
    check_headers(client_as('supervisor').get(path))


def check_headers(response):
    csp = response.headers['Content-Security-Policy']
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['X-Frame-Options'] == 'DENY'
    assert response.headers['Referrer-Policy'] == 'same-origin'


def test_pages_with_personal_data_are_not_cached(client_as):
    assert client_as('clerk').get('/admin/owner/').headers['Cache-Control'] == 'private, no-store'


@pytest.mark.parametrize('path', ['/', '/admin/unit/', '/admin/unit/new/', '/admin/users/',
                                  '/admin/recycle/', '/admin/change_log/', '/account/password'])
def test_every_script_on_our_pages_carries_the_nonce(client_as, path):
    response = client_as('admin').get(path)
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response.headers['Content-Security-Policy']).group(1)
    scripts = re.findall(r'<script\b([^>]*)>', response.get_data(as_text=True))
    assert scripts
    for attributes in scripts:
        assert 'nonce="%s"' % nonce in attributes, attributes


def test_nonce_changes_per_response(app, users):
    client = app.test_client()
    first = client.get('/login').headers['Content-Security-Policy']
    second = client.get('/login').headers['Content-Security-Policy']
    assert first != second


def test_our_templates_have_no_inline_script():
    """Under our CSP inline code does not run: everything is in static/portal.js."""
    found = []
    for folder, _, files in os.walk(TEMPLATES):
        for name in files:
            text = open(os.path.join(folder, name), encoding='utf-8').read()
            for tag in re.findall(r'<script\b[^>]*>', text):
                if 'src=' not in tag:
                    found.append((name, tag))
            found += [(name, m) for m in re.findall(r'\son[a-z]+\s*=', text)]
    assert found == []


# ------------------------------------------------------------------ uploads

PNG = (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00'
       b'\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00'
       b'\x00\x00IEND\xaeB`\x82')


def post_defect(client, filename, content, description='墙面空鼓未在图纸标注'):
    """Create a design defect (a shared register with an image-only photo) with a file."""
    from load.forms import form_fields
    import io
    data = form_fields(client.get('/admin/design_defect/new/').get_data(as_text=True))
    data.update(category=data.get('category') or '土建', description=description,
                added_quarter='2026Q3', photo=(io.BytesIO(content), filename))
    return client.post('/admin/design_defect/new/', data=data, content_type='multipart/form-data')


def defect(description):
    from models.risk import DesignDefect
    return DesignDefect.get_or_none(DesignDefect.description == description)


def test_an_image_is_stored_outside_static_under_a_random_name(app, client_as):
    response = post_defect(client_as('supervisor'), 'site photo.png', PNG)
    assert response.status_code == 302
    stored = defect('墙面空鼓未在图纸标注').photo
    assert re.fullmatch(r'[0-9a-f]{32}\.png', stored)
    path = os.path.join(app.config['KEFU_UPLOAD_DIR'], stored)
    assert open(path, 'rb').read() == PNG
    assert not os.path.abspath(path).startswith(os.path.abspath(app.static_folder))


def test_an_image_is_served_only_to_logged_in_users(app, client_as):
    post_defect(client_as('supervisor'), 'a.png', PNG)
    row = defect('墙面空鼓未在图纸标注')
    url = '/files/design_defect/%d/photo' % row.id
    response = client_as('auditor').get(url)
    assert response.status_code == 200 and response.data == PNG
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and '/login' in anonymous.headers['Location']


@pytest.mark.parametrize('filename, content', [
    ('photo.jpg', b'<html><script>alert(1)</script></html>'),     # a page named as a photo
    ('photo.png', b'%PDF-1.7\n1 0 obj'),                            # a PDF where only images go
    ('photo.gif', b'MZ\x90\x00\x03\x00\x00\x00'),                   # a program
    ('photo.webp', b'RIFF\x00\x00\x00\x00WAVEfmt '),                # RIFF, but sound
])
def test_a_file_is_judged_by_its_content_not_its_name(client_as, filename, content):
    response = post_defect(client_as('supervisor'), filename, content)
    assert response.status_code == 200
    assert '文件类型不允许' in response.get_data(as_text=True)
    assert defect('墙面空鼓未在图纸标注') is None


def test_an_upload_over_10_mb_is_refused(app, client_as):
    big = PNG + b'\x00' * (10 * 1024 * 1024)
    response = post_defect(client_as('supervisor'), 'big.png', big)
    assert response.status_code == 200
    assert '文件过大' in response.get_data(as_text=True)
    assert defect('墙面空鼓未在图纸标注') is None
    assert not os.listdir(app.config['KEFU_UPLOAD_DIR']) if os.path.isdir(
        app.config['KEFU_UPLOAD_DIR']) else True


def test_a_request_over_the_server_limit_gets_a_chinese_413(app, client_as):
    app.config['MAX_CONTENT_LENGTH'] = 1024 * 1024
    response = post_defect(client_as('supervisor'), 'huge.png', PNG + b'\x00' * (2 * 1024 * 1024))
    assert response.status_code == 413 and '过大' in response.get_data(as_text=True)


def test_a_photo_of_another_project_is_404(app, make, projects, client_as):
    import datetime
    from models.risk import FloorPlanCheck
    from views.uploads import upload_dir
    with app.test_request_context():
        folder = upload_dir()
    with open(os.path.join(folder, 'f' * 32 + '.png'), 'wb') as fh:
        fh.write(PNG)
    check = FloorPlanCheck.create_logged(
        None, project=projects['other'], unit=make.unit(projects['other']),
        checked_on=datetime.date.today(), checker='张工', photo='f' * 32 + '.png')
    url = '/files/floor_plan_check/%d/photo' % check.id
    assert client_as('clerk').get(url).status_code == 404
    assert client_as('admin').get(url).status_code == 200


@pytest.mark.parametrize('path', ['/files/app_user/1/password_hash', '/files/unit/1/room',
                                  '/files/design_defect/1/../../secret_key'])
def test_only_attachment_fields_are_served(client_as, path):
    assert client_as('admin').get(path).status_code == 404


# ------------------------------------------------------------------ personal data

def test_unmasked_export_of_personal_data_is_recorded(make, projects, client_as):
    from models.base import ExportLog
    make.owner(projects['mine'])
    response = client_as('supervisor').get('/admin/owner/export/xlsx/')
    assert response.status_code == 200
    entry = ExportLog.select().order_by(ExportLog.id.desc()).first()
    assert entry.table_name == 'owner' and entry.username == 'supervisor'
    assert entry.unmasked_personal_data is True


def test_id_numbers_are_masked_for_clerks(make, projects, client_as):
    make.owner(projects['mine'], id_number='330106199001011248')
    page = client_as('clerk').get('/admin/owner/').get_data(as_text=True)
    assert '330106199001011248' not in page
