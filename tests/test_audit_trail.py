"""The audit trail reads like a register (issue 19 §4): who by name, when to the second, which
register and row by their names, one line per changed field with its Chinese label and the
values as people read them — in the change log list, the rows' history, the unit file and the
Excel export (one row per changed field); a search box that says what it searches; and a
page whose cost does not grow with the number of lines on it."""
import datetime
import io
import re
from decimal import Decimal

import openpyxl
import pytest

from models.base import ChangeLog, User
from models.master import Contract, Department, Owner

TODAY = datetime.date.today()


@pytest.fixture
def named(users):
    """The clerk and the supervisor as the department knows them."""
    User.update(display_name='王敏').where(User.username == 'clerk').execute()
    User.update(display_name='李经理').where(User.username == 'supervisor').execute()
    return {role: User.get(User.username == role) for role in ('clerk', 'supervisor')}


@pytest.fixture
def complaint(projects, named, make):
    from models.aftercare import Complaint
    unit = make.unit(projects['mine'], building='3栋', entrance='1', room='1602')
    row = Complaint.create_logged(named['clerk'], project=projects['mine'], unit=unit.id,
                                  received_on=TODAY - datetime.timedelta(days=3), channel='来电',
                                  category='工程质量', content='卫生间渗水至楼下')
    row.status = '分析'
    row.analysis = '防水层破损'
    row.satisfaction = 4
    row.save_logged(named['clerk'])
    row.status = '转办'
    row.responsible_department = make.department('工程管理部').id
    row.save_logged(named['supervisor'])
    return row


def page_text(response):
    return response.get_data(as_text=True)


def cells(page):
    """The change log list's rows: [[cell text, …], …]."""
    body = page.split('model-list', 1)[1].split('</thead>', 1)[1].split('</table>', 1)[0]
    found = []
    for row in re.findall(r'<tr.*?</tr>', body, re.S):
        texts = [re.sub(r'<[^>]+>', '\n', td) for td in re.findall(r'<td[^>]*>(.*?)</td>', row, re.S)]
        found.append([re.sub(r'\s*\n\s*', '\n', t).strip() for t in texts])
    return found


def test_the_change_log_list_reads_like_a_register(complaint, client_as):
    page = page_text(client_as('auditor').get('/admin/change_log/'))
    rows = [r for r in cells(page) if any('客户投诉台账' == c for c in r)]
    assert len(rows) == 3
    newest = rows[0]
    assert re.search(r'\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\b', ' '.join(newest))   # to the second
    assert '李经理' in newest and '修改' in newest
    assert any('3栋-1-1602' in c for c in newest)                                   # the row by 房号
    changes = next(c for c in newest if '→' in c)
    assert '处理状态：分析 → 转办' in changes
    assert '责任部门：空 → 工程管理部' in changes
    assert 'None' not in page and 'responsible_department' not in page
    middle = next(c for c in rows[1] if '→' in c)
    assert '业主满意度：空 → 4 分' in middle and '原因分析：空 → 防水层破损' in middle
    assert '王敏' in rows[1]
    created = next(c for c in rows[2] if '投诉内容' in c)
    assert '受理日期：%s' % (TODAY - datetime.timedelta(days=3)).isoformat() in created
    assert '投诉渠道：来电' in created


def test_values_read_as_people_read_them(projects, named, make, client_as):
    contract = make.contract(projects['mine'], total_price=Decimal('1500000'), paid_in_full=False)
    contract.paid_in_full = True
    contract.total_price = Decimal('1234567.5')
    contract.mortgage_bank = None
    contract.save_logged(named['supervisor'])
    owner = Owner.get_by_id(contract.owner_id)
    owner.id_number = '330106199001011248'
    owner.save_logged(named['supervisor'])
    auditor_page = page_text(client_as('auditor').get('/admin/change_log/?search=合同台账'))
    line = next(c for r in cells(auditor_page) for c in r if '总价' in c and '→' in c)
    assert '总价(元)：1,500,000.00 → 1,234,567.50' in line
    assert '房款结清：否 → 是' in line
    assert any(contract.contract_no in c for r in cells(auditor_page) for c in r)
    # personal data stays masked for whoever may not see it (a clerk: no ID numbers)
    clerk_page = page_text(client_as('clerk').get('/admin/change_log/?search=业主'))
    assert '330106199001011248' not in clerk_page and '证件号码' in clerk_page


