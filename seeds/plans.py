"""Demo data of the plans, teams and reports (REGISTERS.md §9).

The project in handover (HZ-YQ) has its four teams before move-in and their members (the on-site
Q&A team complete), its handover plan drafted by T−40 and approved by T−20, the acceptance plan and
standard confirmed by the coordination group, a review meeting after each acceptance day but the
last two (due on /due), the departments' copies of each handover day's owner requests but today's;
the joint repair team is still to come (T + 3 months). Weekly mortgage reports run from the first
loan of each selling project to its handover, the current week's not sent yet.
"""
import datetime

from models.base import now
from models.delivery import AcceptanceRound, InspectionIssue
from models.handover import HandoverEntry
from models.master import Contract
from models.plans import (AcceptancePlan, AcceptanceReviewMeeting, HandoverPlan, HandoverRequestCopy,
                          MortgageReport, TeamMember, WorkTeam)
from models.risk import SalesScript
from rules import master as master_rules
from rules import plans as rules
from rules.dates import add_months
from seeds import insert_derived
from seeds.aftercare import author

D = datetime.timedelta

TEAMS = (
    # kind, name, leader, formed (months, days) from T, members (name, department, role)
    (rules.COORDINATION, '内部验收协调组', '分管副总 陈立', (-7, 0),
     (('陈立', '客户关系部', '组长'), ('孙浩', '工程管理部', '组员'), ('吴建军', '项目部', '组员'),
      ('朱敏', '物业公司', '组员'))),
    (rules.MOVE_IN, '入住工作小组', '客服经理 王静', (-3, -5),
     (('王静', '客户关系部', '组长'), ('周涛', '营销管理部', '组员'), ('朱敏', '物业公司', '组员'))),
    (rules.HANDOVER, '交房小组', '客服经理 王静', (0, -42),
     (('王静', '客户关系部', '组长'), ('吴建军', '项目部', '组员'), ('周涛', '营销管理部', '组员'),
      ('朱敏', '物业公司', '组员'))),
    (rules.QA, '交付现场答疑小组', '客服经理 王静', (0, -2),
     (('李娜', '客户关系部', '组长'), ('孙浩', '工程管理部', '组员'), ('周涛', '营销管理部', '组员'),
      ('朱敏', '物业公司', '组员'))),
)


def seed(ctx):
    by_code = {p.code: p for p in ctx.projects}
    handing_over = by_code.get('HZ-YQ')
    if handing_over is not None and handing_over.delivery_date is not None:
        _teams_and_plans(ctx, handing_over)
        _request_copies(ctx, handing_over)
    for project in ctx.projects:
        _review_meetings(ctx, project)
        if project.stage in ('在售', '交付准备'):
            _mortgage_reports(ctx, project)


def _teams_and_plans(ctx, project):
    keeper, today, t = author(ctx, project), ctx.today, project.delivery_date
    teams = {}
    script = (SalesScript.live().where((SalesScript.project == project.id) &
                                       (SalesScript.kind == '交付统一答词')).first())
    for kind, name, leader, (months, days), members in TEAMS:
        formed_on = min(today, add_months(t, months) + D(days))
        team = WorkTeam.create_logged(keeper, project=project, kind=kind, name='%s%s' % (project.name, name),
                                      leader=leader)
        for person, department, role in members:
            TeamMember.create_logged(keeper, team=team, name=person, department=ctx.departments[department],
                                     role=role, phone='1390571%04d' % (len(person) * 1000 + len(teams)))
        team.formed_on = formed_on
        if kind == rules.MOVE_IN:
            team.watch_started_on = add_months(t, -5)
            team.move_in_script = script
        team.save_logged(keeper)
        teams[kind] = team
    HandoverPlan.create_logged(
        keeper, project=project, title='%s交房工作计划/方案' % project.name, team=teams[rules.HANDOVER],
        handover_dates='%s 至 %s（集中交付15天）' % (t.isoformat(), (t + D(14)).isoformat()),
        venue='小区会所一层交付大厅', staffing='客户关系部6人、物业公司12人、项目部4人、营销管理部3人、快修队8人',
        handover_process='签到 → 资料审核 → 缴费 → 陪同验房 → 问题登记 → 钥匙交接 → 礼品领取',
        posts='签到岗、资料审核岗、收费岗、陪同验房岗、答疑岗、快修岗、安全保卫岗',
        duties='各岗位按《交付岗位职责》执行；验房问题当日登记、当日派单；重大投诉即时上报现场负责人。',
        drafted_on=t - D(41), countersigned_by='工程管理部、营销管理部、项目部、物业公司、财务部、法务部',
        countersigned_on=t - D(25), approved_by='总经理 周海', approved_on=t - D(21),
        roster_sent_on=t - D(10))
    coordination = teams[rules.COORDINATION]
    for kind, title, special in (('内部验收计划', '三轮内部模拟验收计划', False),
                                 ('内部验收标准', '内部验收标准（含非标层、首层、边户）', True)):
        AcceptancePlan.create_logged(
            keeper, project=project, kind=kind, title='%s%s' % (project.name, title),
            drafted_on=add_months(t, -6), confirmed_by=coordination,
            confirmed_on=add_months(t, -6) + D(10), covers_special_layouts=special)


