"""The foundation through HTTP: login, roles, project scoping, CSRF, versions, change log."""
import json
import re

import pytest
from peewee import DatabaseError

from models.base import ChangeLog, User, db
from models.master import Contract, Owner, Project, Unit
from tests.conftest import PASSWORD, login, logout


def form_values(page):
    """The hidden fields of a rendered form (csrf_token, row_version)."""
    values = {}
    for name in ('csrf_token', 'row_version'):
        m = re.search(r'name="%s"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="%s"' % (name, name), page)
        if m:
            values[name] = m.group(1) if m.group(1) is not None else m.group(2)
    return values


def unit_form(project, **values):
    data = {'project': str(project.id), 'building': '9栋', 'entrance': '1', 'room': '901',
            'floor': '9', 'layout': 'B2', 'special_kind': '标准层', 'contract_area': '105.12',
            'status': '未售'}
    data.update(values)
    return data


# ------------------------------------------------------------------ the newcomer's portal

def test_healthz_answers_json(app):
    response = app.test_client().get('/healthz')
    assert response.status_code == 200
    assert response.json['status'] == 'ok'


def test_pages_need_login(app, users):
    response = app.test_client().get('/admin/unit/')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_wrong_password_gets_one_message_whether_or_not_user_exists(app, users):
    client = app.test_client()
    known = login(client, 'clerk', 'wrong-password').get_data(as_text=True)
    unknown = login(client, 'nobody', 'wrong-password').get_data(as_text=True)
    assert '用户名或密码错误' in known and '用户名或密码错误' in unknown


def test_passwords_are_stored_hashed(users):
    stored = User.get(User.username == 'clerk').password_hash
    assert PASSWORD not in stored and stored.startswith('pbkdf2:sha256:')


def test_production_hash_uses_600000_iterations(tmp_path):
    from views.auth import PASSWORD_METHOD
    from werkzeug.security import generate_password_hash
    assert PASSWORD_METHOD == 'pbkdf2:sha256:600000'
    assert generate_password_hash('x', method=PASSWORD_METHOD).startswith('pbkdf2:sha256:600000$')


def test_logout_invalidates_a_copied_cookie(app, client_as):
    clerk = client_as('clerk')
    assert clerk.get('/admin/unit/').status_code == 200
    cookie = clerk.get_cookie('session').value
    logout(clerk.client)
    thief = app.test_client()
    thief.set_cookie('session', cookie)
    response = thief.get('/admin/unit/')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_interface_is_chinese(client_as):
    page = client_as('clerk').get('/admin/unit/').get_data(as_text=True)
    assert '房源' in page and '创建' in page and '楼栋' in page and '导出' in page
    # the page-size menu counts rows per page, never "项目" (which here means a project)
    assert '50 条/页' in page and '200 条/页' in page and ' items<' not in page


# ------------------------------------------------------------------ scoping

def test_clerk_sees_only_own_project_rows(make, projects, client_as):
    mine = make.unit(projects['mine'], room='1101')
    other = make.unit(projects['other'], room='2202')
    page = client_as('clerk').get('/admin/unit/').get_data(as_text=True)
    assert '1101' in page and '2202' not in page


@pytest.mark.parametrize('path', ['details/?id=%d', 'edit/?id=%d'])
def test_clerk_gets_404_for_other_project_row(make, projects, client_as, path):
    other = make.unit(projects['other'])
    response = client_as('clerk').get('/admin/unit/' + path % other.id)
    assert response.status_code == 404


def test_supervisor_delete_of_other_project_row_is_404(make, projects, client_as):
    other = make.unit(projects['other'])
    supervisor = client_as('supervisor')
    response = supervisor.post_form('/admin/unit/delete/', {'id': other.id})
    assert response.status_code == 404
    assert Unit.get_by_id(other.id).deleted_at is None


def test_bulk_delete_skips_other_project_rows(make, projects, client_as):
    mine = make.unit(projects['mine'])
    other = make.unit(projects['other'])
    supervisor = client_as('supervisor')
    supervisor.post_form('/admin/unit/action/', {'action': 'soft_delete',
                                                 'rowid': [str(mine.id), str(other.id)]})
    assert Unit.get_by_id(mine.id).deleted_at is not None
    assert Unit.get_by_id(other.id).deleted_at is None


