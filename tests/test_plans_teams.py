"""Plans, teams and reports the manuals name (REGISTERS §9): their rules at the edges (no HTTP),
their due items where the manual dates them, and what every register has (scoping, export/import,
change log)."""
import datetime
import io
from datetime import date

import openpyxl
import pytest

from models import due as engine
from models.base import ChangeLog, RuleError
from models.delivery import AcceptanceRound, InspectionIssue
from models.master import Department, Project
from models.plans import (AcceptancePlan, AcceptanceReviewMeeting, HandoverPlan, HandoverRequestCopy,
                          MortgageReport, TeamMember, WorkTeam)
from models.risk import SalesScript
from rules import plans as p

D = datetime.timedelta


# --- rules at their edges --------------------------------------------------------------------------

def test_plan_drafted_by_t_minus_40_approved_by_t_minus_20():
    assert p.plan_draft_due(date(2026, 3, 1)) == date(2026, 1, 20)
    assert p.plan_approve_due(date(2026, 3, 1)) == date(2026, 2, 9)
    assert p.plan_approve_due(date(2024, 3, 20)) == date(2024, 2, 29)      # leap day
    assert p.plan_draft_due(None) is None


def plan(**kw):
    values = dict(contents={n: 'x' for n, _ in p.PLAN_CONTENTS}, drafted_on=date(2026, 1, 10),
                  approved_on=date(2026, 2, 1), approved_by='总经理', countersigned_by='工程管理部、营销管理部',
                  countersigned_on=date(2026, 1, 25), today=date(2026, 2, 1))
    values.update(kw)
    return p.plan_problems(**values)


def test_an_approved_plan_holds_what_the_manual_names():
    assert plan() == []
    missing = plan(contents={n: 'x' for n, _ in p.PLAN_CONTENTS if n != 'venue'})
    assert len(missing) == 1 and '地点' in missing[0][1]
    assert plan(approved_on=None, contents={}) == []          # a draft may be incomplete
    assert [f for f, _ in plan(countersigned_on=None)] == ['countersigned_by']
    assert [f for f, _ in plan(approved_on=date(2026, 1, 24))] == ['approved_on']   # before countersign
    assert [f for f, _ in plan(approved_on=date(2026, 1, 25))] == []               # on the same day
    assert [f for f, _ in plan(approved_by=' ')] == ['approved_by']
    assert [f for f, _ in plan(today=date(2026, 1, 31))] == ['approved_on']      # in the future


def test_before_round_one_is_t_minus_three_months_or_its_start():
    assert p.before_round1_due(date(2026, 5, 31)) == date(2026, 2, 28)        # month end
    assert p.before_round1_due(date(2028, 5, 31)) == date(2028, 2, 29)        # leap year
    assert p.before_round1_due(date(2026, 5, 31), date(2026, 1, 10)) == date(2026, 1, 10)
    assert p.before_round1_due(date(2026, 5, 31), date(2026, 3, 10)) == date(2026, 2, 28)


def test_team_formation_days():
    t = date(2026, 5, 31)
    assert p.team_due_on(p.MOVE_IN, t) == date(2026, 2, 28)
    assert p.team_due_on(p.HANDOVER, t) == date(2026, 4, 21)
    assert p.team_due_on(p.QA, t) == t
    assert p.team_due_on(p.JOINT_REPAIR, t) == date(2026, 8, 31)
    assert p.team_due_on(p.JOINT_REPAIR, date(2026, 11, 30)) == date(2027, 2, 28)
    assert p.team_due_on(p.COORDINATION, t) == date(2026, 2, 28)
    assert p.watch_window(t) == (date(2025, 11, 30), date(2026, 2, 28))


def test_qa_team_needs_projects_or_engineering_marketing_and_property():
    assert p.qa_team_missing(['客户关系部']) == ['项目部/工程部', '营销部', '物业公司']
    assert p.qa_team_missing(['工程管理部', '营销管理部', '物业公司']) == []
    assert p.qa_team_missing(['项目部', '营销部']) == ['物业公司']      # exactly one missing


def test_acceptance_standard_confirmed_by_the_coordination_group_with_special_layouts():
    ok = dict(kind='内部验收标准', participants='物业公司、客户关系部、项目部', confirmed_on=date(2026, 1, 5),
              confirmed_by_kind=p.COORDINATION, covers_special_layouts=True, today=date(2026, 1, 5))
    assert p.acceptance_plan_problems(**ok) == []
    assert [f for f, _ in p.acceptance_plan_problems(**dict(ok, covers_special_layouts=False))] == \
        ['covers_special_layouts']
    assert [f for f, _ in p.acceptance_plan_problems(**dict(ok, confirmed_by_kind=p.QA))] == ['confirmed_by']
    assert [f for f, _ in p.acceptance_plan_problems(**dict(ok, participants='物业公司、项目部'))] == \
        ['participants']
    assert p.acceptance_plan_problems(**dict(ok, confirmed_on=None, confirmed_by_kind=None)) == []


