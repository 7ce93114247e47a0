"""Import answers to the same powers and scope as the forms, walked over every register of the
admin and every role, on the demo data (which fills every register in three projects)."""
import datetime
import decimal
import io
import re

import openpyxl
import pytest
from peewee import BooleanField, DateField, DateTimeField, ForeignKeyField

from conftest import login, Portal
from load.forms import form_of
from models.base import User
from models.master import Project, UserProject
from views.base import RegisterView
from views.importer import EXAMPLE_MARK, Importer

DEMO_PASSWORD = 'Demo-Passw0rd-2026'
ROLES = ('admin', 'supervisor', 'clerk', 'auditor')
POWER_REFUSED = '记录的权限（表单同样不允许）'


@pytest.fixture
def demo(app):
    from seeds import seed_demo
    assert seed_demo(DEMO_PASSWORD)
    return app


def register_views(app):
    return [v for v in app.extensions['admin'][0]._views if isinstance(v, RegisterView)]


def portal(app, username):
    client = app.test_client()
    assert login(client, username, DEMO_PASSWORD).status_code == 302
    return Portal(client, username)


def give_projects(username, project_ids):
    user = User.get(User.username == username)
    UserProject.delete().where(UserProject.user == user.id).execute()
    for pid in project_ids:
        UserProject.create(user=user.id, project=pid)


