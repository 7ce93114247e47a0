"""Plans, teams and reports the manuals name (REGISTERS.md §9): the handover plan, the internal
acceptance plan and standard, the working teams and their members, the weekly mortgage report —
and the project-level obligations that go with them (the daily review meeting of an acceptance day,
the owner requests each department copies to customer relations on a handover day, the quarterly
refresh of the knowledge bases). Plain functions of plain values, tested at their edges.

Manuals quoted: 000 客服工作手册-风险控制模块, 001 项目交付管理作业指引, 002 房地产客服部工作计划,
004 交付工作指引 (seeds/ of the shared folder).
"""
import datetime
import re

from rules.dates import add_months

DAY = datetime.timedelta(days=1)

# --------------------------------------------------------------------------- handover plan

PLAN_DRAFT_DAYS = 40
PLAN_APPROVE_DAYS = 20
PLAN_DRAFT_CLAUSE = '手册001：“客户关系部负责于交房前40天组织交房小组,结合本项目特点制定交房工作计划/方案”'
PLAN_APPROVE_CLAUSE = '手册001：“并于房屋交付前20天审批确定”'
PLAN_CONTENT_CLAUSE = ('手册001：“交房工作计划/方案应当明确并包括交房时间、地点、人员安排、交房流程、岗位设置、'
                       '各岗位职责及注意事项等等。”')
PLAN_SIGN_CLAUSE = ('手册001：“经交房小组评审确定的交房工作计划/方案须由各相关部门会签后,经总经理办公会评审(根据需要),'
                    '总经理批准。”')
# (field, label): what the manual says the plan must contain.
PLAN_CONTENTS = (('handover_dates', '交房时间'), ('venue', '地点'), ('staffing', '人员安排'),
                 ('handover_process', '交房流程'), ('posts', '岗位设置'), ('duties', '各岗位职责及注意事项'))


def plan_draft_due(delivery_on):
    """The handover team formed and the plan drafted by T − 40 days (PLAN_DRAFT_CLAUSE)."""
    return None if delivery_on is None else delivery_on - PLAN_DRAFT_DAYS * DAY


def plan_approve_due(delivery_on):
    """The plan approved by T − 20 days (PLAN_APPROVE_CLAUSE)."""
    return None if delivery_on is None else delivery_on - PLAN_APPROVE_DAYS * DAY


def _filled(value):
    return value is not None and str(value).strip() != ''


def plan_missing_contents(contents):
    """Labels of what the plan must contain and does not (PLAN_CONTENTS), from {field: value}."""
    return [label for name, label in PLAN_CONTENTS if not _filled(contents.get(name))]


def plan_problems(*, contents, drafted_on, approved_on, approved_by, countersigned_by,
                  countersigned_on, today):
    """(field, message): an approved plan holds everything the manual names, was countersigned by
    the departments first and approved by the general manager; no date in the future."""
    found = []
    for name, value in (('drafted_on', drafted_on), ('countersigned_on', countersigned_on),
                        ('approved_on', approved_on)):
        if value is not None and today is not None and value > today:
            found.append((name, '日期不能晚于今天（%s）。' % today.isoformat()))
    if countersigned_on and drafted_on and countersigned_on < drafted_on:
        found.append(('countersigned_on', '会签日期不能早于编制日期。'))
    if approved_on is None:
        return found
    if drafted_on is None:
        found.append(('drafted_on', '审批前须先填写编制日期。'))
    missing = plan_missing_contents(contents)
    if missing:
        found.append((None, '方案缺少%s，不能审批（%s）' % ('、'.join(missing), PLAN_CONTENT_CLAUSE)))
    if not _filled(countersigned_by) or countersigned_on is None:
        found.append(('countersigned_by', '审批前须由各相关部门会签，请填写会签部门和会签日期（%s）'
                      % PLAN_SIGN_CLAUSE))
    elif approved_on < countersigned_on:
        found.append(('approved_on', '审批日期不能早于会签日期（%s）' % PLAN_SIGN_CLAUSE))
    if not _filled(approved_by):
        found.append(('approved_by', '请填写批准人（总经理）（%s）' % PLAN_SIGN_CLAUSE))
    return found


