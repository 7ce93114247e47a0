"""Excel in, through HTTP: template, dry run, all-or-nothing commit, scope, change log, round trip."""
import datetime
import io
import re
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from models.base import ChangeLog, db
from models.master import Contract, Unit

UNIT_HEADER = ['项目', '楼栋', '单元', '房号', '楼层', '户型', '特殊户型', '合同面积(㎡)', '状态']


def xlsx(rows, title='Sheet1'):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def upload(portal, table, content, filename='data.xlsx'):
    return portal.post_form('/admin/%s/import/' % table, {
        'step': 'check', 'file': (io.BytesIO(content), filename)},
        content_type='multipart/form-data')


def token_of(page):
    match = re.search(r'name="token"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="token"',
                      page)
    return match and (match.group(1) or match.group(2))


def commit(portal, table, page):
    token = token_of(page)
    assert token, page[:2000]
    return portal.post_form('/admin/%s/import/' % table, {'step': 'commit', 'token': token})


def count_of(page, name):
    return int(re.search(r'id="count-%s">(?:<span[^>]*>)?(\d+)' % name, page).group(1))


def errors_of(page):
    return [(int(n), c.strip(), m.strip()) for n, c, m in re.findall(
        r'<td class="row-no">(\d+)</td><td class="column">([^<]*)</td><td class="message">([^<]*)</td>',
        page.replace('&#34;', '"').replace('&#39;', "'"))]


def unit_rows(project='云栖雅苑', n=3, start=101, **over):
    rows = [UNIT_HEADER]
    for i in range(n):
        row = dict(zip(UNIT_HEADER, [project, '1栋', '1', str(start + i), 1, 'A1', '标准层', 89.5, '未售']))
        row.update(over)
        rows.append([row[h] for h in UNIT_HEADER])
    return rows


def changed_rows():
    return ChangeLog.select().where(ChangeLog.table_name == 'unit').count()


# ------------------------------------------------------------------ template

def test_template_has_form_headers_dropdowns_and_an_example_row(projects, client_as):
    response = client_as('clerk').get('/admin/unit/import/template')
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ['项目', '楼栋', '单元', '房号'] and '特殊户型' in header and '备注' in header
    assert '总户数' not in header     # derived fields are not typed in
    example = dict(zip(header, [c.value for c in sheet[2]]))
    assert example['项目'] == '云栖雅苑' and example['特殊户型'] == '标准层'
    assert example['备注'].startswith('【示例】')
    validations = {str(v.sqref).split(':')[0]: v for v in sheet.data_validations.dataValidation}
    column = openpyxl.utils.get_column_letter(header.index('特殊户型') + 1)
    rule = validations[column + '2']
    assert rule.type == 'list' and '选项' in rule.formula1
    options = [r[0] for r in book['选项'].iter_rows(values_only=True) if r[0]]
    assert {'标准层', '首层', '边户'} <= set(options)