def test_iso_weeks_at_year_ends():
    assert p.week_of(date(2026, 12, 31)) == (2026, 53)
    assert p.week_of(date(2027, 1, 3)) == (2026, 53)
    assert p.week_of(date(2027, 1, 4)) == (2027, 1)
    assert p.parse_week('2026年第53周') == (2026, 53)
    assert p.parse_week('2027-W53') is None          # 2027 has 52 weeks
    assert p.parse_week('2026W5') == (2026, 5) and p.week_label(2026, 5) == '2026-W05'
    assert p.week_last_day(2026, 53) == date(2027, 1, 3)


def test_weekly_mortgage_report_due_on_the_weeks_sunday():
    start, t = date(2026, 11, 2), date(2027, 3, 1)            # a Monday; W45
    assert p.mortgage_report_due(start, t, [], date(2026, 11, 8)) == (date(2026, 11, 8), 1)
    assert p.mortgage_report_due(start, t, [(2026, 45)], date(2026, 11, 8)) is None
    assert p.mortgage_report_due(start, t, [(2026, 45)], date(2026, 11, 9)) == (date(2026, 11, 15), 1)
    assert p.mortgage_report_due(start, t, [(2026, 46)], date(2026, 11, 16)) == (date(2026, 11, 8), 2)
    assert p.mortgage_report_due(start, date(2026, 11, 4), [(2026, 45)], date(2027, 1, 1)) is None
    assert p.mortgage_report_due(None, t, [], date(2026, 11, 8)) is None


def test_a_day_without_review_meeting_and_a_copy_not_made():
    assert p.days_without_meeting([date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 1)],
                                  [date(2026, 3, 1)]) == [date(2026, 3, 2)]
    assert p.copies_missing([date(2026, 3, 1)], ['物业公司', '项目部'], [(date(2026, 3, 1), '项目部')]) == \
        [(date(2026, 3, 1), '物业公司')]


# --- the registers -----------------------------------------------------------------------------------

def team(make, project, kind=p.QA, **kw):
    return WorkTeam.create_logged(None, project=project, kind=kind, name='%s %s' % (project.name, kind), **kw)


def member(make, team_row, department, name=None):
    dept = Department.get_or_none(Department.name == department) or make.department(name=department)
    return TeamMember.create_logged(None, team=team_row, name=name or department + '同事', department=dept)


def test_qa_team_is_formed_only_with_its_three_departments(make, projects):
    row = team(make, projects['mine'])
    for department in ('客户关系部', '项目部', '营销管理部'):
        member(make, row, department)
    row.formed_on = date.today()
    with pytest.raises(RuleError) as refused:
        row.save_logged(None)
    assert '物业公司' in str(refused.value) and '4.3.3' in str(refused.value)
    member(make, row, '物业公司')
    row = WorkTeam.get_by_id(row.id)
    row.formed_on = date.today()
    row.save_logged(None)
    assert WorkTeam.get_by_id(row.id).composition == '人员齐全'


def test_member_takes_its_teams_project_and_is_scoped(make, projects, client_as):
    row = team(make, projects['other'], kind=p.JOINT_REPAIR)
    person = member(make, row, '工程管理部', name='外项目成员')
    assert person.project_id == projects['other'].id
    clerk = client_as('clerk')
    assert '外项目成员' not in clerk.get('/admin/team_member/').get_data(as_text=True)
    assert clerk.get('/admin/team_member/details/?id=%d' % person.id).status_code in (302, 404)
    assert '外项目成员' in client_as('auditor').get('/admin/team_member/').get_data(as_text=True)


def test_handover_plan_due_items_fire_at_their_edges_with_the_manuals_clause(make, projects):
    project = projects['mine']
    t = project.delivery_date
    row = HandoverPlan.create_logged(None, project=project, title='交房方案')
    assert (row.draft_due_on, row.approve_due_on, row.roster_due_on) == (t - D(40), t - D(20), t - D(10))
    flt = engine.DueFilter(project=project.id, register='handover_plan', days=0)
    on_day = {i.what: i for i in engine.collect(t - D(20), flt).items}
    assert on_day['交房工作计划/方案审批确定'].status == engine.DUE_TODAY
    assert '并于房屋交付前20天审批确定' in on_day['交房工作计划/方案审批确定'].clause
    assert on_day['成立交房小组、编制交房工作计划/方案'].status == engine.OVERDUE
    assert engine.collect(t - D(19), flt).by_status[engine.OVERDUE] == 2
    assert engine.collect(t - D(21), flt).total == 1           # the approval not yet due