# --------------------------------------------------------------------------- acceptance plan

ACCEPTANCE_PLAN_KINDS = ('内部验收计划', '内部验收标准')
ACCEPTANCE_PLAN_CLAUSE = ('手册001：“内部验收协调组负责审核确认内部验收计划”；“工程管理部组织物业公司、客户关系部、'
                          '项目部编制项目内部验收标准”')
# The departments that draw the standard up with 工程管理部 (手册001).
ACCEPTANCE_PLAN_PARTIES = ('物业公司', '客户关系部', '项目部')
SPECIAL_LAYOUT_CLAUSE = '手册000：“注意将非标层等特殊户型单独起草房屋交付原则”'


def before_round1_due(delivery_on, round1_started_on=None):
    """Drawn up (or formed) before round 1: round 1 may start from T − 6 months and must start by
    T − 3 months (手册001 “项目竣工交付前3-6个月,开展第一轮内部验收”), so the latest day is its actual
    start when recorded, else T − 3 calendar months."""
    if delivery_on is None:
        return round1_started_on
    latest = add_months(delivery_on, -3)
    return min(latest, round1_started_on) if round1_started_on else latest


def acceptance_plan_problems(*, kind, participants, confirmed_on, confirmed_by_kind,
                             covers_special_layouts, today):
    """(field, message): the plan/standard is drawn up by engineering with property, customer
    relations and the project, and confirmed by the 内部验收协调组; the standard covers 非标层
    and special layouts on their own."""
    found = []
    if confirmed_on is not None and today is not None and confirmed_on > today:
        found.append(('confirmed_on', '确认日期不能晚于今天（%s）。' % today.isoformat()))
    if confirmed_on is None:
        return found
    missing = [p for p in ACCEPTANCE_PLAN_PARTIES if p not in (participants or '')]
    if missing:
        found.append(('participants', '参与编制部门缺少%s（%s）' % ('、'.join(missing), ACCEPTANCE_PLAN_CLAUSE)))
    if confirmed_by_kind != '内部验收协调组':
        found.append(('confirmed_by', '须由本项目的内部验收协调组审核确认（%s）' % ACCEPTANCE_PLAN_CLAUSE))
    if kind == '内部验收标准' and not covers_special_layouts:
        found.append(('covers_special_layouts', '内部验收标准须对非标层等特殊户型单独规定（%s）'
                      % SPECIAL_LAYOUT_CLAUSE))
    return found


# --------------------------------------------------------------------------- teams

COORDINATION = '内部验收协调组'
MOVE_IN = '入住工作小组'
HANDOVER = '交房小组'
QA = '现场答疑小组'
JOINT_REPAIR = '联合维修小组'
TEAM_KINDS = (COORDINATION, MOVE_IN, HANDOVER, QA, JOINT_REPAIR)
TEAM_CLAUSES = {
    COORDINATION: '手册001：“内部验收协调组由客户关系部牵头组织成立,组长由公司项目分管领导担任,组员由工程管理部、'
                  '客户关系部、项目部、物业公司、监理公司、总包单位负责人组成;内部验收协调组负责审核确认内部验收计划”',
    MOVE_IN: '手册002 三、入住阶段：“负责在入住前3个月组织成立入住工作小组,负责入住前3-6个月起通过各种途径'
             '(网络、客户投诉等)关注入住前及入住后的业主动态,统一入住说辞。”',
    HANDOVER: PLAN_DRAFT_CLAUSE,
    QA: '手册004 4.3.3：“交付当日,项目部/工程部、营销部、物业公司应各派出至少一名工作人员与客户关系管理部相关人员'
        '一起组成现场答疑小组”',
    JOINT_REPAIR: '手册002 四、售后集中维修阶段：“原则上集中入住后三个月内,应成立公司层面的联合维修小组”',
}
# The teams the handover countdown (REGISTERS §7) dates: its node is their deadline until a row
# exists (the 交房小组 with the plan: node T-40 is "成立交房小组，制定交房工作计划/方案").
COUNTDOWN_TEAMS = {MOVE_IN: 'T-3Mc', HANDOVER: 'T-40'}
# Countdown nodes a handover_plan row carries with its own deadlines (draft, approval, roster sent).
PLAN_COUNTDOWN_CODES = ('T-40', 'T-20b', 'T-10a')