def test_template_filled_in_imports_and_its_example_row_is_skipped(projects, client_as):
    clerk = client_as('clerk')
    book = openpyxl.load_workbook(io.BytesIO(clerk.get('/admin/unit/import/template').data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    values = {'项目': 'MINE', '楼栋': '2栋', '单元': '1', '房号': '202', '特殊户型': '边户', '状态': '未售'}
    sheet.append([values.get(h) for h in header])
    data = io.BytesIO()
    book.save(data)
    page = upload(clerk, 'unit', data.getvalue()).get_data(as_text=True)
    assert count_of(page, 'total') == 1 and count_of(page, 'create') == 1, page
    commit(clerk, 'unit', page)
    assert Unit.get(Unit.room == '202').special_kind == '边户'


# ------------------------------------------------------------------ dry run

def test_dry_run_reports_bad_date_and_unknown_project_by_row_and_column(make, projects, client_as):
    unit = make.unit(projects['mine'], building='1栋', room='101')
    owner = make.owner(projects['mine'], name='张三')
    header = ['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式']
    rows = [header,
            ['云栖雅苑', 'HT-1', '1栋-1-101', '张三', '2026-13-45', 1000000, '一次性'],
            ['不存在的项目', 'HT-2', '1栋-1-101', '张三', '2026-01-05', 1000000, '一次性'],
            ['云栖雅苑', 'HT-3', '9栋-9-909', '张三', '2026-01-05', 1000000, '分期'],
            ['云栖雅苑', 'HT-4', '1栋-1-101', '张三', datetime.date(2026, 1, 5), '1,000,000', '一次性']]
    before = ChangeLog.select().count()
    page = upload(client_as('clerk'), 'contract', xlsx(rows)).get_data(as_text=True)
    errors = errors_of(page)
    assert (2, '签约日期', '「2026-13-45」不是有效的日期，格式如 2026-01-05。') in errors
    assert (3, '项目', '项目「不存在的项目」不存在或不是您负责的项目。') in errors
    assert any(e[:2] == (4, '房源') and '9栋-9-909' in e[2] for e in errors)
    assert any(e[:2] == (4, '付款方式') and '不在可选范围内' in e[2] for e in errors)
    assert not any(e[0] == 5 for e in errors)
    assert count_of(page, 'create') == 1 and count_of(page, 'errors') == 4
    assert 'id="commit-form"' not in page
    assert Contract.select().count() == 0 and ChangeLog.select().count() == before


def test_dry_run_reports_duplicate_keys_and_broken_rules(projects, client_as):
    rows = unit_rows(n=2)
    rows.append(list(rows[1]))                       # row 4 repeats row 2's key
    rows.append(['云栖雅苑', '1栋', '1', '999', 1, 'A1', '标准层', -5, '未售'])   # rule: area > 0
    page = upload(client_as('clerk'), 'unit', xlsx(rows)).get_data(as_text=True)
    errors = errors_of(page)
    assert any(e[0] == 4 and '与第 2 行重复' in e[2] for e in errors)
    assert any(e[:2] == (5, '合同面积(㎡)') and '必须大于 0' in e[2] for e in errors)
    assert Unit.select().count() == 0


def test_clerk_cannot_import_rows_of_another_project(projects, client_as):
    page = upload(client_as('clerk'), 'unit', xlsx(unit_rows(project='滨湖印象'))).get_data(as_text=True)
    assert count_of(page, 'errors') == 3
    assert '项目「滨湖印象」不存在或不是您负责的项目。' in page
    assert Unit.select().count() == 0


def test_clerk_cannot_update_a_row_of_another_project_by_its_key(make, projects, client_as):
    other = make.contract(projects['other'], contract_no='HT-OTHER')
    mine_unit, mine_owner = make.unit(projects['mine']), make.owner(projects['mine'], name='李四')
    rows = [['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式'],
            ['云栖雅苑', 'HT-OTHER', str(mine_unit), '李四', '2026-01-05', 900000, '一次性']]
    page = upload(client_as('clerk'), 'contract', xlsx(rows)).get_data(as_text=True)
    assert '无权操作的项目' in page and count_of(page, 'update') == 0
    assert Contract.get_by_id(other.id).project_id == projects['other'].id


def test_headers_match_by_label_in_any_order_with_blanks_and_extra_columns(projects, client_as):
    rows = [['  房号 ', '备用列', '楼栋\u3000', '项目', '合同面积（㎡）', '不认识的列'],
            ['305', 'x', '3栋', 'MINE', '88.8', 'y']]
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(rows)).get_data(as_text=True)
    assert count_of(page, 'create') == 1 and count_of(page, 'errors') == 0, errors_of(page)
    assert '不认识的列' in page and '已忽略' in page
    commit(clerk, 'unit', page)
    unit = Unit.get(Unit.room == '305')
    assert (unit.building, unit.entrance, unit.contract_area) == ('3栋', '1', Decimal('88.80'))


# ------------------------------------------------------------------ commit

def test_commit_creates_and_updates_by_natural_key_with_one_change_log_row_each(make, projects,
                                                                                client_as):
    kept = make.unit(projects['mine'], building='1栋', entrance='1', room='101', layout='旧户型',
                     floor=1)
    before = changed_rows()
    rows = unit_rows(n=3, **{'户型': '新户型'})
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(rows)).get_data(as_text=True)
    assert (count_of(page, 'create'), count_of(page, 'update')) == (2, 1)
    assert '户型：旧户型 → 新户型</td>' in page
    assert Unit.get_by_id(kept.id).layout == '旧户型'       # the dry run changed nothing
    response = commit(clerk, 'unit', page)
    assert response.status_code == 302
    assert Unit.get_by_id(kept.id).layout == '新户型'
    assert Unit.select().where(Unit.project == projects['mine']).count() == 3
    entries = list(ChangeLog.select().where(ChangeLog.table_name == 'unit')
                   .order_by(ChangeLog.id))[before:]
    assert sorted(e.action for e in entries) == ['create', 'create', 'update']
    assert {e.username for e in entries} == {'clerk'}
    assert projects['mine'].__class__.get_by_id(projects['mine'].id).total_units == 3


