"""Issue 15, items 6–12 and the columns the manuals name: each rule at its edges, where it fires
with the manual's clause, and the pages that show it agreeing (the due list, the dashboard counts)."""
import datetime
from datetime import date

import pytest

from models import due as engine
from models.aftercare import RepairOrder, WarrantyItem
from models.base import RuleError, db
from models.communication import GroupMeeting, SupervisionGroup
from models.delivery import AcceptanceRound
from models.master import Contract, Project
from models.risk import DesignDefect, DrawingReviewPoint, RiskInspection, SalesDocumentReview
from models.schema import SchemaVersion, column_names, init_db, migrator
from playhouse.migrate import migrate
from rules import aftercare as care
from rules import communication as comm
from rules import delivery as delivery_rules
from rules import master as master_rules
from rules import plans as p
from rules import risk as risk_rules

D = datetime.timedelta


def agree(project_id, today, register):
    """The due list and the dashboard's per-project card give the same answer (the card counts
    every register), and the register's own items are part of it; returns the register's counts."""
    flt = engine.DueFilter(project=project_id)
    listed = engine.collect(today, flt).by_status
    counted = engine.counts_by_project(today, flt)[project_id]
    assert listed == counted, (today, listed, counted)
    return engine.collect(today, engine.DueFilter(project=project_id, register=register)).by_status


# --- 6. knowledge bases refreshed every quarter ------------------------------------------------------

def test_a_quarter_without_update_is_due_at_its_end():
    assert p.knowledge_update_due(date(2026, 3, 31), date(2026, 4, 1)) == date(2026, 6, 30)
    assert p.knowledge_update_due(date(2026, 4, 1), date(2026, 4, 1)) == date(2026, 9, 30)
    assert p.knowledge_update_due(date(2026, 12, 31), date(2027, 1, 1)) == date(2027, 3, 31)
    assert p.knowledge_update_due(date(2024, 2, 29), date(2024, 3, 1)) == date(2024, 6, 30)
    assert p.knowledge_update_due(None, date(2026, 11, 30)) == date(2026, 12, 31)


def test_knowledge_refresh_is_due_for_all_project_users_only(app, projects):
    DrawingReviewPoint.create_logged(None, category='精装修', point='门槛石高差', added_quarter='2026Q4')
    saved_on = DrawingReviewPoint.select().first().updated_at.date()
    due_on = p.knowledge_update_due(saved_on, saved_on)
    everyone = engine.DueFilter(register='knowledge_refresh', days=0)
    items = {i.what: i for i in engine.collect(due_on + D(1), everyone).items}
    point = items['客户风险审图评估要点明细 季度更新']
    assert (point.due_on, point.status) == (due_on, engine.OVERDUE) and '每季度' in point.clause
    on_day = {i.what: i.status for i in engine.collect(due_on, everyone).items}
    assert on_day['客户风险审图评估要点明细 季度更新'] == engine.DUE_TODAY
    scoped = engine.DueFilter(project_ids=[projects['mine'].id], register='knowledge_refresh', days=0)
    assert engine.collect(due_on + D(1), scoped).total == 0      # shared: not a project's item
    # the empty defect collection is due at the end of the current quarter
    quarter_end = p.quarter_last_day(*p.quarter_of(due_on + D(1)))

    def defect_due(today):
        return {i.what: i.due_on for i in engine.collect(today, everyone).items}['产品设计缺陷集 季度更新']
    assert defect_due(quarter_end) == quarter_end
    DesignDefect.create_logged(None, category='户型', description='主卧门正对卫生间', added_quarter='2026Q4')
    assert defect_due(quarter_end) == due_on             # saved this quarter: due at the next one's end


# --- 7. contract and attachments two weeks before launch; legal at the first launch -------------------