def team_due_on(kind, delivery_on, round1_started_on=None):
    """The day a team must be formed by, from the move-in (delivery) day T (TEAM_CLAUSES)."""
    if kind == COORDINATION:
        return before_round1_due(delivery_on, round1_started_on)
    if delivery_on is None:
        return None
    if kind == MOVE_IN:
        return add_months(delivery_on, -3)
    if kind == HANDOVER:
        return plan_draft_due(delivery_on)
    if kind == QA:
        return delivery_on
    if kind == JOINT_REPAIR:
        return add_months(delivery_on, 3)
    return None


def watch_window(delivery_on):
    """(from, by): owner sentiment is watched from 3–6 months before move-in (TEAM_CLAUSES[MOVE_IN])."""
    if delivery_on is None:
        return None, None
    return add_months(delivery_on, -6), add_months(delivery_on, -3)


# 手册004 4.3.3: at least one person each from these, with customer relations.
QA_REQUIRED = (('项目部/工程部', ('项目部', '工程部', '工程管理部', '项目中心')),
               ('营销部', ('营销部', '营销管理部')),
               ('物业公司', ('物业公司', '物业')))


def qa_team_missing(departments):
    """Which of 项目部/工程部, 营销部, 物业公司 has nobody on the on-site Q&A team (QA clause)."""
    present = {(d or '').strip() for d in departments}
    return [label for label, names in QA_REQUIRED if not present & set(names)]


def team_problems(*, kind, formed_on, member_departments, watch_started_on, script_kind, today):
    """(field, message) of a team: formed in the past; the Q&A team, once formed, has its three
    departments; the move-in team's script is a 交付统一答词."""
    found = []
    if formed_on is not None and today is not None and formed_on > today:
        found.append(('formed_on', '成立日期不能晚于今天（%s）。' % today.isoformat()))
    if kind == QA and formed_on is not None:
        missing = qa_team_missing(member_departments)
        if missing:
            found.append(('formed_on', '现场答疑小组尚无%s的成员，请先添加成员再填写成立日期（%s）'
                          % ('、'.join(missing), TEAM_CLAUSES[QA])))
    if kind != MOVE_IN and (watch_started_on is not None or script_kind is not None):
        found.append(('watch_started_on', '业主动态关注和统一入住说辞只登记在入住工作小组。'))
    if script_kind is not None and script_kind != '交付统一答词':
        found.append(('move_in_script', '统一入住说辞须选择「交付统一答词」类的说辞。'))
    return found


# --------------------------------------------------------------------------- daily meetings and copies

REVIEW_CLAUSE = ('手册001：“每天内部验收结束后,由内部验收小组组长或其指定人员组织召开验收过程小结会,项目部负责汇总、'
                 '整理、分析每日验收情况,将每日需整改问题汇总反馈给监理和总包单位,并落实整改时间”')
COPY_CLAUSE = ('手册001：“各专业职能部门在交房现场工作人员,应在交房完成当日内,将在现场收集的客户诉求整理后抄送'
               '客户关系部,并对客户集中反映的诉求提出相应改进方案或相应回应”')


def days_without_meeting(acceptance_days, meeting_days):
    """Acceptance days (days issues were found) with no review meeting held that day, in order:
    the meeting is due on the acceptance day itself (REVIEW_CLAUSE)."""
    held = set(meeting_days)
    return sorted({d for d in acceptance_days if d is not None} - held)