def test_commit_goes_through_the_rules_and_one_late_conflict_changes_nothing(make, projects,
                                                                          client_as):
    """1,000 contracts; rows 2 and 1001 sell the same unit: only the commit can see it. The
    commit writes in batches (other clerks save between them); the late conflict rolls back its
    batch and the batches already written are undone, each step in the change log."""
    from models.master import Unit as U, Owner as O
    mine = projects['mine']
    with db.atomic():
        U.insert_many([{'project': mine.id, 'building': '8栋', 'entrance': '1', 'room': str(n),
                        'special_kind': '标准层', 'status': '未售', 'version': 1}
                       for n in range(1000)]).execute()
        O.insert_many([{'project': mine.id, 'name': '业主%04d' % n, 'version': 1}
                       for n in range(1000)]).execute()
    rows = [['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式']]
    for n in range(1000):
        rows.append(['云栖雅苑', 'HT-%04d' % n, '8栋-1-%d' % n, '业主%04d' % n, '2026-01-05',
                     1000000, '一次性'])
    rows.append(['云栖雅苑', 'HT-LATE', '8栋-1-0', '业主0001', '2026-01-05', 1000000, '一次性'])
    supervisor = client_as('supervisor')
    page = upload(supervisor, 'contract', xlsx(rows)).get_data(as_text=True)
    assert count_of(page, 'create') == 1001 and count_of(page, 'errors') == 0
    before = ChangeLog.select().count()
    result = commit(supervisor, 'contract', page).get_data(as_text=True)
    assert '所有数据均未改动' in result
    assert any(e[0] == 1002 and '已有有效合同' in e[2] for e in errors_of(result))
    assert '已撤销' in result
    assert Contract.select().count() == 0
    assert U.select().where(U.status == '已售').count() == 0
    logged = ChangeLog.select().where((ChangeLog.table_name == 'contract') & (ChangeLog.id > before))
    created = {e.row_id for e in logged if e.action == 'create'}
    purged = {e.row_id for e in logged if e.action == 'purge' and e.note.startswith('撤销导入')}
    assert len(created) == 1000 and purged == created


def test_one_bad_row_in_a_thousand_changes_nothing(projects, client_as):
    rows = unit_rows(n=1000)
    rows[500][4] = '五楼'           # floor must be a whole number
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(rows)).get_data(as_text=True)
    assert count_of(page, 'errors') == 1 and count_of(page, 'create') == 999
    assert errors_of(page) == [(501, '楼层', '「五楼」不是整数。')]
    assert 'id="commit-form"' not in page
    # a commit forged without a pending, clean dry run writes nothing either
    response = clerk.post_form('/admin/unit/import/', {'step': 'commit', 'token': '0' * 32})
    assert response.status_code == 302
    assert Unit.select().count() == 0


def test_a_commit_token_is_used_once(projects, client_as):
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(unit_rows(n=2))).get_data(as_text=True)
    assert commit(clerk, 'unit', page).status_code == 302
    again = commit(clerk, 'unit', page)
    assert again.status_code == 302 and Unit.select().count() == 2
    follow = clerk.get(again.headers['Location']).get_data(as_text=True)
    assert '没有待确认的导入' in follow


# ------------------------------------------------------------------ round trip

