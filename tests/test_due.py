"""待办与预警: the deadline engine at fixed dates, its scoping, the /due page, its Excel and the
`flask due` command. Every call passes the date it is computed at: nothing here reads the clock
for the engine's answer."""
import datetime
import io

import openpyxl

from models.delivery import DeliveryMilestone, InspectionIssue
from rules import delivery as delivery_rules
from models import due as engine

D = datetime.date
FOUND_ON = D(2026, 11, 1)
ISSUE_CLAUSE = '将每日需整改问题汇总反馈给监理和总包单位'


def issue(project, deadline, description='卫生间地漏反坡', **values):
    data = dict(project=project, location='1栋大堂', category='交楼标准', description=description,
                found_on=FOUND_ON, deadline=deadline)
    data.update(values)
    return InspectionIssue.create_logged(None, **data)


def listed(report):
    return {(item.register, item.row_id): item for item in report.items}


def issues_only(project_ids=None, **kw):
    return engine.DueFilter(project_ids=project_ids, register='inspection_issue', **kw)


# --------------------------------------------------------------------------- pure rules

def test_due_status_turns_overdue_the_day_after_the_due_date():
    assert engine.due_status(D(2026, 12, 1), D(2026, 11, 30)) == engine.DUE_SOON
    assert engine.due_status(D(2026, 12, 1), D(2026, 12, 1)) == engine.DUE_TODAY
    assert engine.due_status(D(2026, 12, 1), D(2026, 12, 2)) == engine.OVERDUE
    # month end and leap day
    assert engine.horizon(D(2028, 2, 28), 1) == D(2028, 2, 29)
    assert engine.horizon(D(2027, 2, 28), 1) == D(2027, 3, 1)


def test_quality_group_falls_due_on_the_signing_that_passes_thirty_percent():
    signed = [D(2026, 1, d) for d in (5, 1, 3, 9)]
    # 10 units: exactly 3 sold is 30% — not yet; the 4th signing (by date) passes 30%.
    assert engine.threshold_crossed_on(signed[:3], 10) is None
    assert engine.threshold_crossed_on(signed, 10) == D(2026, 1, 9)
    assert engine.threshold_crossed_on(signed, 0) is None
    # 7 units: 30% is 2.1, so the 3rd signing passes it.
    assert engine.threshold_crossed_on(signed, 7) == D(2026, 1, 5)


# --------------------------------------------------------------------------- register deadlines

def test_overdue_and_due_soon_punch_list_issues_at_a_fixed_date(projects):
    mine = projects['mine']
    late = issue(mine, D(2026, 12, 1), '入户门变形')
    soon = issue(mine, D(2026, 12, 9), '窗框渗水')
    beyond = issue(mine, D(2026, 12, 20), '墙面空鼓')
    from models.master import Contractor
    settled = issue(mine, D(2026, 11, 20), '踢脚线缺损', status='已关闭', verified_by='客服甲',
                    verified_on=D(2026, 11, 15), rectified_on=D(2026, 11, 10),
                    contractor=Contractor.create_logged(None, name='宏远建设', kind='总包'))
    binned = issue(mine, D(2026, 11, 28), '已删除的问题')
    binned.delete_logged(None)

    report = engine.collect(D(2026, 12, 5), issues_only(days=14))
    found = listed(report)
    assert set(found) == {('inspection_issue', late.id), ('inspection_issue', soon.id)}
    assert found[('inspection_issue', late.id)].status == '已逾期'
    assert found[('inspection_issue', late.id)].days_left == -4
    assert found[('inspection_issue', soon.id)].status == '即将到期'
    assert report.by_status == {'已逾期': 1, '今日到期': 0, '即将到期': 1}
    assert [i.row_id for i in report.items] == [late.id, soon.id]      # most overdue first
    item = found[('inspection_issue', late.id)]
    assert ISSUE_CLAUSE in item.clause and item.manual.startswith('手册001')
    assert item.owner == '项目部'
    assert item.link == '/admin/inspection_issue/details/?id=%d' % late.id
    assert '入户门变形' in item.detail
    assert ('inspection_issue', beyond.id) not in found
    assert ('inspection_issue', settled.id) not in found

    # Four days later the second issue is due today, and with 21 days the third one shows.
    later = engine.collect(D(2026, 12, 9), issues_only(days=0))
    assert {i.row_id: i.status for i in later.items} == {late.id: '已逾期', soon.id: '今日到期'}
    wide = engine.collect(D(2026, 12, 5), issues_only(days=15))
    assert beyond.id in {i.row_id for i in wide.items}