def test_contract_documents_made_by_launch_minus_14_days():
    launch = date(2026, 3, 1)
    assert risk_rules.contract_draft_due('买卖合同', launch) == date(2026, 2, 15)
    assert risk_rules.contract_draft_due('特殊户型告知单', date(2024, 3, 14)) == date(2024, 2, 29)
    assert risk_rules.contract_draft_due('海报', launch) is None
    assert risk_rules.contract_drafted_late('买卖合同', date(2026, 2, 15), launch) is False
    assert risk_rules.contract_drafted_late('买卖合同', date(2026, 2, 16), launch) is True


def test_undrafted_contract_is_due_with_the_clause_and_agrees_with_the_dashboard(projects):
    project = projects['mine']
    row = SalesDocumentReview.create_logged(None, project=project, doc_kind='买卖合同', title='买卖合同')
    assert row.draft_due_on == project.launch_date - D(14)
    flt = engine.DueFilter(project=project.id, register='sales_document_review', days=0)
    items = {i.what: i for i in engine.collect(row.draft_due_on, flt).items}
    assert items['买卖合同及附件制作'].status == engine.DUE_TODAY and '开盘前两周' in items['买卖合同及附件制作'].clause
    assert agree(project.id, row.draft_due_on + D(1), 'sales_document_review')[engine.OVERDUE] >= 1
    row.drafted_on = row.draft_due_on
    row.save_logged(None)
    assert '买卖合同及附件制作' not in [i.what for i in engine.collect(row.draft_due_on, flt).items]


def test_first_launch_check_needs_legal_a_later_listing_does_not():
    assert risk_rules.first_launch_legal_problems('开盘及上市前检查', None, date(2026, 1, 1), False)
    assert not risk_rules.first_launch_legal_problems('开盘及上市前检查', None, date(2026, 1, 1), True)
    assert not risk_rules.first_launch_legal_problems('开盘及上市前检查', date(2026, 5, 1), date(2026, 4, 20), False)
    assert not risk_rules.first_launch_legal_problems('开盘及上市前检查', None, None, False)


def test_first_launch_check_without_legal_is_refused_through_the_form(projects, client_as):
    launch = projects['mine'].launch_date
    page = client_as('clerk').post_form('/admin/risk_inspection/new/', {
        'project': projects['mine'].id, 'kind': '开盘及上市前检查', 'report_title': '首开',
        'completed_on': (launch - D(8)).isoformat()}).get_data(as_text=True)
    assert '须与法务部共同完成' in page and RiskInspection.select().count() == 0


# --- 8. summary meetings by T − 2 months and T − 30 days -------------------------------------------

def test_summary_meetings_due_dates():
    assert delivery_rules.summary_meeting_due(1, date(2026, 4, 30)) == date(2026, 2, 28)
    assert delivery_rules.summary_meeting_due(1, date(2024, 4, 30)) == date(2024, 2, 29)
    assert delivery_rules.summary_meeting_due(2, date(2026, 3, 1)) == date(2026, 1, 30)
    assert delivery_rules.summary_meeting_due(3, date(2026, 3, 1)) is None


def test_summary_meeting_fires_on_its_day(projects):
    project = projects['mine']
    rnd = AcceptanceRound.create_logged(None, project=project, round_no='第二轮')
    assert rnd.summary_due_on == project.delivery_date - D(30)
    flt = engine.DueFilter(project=project.id, register='acceptance_round', days=0)
    item = next(i for i in engine.collect(rnd.summary_due_on, flt).items if i.what == '内部验收总结会')
    assert item.status == engine.DUE_TODAY and '不晚于入住前30天' in item.clause
    assert '内部验收总结会' not in [i.what for i in engine.collect(rnd.summary_due_on - D(1), flt).items]


# --- 9. repairs reported on handover day: fixed and closed that day ---------------------------------

def test_handover_day_repair_gets_a_same_day_deadline():
    day = date(2026, 3, 1)
    assert care.repair_default_deadline('交付验房', day, None) == day
    assert care.repair_default_deadline('交付验房', day, day + D(2)) == day + D(2)
    assert care.repair_default_deadline('集中维修', day, None) is None