def test_round_trip_of_an_unchanged_export_reports_zero_changes(make, projects, client_as):
    mine = projects['mine']
    make.unit(mine, building='1栋', room='101', contract_area=Decimal('89.50'), floor=3)
    make.unit(mine, building='2栋', room='=1+1', layout='+1', measured_area=Decimal('90.12'))
    make.contract(mine, payment_method='商业贷款', mortgage_bank='建设银行',
                  mortgage_status='已放款', disbursed_date=datetime.date.today() - datetime.timedelta(days=50),
                  loan_amount=Decimal('800000.00'))
    make.owner(mine, name='赵六', id_number='330106198505051230')
    clerk = client_as('clerk')
    for table in ('unit', 'contract', 'owner'):
        exported = clerk.get('/admin/%s/export/xlsx/' % table).data
        page = upload(clerk, table, exported).get_data(as_text=True)
        assert count_of(page, 'errors') == 0, (table, errors_of(page))
        assert count_of(page, 'create') == 0 and count_of(page, 'update') == 0, table
        assert count_of(page, 'unchanged') >= 1
        assert 'nothing-to-do' in page and 'id="commit-form"' not in page


def test_round_trip_after_editing_one_cell_updates_only_that_row(make, projects, client_as):
    make.unit(projects['mine'], room='101', layout='A1')
    make.unit(projects['mine'], room='102', layout='A1')
    clerk = client_as('clerk')
    book = openpyxl.load_workbook(io.BytesIO(clerk.get('/admin/unit/export/xlsx/').data))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows(min_row=2):
        if row[3].value == '102':
            row[5].value = 'B7'
    data = io.BytesIO()
    book.save(data)
    page = upload(clerk, 'unit', data.getvalue()).get_data(as_text=True)
    assert (count_of(page, 'update'), count_of(page, 'unchanged')) == (1, 1)
    commit(clerk, 'unit', page)
    assert Unit.get(Unit.room == '102').layout == 'B7' and Unit.get(Unit.room == '101').layout == 'A1'


# ------------------------------------------------------------------ files refused

@pytest.mark.parametrize('content,filename,message', [
    (b'name,room\n1,2\n', 'data.csv', '只能导入 Excel（.xlsx）文件'),
    (b'this is not a spreadsheet', 'data.xlsx', '不是 Excel（.xlsx）文件'),
    (b'PK\x03\x04broken zip', 'data.xlsx', '不是有效的 .xlsx 文件'),
    (b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old', 'data.xlsx', '旧版 Excel（.xls）'),
    (b'', 'data.xlsx', '空的'),
])
def test_files_that_are_not_excel_get_a_clear_message(projects, client_as, content, filename,
                                                      message):
    response = upload(client_as('clerk'), 'unit', content, filename)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert Unit.select().count() == 0


def test_empty_workbook_and_unknown_headers_are_refused(projects, client_as):
    clerk = client_as('clerk')
    assert '文件是空的' in upload(clerk, 'unit', xlsx([])).get_data(as_text=True)
    page = upload(clerk, 'unit', xlsx([['甲', '乙'], [1, 2]])).get_data(as_text=True)
    assert '没有找到可识别的表头' in page
    only_header = upload(clerk, 'unit', xlsx([UNIT_HEADER])).get_data(as_text=True)
    assert '没有数据行' in only_header
    assert Unit.select().count() == 0


def test_a_file_over_the_limit_is_refused(app, projects, client_as):
    app.config['KEFU_IMPORT_MAX_BYTES'] = 2048
    content = xlsx(unit_rows(n=300))
    assert len(content) > 2048
    page = upload(client_as('clerk'), 'unit', content).get_data(as_text=True)
    assert '文件太大' in page and Unit.select().count() == 0


def test_upload_without_csrf_token_is_refused(projects, client_as):
    clerk = client_as('clerk')
    response = clerk.post('/admin/unit/import/', data={
        'step': 'check', 'file': (io.BytesIO(xlsx(unit_rows())), 'a.xlsx')},
        content_type='multipart/form-data')
    assert response.status_code == 303 and Unit.select().count() == 0     # back to the page


def test_the_upload_waits_under_a_random_name_not_the_clients(app, projects, client_as):
    import os
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(unit_rows()), filename='../../evil.xlsx').get_data(as_text=True)
    token = token_of(page)
    kept = os.listdir(os.path.join(app.instance_path, 'tmp'))
    assert kept == ['import-%s.xlsx' % token]
    commit(clerk, 'unit', page)
    assert os.listdir(os.path.join(app.instance_path, 'tmp')) == []


# ------------------------------------------------------------------ WPS and odd cells