def test_status_and_department_filters_narrow_in_the_database(projects):
    mine = projects['mine']
    late = issue(mine, D(2026, 12, 1))
    issue(mine, D(2026, 12, 9))
    overdue = engine.collect(D(2026, 12, 5), issues_only(status='已逾期'))
    assert [i.row_id for i in overdue.items] == [late.id] and overdue.total == 1
    assert engine.collect(D(2026, 12, 5), issues_only(department='项目部')).total == 2
    assert engine.collect(D(2026, 12, 5), issues_only(department='客户关系部')).total == 0


def test_a_done_milestone_leaves_the_list_and_an_open_one_stays(projects):
    mine = projects['mine']
    spec = delivery_rules.COUNTDOWN_BY_CODE['T-10a']
    roster = DeliveryMilestone.create_logged(
        None, project=mine, code=spec.code, name=spec.name, offset_days=-10,
        due_on=D(2026, 12, 3), owner_department='客户关系部', clause=spec.clause)
    DeliveryMilestone.create_logged(
        None, project=mine, code='T-13', name='寄发准备', offset_days=-13, due_on=D(2026, 11, 30),
        owner_department='客户关系部', done_on=D(2026, 11, 20))
    report = engine.collect(D(2026, 12, 5), engine.DueFilter(register='delivery_milestone'))
    assert [(i.row_id, i.status, i.owner) for i in report.items] == [(roster.id, '已逾期', '客户关系部')]
    assert report.items[0].manual.startswith('手册004')


def test_a_project_without_a_plan_still_owes_its_countdown(make):
    """Roster and notices at T−10, calls at T−3, +3 and +15: due whether or not a plan exists."""
    project = make.project(name='无计划项目', code='NOPLAN', contract_delivery_date=D(2027, 3, 1),
                           stage='交付准备')
    flt = engine.DueFilter(project_ids=[project.id], register=engine.COUNTDOWN_KEY, days=7)
    report = engine.collect(D(2027, 2, 15), flt)
    by_what = {i.what: i for i in report.items}
    roster = next(i for w, i in by_what.items() if '交楼名单' in w)
    assert roster.due_on == D(2027, 2, 19) and roster.status == '即将到期'
    assert roster.clause == delivery_rules.COUNTDOWN_BY_CODE['T-10a'].clause
    keys = next(i for w, i in by_what.items() if '施工钥匙' in w)
    assert keys.due_on == D(2027, 2, 14) and keys.status == '已逾期'
    assert not any('销售钥匙' in w for w in by_what)            # T−4 is beyond seven days
    calls = engine.collect(D(2027, 2, 26), flt)
    assert any('电话通知' in i.what and i.status == '今日到期' for i in calls.items)
    # +3 and +15 count from the handover's completion: pending (not listed) until it is known.
    plus15 = engine.DueFilter(project_ids=[project.id], register=engine.COUNTDOWN_KEY, days=0)
    assert not any('总结报告' in i.what for i in engine.collect(D(2027, 6, 1), plus15).items)
    project.handover_completed_on = D(2027, 3, 5)
    project.save_logged(None)
    reports = engine.collect(D(2027, 3, 20), engine.DueFilter(
        project_ids=[project.id], register=engine.COUNTDOWN_KEY, status='今日到期'))
    assert [i.what for i in reports.items] == ['交付完成+15日 房屋交付总结报告（附交房汇总统计表）']
    assert reports.items[0].manual == '手册001 房屋交付后续工作'

    # Once the plan has the T−10 row, the row carries the deadline and the source steps back.
    DeliveryMilestone.generate_plan(project, None)
    again = engine.collect(D(2027, 2, 15), flt)
    assert again.items == []
    rows = engine.collect(D(2027, 2, 15), engine.DueFilter(project_ids=[project.id],
                                                           register='delivery_milestone', days=7))
    assert any(i.what == '交付计划节点' and i.due_on == D(2027, 2, 19) for i in rows.items)


def test_quality_group_is_due_past_thirty_percent_until_it_is_formed(make):
    from models.communication import SupervisionGroup
    project = make.project(name='三成项目', code='THIRTY')
    units = [make.unit(project) for _ in range(10)]
    for n, unit in enumerate(units[:4]):
        make.contract(project, unit=unit, sign_date=D(2026, 3, 1 + n))
    flt = engine.DueFilter(project_ids=[project.id], register=engine.QUALITY_GROUP_KEY)
    report = engine.collect(D(2026, 6, 1), flt)
    assert [(i.due_on, i.status) for i in report.items] == [(D(2026, 3, 4), '已逾期')]
    assert '百分之三十' in report.items[0].clause
    SupervisionGroup.create_logged(None, project=project, kind='业主工程质量监理小组',
                                   name='三成项目业主工程质量监理小组', formed_on=D(2026, 3, 20),
                                   status='运行中')
    assert engine.collect(D(2026, 6, 1), flt).items == []


