"""Nobody locks the office out: failed logins counted per (user name, client address); an address
blocked only for spraying many user names; one account attacked from many addresses slowed by a
growing delay that its owner, at her own address, never meets; X-Forwarded-For trusted only when
KEFU_PROXY_COUNT says how many proxies stand in front."""
import datetime

import pytest

from conftest import login
from models.base import LoginAttempt, now
from views import security


def fail(client, username, times=1):
    for _ in range(times):
        response = login(client, username, 'wrong-password-1')
    return response


def client_from(app, address, **headers):
    client = app.test_client()
    client.environ_base['REMOTE_ADDR'] = address
    for name, value in headers.items():
        client.environ_base['HTTP_' + name.upper().replace('-', '_')] = value
    return client


def backdate(seconds):
    for attempt in LoginAttempt.select():
        attempt.at -= datetime.timedelta(seconds=seconds)
        attempt.save()


def test_one_persons_typos_lock_nobody_else_at_the_same_address(app, users):
    office = client_from(app, '10.0.0.1')          # everybody behind the same proxy
    fail(office, 'clerk', 5)
    assert login(client_from(app, '10.0.0.1'), 'supervisor').status_code == 302
    assert login(client_from(app, '10.0.0.1'), 'auditor').status_code == 302


def test_the_typing_user_herself_waits_15_minutes_at_that_address(app, users):
    office = client_from(app, '10.0.0.1')
    fail(office, 'clerk', 5)
    response = login(office, 'clerk')
    assert response.status_code == 429 and '15 分钟后再试' in response.get_data(as_text=True)
    assert 15 * 60 - 5 <= int(response.headers['Retry-After']) <= 15 * 60


def test_the_owner_at_her_own_address_is_not_locked_out_by_an_attack(app, users):
    assert login(client_from(app, '10.0.0.7'), 'clerk').status_code == 302    # her usual desk
    for n in range(20):                             # 80 guesses from 20 addresses
        fail(client_from(app, '203.0.113.%d' % n), 'clerk', 4)
    assert login(client_from(app, '10.0.0.7'), 'clerk').status_code == 302


def test_guessing_one_account_from_many_addresses_is_slowed(app, users):
    for n in range(5):
        assert fail(client_from(app, '203.0.113.%d' % n), 'clerk').status_code == 200
    response = login(client_from(app, '203.0.113.99'), 'clerk', 'wrong-password-1')
    assert response.status_code == 429
    assert '请 2 秒后再试' in response.get_data(as_text=True)
    assert LoginAttempt.select().where(LoginAttempt.ok == False).count() == 5  # noqa: E712


def test_the_delay_grows_and_is_capped_at_a_minute(app, users):
    base = now()
    with app.test_request_context():
        delays = []
        for n in range(12):
            LoginAttempt.create(username='clerk', address='203.0.113.%d' % n, ok=False, at=base)
            delays.append(security.user_delay('clerk', '198.51.100.1', base))
    assert delays == [0, 0, 0, 0, 2, 4, 8, 16, 32, 60, 60, 60]


def test_the_delay_is_not_a_lockout(app, users):
    for n in range(7):
        backdate(60)                                 # each guess after the last delay
        assert fail(client_from(app, '203.0.113.%d' % n), 'clerk').status_code == 200
    newcomer = client_from(app, '198.51.100.1')
    assert login(newcomer, 'clerk').status_code == 429
    backdate(9)                                      # the 8 s asked have passed
    assert login(newcomer, 'clerk').status_code == 302


def test_password_spraying_blocks_the_address_and_says_so(app, users):
    sprayer = client_from(app, '203.0.113.50')
    for n in range(30):
        fail(sprayer, 'name%d' % (n % 10))
    response = login(sprayer, 'supervisor')
    text = response.get_data(as_text=True)
    assert response.status_code == 429 and '多个用户名' in text and '15 分钟后再试' in text
    assert login(client_from(app, '10.0.0.2'), 'supervisor').status_code == 302


def test_29_failures_across_names_do_not_block_the_address(app, users):
    office = client_from(app, '10.0.0.3')
    for n in range(29):
        fail(office, 'name%d' % (n % 10))
    assert login(office, 'supervisor').status_code == 302


def test_forwarded_for_is_ignored_without_the_setting(app, users):
    fail(client_from(app, '10.0.0.1', X_Forwarded_For='198.51.100.7'), 'clerk')
    assert LoginAttempt.get().address == '10.0.0.1'


def test_forwarded_for_is_honoured_behind_configured_proxies(app, users):
    from app import create_app
    proxied = create_app(dict(app.config, KEFU_PROXY_COUNT=1))
    proxy = client_from(proxied, '10.0.0.1', X_Forwarded_For='6.6.6.6, 198.51.100.7')
    fail(proxy, 'clerk', 5)                           # the last hop is the proxy's client
    assert {a.address for a in LoginAttempt.select()} == {'198.51.100.7'}
    colleague = client_from(proxied, '10.0.0.1', X_Forwarded_For='198.51.100.8')
    assert login(colleague, 'supervisor').status_code == 302


@pytest.mark.parametrize('value', ['x', '-1', '1.5'])
def test_a_bad_proxy_count_stops_the_start_with_a_message(monkeypatch, value):
    from app import _proxy_count
    monkeypatch.setenv('KEFU_PROXY_COUNT', value)
    with pytest.raises(SystemExit, match='KEFU_PROXY_COUNT'):
        _proxy_count()