def wps_like_xlsx(rows):
    """A minimal .xlsx as WPS and other tools write it: inline strings, no styles part, no
    <dimension>, dates left as serial numbers."""
    def cell(ref, value):
        if isinstance(value, (int, float)):
            return '<c r="%s"><v>%s</v></c>' % (ref, value)
        return '<c r="%s" t="inlineStr"><is><t>%s</t></is></c>' % (ref, value)
    body = []
    for r, row in enumerate(rows, start=1):
        cells = ''.join(cell('%s%d' % (chr(65 + c), r), v) for c, v in enumerate(row))
        body.append('<row r="%d">%s</row>' % (r, cells))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData>%s</sheetData></worksheet>' % ''.join(body))
    files = {
        '[Content_Types].xml': '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        '_rels/.rels': '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        'xl/workbook.xml': '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        'xl/_rels/workbook.xml.rels': '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        'xl/worksheets/sheet1.xml': sheet,
    }
    data = io.BytesIO()
    with zipfile.ZipFile(data, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return data.getvalue()


def test_a_wps_style_file_with_serial_dates_imports(make, projects, client_as):
    unit = make.unit(projects['mine'], building='1栋', room='101')
    make.owner(projects['mine'], name='孙七')
    rows = [['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式'],
            ['MINE', 'HT-WPS', '1栋 - 1 - 101', '孙七', 46027, 1200000, '一次性']]   # 46027 = 2026-01-05
    supervisor = client_as('supervisor')
    page = upload(supervisor, 'contract', wps_like_xlsx(rows)).get_data(as_text=True)
    assert count_of(page, 'create') == 1, errors_of(page)
    commit(supervisor, 'contract', page)
    contract = Contract.get(Contract.contract_no == 'HT-WPS')
    assert contract.sign_date == datetime.date(2026, 1, 5) and contract.unit_id == unit.id


def test_owner_is_found_by_name_or_id_number_and_ambiguity_is_explained(make, projects, client_as):
    make.owner(projects['mine'], name='周八', id_number='330106199001011248')
    make.owner(projects['mine'], name='周八', id_number='33010619900101123X')
    make.unit(projects['mine'], building='1栋', room='101')
    make.unit(projects['mine'], building='1栋', room='102')
    rows = [['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式'],
            ['MINE', 'HT-A', '1栋-1-101', '周八', '2026-01-05', 1, '一次性'],
            ['MINE', 'HT-B', '1栋-1-102', '330106199001011248', '2026-01-05', 1, '一次性']]
    page = upload(client_as('supervisor'), 'contract', xlsx(rows)).get_data(as_text=True)
    errors = errors_of(page)
    assert len(errors) == 1 and errors[0][:2] == (2, '业主') and '请改填证件号码' in errors[0][2]
    assert count_of(page, 'create') == 1


def test_import_page_is_chinese_and_links_the_template(client_as):
    page = client_as('clerk').get('/admin/unit/import/').get_data(as_text=True)
    assert '下载导入模板' in page and '上传并检查' in page and 'csrf_token' in page


# ------------------------------------------------------------------ every register, through the base

def test_every_register_exports_gives_a_template_and_reads_it_back(app, projects, client_as):
    from views.base import RegisterView
    tables = [v.endpoint for v in app.extensions['admin'][0]._views if isinstance(v, RegisterView)
              and not getattr(v.model._meta, 'retired', False)]    # another test's own register
    assert {'unit', 'contract', 'owner', 'project'} <= set(tables)
    views = {v.endpoint: v for v in app.extensions['admin'][0]._views if isinstance(v, RegisterView)}
    supervisor, admin = client_as('supervisor'), client_as('admin')
    failures = []
    for table in tables:
        # The definitions of the department's own fields are the administrators' (and read by
        # auditors): their register is tried as an administrator.
        portal = admin if getattr(views[table].model._meta, 'list_power', None) else supervisor
        exported = portal.get('/admin/%s/export/xlsx/' % table)
        template = portal.get('/admin/%s/import/template' % table)
        if exported.status_code != 200 or template.status_code != 200:
            failures.append((table, exported.status_code, template.status_code))
            continue
        page = upload(portal, table, template.data)   # only the example row: skipped
        if page.status_code != 200 or '没有数据行' not in page.get_data(as_text=True):
            failures.append((table, 'template read back', page.status_code))
    assert failures == []