def test_the_page_limit_keeps_the_most_urgent_and_counts_everything(projects):
    mine = projects['mine']
    made = [issue(mine, D(2026, 12, 1) + datetime.timedelta(days=n % 9), '问题%d' % n)
            for n in range(12)]
    report = engine.collect(D(2026, 12, 20), issues_only(), limit=5)
    assert report.total == 12 and report.truncated and len(report.items) == 5
    expected = sorted(made, key=lambda r: (r.deadline, r.id))[:5]
    assert [i.row_id for i in report.items] == [r.id for r in expected]


# --------------------------------------------------------------------------- scoping and pages

def test_a_clerks_due_list_never_shows_another_project(projects, client_as):
    issue(projects['mine'], D(2026, 12, 1), '本项目的逾期问题')
    issue(projects['other'], D(2026, 12, 1), '别的项目的逾期问题')
    clerk = client_as('clerk')
    page = clerk.get('/due?on=2026-12-05').get_data(as_text=True)
    assert '本项目的逾期问题' in page and '别的项目的逾期问题' not in page
    assert '滨湖印象' not in page.split('id="due-table"', 1)[1]
    assert clerk.get('/due?project=%d' % projects['other'].id).status_code == 404
    export = clerk.get('/due/export.xlsx?on=2026-12-05')
    sheet = openpyxl.load_workbook(io.BytesIO(export.data))['待办与预警']
    texts = [str(c.value) for row in sheet.iter_rows() for c in row if c.value]
    assert any('本项目的逾期问题' in t for t in texts)
    assert not any('别的项目' in t or '滨湖印象' in t for t in texts)
    auditor = client_as('auditor').get('/due?on=2026-12-05').get_data(as_text=True)
    assert '别的项目的逾期问题' in auditor


def test_due_page_quotes_the_clause_and_links_the_row(projects, client_as):
    row = issue(projects['mine'], D(2026, 12, 1), '阳台栏杆松动')
    page = client_as('clerk').get('/due?on=2026-12-05&register=inspection_issue').get_data(as_text=True)
    assert '/admin/inspection_issue/details/?id=%d' % row.id in page
    assert ISSUE_CLAUSE in page and '逾期 4 天' in page


def test_bad_filter_values_get_a_chinese_message_not_an_error(projects, client_as):
    clerk = client_as('clerk')
    page = clerk.get('/due?on=2026-13-40&days=abc&status=whatever')
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '日期「2026-13-40」格式不正确' in text and '天数应为' in text and '未知的状态' in text


def test_excel_export_keeps_text_as_text_and_explains_itself(projects, client_as):
    issue(projects['mine'], D(2026, 12, 1), '=HYPERLINK("http://x","点我")')
    data = client_as('supervisor').get('/due/export.xlsx?on=2026-12-05&register=inspection_issue').data
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ['待办与预警', '说明']
    sheet = book['待办与预警']
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2])}
    assert row['内容'].data_type == 's' and row['内容'].value.startswith('=HYPERLINK')
    assert row['状态'].value == '已逾期' and row['剩余天数'].value == -4
    assert row['到期日'].value.date() == D(2026, 12, 1)
    notes = {r[0].value: r[1].value for r in book['说明'].iter_rows()}
    assert '基准日 2026-12-05' in notes['筛选条件'] and notes['行数'] == '1'


# --------------------------------------------------------------------------- the command

def test_the_command_prints_the_list_for_a_given_date(app, projects):
    late = issue(projects['mine'], D(2026, 12, 1), '入户门变形')
    issue(projects['other'], D(2026, 12, 9), '窗框渗水')
    runner = app.test_cli_runner()
    result = runner.invoke(args=['due', '--on', '2026-12-05', '--days', '14', '--project', 'MINE',
                                 '--project', 'OTHER'])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith('待办与预警 基准日 2026-12-05；14 天内到期及已逾期')
    issue_lines = [l for l in lines if '验收问题' in l]
    assert issue_lines[0].split('\t')[:5] == ['已逾期', '-4天', '2026-12-01', '云栖雅苑', '-']
    assert issue_lines[0].endswith('/admin/inspection_issue/details/?id=%d' % late.id)
    assert issue_lines[1].split('\t')[:4] == ['即将到期', '+4天', '2026-12-09', '滨湖印象']
    only_mine = runner.invoke(args=['due', '--on', '2026-12-05', '--project', 'MINE'])
    assert '滨湖印象' not in only_mine.output


