"""The department's own fields and registers, added by an administrator in the browser's forms:
each kind of field is part of an existing register everywhere (form, list, filter, search, export,
import) with scoping intact; a custom register has everything a declared one has; definitions
are read by auditors, changed by administrators only, logged, removed and purged, and travel
between installations as a file."""
import datetime
import io
import json
import re
from decimal import Decimal

import openpyxl
import pytest

from models import custom
from models.base import ChangeLog, User, all_registers
from models.delivery import InspectionIssue
from views.base import RegisterView
from tests.test_excel_import import commit, count_of, upload, xlsx

D = datetime.date


def add_field(portal, register, name, kind, **extra):
    data = {'register': register, 'name': name, 'kind': kind, 'position': '0'}
    data.update(extra)
    response = portal.post_form('/admin/custom_field/new/', data)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return custom.CustomField.get((custom.CustomField.register == register) &
                                  (custom.CustomField.name == name))


def view_of(app, table):
    for view in app.extensions['admin'][0]._views:
        if isinstance(view, RegisterView) and view.model._meta.table_name == table:
            return view
    raise AssertionError('no view of %s' % table)


OPERATIONS = {'等于': ('FilterEqual', 'BooleanEqualFilter'), '大于': ('FloatGreaterFilter',),
              '介于': ('DateBetweenFilter',), '包含': ('FilterLike',)}


def filter_arg(app, table, column, operation=None):
    """`flt0_<index>` of the list filter on `column` (the app's own filter list, not a guess)."""
    view = view_of(app, table)
    for index, flt in enumerate(view._filters):
        if getattr(flt.column, 'name', None) == column and \
                (operation is None or type(flt).__name__ in OPERATIONS[operation]):
            return 'flt0_%d' % index
    raise AssertionError('no filter on %s.%s' % (table, column))


