"""User management through HTTP: only admins, every change in the change log, first-login change."""
import json

import pytest

from conftest import PASSWORD, login, logout
from models.base import ChangeLog, User
from models.master import Unit, UserProject

NEW_PASSWORD = 'Initial-Pass-2026'


def user_form(projects=(), **values):
    data = {'username': 'newclerk', 'display_name': '新专员', 'role': 'clerk',
            'projects': [str(p.id) for p in projects], 'active': 'y', 'password': NEW_PASSWORD}
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


def user_log(user_id):
    return list(ChangeLog.select().where((ChangeLog.table_name == 'app_user') &
                                         (ChangeLog.row_id == user_id)).order_by(ChangeLog.id))


def logged_in(app, username, password):
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return client


@pytest.fixture
def newclerk(client_as, projects):
    response = client_as('admin').post_form('/admin/users/new', user_form([projects['mine']]))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return User.get(User.username == 'newclerk')


# ------------------------------------------------------------------ who may

@pytest.mark.parametrize('role', ['supervisor', 'clerk', 'auditor'])
def test_only_admins_open_user_management(client_as, role):
    assert client_as(role).get('/admin/users/').status_code == 403


@pytest.mark.parametrize('role', ['supervisor', 'clerk', 'auditor'])
def test_others_cannot_create_users(client_as, projects, role):
    response = client_as(role).post_form('/admin/users/new', user_form([projects['mine']]))
    assert response.status_code == 403
    assert not User.select().where(User.username == 'newclerk').exists()


def test_clerk_cannot_promote_themselves(client_as, users, projects):
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/users/%d' % users['clerk'].id,
                               user_form([projects['mine']], username='clerk', role='admin',
                                         password=None))
    assert response.status_code == 403
    assert User.get_by_id(users['clerk'].id).role == 'clerk'


def test_admin_sees_the_users(client_as):
    page = client_as('admin').get('/admin/users/').get_data(as_text=True)
    assert 'supervisor' in page and '客服经理' in page and '云栖雅苑' in page


# ------------------------------------------------------------------ creating

def test_admin_creates_a_clerk_with_projects(newclerk, projects):
    assert newclerk.role == 'clerk' and newclerk.active and newclerk.must_change_password
    assert [l.project_id for l in UserProject.select().where(UserProject.user == newclerk.id)] == \
        [projects['mine'].id]


def test_creation_is_in_the_change_log_without_the_password(newclerk, projects):
    (entry,) = user_log(newclerk.id)
    after = json.loads(entry.after)
    assert entry.action == 'create' and entry.username == 'admin'
    assert after['role'] == 'clerk' and after['projects'] == [projects['mine'].id]
    assert 'password_hash' not in entry.after and 'session_token' not in entry.after
    assert NEW_PASSWORD not in entry.after


@pytest.mark.parametrize('password, message', [
    ('short-1', '密码至少 10 位'),
    ('1234567890', '密码过于常见'),
    ('', '密码至少 10 位'),
])
def test_weak_initial_password_is_refused(client_as, projects, password, message):
    response = client_as('admin').post_form('/admin/users/new',
                                            user_form([projects['mine']], password=password))
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert not User.select().where(User.username == 'newclerk').exists()


def test_duplicate_username_is_refused(client_as, projects):
    response = client_as('admin').post_form('/admin/users/new',
                                            user_form([projects['mine']], username='clerk'))
    assert '该用户名已存在' in response.get_data(as_text=True)
    assert User.select().where(User.username == 'clerk').count() == 1


def test_clerk_needs_a_project(client_as):
    response = client_as('admin').post_form('/admin/users/new', user_form([]))
    assert '须至少负责一个项目' in response.get_data(as_text=True)
    assert not User.select().where(User.username == 'newclerk').exists()


def test_bad_username_is_refused(client_as, projects):
    response = client_as('admin').post_form('/admin/users/new',
                                            user_form([projects['mine']], username='李 四<x>'))
    assert '用户名只能包含' in response.get_data(as_text=True)


# ------------------------------------------------------------------ first login

def test_created_user_is_sent_to_change_password(app, newclerk):
    response = login(app.test_client(), 'newclerk', NEW_PASSWORD)
    assert response.status_code == 302 and response.headers['Location'].endswith('/account/password')


@pytest.mark.parametrize('path', ['/', '/admin/unit/', '/admin/unit/new/', '/admin/change_log/',
                                  '/admin/owner/export/xlsx/'])
def test_created_user_can_open_nothing_before_changing(app, newclerk, path):
    client = logged_in(app, 'newclerk', NEW_PASSWORD)
    response = client.get(path)
    assert response.status_code == 302 and response.headers['Location'].endswith('/account/password')


def test_created_user_cannot_save_before_changing(app, newclerk, projects):
    from conftest import Portal
    client = Portal(logged_in(app, 'newclerk', NEW_PASSWORD), 'newclerk')
    response = client.post_form('/admin/unit/new/', {
        'project': str(projects['mine'].id), 'building': '1栋', 'room': '909', 'status': '未售',
        'special_kind': '标准层'})
    assert response.status_code == 302 and response.headers['Location'].endswith('/account/password')
    assert not Unit.select().where(Unit.room == '909').exists()