def test_search_box_says_what_it_searches_and_finds_people_registers_and_rows(complaint, client_as,
                                                                             projects, named):
    Department.create_logged(None, name='物业公司')
    auditor = client_as('auditor')
    page = page_text(auditor.get('/admin/change_log/'))
    box = re.search(r'<input[^>]*name="search"[^>]*>', page).group(0)
    assert 'placeholder="None"' not in box and '搜索操作人' in box
    by_person = cells(page_text(auditor.get('/admin/change_log/?search=李经理')))
    assert len(by_person) == 1 and '李经理' in by_person[0]
    by_register = cells(page_text(auditor.get('/admin/change_log/?search=投诉')))
    assert len(by_register) == 3
    by_both = cells(page_text(auditor.get('/admin/change_log/?search=投诉 王敏')))
    assert len(by_both) == 2
    by_row = page_text(auditor.get('/admin/change_log/?search=%d&flt0_0=complaint' % complaint.id))
    assert len(cells(by_row)) == 3
    nobody = cells(page_text(auditor.get('/admin/change_log/?search=没有这个人')))
    assert not [r for r in nobody if '客户投诉台账' in r or '部门' in r]


def test_the_export_has_one_row_per_changed_field(complaint, client_as):
    response = client_as('auditor').get('/admin/change_log/export/xlsx/?search=投诉')
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = next(ws for ws in book.worksheets if ws.title != '说明')
    rows = [[c if c is not None else '' for c in r] for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ['时间', '操作人', '台账', '记录', '操作', '字段', '原值', '新值']
    data = rows[1:]
    assert all(re.fullmatch(r'\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}', r[0]) for r in data)
    assert all(r[2] == '客户投诉台账' and '3栋-1-1602' in r[3] for r in data)
    assert [r[5:] for r in data if r[4] == '修改' and r[1] == '李经理'] == [
        ['处理状态', '分析', '转办'], ['责任部门', '空', '工程管理部']]
    assert ['王敏', '修改', '业主满意度', '空', '4 分'] in [[r[1], r[4], r[5], r[6], r[7]] for r in data]
    assert any(r[4] == '新增' and r[5] == '投诉内容' and r[7] == '卫生间渗水至楼下' for r in data)
    text = repr(rows)
    assert '{' not in text and 'None' not in text and 'responsible_department' not in text


def test_a_reopening_shows_its_reason(projects, named, make, client_as):
    from models.delivery import InspectionIssue
    day = TODAY - datetime.timedelta(days=1)
    row = InspectionIssue.create_logged(
        named['supervisor'], project=projects['mine'], category='水电', description='插座不通电',
        location='1栋电梯厅', found_on=day, status='已关闭', contractor=make.contractor().id,
        deadline=day, rectified_on=day, verified_on=day, verified_by='李工')
    row.reopen_logged(named['supervisor'], '业主反映复发')
    page = page_text(client_as('auditor').get('/admin/change_log/?search=验收问题'))
    assert '重新打开：业主反映复发' in page and '状态：已关闭 → 整改中' in page
    book = openpyxl.load_workbook(io.BytesIO(
        client_as('auditor').get('/admin/change_log/export/xlsx/?search=验收问题').data))
    sheet = next(ws for ws in book.worksheets if ws.title != '说明')
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert ['说明', None, '重新打开：业主反映复发'] in [r[5:] for r in values]
    assert ['验证人', '李工', '空'] in [r[5:] for r in values]


def test_a_rows_history_and_the_unit_file_read_the_same_way(complaint, client_as):
    clerk = client_as('clerk')
    details = page_text(clerk.get('/admin/complaint/details/?id=%d' % complaint.id))
    history = details.split('class="table table-sm table-bordered history"', 1)[1]
    assert '李经理' in history and '责任部门：空 → 工程管理部' in history
    assert re.search(r'\d{2}:\d{2}:\d{2}', history)
    unit_page = page_text(clerk.get('/unit/%d' % complaint.unit_id))
    section = unit_page.split('id="section-history"', 1)[1]
    assert '客户投诉台账' in section and '王敏' in section and '责任部门：空 → 工程管理部' in section


def test_a_page_of_the_change_log_costs_the_same_few_queries_for_many_lines(
        projects, named, make, client_as, monkeypatch):
    from models.base import db
    auditor = client_as('auditor')

    def queries_for_page():
        seen = []
        original = db.obj.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            seen.append(sql)
            return original(sql, params, *args, **kwargs)
        monkeypatch.setattr(db.obj, 'execute_sql', counting)
        response = auditor.get('/admin/change_log/?page_size=100')
        monkeypatch.setattr(db.obj, 'execute_sql', original)
        assert response.status_code == 200
        return len(seen)

    def add(n):
        for i in range(n):
            contract = make.contract(projects['mine'])
            contract.mortgage_bank = '工商银行%d' % i
            contract.payment_method = '商业贷款'
            contract.mortgage_status = '资料收集'
            contract.loan_amount = Decimal('500000')
            contract.save_logged(named['clerk'])
    add(3)
    few = queries_for_page()
    add(20)
    many = queries_for_page()
    assert ChangeLog.select().count() > 60
    assert many <= few + 2, (few, many)