def copies_missing(handover_days, departments, copies):
    """(day, department) pairs of a handover with no copy of that day's owner requests to
    customer relations (COPY_CLAUSE); `copies` holds the (day, department) pairs recorded."""
    done = set(copies)
    return [(day, dept) for day in sorted({d for d in handover_days if d is not None})
            for dept in departments if (day, dept) not in done]


def copy_problems(*, handover_on, copied_on, today):
    found = []
    if copied_on and handover_on and copied_on < handover_on:
        found.append(('copied_on', '抄送日期不能早于交房日期。'))
    if copied_on and today and copied_on > today:
        found.append(('copied_on', '抄送日期不能晚于今天（%s）。' % today.isoformat()))
    return found


# --------------------------------------------------------------------------- mortgage report

MORTGAGE_CLAUSE = ('手册002 工作计划（三）销售后：“按揭贷款工作,掌握客户数据情况表每个周向上级领导进行按揭进度更新情况”')
_WEEK = re.compile(r'\s*(\d{4})\s*(?:-|年)?\s*(?:[Ww]|第)?\s*(\d{1,2})\s*周?\s*')


def week_label(year, week):
    return '%d-W%02d' % (year, week)


def week_of(day):
    """The ISO week (year, week) of a day: 2026-12-31 is in 2026-W53, 2027-01-01 too."""
    iso = day.isocalendar()
    return iso[0], iso[1]


def parse_week(text):
    """'2026-W48' (also '2026W48', '2026-48', '2026年第48周') → (2026, 48); None when unreadable or
    when the year has no such ISO week."""
    m = _WEEK.fullmatch(text or '')
    if not m:
        return None
    year, week = int(m.group(1)), int(m.group(2))
    try:
        datetime.date.fromisocalendar(year, week, 1)
    except ValueError:
        return None
    return year, week


def week_first_day(year, week):
    return datetime.date.fromisocalendar(year, week, 1)


def week_last_day(year, week):
    """The Sunday ending an ISO week: the week's report is due that day."""
    return datetime.date.fromisocalendar(year, week, 7)


def mortgage_report_due(start_on, end_on, reported_weeks, today):
    """(due day, missing weeks) of the weekly mortgage report (MORTGAGE_CLAUSE), or None.

    Weeks run from the week of `start_on` (the first loan signed) to the week of the earlier of
    today and `end_on` (the handover day: “weekly during sales and before handover”). The due day
    is the Sunday of the earliest week without a report; `missing` counts the weeks without one.
    """
    if start_on is None:
        return None
    last = min(today, end_on) if end_on else today
    if last < start_on:
        return None
    reported = set(reported_weeks)
    missing, first_due = 0, None
    monday = week_first_day(*week_of(start_on))
    while monday <= last:
        week = week_of(monday)
        if week not in reported:
            missing += 1
            if first_due is None:
                first_due = week_last_day(*week)
        monday += 7 * DAY
    return (first_due, missing) if first_due else None


# --------------------------------------------------------------------------- knowledge bases

KNOWLEDGE_CLAUSE = ('手册000：《客户风险审图评估要点明细》《产品设计缺陷集》由区域客户服务部整理和收集，'
                    '“并在每季度各项目客服反馈……状况进行及时更新”')


def quarter_of(day):
    return day.year, (day.month - 1) // 3 + 1


def quarter_last_day(year, quarter):
    month = quarter * 3
    return add_months(datetime.date(year, month, 1), 1) - DAY


def knowledge_update_due(last_updated_on, today):
    """The last day of the quarter after the one of the last update: a quarter that passes with no
    update is overdue the next day (KNOWLEDGE_CLAUSE). With no update ever, the current quarter's
    end."""
    if last_updated_on is None:
        return quarter_last_day(*quarter_of(today))
    year, quarter = quarter_of(last_updated_on)
    year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return quarter_last_day(year, quarter)