def test_clerk_export_has_no_other_project_rows(make, projects, client_as):
    import io
    import openpyxl
    make.unit(projects['mine'], room='1101')
    make.unit(projects['other'], room='2202')
    response = client_as('clerk').get('/admin/unit/export/xlsx/')
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    rooms = [row[3] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert '1101' in rooms and '2202' not in rooms


def test_clerk_cannot_create_row_in_other_project(projects, client_as):
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/unit/new/', unit_form(projects['other']))
    assert response.status_code == 200
    assert not Unit.select().where(Unit.project == projects['other']).exists()


def test_clerk_cannot_pick_unit_of_other_project(make, projects, client_as):
    owner = make.owner(projects['mine'])
    other_unit = make.unit(projects['other'])
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/contract/new/', {
        'project': projects['mine'].id, 'contract_no': 'HT-X1', 'unit': other_unit.id,
        'owner': owner.id, 'sign_date': '2026-01-05', 'total_price': '1000000',
        'payment_method': '一次性', 'filing_status': '未备案', 'certificate_status': '未办'})
    assert response.status_code == 200
    assert not Contract.select().exists()


def test_ajax_lookup_offers_only_own_project_units(make, projects, client_as):
    make.unit(projects['mine'], building='7栋', room='701')
    make.unit(projects['other'], building='7栋', room='702')
    response = client_as('clerk').get('/admin/contract/ajax/lookup/?name=unit&query=7栋')
    labels = [label for _, label in response.json]
    assert any('701' in label for label in labels) and not any('702' in label for label in labels)


# ------------------------------------------------------------------ powers

def test_clerk_cannot_delete(make, projects, client_as):
    unit = make.unit(projects['mine'])
    response = client_as('clerk').post_form('/admin/unit/delete/', {'id': unit.id})
    assert response.status_code == 403
    assert Unit.get_by_id(unit.id).deleted_at is None


@pytest.mark.parametrize('url,data', [
    ('/admin/unit/edit/?id={id}', {'room': '999'}),
    ('/admin/unit/new/', {'room': '998'}),
    ('/admin/unit/delete/', {'id': '{id}'}),
    ('/admin/unit/action/', {'action': 'soft_delete', 'rowid': '{id}'}),
])
def test_auditor_changes_nothing(make, projects, client_as, url, data):
    unit = make.unit(projects['mine'], room='101')
    before = Unit.get_by_id(unit.id).version
    auditor = client_as('auditor')
    payload = unit_form(projects['mine'])
    payload.update({k: v.format(id=unit.id) for k, v in data.items()})
    response = auditor.post_form(url.format(id=unit.id), payload)
    assert response.status_code == 403
    row = Unit.get_by_id(unit.id)
    assert row.room == '101' and row.version == before and row.deleted_at is None
    assert Unit.select().count() == 1


def test_auditor_reads_every_project(make, projects, client_as):
    make.unit(projects['mine'], room='1101')
    make.unit(projects['other'], room='2202')
    page = client_as('auditor').get('/admin/unit/').get_data(as_text=True)
    assert '1101' in page and '2202' in page


def test_owner_id_number_masked_for_clerk_not_supervisor(make, projects, client_as):
    owner = make.owner(projects['mine'], id_number='330106199001011248')
    clerk_page = client_as('clerk').get('/admin/owner/').get_data(as_text=True)
    assert '3301**********1248' in clerk_page and '330106199001011248' not in clerk_page
    details = client_as('clerk').get('/admin/owner/details/?id=%d' % owner.id).get_data(as_text=True)
    assert '330106199001011248' not in details
    edit = client_as('clerk').get('/admin/owner/edit/?id=%d' % owner.id).get_data(as_text=True)
    assert '330106199001011248' not in edit
    assert '330106199001011248' in client_as('supervisor').get('/admin/owner/').get_data(as_text=True)


def test_clerk_edit_keeps_masked_id_number(make, projects, client_as):
    owner = make.owner(projects['mine'], id_number='330106199001011248')
    clerk = client_as('clerk')
    page = clerk.get('/admin/owner/edit/?id=%d' % owner.id).get_data(as_text=True)
    clerk.post_form('/admin/owner/edit/?id=%d' % owner.id, {
        'project': projects['mine'].id, 'name': '新名字', 'phone': '13800001111',
        'row_version': form_values(page)['row_version']})
    row = Owner.get_by_id(owner.id)
    assert row.name == '新名字' and row.id_number == '330106199001011248'


# ------------------------------------------------------------------ CSRF

