"""Nothing typed is lost, on the server's side: typing keeps the session alive (keep-alive POST),
the form's token lives as long as the session, and a form posted after the session ended (or with
a token of an older session) goes back to the form — through the login page when needed — with a
Chinese message, never a bare 400 page. The browser's side: tests/browser/test_browser_session.py."""
import re
from urllib.parse import parse_qs, urlsplit


from conftest import PASSWORD, TOKEN_RE, login
from tests.test_security import clock  # noqa: F401  (the session clock fixture)
from models.master import Unit




def next_of(response):
    """Where the login page the response sends to will lead afterwards."""
    parts = urlsplit(response.headers['Location'])
    assert parts.path == '/login'
    return parse_qs(parts.query)['next'][0]


def keepalive(portal, token=None):
    return portal.client.post('/session/keepalive', headers={
        'X-CSRFToken': token or portal.csrf(), 'Accept': 'application/json'})


def unit_edit(portal, unit, **values):
    page = portal.get('/admin/unit/edit/?id=%d' % unit.id).get_data(as_text=True)
    token = TOKEN_RE.search(page)
    fields = dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', page))
    fields.update(project=str(unit.project_id), building=unit.building, entrance=unit.entrance,
                  room=unit.room, floor=str(unit.floor), layout=unit.layout,
                  special_kind=unit.special_kind, contract_area=str(unit.contract_area),
                  status=unit.status, csrf_token=token.group(1) or token.group(2))
    fields.update(values)
    return fields


def test_typing_keeps_the_session_alive(client_as, clock):
    clerk = client_as('clerk')
    for _ in range(3):                        # 87 minutes of typing, never a page load
        clock(29)
        response = keepalive(clerk)
        assert response.status_code == 200 and response.json == {'ok': True, 'seconds': 1800}
    clock(29)
    assert clerk.get('/admin/unit/').status_code == 200


def test_keepalive_after_the_session_ended_says_so_in_json(client_as, clock):
    clerk = client_as('clerk')
    token = clerk.csrf()
    clock(31)
    response = keepalive(clerk, token)
    assert response.status_code == 401 and response.json['message'] == '登录已过期，请重新登录。'


def test_keepalive_is_post_only(client_as):
    assert client_as('clerk').get('/session/keepalive').status_code == 405


def test_the_forms_token_lives_as_long_as_the_session(make, projects, client_as, clock):
    unit = make.unit(projects['mine'], room='101')
    clerk = client_as('clerk')
    form = unit_edit(clerk, unit, room='102')
    for _ in range(4):                         # two hours at the form, typing now and then
        clock(29)
        keepalive(clerk, form['csrf_token'])
    response = clerk.client.post('/admin/unit/edit/?id=%d' % unit.id, data=form)
    assert response.status_code == 302
    assert Unit.get_by_id(unit.id).room == '102'


def test_a_form_posted_after_the_session_ended_leads_back_to_it_through_the_login(
        make, projects, client_as, clock):
    unit = make.unit(projects['mine'], room='101')
    clerk = client_as('clerk')
    form_url = '/admin/unit/edit/?id=%d' % unit.id
    form = unit_edit(clerk, unit, room='102')
    clock(31)
    response = clerk.client.post(form_url, data=form, headers={'Referer': 'http://localhost' + form_url})
    assert response.status_code == 303
    assert next_of(response) == form_url
    page = clerk.client.get(response.headers['Location']).get_data(as_text=True)
    assert '登录已过期' in page and '登录后将自动填回' in page
    token = TOKEN_RE.search(page)
    signed_in = clerk.client.post(response.headers['Location'], data={
        'username': 'clerk', 'password': PASSWORD, 'csrf_token': token.group(1) or token.group(2)})
    assert signed_in.headers['Location'] == form_url          # back at the form
    assert Unit.get_by_id(unit.id).room == '101'              # nothing saved behind her back


def test_a_form_with_the_token_of_an_older_session_comes_back_to_be_filled(
        make, projects, client_as):
    unit = make.unit(projects['mine'], room='101')
    clerk = client_as('clerk')
    form_url = '/admin/unit/edit/?id=%d' % unit.id
    form = unit_edit(clerk, unit, room='102')
    assert login(clerk.client, 'clerk').status_code == 302     # signed in again in another tab
    response = clerk.client.post(form_url, data=form, headers={'Referer': 'http://localhost' + form_url})
    assert response.status_code == 303
    assert response.headers['Location'] == form_url + '#kefu-restore'
    page = clerk.get(form_url).get_data(as_text=True)
    assert '您填写的内容已填回' in page and 'CSRF' not in page
    assert Unit.get_by_id(unit.id).room == '101'


def test_a_stale_login_page_asks_again_instead_of_a_400(app, users):
    client = app.test_client()
    response = client.post('/login?next=%2Fadmin%2Funit%2F', data={
        'username': 'clerk', 'password': PASSWORD, 'csrf_token': 'stale'})
    assert response.status_code == 303
    assert next_of(response) == '/admin/unit/'
    assert '登录页面已过期' in client.get(response.headers['Location']).get_data(as_text=True)


def test_pages_carry_the_idle_timeout_and_the_token_for_the_keepalive(client_as, app, users):
    page = client_as('clerk').get('/admin/unit/').get_data(as_text=True)
    assert '<meta name="kefu-idle-seconds" content="1800">' in page
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page)
    assert 'kefu-idle-seconds' not in app.test_client().get('/login').get_data(as_text=True)