def sheet_rows(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
                .iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def issue(project, unit, description, **values):
    return InspectionIssue.create_logged(None, project=project, unit=unit, category='使用功能',
                                         description=description, found_on=D(2026, 11, 2),
                                         **values)


# kind: (extra definition, form value, stored value, filter (operation, argument), import cell)
KINDS = {
    '文本': ({'searchable': 'y'}, 'wx_lin2026', 'wx_lin2026', ('等于', 'wx_lin2026'), 'wx_zhao88'),
    '多行文本': ({'searchable': 'y'}, '业主要求\n周末上门', '业主要求\n周末上门', None, '只在晚上'),
    '数字': ({}, '3.5', 3.5, ('大于', '3'), 7),
    '金额': ({}, '1500.50', Decimal('1500.50'), ('大于', '1000'), 2500.5),
    '日期': ({}, '2026-12-01', D(2026, 12, 1), ('介于', '2026-11-30 to 2026-12-02'), '2026-12-05'),
    '是否': ({}, 'y', True, ('等于', '1'), '是'),
    '单选': ({'options': 'A级\nB级'}, 'A级', 'A级', ('等于', 'A级'), 'B级'),
    '多选': ({'options': '早上、中午、晚上'}, ['早上', '晚上'], '早上、晚上', ('包含', '晚上'), '中午、晚上'),
    '房源': ({}, None, None, None, None),
    '人员': ({}, None, None, ('等于', None), None),
}


@pytest.mark.parametrize('kind', list(KINDS))
def test_each_kind_added_in_the_form_is_part_of_the_punch_list_everywhere(
        kind, app, make, projects, users, client_as):
    extra, typed, stored, flt, cell = KINDS[kind]
    unit = make.unit(projects['mine'], building='3栋', room='1602')
    other_unit = make.unit(projects['other'], building='3栋', room='1602')
    if kind == '房源':
        typed = stored = unit.id
        cell = '3栋1单元1602'
    if kind == '人员':
        typed = stored = users['clerk'].id
        flt = ('等于', str(users['clerk'].id))
        cell = users['supervisor'].display_name
    admin = client_as('admin')
    label = '业主%s项' % kind
    field = add_field(admin, 'inspection_issue', label, kind, in_list='y', **extra)
    column = field.column
    assert re.match(r'^cf_\d+$', column) and column in InspectionIssue._meta.fields

    clerk = client_as('clerk')
    form = clerk.get('/admin/inspection_issue/new/').get_data(as_text=True)
    assert label in form
    data = {'project': projects['mine'].id, 'unit': unit.id, 'category': '使用功能',
            'description': '入户门划痕', 'found_on': '2026-11-02', 'severity': '一般',
            'status': '待整改', column: typed}
    response = clerk.post_form('/admin/inspection_issue/new/', data)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    mine = InspectionIssue.get(InspectionIssue.description == '入户门划痕')
    assert getattr(mine, column + '_id' if kind in ('房源', '人员') else column) == stored
    theirs = issue(projects['other'], other_unit, '别的项目的问题')
    InspectionIssue.update({InspectionIssue._meta.fields[column]: stored}) \
        .where(InspectionIssue.id == theirs.id).execute()

    listing = clerk.get('/admin/inspection_issue/').get_data(as_text=True)
    assert label in listing and '入户门划痕' in listing and '别的项目的问题' not in listing
    if flt:
        operation, value = flt
        args = {filter_arg(app, 'inspection_issue', column, operation): value}
        page = clerk.get('/admin/inspection_issue/', query_string=args).get_data(as_text=True)
        assert '入户门划痕' in page and '别的项目的问题' not in page, page[-2000:]
        everyone = client_as('auditor').get('/admin/inspection_issue/',
                                            query_string=args).get_data(as_text=True)
        assert '入户门划痕' in everyone and '别的项目的问题' in everyone
    if extra.get('searchable'):
        found = clerk.get('/admin/inspection_issue/', query_string={'search': '周末上门'
                          if kind == '多行文本' else 'lin2026'}).get_data(as_text=True)
        assert '入户门划痕' in found and '别的项目的问题' not in found

    rows = sheet_rows(client_as('auditor').get('/admin/inspection_issue/export/xlsx/'))
    exported = {r['问题描述']: r[label] for r in rows}
    assert exported['入户门划痕'] not in (None, ''), exported

    template = openpyxl.load_workbook(io.BytesIO(
        clerk.get('/admin/inspection_issue/import/template').data)).worksheets[0]
    header = [c.value for c in template[1]]
    assert any(label in str(h) for h in header), header
    if cell is not None:
        head = ['项目', '房号', '问题类别', '问题描述', '发现日期', label]
        page = upload(clerk, 'inspection_issue', xlsx([head, [
            '云栖雅苑', '3栋1单元1602', '使用功能', '导入的问题', '2026-11-03', cell]])) \
            .get_data(as_text=True)
        assert count_of(page, 'create') == 1, page[-3000:]
        commit(clerk, 'inspection_issue', page)
        imported = InspectionIssue.get(InspectionIssue.description == '导入的问题')
        value = imported.__data__[column]
        assert value not in (None, '', False), (kind, value)


def test_a_required_field_and_its_choices_are_checked_on_every_path(make, projects, users,
                                                                   client_as):
    admin = client_as('admin')
    field = add_field(admin, 'inspection_issue', '业主微信号', '文本', required='y')
    unit = make.unit(projects['mine'])
    clerk = client_as('clerk')
    page = clerk.post_form('/admin/inspection_issue/new/', {
        'project': projects['mine'].id, 'unit': unit.id, 'category': '使用功能',
        'description': '缺微信号', 'found_on': '2026-11-02', 'severity': '一般', 'status': '待整改'})
    assert page.status_code == 200 and '「业主微信号」不能为空。' in page.get_data(as_text=True)
    assert not InspectionIssue.select().where(InspectionIssue.description == '缺微信号').exists()
    choice = add_field(admin, 'inspection_issue', '回访方式', '单选', options='电话、上门')
    with pytest.raises(Exception) as refused:
        issue(projects['mine'], unit, 'x', **{field.column: 'wx', choice.column: '短信'})
    assert '不在可选范围内' in str(refused.value)


def test_only_administrators_change_definitions_and_auditors_read_them(projects, users,
                                                                       client_as):
    add_field(client_as('admin'), 'complaint', '业主微信号', '文本')
    for role in ('clerk', 'supervisor'):
        portal = client_as(role)
        assert portal.get('/admin/custom_field/').status_code == 403
        assert portal.post_form('/admin/custom_field/new/', {
            'register': 'complaint', 'name': '偷加', 'kind': '文本'}).status_code == 403
        assert portal.get('/admin/custom_register/').status_code == 403
    auditor = client_as('auditor')
    listing = auditor.get('/admin/custom_field/').get_data(as_text=True)
    assert '业主微信号' in listing and '客户投诉' in listing
    assert auditor.get('/admin/custom_field/new/').status_code == 403
    assert auditor.post_form('/admin/custom_register/new/', {'name': 'x'}).status_code == 403
    assert auditor.get('/admin/custom_field/definitions/export.json').status_code == 200
    logged = ChangeLog.select().where(ChangeLog.table_name == 'custom_field').count()
    assert logged == 1


def test_a_field_never_shadows_a_declared_one_and_names_never_reach_sql(projects, users,
                                                                        client_as):
    admin = client_as('admin')
    page = admin.post_form('/admin/custom_field/new/', {
        'register': 'inspection_issue', 'name': '问题描述', 'kind': '文本'}).get_data(as_text=True)
    assert '已是验收问题的字段' in page
    page = admin.post_form('/admin/custom_field/new/', {
        'register': 'change_log', 'name': '备注二', 'kind': '文本'}).get_data(as_text=True)
    assert not custom.CustomField.select().where(custom.CustomField.name == '备注二').exists()
    with pytest.raises(Exception) as refused:
        custom.CustomField.create_logged(users['admin'], register='change_log', name='备注二')
    assert '不能添加字段' in str(refused.value) or '不在可选范围内' in str(refused.value)
    field = add_field(admin, 'inspection_issue', '说明); DROP TABLE unit; --', '文本')
    assert field.column == 'cf_%d' % field.id and 'unit' in custom.db.get_tables()
    edited = admin.post_form('/admin/custom_field/edit/?id=%d' % field.id, {
        'register': 'inspection_issue', 'name': '说明', 'kind': '日期',
        'row_version': field.version, 'position': '0'}).get_data(as_text=True)
    assert '创建后不能修改' in edited


def test_label_choices_and_order_change_safely_and_a_removed_field_keeps_its_data(
        app, make, projects, users, client_as):
    admin = client_as('admin')
    field = add_field(admin, 'inspection_issue', '回访方式', '单选', options='电话、上门',
                      in_list='y')
    unit = make.unit(projects['mine'])
    row = issue(projects['mine'], unit, '门锁松动', **{field.column: '上门'})
    field = custom.CustomField.get_by_id(field.id)
    response = admin.post_form('/admin/custom_field/edit/?id=%d' % field.id, {
        'register': 'inspection_issue', 'name': '回访渠道', 'kind': '单选', 'options': '电话、微信',
        'in_list': 'y', 'position': '5', 'row_version': field.version})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    listing = client_as('clerk').get('/admin/inspection_issue/').get_data(as_text=True)
    assert '回访渠道' in listing and '上门' in listing      # the old value stays, shown
    row = InspectionIssue.get_by_id(row.id)
    row.location = '入户门'
    row.save_logged(users['clerk'])                          # an unchanged old value passes

    field = custom.CustomField.get_by_id(field.id)
    field.delete_logged(users['admin'])
    clerk = client_as('clerk')
    assert '回访渠道' not in clerk.get('/admin/inspection_issue/new/').get_data(as_text=True)
    assert '回访渠道' not in clerk.get('/admin/inspection_issue/').get_data(as_text=True)
    rows = sheet_rows(client_as('auditor').get('/admin/inspection_issue/export/xlsx/'))
    assert rows[0]['回访渠道（已移除）'] == '上门'

    response = admin.post_form('/admin/recycle/purge/custom_field/%d' % field.id)
    assert response.status_code == 302
    assert field.column not in {c.name for c in custom.db.get_columns('inspection_issue')}
    assert field.column not in InspectionIssue._meta.fields
    purged = ChangeLog.select().where((ChangeLog.table_name == 'custom_field') &
                                      (ChangeLog.action == 'purge')).count()
    assert purged == 1
    history = client_as('auditor').get('/admin/change_log/').get_data(as_text=True)
    assert '回访渠道' in history


def create_register(admin, **values):
    data = {'name': '业主生日关怀台账', 'stage': '业主沟通', 'project_scoped': 'y',
            'unit_link': 'y'}
    data.update(values)
    response = admin.post_form('/admin/custom_register/new/', data)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return custom.CustomRegister.get(custom.CustomRegister.name == data['name'])


def test_a_custom_register_has_everything_a_declared_one_has(app, make, projects, users,
                                                             client_as):
    admin = client_as('admin')
    register = create_register(admin)
    table = register.table_name
    name_field = add_field(admin, table, '业主姓名', '文本', in_list='y', searchable='y',
                           required='y')
    birthday = add_field(admin, table, '生日', '日期', in_list='y')
    status = add_field(admin, table, '关怀状态', '单选', options='待关怀、已关怀', in_list='y')
    register = custom.CustomRegister.get_by_id(register.id)
    response = admin.post_form('/admin/custom_register/edit/?id=%d' % register.id, {
        'name': register.name, 'stage': '业主沟通', 'project_scoped': 'y', 'unit_link': 'y',
        'title_field': '业主姓名', 'sort_field': '生日', 'deadline_field': '生日',
        'status_field': '关怀状态', 'done_values': '已关怀', 'deadline_clause': '生日前三天送达贺卡',
        'row_version': register.version})
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert table in {m._meta.table_name for m in all_registers()}

    unit = make.unit(projects['mine'], building='5栋', room='801')
    clerk = client_as('clerk')
    home = clerk.get('/').get_data(as_text=True)
    assert '/admin/%s/' % table in home or '业主生日关怀台账' in clerk.get(
        '/admin/%s/' % table).get_data(as_text=True)
    response = clerk.post_form('/admin/%s/new/' % table, {
        'project': projects['mine'].id, 'unit': unit.id, name_field.column: '林晓',
        birthday.column: (datetime.date.today() + datetime.timedelta(days=3)).isoformat(),
        status.column: '待关怀'})
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    model = custom._classes[table]
    model.create_logged(None, project=projects['other'], **{name_field.column: '别人'})

    listing = clerk.get('/admin/%s/' % table).get_data(as_text=True)
    assert '林晓' in listing and '别人' not in listing
    assert '林晓' in clerk.get('/admin/%s/' % table, query_string={'search': '林晓'}).get_data(
        as_text=True)
    page = clerk.get('/admin/%s/' % table, query_string={
        filter_arg(app, table, status.column, '等于'): '待关怀'}).get_data(as_text=True)
    assert '林晓' in page
    row = model.get(model._meta.fields[name_field.column] == '林晓')
    assert clerk.get('/admin/%s/details/?id=%d' % (table, row.id)).status_code == 200
    other = model.get(model._meta.fields[name_field.column] == '别人')
    assert clerk.get('/admin/%s/details/?id=%d' % (table, other.id)).status_code == 404

    rows = sheet_rows(clerk.get('/admin/%s/export/xlsx/' % table))
    assert [r['业主姓名'] for r in rows] == ['林晓'] and rows[0]['房源'] == str(unit)
    page = upload(clerk, table, xlsx([['项目', '房源', '业主姓名', '关怀状态'],
                                      ['云栖雅苑', '5栋1单元801', '林晓', '已关怀'],
                                      ['云栖雅苑', '', '周敏', '待关怀']])).get_data(as_text=True)
    assert count_of(page, 'create') == 1 and count_of(page, 'update') == 1, page[-3000:]
    commit(clerk, table, page)
    assert model.get(model._meta.fields[name_field.column] == '林晓').__data__[status.column] == '已关怀'

    file_page = clerk.get('/unit/%d' % unit.id).get_data(as_text=True)
    assert '业主生日关怀台账' in file_page and '林晓' in file_page

    due = client_as('supervisor').get('/due/').get_data(as_text=True)
    assert '业主生日关怀台账' not in due or '林晓' not in due     # closed (已关怀): not due
    model.create_logged(users['clerk'], project=projects['mine'], **{
        name_field.column: '孙涛', birthday.column: datetime.date.today() - datetime.timedelta(days=1),
        status.column: '待关怀'})
    due = client_as('supervisor').get('/due/').get_data(as_text=True)
    assert '业主生日关怀台账' in due

    row = model.get(model._meta.fields[name_field.column] == '孙涛')
    row.delete_logged(users['supervisor'])
    assert '孙涛' in client_as('supervisor').get('/admin/recycle/').get_data(as_text=True)
    history = client_as('auditor').get('/admin/change_log/', query_string={
        'search': '业主生日关怀台账'}).get_data(as_text=True)
    assert '业主姓名' in history and '孙涛' in history
    assert client_as('auditor').post_form('/admin/%s/new/' % table, {
        'project': projects['mine'].id, name_field.column: 'x'}).status_code == 403


def test_definitions_travel_as_a_file(app, make, projects, users, client_as, tmp_path):
    admin = client_as('admin')
    register = create_register(admin, name='业主车位台账', unit_link='')
    add_field(admin, register.table_name, '车位号', '文本', in_list='y')
    add_field(admin, 'complaint', '投诉来源渠道', '单选', options='热线、App')
    exported = admin.get('/admin/custom_field/definitions/export.json')
    data = json.loads(exported.data)
    assert data['format'] == custom.EXPORT_FORMAT
    assert {f['name'] for f in data['fields']} == {'车位号', '投诉来源渠道'}

    # Another installation: the definitions removed here, then imported from the file.
    from models.base import db
    for model in (custom.CustomField, custom.CustomRegister):
        for row in model.select():
            db.execute_sql('DELETE FROM %s WHERE id = %d' % (model._meta.table_name, row.id))
    custom.db.execute_sql('DROP TABLE %s' % register.table_name)
    custom.drop_undefined()
    custom._bump()
    assert admin.get('/admin/complaint/new/').status_code == 200
    assert '投诉来源渠道' not in admin.get('/admin/complaint/new/').get_data(as_text=True)
    page = admin.post_form('/admin/custom_field/definitions/', {
        'file': (io.BytesIO(exported.data), 'defs.json')},
        content_type='multipart/form-data').get_data(as_text=True)
    assert '新建 3 项' in page, page[-2000:]
    assert '投诉来源渠道' in admin.get('/admin/complaint/new/').get_data(as_text=True)
    imported = custom.CustomRegister.get(custom.CustomRegister.name == '业主车位台账')
    assert '车位号' in admin.get('/admin/%s/new/' % imported.table_name).get_data(as_text=True)
    again = admin.post_form('/admin/custom_field/definitions/', {
        'file': (io.BytesIO(exported.data), 'defs.json')},
        content_type='multipart/form-data').get_data(as_text=True)
    assert '新建 0 项' in again and '未变 3 项' in again
    bad = admin.post_form('/admin/custom_field/definitions/', {
        'file': (io.BytesIO(b'{"format": "x"}'), 'defs.json')},
        content_type='multipart/form-data').get_data(as_text=True)
    assert '不是本系统导出的' in bad
    assert client_as('auditor').post_form('/admin/custom_field/definitions/', {
        'file': (io.BytesIO(exported.data), 'defs.json')},
        content_type='multipart/form-data').status_code == 403


def test_a_field_reads_by_its_label_in_the_change_log_unit_file_and_saved_views(
        app, make, projects, users, client_as):
    from models.preferences import SavedView
    admin = client_as('admin')
    field = add_field(admin, 'inspection_issue', '回访方式', '单选', options='电话、上门',
                      in_list='y')
    unit = make.unit(projects['mine'], building='6栋', room='601')
    row = issue(projects['mine'], unit, '阳台栏杆松动')
    row = InspectionIssue.get_by_id(row.id)
    setattr(row, field.column, '上门')
    row.save_logged(users['clerk'])
    issue(projects['mine'], unit, '窗框渗水', **{field.column: '电话'})

    auditor = client_as('auditor')
    history = auditor.get('/admin/change_log/', query_string={'search': 'clerk'}).get_data(
        as_text=True)
    assert '回访方式：空 → 上门' in history, history[-3000:]

    clerk = client_as('clerk')
    file_page = clerk.get('/unit/%d' % unit.id).get_data(as_text=True)
    assert '回访方式' in file_page and '上门' in file_page

    query = '%s=上门' % filter_arg(app, 'inspection_issue', field.column, '等于')
    response = clerk.post_form('/preferences/views', {'table_name': 'inspection_issue',
                                                      'name': '上门回访', 'query': query})
    assert response.status_code == 302
    saved = SavedView.get(SavedView.name == '上门回访')
    opened = clerk.get('/preferences/views/%d' % saved.id, follow_redirects=True).get_data(
        as_text=True)
    assert '阳台栏杆松动' in opened and '窗框渗水' not in opened

    field = custom.CustomField.get_by_id(field.id)
    field.delete_logged(users['admin'])
    field = custom.CustomField.get_by_id(field.id)
    field.purge_logged(users['admin'])
    history = auditor.get('/admin/change_log/', query_string={'search': 'clerk'}).get_data(
        as_text=True)
    assert '回访方式（已删除）：空 → 上门' in history, history[-3000:]


def test_a_shared_custom_register_is_master_data_kept_by_supervisors(projects, users, client_as):
    admin = client_as('admin')
    register = create_register(admin, name='常见问题知识库', stage='基础数据', project_scoped='',
                               unit_link='')
    question = add_field(admin, register.table_name, '问题', '文本', in_list='y', required='y')
    table = register.table_name
    clerk = client_as('clerk')
    assert clerk.get('/admin/%s/' % table).status_code == 200
    assert clerk.get('/admin/%s/new/' % table).status_code == 403
    supervisor = client_as('supervisor')
    response = supervisor.post_form('/admin/%s/new/' % table, {question.column: '车位何时交付？'})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    details = client_as('auditor').get('/admin/%s/' % table).get_data(as_text=True)
    assert '车位何时交付？' in details


MALFORMED = [
 {"format":"kefu-ledger/custom-definitions","registers":[{"name":["a","b"]}]},
 {"format":"kefu-ledger/custom-definitions","registers":[{"name":{"x":1}}]},
 {"format":"kefu-ledger/custom-definitions","fields":[{"register":["c"],"custom_register":True,"name":"x","kind":"文本"}]},
 {"format":"kefu-ledger/custom-definitions","registers":[{"name":5}]},
 {"format":"kefu-ledger/custom-definitions","fields":[{"register":"complaint","name":5,"kind":"文本"}]},
 {"format":"kefu-ledger/custom-definitions","registers":[{"name":"R1","title_field":["a"]}]},
 {"format":"kefu-ledger/custom-definitions","fields":[{"register":"complaint","name":"x","kind":"文本","position":10**30}]},
 {"format":"kefu-ledger/custom-definitions","fields":[{"register":"complaint","name":"x","kind":"奇怪"}]},
 {"format":"kefu-ledger/custom-definitions","fields":"x"},
 {"format":"kefu-ledger/custom-definitions","fields":[1,2]},
]

def test_a_malformed_definitions_file_or_number_is_refused_with_a_message(projects, users,
                                                                          client_as):
    admin = client_as('admin')
    for data in MALFORMED:
        r = admin.post_form('/admin/custom_field/definitions/', {'file': (io.BytesIO(json.dumps(data).encode()), 'd.json')}, content_type='multipart/form-data')
        assert r.status_code == 200, data
        assert '未导入任何定义' in r.get_data(as_text=True) or '格式不正确' in r.get_data(as_text=True), data
    r = admin.post_form('/admin/custom_field/new/', {'register': 'complaint', 'name': 'p', 'kind': '文本', 'position': '9' * 30})
    assert r.status_code == 200

def test_a_searchable_field_purges_and_a_taken_name_is_not_restored(projects, users, client_as):
    admin = client_as('admin')
    reg = admin.post_form('/admin/custom_register/new/', {'name': 'R', 'stage': '交付后', 'project_scoped': 'y'})
    r = custom.CustomRegister.get(custom.CustomRegister.name == 'R')
    f = add_field(admin, r.table_name, '甲', '文本', searchable='y')
    m = custom._classes[r.table_name]
    m.create_logged(None, project=projects['mine'], **{f.column: 'abc'})
    f = custom.CustomField.get_by_id(f.id); f.delete_logged(users['admin'])
    resp = admin.post_form('/admin/recycle/purge/custom_field/%d' % f.id)
    assert resp.status_code == 302
    assert f.column not in {c.name for c in custom.db.get_columns(r.table_name)}
    g = add_field(admin, 'complaint', '渠道', '文本')
    g = custom.CustomField.get_by_id(g.id); g.delete_logged(users['admin'])
    add_field(admin, 'complaint', '渠道', '文本')
    page = admin.post_form('/admin/recycle/restore/custom_field/%d' % g.id, follow_redirects=True).get_data(as_text=True)
    assert '不能恢复' in page
    assert custom.CustomField.live().where(custom.CustomField.name == '渠道').count() == 1


def test_every_registers_whole_numbers_are_bounded_on_every_path(app):
    """A number no column can hold (a typed 30-digit 顺序, an imported 户数) is refused by the
    register's rules with a message, for every integer field of every register — never a 500
    from the database."""
    from peewee import ForeignKeyField, IntegerField
    checked = 0
    for model in all_registers():
        for name, fld in model._meta.fields.items():
            if not isinstance(fld, IntegerField) or isinstance(fld, ForeignKeyField) or \
                    name in ('id', 'version') or fld.primary_key:
                continue
            row = model(**{name: 10 ** 30})
            row._before_row = None
            found = [m for f, m in row.problems(None) if f == name]
            assert any('超出允许的范围' in m for m in found), (model._meta.table_name, name, found)
            checked += 1
    assert checked >= 5
