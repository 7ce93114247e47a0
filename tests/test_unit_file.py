"""一户一档: one unit's rows from every register, masked by role, its history, one workbook;
another project's unit is "not found"."""
import datetime
import io
from decimal import Decimal

import openpyxl

from models.aftercare import (CallbackSurvey, Compensation, Complaint, RepairOrder,
                              SurveyResponse)
from models.delivery import InspectionIssue, KeyTransfer
from models.handover import HandoverEntry
from models.risk import FloorPlanCheck, SalesPromise

D = datetime.date
ID_NUMBER = '33010619900101123X'
SECTIONS = ('contract', 'floor_plan_check', 'sales_promise', 'inspection_issue', 'key_transfer',
            'handover_entry', 'repair_order', 'complaint', 'compensation', 'survey_response')


def demo_like_unit(make, project):
    """A sold unit with the life a demo unit has: contract, checks, issues, keys, handover,
    a repair, a complaint with its compensation, and a survey answer."""
    unit = make.unit(project, building='3栋', room='1801', special_kind='边户')
    neighbour = make.unit(project, building='3栋', room='1802')
    owner = make.owner(project, name='韩梓萱', phone='13912345678', id_number=ID_NUMBER)
    contract = make.contract(project, unit=unit, owner=owner, sign_date=D(2025, 2, 23))
    FloorPlanCheck.create_logged(None, project=project, unit=unit, checked_on=D(2024, 10, 9),
                                 checker='刘洋', matches_dm=True)
    SalesPromise.create_logged(None, project=project, source='客户提出的变更', scope='单户', unit=unit,
                               content='主卧窗台加装护栏')
    InspectionIssue.create_logged(None, project=project, unit=unit, category='使用功能',
                                  description='卫生间排风扇不工作', found_on=D(2026, 10, 13),
                                  deadline=D(2026, 10, 18))
    InspectionIssue.create_logged(None, project=project, unit=neighbour, category='使用功能',
                                  description='邻户的问题', found_on=D(2026, 10, 13))
    KeyTransfer.create_logged(None, project=project, kind='销售钥匙', scope='全部', keys_count=3,
                              transferred_on=D(2026, 11, 16))
    make.unit(project, building='5栋', room='501')       # keys of another building, moved apart
    KeyTransfer.create_logged(None, project=project, kind='销售钥匙', scope='5栋', keys_count=1,
                              transferred_on=D(2026, 11, 16))
    HandoverEntry.create_logged(None, project=project, unit=unit, contract=contract,
                                status='已交付', keys_handed_on=D(2026, 11, 20),
                                arrived_at=datetime.datetime(2026, 11, 20, 10, 0))
    RepairOrder.create_logged(None, project=project, unit=unit, owner=owner,
                              reported_on=D(2026, 11, 21), description='厨房水槽下渗水',
                              category='给排水', deadline=D(2026, 11, 28))
    complaint = Complaint.create_logged(None, project=project, unit=unit, owner=owner,
                                        received_on=D(2026, 11, 22), channel='来电', category='服务',
                                        content='报修三次未上门')
    Compensation.create_logged(None, project=project, complaint=complaint, unit=unit, owner=owner,
                               kind='现金赔付', amount=Decimal('2300'), reason='报修三次未上门')
    survey = CallbackSurvey.create_logged(None, project=project, kind='交付回访', period='交付首月',
                                          surveyor='第三方', issued=10, returned=5)
    SurveyResponse.create_logged(None, project=project, survey=survey, unit=unit, owner=owner,
                                 answered_on=D(2026, 11, 23), product_planning=4,
                                 comments='满意')
    return unit


def test_the_unit_file_gathers_rows_from_every_register(make, projects, users, client_as):
    unit = demo_like_unit(make, projects['mine'])
    page = client_as('supervisor').get('/unit/%d' % unit.id).get_data(as_text=True)
    present = [t for t in SECTIONS if 'id="section-%s"' % t in page]
    assert len(present) >= 5 and present == list(SECTIONS)
    assert '卫生间排风扇不工作' in page and '邻户的问题' not in page
    assert '厨房水槽下渗水' in page and '报修三次未上门' in page and '主卧窗台加装护栏' in page
    assert '按移交范围匹配本户' in page           # the 全部 key transfer, not the 5栋 one
    keys = page.split('id="section-key_transfer"', 1)[1].split('</table>', 1)[0]
    assert '全部' in keys and '5栋' not in keys
    assert '韩梓萱' in page and ID_NUMBER in page    # supervisors see ID numbers
    history = page.split('id="section-history"', 1)[1]
    assert '客户投诉台账' in history and '新增' in history


def test_a_clerk_sees_the_id_number_masked(make, projects, users, client_as):
    unit = demo_like_unit(make, projects['mine'])
    page = client_as('clerk').get('/unit/%d' % unit.id).get_data(as_text=True)
    assert ID_NUMBER not in page and '韩梓萱' in page
    assert '13912345678' in page          # clerks phone owners before handover (see_phone)
    data = client_as('clerk').get('/unit/%d/export.xlsx' % unit.id).data
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value]
    assert ID_NUMBER not in cells and not any(ID_NUMBER in c for c in cells)


def test_the_workbook_has_a_sheet_per_register_and_explains_itself(make, projects, users, client_as):
    unit = demo_like_unit(make, projects['mine'])
    response = client_as('auditor').get('/unit/%d/export.xlsx' % unit.id)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:3] == ['说明', '房源', '业主']
    for name in ('合同台账', '户型图现场复查', '验收问题', '钥匙移交', '交楼名单', '客户投诉台账', '赔付台账'):
        assert name in book.sheetnames
    issues = book['验收问题']
    assert [c.value for c in issues[2]].count('卫生间排风扇不工作') == 1 and issues.max_row == 2
    notes = {r[0].value: r[1].value for r in book['说明'].iter_rows()}
    assert '3栋-1-1801' in notes['导出内容']


def test_another_projects_unit_is_not_found(make, projects, users, client_as):
    other_unit = make.unit(projects['other'])
    clerk = client_as('clerk')
    assert clerk.get('/unit/%d' % other_unit.id).status_code == 404
    assert clerk.get('/unit/%d/export.xlsx' % other_unit.id).status_code == 404
    assert clerk.get('/unit/999999').status_code == 404
    found = clerk.get('/unit/?q=%s' % other_unit.room).get_data(as_text=True)
    assert '/unit/%d"' % other_unit.id not in found
    assert client_as('auditor').get('/unit/%d' % other_unit.id).status_code == 200


def test_the_finder_opens_a_unit_by_building_and_room(make, projects, users, client_as):
    unit = make.unit(projects['mine'], building='7栋', room='2302')
    page = client_as('clerk').get('/unit/?q=7栋 2302').get_data(as_text=True)
    assert '/unit/%d"' % unit.id in page


def test_a_unit_with_nothing_recorded_says_so(make, projects, users, client_as):
    unit = make.unit(projects['mine'])
    page = client_as('clerk').get('/unit/%d' % unit.id).get_data(as_text=True)
    assert '未签约，暂无业主' in page and '各台账中尚无本户的记录' in page