def test_post_without_csrf_token_changes_nothing_and_returns_to_the_form(make, projects, client_as):
    unit = make.unit(projects['mine'], room='101')
    clerk = client_as('clerk')
    response = clerk.post('/admin/unit/edit/?id=%d' % unit.id,
                          data=unit_form(projects['mine'], room='555'))
    assert response.status_code == 303          # back to the form, what was typed put back
    assert response.headers['Location'] == '/admin/unit/edit/?id=%d#kefu-restore' % unit.id
    assert Unit.get_by_id(unit.id).room == '101'


# ------------------------------------------------------------------ versions and change log

def test_stale_edit_is_refused_and_other_change_kept(make, projects, client_as):
    unit = make.unit(projects['mine'], room='101')
    clerk, supervisor = client_as('clerk'), client_as('supervisor')
    page_a = clerk.get('/admin/unit/edit/?id=%d' % unit.id).get_data(as_text=True)
    page_b = supervisor.get('/admin/unit/edit/?id=%d' % unit.id).get_data(as_text=True)
    first = supervisor.post_form('/admin/unit/edit/?id=%d' % unit.id, dict(
        unit_form(projects['mine'], room='102'), row_version=form_values(page_b)['row_version']))
    assert first.status_code == 302
    second = clerk.post_form('/admin/unit/edit/?id=%d' % unit.id, dict(
        unit_form(projects['mine'], room='103'), row_version=form_values(page_a)['row_version']))
    assert second.status_code == 200
    assert '该记录已被他人修改' in second.get_data(as_text=True)
    assert Unit.get_by_id(unit.id).room == '102'


def test_one_change_log_entry_per_change(make, projects, client_as):
    clerk = client_as('clerk')
    clerk.post_form('/admin/unit/new/', unit_form(projects['mine']))
    unit = Unit.get(Unit.room == '901')
    page = clerk.get('/admin/unit/edit/?id=%d' % unit.id).get_data(as_text=True)
    clerk.post_form('/admin/unit/edit/?id=%d' % unit.id, dict(
        unit_form(projects['mine'], layout='C1'), row_version=form_values(page)['row_version']))
    entries = list(ChangeLog.select().where((ChangeLog.table_name == 'unit') &
                                            (ChangeLog.row_id == unit.id)).order_by(ChangeLog.id))
    assert [e.action for e in entries] == ['create', 'update']
    assert json.loads(entries[1].before)['layout'] == 'B2'
    assert json.loads(entries[1].after)['layout'] == 'C1'
    assert entries[1].username == 'clerk'


def test_delete_keeps_history(make, projects, client_as):
    unit = make.unit(projects['mine'])
    client_as('supervisor').post_form('/admin/unit/delete/', {'id': unit.id})
    actions = [e.action for e in ChangeLog.select().where(
        (ChangeLog.table_name == 'unit') & (ChangeLog.row_id == unit.id)).order_by(ChangeLog.id)]
    assert actions == ['create', 'delete']


def test_change_log_refuses_update_and_delete_in_the_database(make, projects):
    make.unit(projects['mine'])
    with pytest.raises(DatabaseError):
        with db.atomic():
            ChangeLog.update(username='x').execute()
    with pytest.raises(DatabaseError):
        with db.atomic():
            ChangeLog.delete().execute()
    assert ChangeLog.select().where(ChangeLog.username == 'x').count() == 0


def test_change_log_cannot_be_edited_through_the_portal(make, projects, client_as):
    make.unit(projects['mine'])
    entry = ChangeLog.select().first()
    admin = client_as('admin')
    assert admin.get('/admin/change_log/').status_code == 200
    assert admin.post_form('/admin/change_log/delete/', {'id': entry.id}).status_code == 403
    assert admin.get('/admin/change_log/edit/?id=%d' % entry.id).status_code in (302, 403, 404)
    assert ChangeLog.get_by_id(entry.id).username == entry.username


def test_details_page_shows_history(make, projects, client_as):
    unit = make.unit(projects['mine'])
    page = client_as('clerk').get('/admin/unit/details/?id=%d' % unit.id).get_data(as_text=True)
    assert '变更记录' in page and '新增' in page


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize('field,value,message', [
    ('room', '', '必填'),
    ('floor', '十二', '整数'),
    ('contract_area', 'abc', '不是有效的数字'),
])
def test_bad_unit_input_shows_chinese_message(projects, client_as, field, value, message):
    response = client_as('clerk').post_form('/admin/unit/new/',
                                            unit_form(projects['mine'], **{field: value}))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and message in page
    assert Unit.select().count() == 0