def _review_meetings(ctx, project):
    """A review meeting after each acceptance day, the last two days not yet recorded."""
    days = (InspectionIssue.live(InspectionIssue.round, InspectionIssue.found_on)
            .where((InspectionIssue.project == project.id) & InspectionIssue.round.is_null(False))
            .group_by(InspectionIssue.round, InspectionIssue.found_on)
            .order_by(InspectionIssue.found_on).tuples())
    days = list(days)[:-2]
    leaders = {r.id: r.leader for r in AcceptanceRound.live().where(AcceptanceRound.project == project.id)}
    stamp = now()
    audit = dict(created_at=stamp, updated_at=stamp, version=1)
    rows = [AcceptanceReviewMeeting(project=project.id, round=round_id, held_on=day, chair=leaders.get(round_id),
                                    attendees='验收小组成员、监理单位、总包单位',
                                    summary='当日验收问题已汇总，整改时限已与总包确认。',
                                    issues_sent_on=day, sent_to='监理单位、总包单位')
            for round_id, day in days]
    insert_derived(AcceptanceReviewMeeting, rows, audit)


def _request_copies(ctx, project):
    """Each department of the on-site teams copies each handover day's requests, but today's."""
    days = sorted({d for (d,) in HandoverEntry.live(HandoverEntry.keys_handed_on)
                   .where((HandoverEntry.project == project.id) & HandoverEntry.keys_handed_on.is_null(False))
                   .tuples() if d < ctx.today})
    stamp = now()
    audit = dict(created_at=stamp, updated_at=stamp, version=1)
    rows = []
    for n, day in enumerate(days):
        for m, department in enumerate(('工程管理部', '项目部', '营销管理部', '物业公司')):
            rows.append(HandoverRequestCopy(
                project=project.id, handover_on=day, department=ctx.departments[department].id,
                requests_count=3 + (n + m) % 5, copied_on=day,
                content='业主集中反映：入户门密封条脱落、卫生间地漏返味、车位划线不清。',
                response='入户门密封条、地漏由总包三日内统一更换；车位划线由物业本周内重划。'))
    insert_derived(HandoverRequestCopy, rows, audit)


def _mortgage_reports(ctx, project):
    """One report a week from the first loan signed to handover; this week's not sent yet."""
    start_on = (Contract.live(Contract.sign_date)
                .where((Contract.project == project.id) & (Contract.cancelled == False) &  # noqa: E712
                       Contract.payment_method.in_(master_rules.LOAN_METHODS))
                .order_by(Contract.sign_date).first())
    if start_on is None:
        return
    last = min(ctx.today, project.delivery_date) if project.delivery_date else ctx.today
    this_week = rules.week_of(ctx.today)
    stamp = now()
    audit = dict(created_at=stamp, updated_at=stamp, version=1)
    rows, monday = [], rules.week_first_day(*rules.week_of(start_on.sign_date))
    while monday <= last:
        week = rules.week_of(monday)
        if week != this_week:
            rows.append(MortgageReport(project=project.id, week=rules.week_label(*week),
                                       report_on=rules.week_last_day(*week) - D(2), sent_to='营销总经理'))
        monday += D(days=7)
    insert_derived(MortgageReport, rows, audit)