def test_after_changing_the_created_user_works(app, newclerk):
    from conftest import Portal
    client = Portal(logged_in(app, 'newclerk', NEW_PASSWORD), 'newclerk')
    response = client.post_form('/account/password', {
        'current': NEW_PASSWORD, 'new': 'Own-secret-pass-77', 'again': 'Own-secret-pass-77'})
    assert response.status_code == 302
    assert client.get('/admin/unit/').status_code == 200
    assert not User.get_by_id(newclerk.id).must_change_password
    assert user_log(newclerk.id)[-1].username == 'newclerk'     # the change is logged too


def test_created_user_may_log_out_before_changing(app, newclerk):
    client = logged_in(app, 'newclerk', NEW_PASSWORD)
    response = logout(client)
    assert response.status_code == 302 and '/login' in response.headers['Location']


# ------------------------------------------------------------------ changing users

def edit(client_as, user, projects, **values):
    data = user_form(projects, username=user.username, display_name=user.display_name,
                     role=user.role, password=None)
    data.update(values)
    return client_as('admin').post_form('/admin/users/%d' % user.id,
                                        {k: v for k, v in data.items() if v is not None})


def test_disabling_a_user_ends_their_session_and_is_logged(app, client_as, users, projects):
    clerk = client_as('clerk')
    response = edit(client_as, users['clerk'], [projects['mine']], active=None)
    assert response.status_code == 302
    assert clerk.get('/admin/unit/').status_code == 302
    assert login(app.test_client(), 'clerk').status_code == 200       # refused, same message
    entry = user_log(users['clerk'].id)[-1]
    assert json.loads(entry.before)['active'] is True and json.loads(entry.after)['active'] is False


def test_role_change_applies_at_once_and_is_logged(client_as, users, projects):
    clerk = client_as('clerk')
    assert clerk.get('/admin/recycle/').status_code == 403
    edit(client_as, users['clerk'], [projects['mine']], role='supervisor')
    assert clerk.get('/admin/recycle/').status_code == 200
    entry = user_log(users['clerk'].id)[-1]
    assert (json.loads(entry.before)['role'], json.loads(entry.after)['role']) == ('clerk', 'supervisor')


def test_project_change_applies_at_once_and_is_logged(make, client_as, users, projects):
    make.unit(projects['other'], room='7707')
    clerk = client_as('clerk')
    assert '7707' not in clerk.get('/admin/unit/').get_data(as_text=True)
    edit(client_as, users['clerk'], [projects['mine'], projects['other']])
    assert '7707' in clerk.get('/admin/unit/').get_data(as_text=True)
    entry = user_log(users['clerk'].id)[-1]
    assert json.loads(entry.before)['projects'] == [projects['mine'].id]
    assert json.loads(entry.after)['projects'] == sorted([projects['mine'].id, projects['other'].id])


def test_password_reset_ends_sessions_forces_a_change_and_is_logged(app, client_as, users, projects):
    clerk = client_as('clerk')
    response = edit(client_as, users['clerk'], [projects['mine']], password='Reset-by-admin-99')
    assert response.status_code == 302
    assert clerk.get('/admin/unit/').status_code == 302
    assert login(app.test_client(), 'clerk', PASSWORD).status_code == 200      # old one refused
    fresh = app.test_client()
    response = login(fresh, 'clerk', 'Reset-by-admin-99')
    assert response.headers['Location'].endswith('/account/password')
    entry = user_log(users['clerk'].id)[-1]
    assert entry.username == 'admin' and json.loads(entry.after)['must_change_password'] is True
    assert 'Reset-by-admin-99' not in entry.after and 'pbkdf2' not in entry.after


def test_weak_reset_password_is_refused(client_as, users, projects):
    response = edit(client_as, users['clerk'], [projects['mine']], password='password123')
    assert '密码过于常见' in response.get_data(as_text=True)
    assert not User.get_by_id(users['clerk'].id).must_change_password


def test_saving_without_changes_writes_no_log_entry(client_as, users, projects):
    before = len(user_log(users['clerk'].id))
    edit(client_as, users['clerk'], [projects['mine']])
    assert len(user_log(users['clerk'].id)) == before


def test_admin_cannot_disable_or_demote_themselves(client_as, users):
    for values, message in (({'active': None}, '不能停用自己的账号'),
                            ({'role': 'auditor'}, '不能取消自己的系统管理员角色')):
        response = edit(client_as, users['admin'], [], **values)
        assert message in response.get_data(as_text=True)
    admin = User.get_by_id(users['admin'].id)
    assert admin.active and admin.role == 'admin'


def test_user_changes_are_listed_in_the_change_log_page(client_as, newclerk):
    page = client_as('auditor').get('/admin/change_log/?flt0_0=app_user').get_data(as_text=True)
    assert '用户' in page and 'admin' in page