def test_bad_date_shows_chinese_message(make, projects, client_as):
    owner = make.owner(projects['mine'])
    unit = make.unit(projects['mine'])
    response = client_as('clerk').post_form('/admin/contract/new/', {
        'project': projects['mine'].id, 'contract_no': 'HT-1', 'unit': unit.id, 'owner': owner.id,
        'sign_date': '2024-13-45', 'total_price': '1000000', 'payment_method': '一次性',
        'filing_status': '未备案', 'certificate_status': '未办'})
    assert response.status_code == 200
    assert '日期格式不正确：「2024-13-45」不是有效日期' in response.get_data(as_text=True)
    assert Contract.select().count() == 0


def test_rule_refusal_is_shown_on_the_form(make, projects, client_as):
    owner = make.owner(projects['mine'])
    unit = make.unit(projects['mine'])
    response = client_as('clerk').post_form('/admin/contract/new/', {
        'project': projects['mine'].id, 'contract_no': 'HT-2', 'unit': unit.id, 'owner': owner.id,
        'sign_date': '2026-01-05', 'total_price': '1000000', 'payment_method': '商业贷款',
        'filing_status': '未备案', 'certificate_status': '未办'})
    assert '按揭付款须填写「按揭银行」' in response.get_data(as_text=True)
    assert Contract.select().count() == 0


def test_duplicate_room_is_refused(make, projects, client_as):
    make.unit(projects['mine'], building='9栋', entrance='1', room='901')
    response = client_as('clerk').post_form('/admin/unit/new/', unit_form(projects['mine']))
    assert '不能重复登记' in response.get_data(as_text=True)
    assert Unit.select().count() == 1


def test_every_register_list_opens_for_every_role(app, client_as):
    """Every list opens for every role, except a register readable by a power of its own (the
    field and register definitions: administrators and auditors), refused to the others."""
    from models.base import all_registers, role_can
    for role in ('admin', 'supervisor', 'clerk', 'auditor'):
        client = client_as(role)
        for model in all_registers():
            power = getattr(model._meta, 'list_power', None) or 'list'
            response = client.get('/admin/%s/' % model._meta.table_name)
            expected = 200 if role_can(role, power) else 403
            assert response.status_code == expected, (role, model._meta.table_name)


def test_only_admin_creates_projects(client_as):
    data = {'code': 'NEW', 'name': '新项目', 'region': '浙江', 'city': '宁波', 'stage': '规划设计'}
    assert client_as('clerk').post_form('/admin/project/new/', data).status_code == 403
    assert client_as('supervisor').post_form('/admin/project/new/', data).status_code == 403
    assert not Project.select().where(Project.code == 'NEW').exists()
    assert client_as('admin').post_form('/admin/project/new/', data).status_code == 302
    assert Project.select().where(Project.code == 'NEW').exists()


def test_clerk_cannot_change_project_dates(projects, client_as):
    project = projects['mine']
    response = client_as('clerk').post_form('/admin/project/edit/?id=%d' % project.id, {
        'code': project.code, 'name': project.name, 'region': '浙江', 'city': '杭州',
        'stage': '在售', 'launch_date': '2020-01-01'})
    assert response.status_code == 403
    assert Project.get_by_id(project.id).launch_date == project.launch_date


def test_failed_save_flash_is_chinese(projects, client_as):
    page = client_as('clerk').post_form('/admin/unit/new/', unit_form(projects['mine'], room='')
                                        ).get_data(as_text=True)
    assert 'Failed to create record' not in page and '保存失败' in page


def test_project_unit_counts_follow_the_unit_register(make, projects, client_as):
    project = projects['mine']
    unit = make.unit(project, status='未售')
    make.unit(project, status='已售')
    assert (Project.get_by_id(project.id).total_units, Project.get_by_id(project.id).sold_units) == (2, 1)
    unit.status = '已售'
    unit.save_logged(None)
    assert Project.get_by_id(project.id).sold_units == 2
    unit.delete_logged(None)
    assert (Project.get_by_id(project.id).total_units, Project.get_by_id(project.id).sold_units) == (1, 1)


# ------------------------------------------------------------------ connections

def test_a_pooled_connection_comes_back_without_the_last_requests_transaction(projects):
    """Connections are kept between requests; one given back with a transaction still open
    (a request that failed half-way) is rolled back before the next request gets it."""
    project = projects['mine']
    db.close()
    db.connect()
    first = db.connection()
    db.execute_sql('BEGIN')
    db.execute_sql('UPDATE project SET name = %s WHERE id = %s' % (db.param, db.param),
                   ('半途改名', project.id))
    db.close()
    db.connect()
    assert db.connection() is first                    # the same connection, not a new one
    assert Project.get_by_id(project.id).name == project.name