def test_plan_moves_with_t_and_one_plan_per_project(make, projects):
    project = projects['mine']
    row = HandoverPlan.create_logged(None, project=project, title='交房方案')
    project = Project.get_by_id(project.id)
    project.delivery_start_date = date(2027, 5, 31)
    project.save_logged(None)
    assert HandoverPlan.get_by_id(row.id).approve_due_on == date(2027, 5, 11)
    with pytest.raises(RuleError):
        HandoverPlan.create_logged(None, project=project, title='第二份')


def test_plan_approved_without_contents_is_refused_through_the_form(projects, client_as):
    page = client_as('clerk').post_form('/admin/handover_plan/new/', {
        'project': projects['mine'].id, 'title': '交房方案', 'drafted_on': date.today().isoformat(),
        'approved_on': date.today().isoformat()}).get_data(as_text=True)
    assert '交房时间、地点、人员安排、交房流程、岗位设置、各岗位职责及注意事项' in page
    assert HandoverPlan.select().count() == 0


def test_the_plan_takes_over_the_countdown_nodes(make, projects):
    project = projects['mine']
    flt = engine.DueFilter(project=project.id, register=engine.COUNTDOWN_KEY, days=366)
    before = {i.what.split(' ', 1)[0] for i in engine.collect(project.delivery_date - D(60), flt).items}
    assert {'T-40', 'T-20'} <= before
    HandoverPlan.create_logged(None, project=project, title='交房方案')
    after = [i.what for i in engine.collect(project.delivery_date - D(60), flt).items]
    assert not any(w.startswith(('T-40 ', 'T-20 交房工作计划', 'T-10 制定《交楼名单》')) for w in after)


def test_missing_team_is_due_on_its_day_and_disappears_once_registered(make, projects):
    project = projects['mine']
    t = project.delivery_date
    flt = engine.DueFilter(project=project.id, register='work_teams_missing', days=0)
    items = {i.what: i for i in engine.collect(t, flt).items}
    assert items['成立现场答疑小组'].status == engine.DUE_TODAY and '4.3.3' in items['成立现场答疑小组'].clause
    assert '成立入住工作小组' not in items        # that one is the countdown's node
    assert engine.collect(t - D(1), flt).total == 1       # coordination group (T − 3 months) only
    team(make, project, kind=p.QA)
    assert '成立现场答疑小组' not in [i.what for i in engine.collect(t, flt).items]


def test_move_in_team_watches_owners_with_one_agreed_script(make, projects):
    project = projects['mine']
    row = team(make, project, kind=p.MOVE_IN)
    t = project.delivery_date
    from rules.dates import add_months
    assert row.watch_due_on == add_months(t, -3)
    flt = engine.DueFilter(project=project.id, register='work_team', days=0)
    assert '入住前关注业主动态、统一入住说辞' in [i.what for i in engine.collect(row.watch_due_on, flt).items]
    sales = SalesScript.create_logged(None, project=project, kind='销售说辞', specialty='综合',
                                      topic='车位', content='……')
    row.move_in_script = sales
    with pytest.raises(RuleError):
        row.save_logged(None)
    row = WorkTeam.get_by_id(row.id)
    row.move_in_script = SalesScript.create_logged(None, project=project, kind='交付统一答词',
                                                   specialty='综合', topic='入住', content='……')
    row.watch_started_on = add_months(t, -5)
    row.save_logged(None)
    assert engine.collect(row.watch_due_on, flt).total == 1          # only the formation left


def test_review_meeting_due_on_each_acceptance_day(make, projects):
    project = projects['mine']
    rnd = AcceptanceRound.create_logged(None, project=project, round_no='第一轮')
    day = date.today() - D(3)
    InspectionIssue.create_logged(None, project=project, round=rnd, location='1栋大堂', category='观感色差卫生',
                                  description='墙面污染', found_on=day)
    flt = engine.DueFilter(project=project.id, register='acceptance_review_missing', days=0)
    item = engine.collect(date.today(), flt).items[0]
    assert (item.due_on, item.status, item.owner) == (day, engine.OVERDUE, '项目部')
    meeting = AcceptanceReviewMeeting.create_logged(None, round=rnd, held_on=day, chair='组长')
    assert engine.collect(date.today(), flt).total == 0
    assert (meeting.project_id, meeting.issues_found) == (project.id, 1)
    sent = engine.DueFilter(project=project.id, register='acceptance_review_meeting', days=0)
    assert engine.collect(day, sent).items[0].status == engine.DUE_TODAY       # sent the same day
    assert engine.collect(day - D(1), sent).total == 0