def test_the_command_writes_excel_and_refuses_bad_input(app, projects, tmp_path):
    issue(projects['mine'], D(2026, 12, 1), '入户门变形')
    runner = app.test_cli_runner()
    out = tmp_path / 'due.xlsx'
    result = runner.invoke(args=['due', '--on', '2026-12-05', '--xlsx', str(out)])
    assert result.exit_code == 0 and '已写入' in result.output
    sheet = openpyxl.load_workbook(out)['待办与预警']
    assert any('入户门变形' in str(c.value) for row in sheet.iter_rows() for c in row)
    bad = runner.invoke(args=['due', '--on', '2026/12/05'])
    assert bad.exit_code != 0 and '日期应为' in bad.output
    unknown = runner.invoke(args=['due', '--on', '2026-12-05', '--project', 'NOPE'])
    assert unknown.exit_code != 0 and 'NOPE' in unknown.output


def test_annual_callback_falls_due_a_year_after_handover_above_half_occupancy(make):
    from models.aftercare import CallbackSurvey
    project = make.project(name='回访到期项目', code='CALLBACK', contract_delivery_date=D(2025, 5, 24),
                           delivery_start_date=D(2025, 5, 24), stage='已交付')
    for n in range(10):
        make.unit(project, status='已交付' if n < 5 else '已售')
    flt = engine.DueFilter(project_ids=[project.id], register=engine.CALLBACK_KEY)
    assert engine.collect(D(2026, 6, 1), flt).items == []          # exactly half is not enough
    make.unit(project, status='已交付')                              # 6 of 11 delivered
    report = engine.collect(D(2026, 6, 1), flt)
    assert [(i.due_on, i.status) for i in report.items] == [(D(2026, 5, 24), '已逾期')]
    assert '入住率超过50%' in report.items[0].clause
    # An invalid survey (exactly 25% returned) does not count; a valid one moves the next round.
    CallbackSurvey.create_logged(None, project=project, kind='年度回访', period='2026年度',
                                 surveyor='第三方', issued=100, returned=25, report_on=D(2026, 6, 10))
    assert [i.due_on for i in engine.collect(D(2026, 7, 1), flt).items] == [D(2026, 5, 24)]
    CallbackSurvey.create_logged(None, project=project, kind='年度回访', period='2026年度补充',
                                 surveyor='第三方', issued=100, returned=26, report_on=D(2026, 7, 1))
    assert engine.collect(D(2026, 7, 2), flt).items == []
    assert engine.collect(D(2027, 7, 1), flt).items == []           # “至少一次”: not yearly


def test_each_construction_phase_without_a_meeting_is_due_by_delivery(make):
    from models.communication import GroupMeeting, SupervisionGroup
    project = make.project(name='会议项目', code='PHASES', contract_delivery_date=D(2027, 6, 30))
    group = SupervisionGroup.create_logged(None, project=project, kind='业主工程质量监理小组',
                                           name='会议项目监理小组', formed_on=D(2026, 3, 1),
                                           status='运行中')
    flt = engine.DueFilter(project_ids=[project.id], register=engine.PHASE_KEY, days=400)
    report = engine.collect(D(2026, 7, 1), flt)
    assert [i.what for i in report.items] == ['基础阶段小组会议', '主体结构阶段小组会议',
                                              '装饰装修阶段小组会议', '安装阶段小组会议']
    assert all(i.due_on == D(2027, 6, 30) and i.owner == '工程管理部' for i in report.items)
    GroupMeeting.create_logged(None, project=project, group=group, phase='基础',
                               held_on=D(2026, 4, 1), chair='项目总经理')
    after = engine.collect(D(2026, 7, 1), flt)
    assert '基础阶段小组会议' not in [i.what for i in after.items] and len(after.items) == 3


def test_open_rows_are_counted_from_the_deadlines_partial_index(projects):
    """The open-row condition is written exactly as the index's WHERE, so SQLite uses it."""
    import pytest
    from peewee import fn
    from models.base import db, is_sqlite
    if not is_sqlite():
        pytest.skip('query plans are SQLite-specific')
    deadline = InspectionIssue._meta.deadlines[0]
    query = (InspectionIssue.select(InspectionIssue.project, fn.COUNT(InspectionIssue.id))
             .where(engine.open_condition(InspectionIssue, deadline) &
                    InspectionIssue.project.in_([projects['mine'].id]))
             .group_by(InspectionIssue.project))
    sql, params = query.sql()
    plan = ' '.join(str(row) for row in db.execute_sql('EXPLAIN QUERY PLAN ' + sql, params))
    assert 'due_ix_inspection_issue_' in plan
    built = {(table, index.name) for table, _ in engine.due_indexes()
             for index in db.get_indexes(table)}
    assert set(engine.due_indexes()) <= built          # init-db built one per declared deadline