def xlsx(rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def upload(client, table, content):
    return client.post_form('/admin/%s/import/' % table, {
        'step': 'check', 'file': (io.BytesIO(content), 'data.xlsx')},
        content_type='multipart/form-data')


def count_of(page, name):
    match = re.search(r'id="count-%s">(?:<span[^>]*>)?(\d+)' % name, page)
    return int(match.group(1)) if match else None


def errors_of(page):
    return re.findall(r'<td class="message">([^<]*)</td>', page)


def cell_of(importer, name, value, project_id):
    """A stored value written as a clerk would type it (the names the importer finds rows by)."""
    fld = importer.fields[name]
    if value is None:
        return ''
    if isinstance(fld, ForeignKeyField):
        target = fld.rel_model
        names = importer.refs._names(target, project_id if 'project' in target._meta.fields else None)
        found = [key for key, ids in names.items() if ids == [value]]
        return found[0] if found else None      # None: this row has no unique name
    if isinstance(fld, DateTimeField):
        return value.strftime('%Y-%m-%d %H:%M:%S')
    if isinstance(fld, DateField):
        return value.isoformat()
    if isinstance(fld, BooleanField):
        return '是' if value else '否'
    if isinstance(value, decimal.Decimal):
        return format(value, 'f')
    return str(value)


def cells_of(importer, row):
    """{column: text} of a stored row, or None when one of its links has no unique name."""
    project_id = row.__data__.get('project')
    cells = {}
    for name in importer.columns:
        text = cell_of(importer, name, row.__data__.get(name), project_id)
        if text is None:
            return None
        cells[name] = text
    return cells


def a_named_row(importer, model, usable=lambda row: True):
    """A live row of `model` whose links all have unique names (so a file can name it)."""
    query = model.select().where(model.deleted_at.is_null())
    for row in query.order_by(model.id.desc()).limit(200):
        cells = cells_of(importer, row)
        if cells is not None and usable(row):
            return row, cells
    return None, None


def file_of(importer, cells, columns=None):
    columns = [n for n in (columns or importer.columns)]
    return xlsx([[importer.labels[n] for n in columns], [cells.get(n, '') for n in columns]])


# ------------------------------------------------------------------ powers

def test_import_asks_exactly_the_power_the_form_asks_for_every_register_and_role(demo):
    """What the form allows (create page, edit page) and what import allows (a row that creates,
    a row that changes) agree for every register of the admin and every role."""
    admin_user = User.get(User.username == 'admin')
    every = [p.id for p in Project.select()]
    for username in ('supervisor', 'clerk'):
        give_projects(username, every)          # every demo row is then theirs to try
    clients = {role: portal(demo, role) for role in ROLES}
    disagreements, unchecked = [], []
    for view in register_views(demo):
        table = view.model._meta.table_name
        importer = Importer(view, admin_user)
        # A row no workflow has locked (a closed row is refused to clerks for other reasons).
        row, cells = a_named_row(importer, view.model, lambda row: clients['clerk'].get(
            '/admin/%s/edit/?id=%d' % (table, row.id)).status_code in (200, 403))
        if row is None:
            unchecked.append(table)
            continue
        cells['remarks'] = '导入权限核对'
        update_file = file_of(importer, cells)
        # Without the register's match key every row of a file is a new row.
        keyless = [n for n in importer.columns if n not in importer.natural_key or n == 'project']
        create_file = file_of(importer, cells, keyless)
        admin_page = upload(clients['admin'], table, update_file).get_data(as_text=True)
        assert count_of(admin_page, 'update') == 1, (table, errors_of(admin_page))
        for role, client in clients.items():
            new = client.get('/admin/%s/new/' % table).status_code
            edit = client.get('/admin/%s/edit/?id=%d' % (table, row.id)).status_code
            form = {'create': new == 200, 'edit': edit == 200}
            assert new in (200, 403) and edit in (200, 403), (table, role, new, edit)
            imported = {}
            for kind, content in (('create', create_file), ('edit', update_file)):
                response = upload(client, table, content)
                page = response.get_data(as_text=True)
                assert response.status_code in (200, 403), (table, role, kind)
                imported[kind] = response.status_code == 200 and POWER_REFUSED not in page
            if form != imported:
                disagreements.append((table, role, 'form', form, 'import', imported))
    assert disagreements == []
    assert unchecked == []


def test_a_clerk_cannot_create_or_change_a_project_or_create_a_department_by_import(demo):
    project_file = xlsx([['项目编码', '项目名称', '所在地区', '城市', '项目阶段'],
                         ['NEW-1', '新项目', '浙江', '宁波', '规划设计'],
                         [Project.get_by_id(1).code, '改名', '浙江', '杭州', '在售']])
    clerk = portal(demo, 'clerk')
    assert upload(clerk, 'project', project_file).status_code == 403
    assert upload(clerk, 'department', xlsx([['部门名称'], ['新部门']])).status_code == 403
    assert '/admin/project/import/' not in clerk.get('/admin/project/').get_data(as_text=True)
    supervisor = portal(demo, 'supervisor')       # keeps a project's dates, adds no project
    page = upload(supervisor, 'project', project_file).get_data(as_text=True)
    assert '您没有新增「项目」记录的权限' in page and 'id="commit-form"' not in page
    assert not Project.select().where(Project.code == 'NEW-1').exists()


# ------------------------------------------------------------------ links out of scope

def scoped_links(view):
    """The form's links to rows of a project-scoped register (unit, round, complaint …)."""
    fields = view.model._meta.fields
    return [n for n in view.form_columns if isinstance(fields.get(n), ForeignKeyField)
            and n != 'project' and 'project' in fields[n].rel_model._meta.fields]


def row_and_foreign_target(model, target):
    """A live row of `model` and a live row of `target` in another project (a copy of a row of
    `target` is put there when the demo has none)."""
    row = model.select().where(model.deleted_at.is_null()).order_by(model.id).first()
    if row is None:
        return None, None
    query = target.select().where(target.deleted_at.is_null())
    other = query.where(target.project != row.project_id).first()
    if other is None and query.first() is not None:
        data = dict(query.first().__data__)
        data.pop('id')
        data['project'] = Project.select().where(Project.id != row.project_id).first().id
        for name, fld in target._meta.fields.items():    # its own links would point elsewhere
            if isinstance(fld, ForeignKeyField) and name != 'project' and fld.null and \
                    'project' in fld.rel_model._meta.fields:
                data[name] = None
        other = target.get_by_id(target.insert(data).execute())
    return row, other


def test_a_link_to_a_row_outside_ones_projects_is_refused_on_the_field_in_every_register(demo):
    admin_user = User.get(User.username == 'admin')
    checked, unchecked, failures = [], [], []
    supervisor = portal(demo, 'supervisor')
    for view in register_views(demo):
        table = view.model._meta.table_name
        for name in scoped_links(view):
            target = view.model._meta.fields[name].rel_model
            row, foreign = row_and_foreign_target(view.model, target)
            if row is None:
                unchecked.append((table, name))
                continue
            give_projects('supervisor', [row.project_id])
            stored = view.model.get_by_id(row.id).__data__.get(name)
            url = '/admin/%s/edit/?id=%d' % (table, row.id)
            page = supervisor.get(url).get_data(as_text=True)
            data = {f.name: f.value for f in form_of(page) if f.kind != 'file' and f.value is not None}
            data[name] = str(foreign.id)
            response = supervisor.post(url, data=data)
            text = response.get_data(as_text=True)
            label = view.model._meta.fields[name].verbose_name
            if response.status_code != 200 or '所选的%s不存在或不属于您负责的项目' % label not in text:
                failures.append((table, name, 'form', response.status_code))
            if view.model.get_by_id(row.id).__data__.get(name) != stored:
                failures.append((table, name, 'form changed the link'))
            # The same link by import: the target's name is looked up in the row's project only.
            importer = Importer(view, admin_user)
            cells = cells_of(importer, row)
            foreign_name = cell_of(importer, name, foreign.id, foreign.project_id)
            own_names = importer.refs._names(target, row.project_id)
            if cells is not None and foreign_name and foreign_name not in own_names:
                cells[name] = foreign_name
                page = upload(supervisor, table, file_of(importer, cells)).get_data(as_text=True)
                if 'id="commit-form"' in page or not any(foreign_name in e for e in errors_of(page)):
                    failures.append((table, name, 'import'))
            checked.append((table, name))
    assert failures == []
    assert unchecked == [] and len(checked) >= 20, (unchecked, checked)


# ------------------------------------------------------------------ templates

def test_every_register_template_example_row_imports_cleanly(demo):
    """Download each register's template, keep its example row as a real row, import it:
    no errors, and the commit writes it."""
    admin = portal(demo, 'admin')
    failures = []
    for view in register_views(demo):
        table = view.model._meta.table_name
        response = admin.get('/admin/%s/import/template' % table)
        assert response.status_code == 200, table
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        sheet = book.worksheets[0]
        header = [c.value for c in sheet[1]]
        for cell in sheet[2]:
            if isinstance(cell.value, str) and cell.value.startswith(EXAMPLE_MARK):
                cell.value = '模板示例行'
        data = io.BytesIO()
        book.save(data)
        page = upload(admin, table, data.getvalue()).get_data(as_text=True)
        errors = errors_of(page)
        if errors or 'id="commit-form"' not in page:
            failures.append((table, errors or 'no commit offered'))
            continue
        token = re.search(r'name="token"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*'
                          r'name="token"', page)
        done = admin.post_form('/admin/%s/import/' % table, {
            'step': 'commit', 'token': token.group(1) or token.group(2)})
        if done.status_code != 302:
            failures.append((table, 'commit', errors_of(done.get_data(as_text=True))))
        assert '备注' in header
    assert failures == [], '\n'.join(map(str, failures))


def test_import_errors_are_listed_in_row_order_with_the_date_format(demo):
    """A row refused by the register's rules (found when its chunk is written) and a later row
    refused while reading are listed in row order; a bad date says 格式如 2026-01-05."""
    clerk = portal(demo, 'clerk')
    header = ['项目', '楼栋', '单元', '房号', '楼层', '户型', '特殊户型', '合同面积(㎡)', '状态']
    project = Project.get_by_id(1).code
    rows = [header,
            [project, '90栋', '1', '101', 1, 'A1', '标准层', -5, '未售'],
            [project, '90栋', '1', '102', 'x', 'A1', '标准层', 89.5, '未售']]
    page = upload(clerk, 'unit', xlsx(rows)).get_data(as_text=True)
    rows_listed = [int(n) for n in re.findall(r'<td class="row-no">(\d+)</td>', page)]
    assert rows_listed == sorted(rows_listed) and rows_listed[0] == 2, rows_listed
    page = upload(clerk, 'contract', xlsx([['项目', '合同编号', '签约日期'],
                                           [project, 'HT-X', '2026-02-30']])).get_data(as_text=True)
    assert '「2026-02-30」不是有效的日期，格式如 2026-01-05。' in page
