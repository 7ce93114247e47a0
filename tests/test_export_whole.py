"""An export is the whole register: every field (the form's, the derived ones), 编号, who created and
changed the row and when, with the list's filters, search and sort; `?columns=shown` keeps the
list's columns only; masking still applies; and every register's export imports back unchanged."""
import datetime
import io
import os

import openpyxl

from models.aftercare import Complaint
from models.base import User
from models.delivery import InspectionIssue
from views.base import RegisterView

D = datetime.date


def sheet_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]


def records(sheet):
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_the_complaint_export_holds_content_analysis_and_resolution(make, projects, users,
                                                                     client_as):
    complaint = Complaint.create_logged(
        users['clerk'], project=projects['mine'], received_on=D(2026, 11, 22), channel='来电',
        category='服务', content='报修三次未上门', analysis='维修单位排班不足',
        resolution='更换维修单位并上门致歉')
    [row] = records(sheet_of(client_as('auditor').get('/admin/complaint/export/xlsx/')))
    assert row['投诉内容'] == '报修三次未上门'
    assert row['原因分析'] == '维修单位排班不足' and row['处理结果'] == '更换维修单位并上门致歉'
    assert row['编号'] == complaint.id
    assert row['创建人'] == str(users['clerk']) and isinstance(row['创建时间'], datetime.datetime)
    assert '修改人' in row and '修改时间' in row
    assert '版本' not in row and '删除时间' not in row


def test_the_punch_list_export_holds_rectification_verification_and_the_number(make, projects,
                                                                               users, client_as):
    issue = InspectionIssue.create_logged(
        None, project=projects['mine'], unit=make.unit(projects['mine']), category='使用功能',
        description='卫生间排风扇不工作', found_on=D(2026, 10, 13), found_by='陈工',
        rectification_plan='更换排风扇电机', rectified_on=D(2026, 10, 16), verified_by='王工')
    [row] = records(sheet_of(client_as('auditor').get('/admin/inspection_issue/export/xlsx/')))
    assert row['编号'] == issue.id
    assert row['整改措施'] == '更换排风扇电机' and row['发现人'] == '陈工'
    assert row['验证人'] == '王工' and row['整改完成日期'] == datetime.datetime(2026, 10, 16)


def test_every_register_exports_every_field_and_only_the_shown_columns_when_asked(app, client_as):
    admin = app.extensions['admin'][0]
    client = client_as('auditor')
    for view in admin._views:
        if not isinstance(view, RegisterView):
            continue
        table = view.model._meta.table_name
        whole = [c.value for c in sheet_of(client.get('/admin/%s/export/xlsx/' % table))[1]]
        labels = [str(view.column_labels.get(n, n)) for n in view.model._meta.sorted_field_names
                  if n not in ('deleted_at', 'deleted_by', 'version')]
        assert set(labels) <= set(whole), (table, set(labels) - set(whole))
        assert whole[:len(view.column_list)] == [str(view.column_labels.get(n, n))
                                                 for n in view.column_list], table
        shown = [c.value for c in sheet_of(client.get('/admin/%s/export/xlsx/?columns=shown'
                                                      % table))[1]]
        assert shown == whole[:len(view.column_list)], table


def test_the_export_keeps_the_lists_search_and_the_clerks_masks(make, projects, client_as):
    unit = make.unit(projects['mine'], building='3栋', entrance='1', room='1602')
    owner = make.owner(projects['mine'], name='韩梓萱', id_number='330106199001011248')
    make.contract(projects['mine'], unit=unit, owner=owner)
    make.contract(projects['mine'])
    rows = records(sheet_of(client_as('clerk').get('/admin/contract/export/xlsx/?search=3-1-1602')))
    assert [r['房源'] for r in rows] == ['3栋-1-1602']
    owners = records(sheet_of(client_as('clerk').get('/admin/owner/export/xlsx/?search=韩梓萱')))
    assert [r['证件号码'] for r in owners] == ['3301**********1248']


def key_of(model, row):
    names = getattr(model._meta, 'natural_key', ()) or ('id',)
    return tuple(row.__data__.get(n) for n in names)


def test_every_registers_export_of_the_demo_imports_back_with_no_change(app, tmp_path):
    """Export → import → 0 changes, 0 errors, for every register, on the demo data."""
    from conftest import login
    from seeds import seed_demo
    from views.importer import Importer
    seed_demo('Demo-Passw0rd-2026')
    client = app.test_client()
    assert login(client, 'admin', 'Demo-Passw0rd-2026').status_code == 302
    actor = User.get(User.username == 'admin')
    admin = app.extensions['admin'][0]
    failures = []
    for view in admin._views:
        if not isinstance(view, RegisterView):
            continue
        table = view.model._meta.table_name
        exported = client.get('/admin/%s/export/xlsx/' % table)
        assert exported.status_code == 200, table
        path = os.path.join(str(tmp_path), '%s.xlsx' % table)
        with open(path, 'wb') as fh:
            fh.write(exported.data)
        if view.model.select().count() == 0:
            continue
        with app.test_request_context('/admin/%s/import/' % table):
            from flask_login import login_user
            login_user(actor)
            report = Importer(view, actor).run(path, commit=False)
        # Rows the register's natural key cannot tell apart (the demo's punch list holds the same
        # issue twice in a round) are reported as duplicates, never merged or changed.
        twins = len(view.model.live()) - len({key_of(view.model, r) for r in view.model.live()})
        unexplained = [e for e in report.errors if '重复' not in e[2]]
        if unexplained or report.error_count != twins or report.created or report.updated:
            failures.append((table, report.created, report.updated, twins, report.errors[:3],
                             [u[2] for u in report.updates[:2]]))
    assert failures == [], "\n".join(repr(f) for f in failures)


def test_the_unit_files_workbook_holds_each_register_whole(make, projects, client_as):
    unit = make.unit(projects['mine'])
    issue = InspectionIssue.create_logged(
        None, project=projects['mine'], unit=unit, category='使用功能', description='门锁失灵',
        found_on=D(2026, 10, 13), rectification_plan='更换锁芯')
    book = openpyxl.load_workbook(io.BytesIO(client_as('auditor').get(
        '/unit/%d/export.xlsx' % unit.id).data))
    [row] = records(book['验收问题'])
    assert row['编号'] == issue.id and row['整改措施'] == '更换锁芯'
    assert '项目' not in row and '房号' not in row      # the same for every row of the file