def test_handover_day_repair_is_due_until_closed(make, projects):
    project = projects['mine']
    day = date.today() - D(1)
    row = RepairOrder.create_logged(None, project=project, source='交付验房', reported_on=day,
                                    description='入户门擦伤', category='门窗')
    flt = engine.DueFilter(project=project.id, register='repair_order', days=0)
    assert row.deadline == day
    item = engine.collect(day, flt).items[0]
    assert (item.what, item.status) == ('交付当日报修维修销单', engine.DUE_TODAY) and '4.3.4' in item.clause
    row.completed_on = day
    row.save_logged(None)
    assert engine.collect(day + D(1), flt).items[0].status == engine.OVERDUE     # done, not closed
    row.closed = True
    row.save_logged(None)
    assert engine.collect(day + D(1), flt).total == 0


# --- 10. buyers from elsewhere: one year of social security and tax ---------------------------------

def test_nonlocal_buyer_needs_both_records():
    assert [f for f, _ in master_rules.nonlocal_buyer_problems('外地', False, True)] == ['social_security_proof']
    assert [f for f, _ in master_rules.nonlocal_buyer_problems('外地', True, False)] == ['tax_proof']
    assert master_rules.nonlocal_buyer_problems('外地', True, True) == []
    assert master_rules.nonlocal_buyer_problems('本地', False, False) == []
    assert master_rules.nonlocal_buyer_problems(None, False, False) == []


def test_contract_of_a_nonlocal_buyer_without_records_is_refused(make, projects):
    with pytest.raises(RuleError) as refused:
        make.contract(projects['mine'], household='外地', social_security_proof=True)
    assert '一年纳税证明' in str(refused.value)
    assert make.contract(projects['mine'], household='外地', social_security_proof=True, tax_proof=True).id


# --- 11. service supervision groups: after handover, by region --------------------------------------

def test_service_group_after_handover_of_its_region():
    ok = dict(kind=comm.SERVICE_GROUP, formed_on=date(2026, 3, 1), delivered_on=date(2026, 3, 1),
              region='上海区域', project_region='上海')
    assert comm.service_group_problems(**ok) == []
    assert [f for f, _ in comm.service_group_problems(**dict(ok, formed_on=date(2026, 2, 28)))] == ['formed_on']
    assert [f for f, _ in comm.service_group_problems(**dict(ok, delivered_on=None))] == ['formed_on']
    assert [f for f, _ in comm.service_group_problems(**dict(ok, region='浙江区域'))] == ['region']
    assert [f for f, _ in comm.service_group_problems(**dict(ok, region_taken=True))] == ['region']
    assert comm.service_group_problems(**dict(ok, kind=comm.QUALITY_GROUP, delivered_on=None)) == []


def test_service_group_before_handover_is_refused(projects):
    project = projects['mine']           # delivery in the future
    with pytest.raises(RuleError) as refused:
        SupervisionGroup.create_logged(None, project=project, kind=comm.SERVICE_GROUP, name='浙江区域监督小组',
                                       region='浙江区域', formed_on=date.today(), status='运行中')
    assert '交付后' in str(refused.value)


def test_one_running_service_group_per_region(make, projects):
    first = make.project(region='上海', delivery_start_date=date.today() - D(100))
    second = make.project(region='上海', delivery_start_date=date.today() - D(50))
    SupervisionGroup.create_logged(None, project=first, kind=comm.SERVICE_GROUP, name='上海监督小组',
                                   region='上海区域', formed_on=date.today(), status='运行中')
    with pytest.raises(RuleError):
        SupervisionGroup.create_logged(None, project=second, kind=comm.SERVICE_GROUP, name='上海二组',
                                       region='上海', formed_on=date.today(), status='运行中')


# --- minutes' recipients ------------------------------------------------------------------------------