def test_request_copies_due_on_the_handover_day(make, projects):
    project = projects['mine']
    row = team(make, project, kind=p.HANDOVER)
    member(make, row, '客户关系部')
    member(make, row, '物业公司')
    from models.handover import HandoverEntry
    unit = make.unit(project, status='已售')
    day = date.today() - D(1)
    HandoverEntry.insert(project=project.id, unit=unit.id, status='已交付', keys_handed_on=day,
                         eligible=True).execute()
    flt = engine.DueFilter(project=project.id, register='request_copy_missing', days=0)
    items = engine.collect(date.today(), flt).items
    assert [(i.due_on, i.owner) for i in items] == [(day, '物业公司')]      # not customer relations itself
    HandoverRequestCopy.create_logged(None, project=project, handover_on=day,
                                      department=Department.get(Department.name == '物业公司'),
                                      copied_on=day, requests_count=2)
    assert engine.collect(date.today(), flt).total == 0


def test_mortgage_report_counts_contracts_by_status_and_is_due_weekly(make, projects):
    project = projects['mine']
    signed = date.today() - D(20)
    make.contract(project, payment_method='商业贷款', mortgage_bank='建设银行', mortgage_status='已递交',
                  sign_date=signed)
    make.contract(project, payment_method='一次性', sign_date=signed)
    flt = engine.DueFilter(project=project.id, register='mortgage_weekly', days=14)
    first = engine.collect(date.today(), flt).items[0]
    assert first.due_on == p.week_last_day(*p.week_of(signed)) and '每个周' in first.clause
    report = MortgageReport.create_logged(None, project=project, week='%d年第%d周' % p.week_of(signed))
    assert (report.week, report.loan_contracts, report.submitted) == (
        p.week_label(*p.week_of(signed)), 1, 1)
    assert engine.collect(date.today(), flt).items[0].due_on > first.due_on
    with pytest.raises(RuleError):
        MortgageReport.create_logged(None, project=project, week=report.week)


def test_every_new_register_is_scoped_exported_and_imported_unchanged(make, projects, client_as):
    mine = projects['mine']
    row = team(make, mine, kind=p.COORDINATION)
    member(make, row, '工程管理部', name='孙浩')
    AcceptancePlan.create_logged(None, project=mine, kind='内部验收计划', title='验收计划')
    HandoverPlan.create_logged(None, project=mine, title='交房方案', venue='会所')
    MortgageReport.create_logged(None, project=mine, week='2026-W10')
    HandoverRequestCopy.create_logged(None, project=mine, handover_on=date.today(),
                                      department=make.department(name='营销管理部'))
    team(make, projects['other'], kind=p.COORDINATION)
    clerk = client_as('clerk')
    from tests.test_excel_import import count_of, errors_of, upload
    for table in ('work_team', 'team_member', 'acceptance_plan', 'handover_plan', 'mortgage_report',
                  'handover_request_copy'):
        exported = clerk.get('/admin/%s/export/xlsx/' % table).data
        sheet = openpyxl.load_workbook(io.BytesIO(exported)).worksheets[0]
        assert sheet.max_row == 2, table                               # only the clerk's project
        page = upload(clerk, table, exported).get_data(as_text=True)
        assert count_of(page, 'errors') == 0, (table, errors_of(page))
        assert (count_of(page, 'create'), count_of(page, 'update'), count_of(page, 'unchanged')) == \
            (0, 0, 1), table
    assert ChangeLog.select().where(ChangeLog.table_name == 'work_team').count() == 2


def test_search_and_filters_of_a_new_register(make, projects, client_as):
    team(make, projects['mine'], kind=p.COORDINATION, leader='陈立')
    team(make, projects['mine'], kind=p.JOINT_REPAIR, leader='孙浩')
    page = client_as('clerk').get('/admin/work_team/?search=陈立').get_data(as_text=True)
    assert '陈立' in page and '孙浩' not in page


def test_due_page_shows_the_plans_deadline_with_its_clause_and_the_shared_knowledge_item(
        make, projects, client_as):
    project = projects['mine']
    HandoverPlan.create_logged(None, project=project, title='交房方案')
    on = (project.delivery_date - D(20)).isoformat()
    page = client_as('clerk').get('/due?on=%s&project=%d&days=0&register=handover_plan' % (on, project.id))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and '交房工作计划/方案审批确定' in text and '并于房屋交付前20天审批确定' in text
    admin = client_as('admin').get('/due?on=%s&days=366&register=knowledge_refresh' % on)
    assert admin.status_code == 200 and '季度更新' in admin.get_data(as_text=True)
    assert client_as('admin').get('/?on=%s' % on).status_code == 200
