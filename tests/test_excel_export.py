"""Excel out, through HTTP: what the list shows, typed cells, no formulas, scope, masks, the log,
the provenance sheet and the project audit workbook."""
import datetime
import io
import re
import zipfile
from decimal import Decimal

import openpyxl
from openpyxl.utils import get_column_letter
from flask_admin.contrib.peewee import filters as pf

from models.base import ExportLog

MALICIOUS = ('=HYPERLINK("http://evil.example/x","点我")', '+1', '-1+2', '@SUM(A1)',
             '=1+1', '\t=cmd|\' /C calc\'!A0')


def workbook_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype.endswith('spreadsheetml.sheet')
    return openpyxl.load_workbook(io.BytesIO(response.data))


def rows_of(sheet):
    return [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


def header_of(sheet):
    return [c.value for c in sheet[1]]


def filter_arg(app, endpoint, label, kind):
    """The list's query-string key of the filter `label` of type `kind` (as the list page builds it)."""
    admin = app.extensions['admin'][0]
    view = next(v for v in admin._views if getattr(v, 'endpoint', None) == endpoint)
    for key, (index, flt) in view._filter_args.items():
        if str(flt.name) == label and type(flt) is kind:
            return 'flt0_%s' % key
    raise AssertionError('no filter %s on %s' % (label, endpoint))


def test_filtered_export_has_exactly_the_filtered_rows_with_labels_and_dates(app, make, projects,
                                                                             client_as):
    mine = projects['mine']
    loan = make.contract(mine, contract_no='HT-LOAN-1', payment_method='商业贷款',
                         mortgage_bank='工商银行', sign_date=datetime.date(2025, 3, 31),
                         total_price=Decimal('1234567.89'),
                         unit=make.unit(mine, building='3栋', entrance='2', room='1801'))
    make.contract(mine, contract_no='HT-CASH-1', payment_method='一次性')
    make.contract(mine, contract_no='HT-LOAN-2', payment_method='公积金', mortgage_bank='公积金中心',
                  sign_date=datetime.date(2025, 1, 2))
    key = filter_arg(app, 'contract', '付款方式', pf.FilterEqual)
    book = workbook_of(client_as('supervisor').get(
        '/admin/contract/export/xlsx/?%s=商业贷款' % key))
    sheet = book.worksheets[0]
    header = header_of(sheet)
    assert header[:6] == ['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)']
    rows = rows_of(sheet)
    assert len(rows) == 1
    row = dict(zip(header, rows[0]))
    assert row['合同编号'] == 'HT-LOAN-1'
    assert row['项目'] == '云栖雅苑' and row['房源'] == '3栋-2-1801'
    assert row['业主'] == str(loan.owner)
    assert row['付款方式'] == '商业贷款' and row['房款结清'] == '是'
    assert row['签约日期'] == datetime.datetime(2025, 3, 31)
    date_cell = sheet.cell(row=2, column=header.index('签约日期') + 1)
    assert date_cell.is_date and date_cell.number_format == 'yyyy-mm-dd'
    money = sheet.cell(row=2, column=header.index('总价(元)') + 1)
    assert money.value == 1234567.89 and money.number_format == '#,##0.00'


def test_export_keeps_the_lists_search_and_sort(app, make, projects, client_as):
    for room in ('301', '101', '201'):
        make.unit(projects['mine'], building='5栋', room=room)
    make.unit(projects['mine'], building='6栋', room='999')
    # the list's sort index of 房号 (Flask-Admin numbers the list columns)
    columns = ['project', 'building', 'entrance', 'room']
    book = workbook_of(client_as('clerk').get(
        '/admin/unit/export/xlsx/?search=5栋&sort=%d&desc=1' % columns.index('room')))
    rooms = [r[3] for r in rows_of(book.worksheets[0])]
    assert rooms == ['301', '201', '101']


def test_malicious_strings_export_as_text_and_the_file_has_no_formula(make, projects, client_as):
    for n, text in enumerate(MALICIOUS):
        make.unit(projects['mine'], room=str(500 + n), layout=text[:32])
    response = client_as('clerk').get('/admin/unit/export/xlsx/')
    book = workbook_of(response)
    sheet = book.worksheets[0]
    layouts = set()
    for row in sheet.iter_rows(min_row=1):
        for cell in row:
            assert cell.data_type != 'f', cell.coordinate
            assert cell.hyperlink is None
        layouts.add(row[5].value)
    assert {t[:32] for t in MALICIOUS} <= layouts
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        for name in archive.namelist():
            if name.startswith('xl/worksheets/'):
                assert b'<f>' not in archive.read(name) and b'<f ' not in archive.read(name)


def test_clerk_export_never_contains_another_projects_rows(make, projects, client_as):
    make.unit(projects['mine'], room='1101')
    make.unit(projects['other'], room='2202')
    key = 'flt0_0'   # even a crafted project filter for the other project stays in scope
    book = workbook_of(client_as('clerk').get(
        '/admin/unit/export/xlsx/?%s=%d' % (key, projects['other'].id)))
    assert all(r[0] != '滨湖印象' for r in rows_of(book.worksheets[0]))
    everything = workbook_of(client_as('clerk').get('/admin/unit/export/xlsx/'))
    assert [r[3] for r in rows_of(everything.worksheets[0])] == ['1101']


def test_masked_fields_stay_masked_for_the_clerk_and_the_log_says_who_saw_them(make, projects,
                                                                             client_as):
    make.owner(projects['mine'], name='王五', id_number='330106199001011248')
    clerk_book = workbook_of(client_as('clerk').get('/admin/owner/export/xlsx/'))
    cells = [c for r in rows_of(clerk_book.worksheets[0]) for c in r]
    assert '3301**********1248' in cells and '330106199001011248' not in cells
    boss_book = workbook_of(client_as('supervisor').get('/admin/owner/export/xlsx/'))
    assert '330106199001011248' in [c for r in rows_of(boss_book.worksheets[0]) for c in r]
    logs = {e.username: e.unmasked_personal_data for e in ExportLog.select()}
    assert logs == {'clerk': True, 'supervisor': True} or logs['supervisor'] is True
    clerk_log = ExportLog.get(ExportLog.username == 'clerk')
    assert clerk_log.table_name == 'owner' and clerk_log.row_count == 1


def test_sheet_has_frozen_header_autofilter_and_widths(make, projects, client_as):
    make.unit(projects['mine'], layout='很长的户型名称用来撑开列宽很长的户型名称')
    sheet = workbook_of(client_as('clerk').get('/admin/unit/export/xlsx/')).worksheets[0]
    assert sheet.freeze_panes == 'A2'
    width = len([c for c in sheet[1] if c.value])     # every column of the register
    assert width > 10 and sheet.auto_filter.ref == 'A1:%s2' % get_column_letter(width)
    assert sheet.column_dimensions['F'].width > sheet.column_dimensions['C'].width >= 8


def test_provenance_sheet_and_export_log_record_the_export(app, make, projects, client_as):
    make.unit(projects['mine'], status='已售')
    make.unit(projects['mine'], status='未售')
    key = filter_arg(app, 'unit', '状态', pf.FilterEqual)
    book = workbook_of(client_as('clerk').get('/admin/unit/export/xlsx/?%s=已售' % key))
    about = dict((r[0], r[1]) for r in book['说明'].iter_rows(values_only=True))
    assert about['导出内容'] == '房源'
    assert about['导出人'] == 'clerk（clerk）'
    assert about['数据库'].split('://')[0] in ('sqlite', 'postgresql')
    assert 'test-secret' not in about['数据库']
    assert '状态' in about['筛选条件'] and '已售' in about['筛选条件']
    assert about['行数'] == '1'
    entry = ExportLog.get()
    assert (entry.username, entry.table_name, entry.row_count) == ('clerk', 'unit', 1)
    assert '已售' in entry.filters
    page = client_as('auditor').get('/admin/export_log/').get_data(as_text=True)
    assert 'clerk' in page and '已售' in page


def test_change_log_export_is_scoped_and_readable(make, projects, client_as):
    make.unit(projects['mine'], room='1101')
    make.unit(projects['other'], room='2202')
    book = workbook_of(client_as('clerk').get('/admin/change_log/export/xlsx/'))
    sheet = book.worksheets[0]
    assert header_of(sheet) == ['时间', '操作人', '台账', '记录', '操作', '字段', '原值', '新值']
    rows = rows_of(sheet)
    assert rows and all(r[2] in ('房源', '项目') and r[4] == '新增' for r in rows)
    assert not any('2202' in (r[3] or '') for r in rows)
    assert re.fullmatch(r'\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}', rows[0][0])     # to the second
    auditor_rows = rows_of(workbook_of(client_as('auditor').get(
        '/admin/change_log/export/xlsx/')).worksheets[0])
    assert any('2202' in (r[3] or '') for r in auditor_rows)
    assert ExportLog.select().where(ExportLog.table_name == 'change_log').count() == 2


def test_a_register_with_no_rows_exports_headers_only(client_as):
    sheet = workbook_of(client_as('clerk').get('/admin/contract/export/xlsx/')).worksheets[0]
    assert header_of(sheet)[1] == '合同编号' and rows_of(sheet) == []


def test_auditor_may_export_but_not_import(client_as):
    auditor = client_as('auditor')
    assert auditor.get('/admin/unit/export/xlsx/').status_code == 200
    assert auditor.get('/admin/unit/import/').status_code == 403


# ------------------------------------------------------------------ the project audit workbook

def test_audit_workbook_has_a_sheet_per_register_and_the_period_change_log(make, projects,
                                                                           client_as):
    make.unit(projects['mine'], room='1101')
    make.contract(projects['mine'], contract_no='HT-AUD-1')
    make.unit(projects['other'], room='2202')
    today = datetime.date.today().isoformat()
    response = client_as('clerk').get('/audit/workbook?project=%d&start_on=%s&end_on=%s'
                                      % (projects['mine'].id, today, today))
    book = workbook_of(response)
    names = book.sheetnames
    assert names[0] == '说明' or '说明' in names
    assert '房源' in names and '合同台账' in names and '变更记录' in names
    rooms = [r[3] for r in rows_of(book['房源'])]
    assert '1101' in rooms and '2202' not in rooms
    changes = rows_of(book['变更记录'])
    assert changes and all(r[2] in ('房源', '合同台账', '客户/业主', '项目') for r in changes)
    entry = ExportLog.get(ExportLog.table_name == 'audit_workbook')
    assert entry.username == 'clerk' and '云栖雅苑' in entry.filters


def test_clerk_cannot_download_another_projects_audit_workbook(projects, client_as):
    response = client_as('clerk').get('/audit/workbook?project=%d' % projects['other'].id)
    assert response.status_code == 200
    assert response.mimetype == 'text/html'
    assert ExportLog.select().count() == 0
    everything = client_as('clerk').get('/audit/workbook?project=all')
    assert everything.mimetype == 'text/html' and ExportLog.select().count() == 0


def test_auditor_may_take_every_project_in_one_workbook(make, projects, client_as):
    make.unit(projects['mine'], room='1101')
    make.unit(projects['other'], room='2202')
    book = workbook_of(client_as('auditor').get('/audit/workbook?project=all'))
    rooms = [r[3] for r in rows_of(book['房源'])]
    assert '1101' in rooms and '2202' in rooms


def test_audit_workbook_period_excludes_older_changes(make, projects, client_as):
    make.unit(projects['mine'], room='1101')
    old = datetime.date.today() - datetime.timedelta(days=400)
    response = client_as('supervisor').get(
        '/audit/workbook?project=%d&start_on=%s&end_on=%s' % (
            projects['mine'].id, old.isoformat(), (old + datetime.timedelta(days=1)).isoformat()))
    assert rows_of(workbook_of(response)['变更记录']) == []


def test_audit_workbook_form_page_lists_only_own_projects(projects, client_as):
    page = client_as('clerk').get('/audit/workbook').get_data(as_text=True)
    assert '云栖雅苑' in page and '滨湖印象' not in page and '全部项目' not in page
    auditor_page = client_as('auditor').get('/audit/workbook').get_data(as_text=True)
    assert '全部项目' in auditor_page and '滨湖印象' in auditor_page