def test_minutes_sent_go_to_whom_the_manual_names(projects):
    group = SupervisionGroup.create_logged(None, project=projects['mine'], kind=comm.QUALITY_GROUP,
                                           name='监理小组', formed_on=date.today() - D(30), status='运行中')
    meeting = GroupMeeting.create_logged(None, group=group, phase='基础', held_on=date.today() - D(2),
                                         chair='项目总经理', minutes_sent_on=date.today())
    assert '总工程师办公室' in meeting.minutes_sent_to and '客户服务部' in meeting.minutes_sent_to


# --- per-region heating and cooling seasons -------------------------------------------------------------

def test_month_days_of_a_season():
    assert care.month_day_problem('11-15') == '' and care.month_day_problem('02-29') == ''
    assert care.month_day_problem('02-30') and care.month_day_problem('13-01') and care.month_day_problem('1115')
    heating, cooling = care.project_seasons('11-01', '04-01', None, None)
    assert (heating.starts, heating.ends, cooling) == ('11-01', '04-01', care.COOLING_SEASON)


def test_a_projects_heating_season_sets_the_warranty_expiry(make, projects):
    project = projects['mine']
    item = WarrantyItem.create_logged(None, project=project, building='全部楼栋', kind=care.KIND_HEATING,
                                      item='地暖', starts_on=date(2026, 5, 10))
    assert item.expires_on == date(2028, 3, 15)            # the default season (11-15 … 03-15)
    project = Project.get_by_id(project.id)
    project.heating_season_starts, project.heating_season_ends = '11-01', '04-01'
    project.save_logged(None)
    assert WarrantyItem.get_by_id(item.id).expires_on == date(2028, 4, 1)     # follows the project
    project.heating_season_ends = '02-30'
    with pytest.raises(RuleError):
        project.save_logged(None)


def test_migration_adds_the_columns_to_an_older_database(app, make, projects):
    contract = make.contract(projects['mine'])
    # (project itself is left out: SQLite's migrator rebuilds a table every register points at)
    dropped = (('contract', 'household'), ('group_meeting', 'minutes_sent_to'),
               ('acceptance_round', 'summary_due_on'), ('sales_document_review', 'draft_due_on'))
    from models.base import is_sqlite
    if is_sqlite():
        db.execute_sql('PRAGMA foreign_keys=0')     # SQLite rebuilds a table other rows point at
    for table, column in dropped:
        for index in db.get_indexes(table):          # the list's sort indexes name the column
            if column in index.columns:
                db.execute_sql('DROP INDEX "%s"' % index.name)
        migrate(migrator().drop_column(table, column))
    if is_sqlite():
        db.execute_sql('PRAGMA foreign_keys=1')
    SchemaVersion.delete().where(SchemaVersion.version == 4).execute()
    init_db()
    for table, column in dropped:
        assert column in column_names(table), (table, column)
    assert Contract.get_by_id(contract.id).household is None
    assert 4 in [v.version for v in SchemaVersion.select()]


def test_due_list_and_dashboard_agree_on_every_new_deadline(make, projects):
    """One answer on every page: the due list's counts and the dashboard card's, per register."""
    from models.plans import HandoverPlan, MortgageReport
    project = projects['mine']
    HandoverPlan.create_logged(None, project=project, title='交房方案')
    MortgageReport.create_logged(None, project=project, week='2026-W01')
    make.contract(project, payment_method='公积金', mortgage_bank='公积金中心', mortgage_status='资料收集',
                  sign_date=date.today() - D(30))
    AcceptanceRound.create_logged(None, project=project, round_no='第一轮')
    seen = set()
    for today in (project.delivery_date - D(40), project.delivery_date, date.today()):
        agree(project.id, today, None)
        seen |= {i.register for i in engine.collect(today, engine.DueFilter(project=project.id)).items}
    assert {'handover_plan', 'mortgage_report', 'acceptance_round', 'work_teams_missing',
            'mortgage_weekly'} <= seen
