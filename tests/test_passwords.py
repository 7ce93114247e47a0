"""The password policy: a real strength estimate (zxcvbn, score >= 3), zxcvbn's 30,000 most common
passwords, never the published or configured demo password — wherever a password is set outside
the demo: the create-user command, the user form (new user and reset), changing one's own."""
import pytest

from conftest import PASSWORD, login
from models.base import User
from views.account import DEFAULT_DEMO_PASSWORD, password_problems

WEAK = [
    'aaaaaaaaaa',            # ten identical characters
    '1111111111',
    '1234567890',            # digit runs
    '0123456789',
    '9876543210',
    'qwertyuiop',            # keyboard walks
    '1qaz2wsx3edc',
    'asdfghjkl;',
    'qazwsxedcrfv',
    DEFAULT_DEMO_PASSWORD,   # the README's demo password
    'password123',
    'Kefu2026',
    'P@ssw0rd2026',
    'woaini1314520',
    'abcdefghij',
]
STRONG = [PASSWORD, 'Initial-Pass-2026', 'Lake-Tiger-Window-7', 'Yunqi-Garden#1602',
          'correct horse battery', 'Brand-new-pass-42']


@pytest.mark.parametrize('password', WEAK)
def test_plainly_weak_passwords_are_refused_in_chinese(app, password):
    with app.app_context():
        problems = password_problems(password, 'newclerk')
    assert problems and all(any('\u4e00' <= c <= '\u9fff' for c in p) for p in problems)


@pytest.mark.parametrize('password', STRONG)
def test_strong_passwords_pass(app, password):
    with app.app_context():
        assert password_problems(password, 'newclerk') == []


def test_the_configured_demo_password_is_refused_too(app):
    app.config['KEFU_DEMO_PASSWORD'] = 'Harbour-Lantern-88'
    with app.app_context():
        assert password_problems('Harbour-Lantern-88', 'newclerk') == ['不能使用演示密码，请换一个。']


def test_the_messages_say_why(app):
    with app.app_context():
        assert '重复' in password_problems('aaaaaaaaaa')[0]
        assert '连续' in password_problems('0123456789')[0]
        assert '键盘' in password_problems('asdfghjkl;')[0]
        assert '过于常见' in password_problems('password123')[0]
        assert password_problems('Kefu2026') == ['密码至少 10 位。']


def user_form(projects, password):
    return {'username': 'newclerk', 'display_name': '新专员', 'role': 'clerk',
            'projects': [str(projects['mine'].id)], 'active': 'y', 'password': password}


@pytest.mark.parametrize('password', WEAK)
def test_the_user_form_refuses_weak_initial_passwords(client_as, projects, password):
    response = client_as('admin').post_form('/admin/users/new', user_form(projects, password))
    assert response.status_code == 200
    assert not User.select().where(User.username == 'newclerk').exists()


def test_the_user_form_accepts_a_strong_initial_password(client_as, projects):
    response = client_as('admin').post_form('/admin/users/new', user_form(projects, 'Lake-Tiger-Window-7'))
    assert response.status_code == 302
    assert User.get(User.username == 'newclerk').must_change_password


def test_a_reset_to_the_demo_password_is_refused(client_as, projects, users):
    form = dict(user_form(projects, DEFAULT_DEMO_PASSWORD), username='clerk', display_name='clerk')
    response = client_as('admin').post_form('/admin/users/%d' % users['clerk'].id, form)
    assert response.status_code == 200 and '不能使用演示密码' in response.get_data(as_text=True)


@pytest.mark.parametrize('password', ['qwertyuiop', DEFAULT_DEMO_PASSWORD, '1111111111'])
def test_changing_ones_own_password_refuses_weak_ones(client_as, password):
    clerk = client_as('clerk')
    response = clerk.post_form('/account/password', {'current': PASSWORD, 'new': password,
                                                     'again': password})
    assert response.status_code == 200 and 'invalid-feedback' in response.get_data(as_text=True)
    assert login(clerk.client, 'clerk').status_code == 302       # the old password still works


@pytest.mark.parametrize('password', ['1234567890', DEFAULT_DEMO_PASSWORD])
def test_the_create_user_command_refuses_weak_passwords(app, projects, password):
    result = app.test_cli_runner().invoke(args=[
        'create-user', 'newclerk', '--role', 'clerk', '--project', 'MINE',
        '--password', password])
    assert result.exit_code != 0 and ('过于常见' in result.output or '演示密码' in result.output)
    assert not User.select().where(User.username == 'newclerk').exists()


def test_the_create_user_command_accepts_a_strong_password(app, projects):
    result = app.test_cli_runner().invoke(args=[
        'create-user', 'newclerk', '--role', 'clerk', '--project', 'MINE',
        '--password', 'Lake-Tiger-Window-7'])
    assert result.exit_code == 0, result.output
    assert User.select().where(User.username == 'newclerk').exists()


def test_the_new_user_form_asks_for_an_initial_password(client_as, users):
    admin = client_as('admin')
    new = admin.get('/admin/users/new').get_data(as_text=True)
    assert '初始密码' in new and '新密码' not in new and '修改密码' not in new.split('</nav>')[-1]
    edit = admin.get('/admin/users/%d' % users['clerk'].id).get_data(as_text=True)
    assert '新密码（留空不修改）' in edit


def test_the_login_page_shows_no_menu(app, users):
    page = app.test_client().get('/login').get_data(as_text=True)
    nav = page.split('<nav', 1)[1].split('</nav>', 1)[0]
    for item in ('首页', '修改密码', '退出登录', '我的视图', 'dropdown'):
        assert item not in nav
