"""Rules of the after-handover registers (交付后): warranty expiry, complaints, work contact forms,
compensation, repairs and owner callback surveys.

Plain functions of plain values: the models call them from derive()/problems(), the report pages
call them for their figures, and tests/test_aftercare_rules.py checks them at their edges.

Manuals quoted:
  002 = 房地产客服部工作计划 / 客服部管理制度 (shared/seeds/002_bee908a029ecd777.txt)
  003 = 地产公司顾客沟通控制程序 (shared/seeds/003_e045208f86833051.txt)
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Iterable, Optional
from rules.dates import add_months  # noqa: F401  (re-exported for callers)
from rules.workflow import Workflow

# ---------------------------------------------------------------------------------------------
# Calendar arithmetic
# ---------------------------------------------------------------------------------------------




def _day_in_year(year: int, month_day: str) -> date:
    """The date `month_day` ('MM-DD') in `year`; 02-29 falls back to 02-28 in a common year."""
    month, day = (int(part) for part in month_day.split('-'))
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------------------------------------
# warranty_item — 工程保修期限台账
# ---------------------------------------------------------------------------------------------

ARTICLE_40 = (
    '《建设工程质量管理条例》第四十条：在正常使用条件下，建设工程的最低保修期限为：'
    '（一）基础设施工程、房屋建筑的地基基础工程和主体结构工程，为设计文件规定的该工程的合理使用年限；'
    '（二）屋面防水工程、有防水要求的卫生间、房间和外墙面的防渗漏，为5年；'
    '（三）供热与供冷系统，为2个采暖期、供冷期；'
    '（四）电气管线、给排水管道、设备安装和装修工程，为2年。'
    '其他项目的保修期限由发包方与承包方约定。'
)

NOTICE_CLAUSE = (
    '手册002 六、质保期届满前公示和排查：“项目客服部应联合项目合约部、依据项目合同台帐建立工程保修期限台帐,'
    '定期整理即将到期的工程项目,并依合同约定在房屋保修即将到期前2个月向小区业主做提前告知,'
    '提醒业主对房屋质量问题进行排查,并将发现的问题及时向物业公司进行报修。”'
)


@dataclass(frozen=True)
class Season:
    """A heating or cooling season, given by the month-days on which it starts and ends.

    The statute does not fix the dates; they are set locally. The defaults below are the northern
    heating season (11-15 to 03-15) and a summer cooling season (06-01 to 09-30); a project in
    another climate passes its own.
    """
    name: str
    starts: str  # 'MM-DD'
    ends: str    # 'MM-DD'; may be earlier in the year than `starts` (season spans new year)

    def first_start_on_or_after(self, day: date) -> date:
        start = _day_in_year(day.year, self.starts)
        return start if start >= day else _day_in_year(day.year + 1, self.starts)

    def end_of_season_started(self, started_on: date) -> date:
        end = _day_in_year(started_on.year, self.ends)
        return end if end >= started_on else _day_in_year(started_on.year + 1, self.ends)


HEATING_SEASON = Season('采暖期', '11-15', '03-15')
COOLING_SEASON = Season('供冷期', '06-01', '09-30')


def month_day_problem(value):
    """Why `value` is not a month-day 'MM-DD' of a season's start or end ('' when it is one);
    02-29 is a month-day (it falls back to 02-28 in a common year)."""
    try:
        month, day = (int(part) for part in (value or '').strip().split('-'))
    except ValueError:
        return '格式应为「月-日」，如 11-15。'
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
        return '「%s」不是有效的月-日。' % value
    return ''


def project_seasons(heating_starts=None, heating_ends=None, cooling_starts=None, cooling_ends=None):
    """(heating, cooling) seasons of a project's region: its own month-days where valid, else the
    defaults above (the statute leaves the dates to local rules)."""
    def season(default, starts, ends):
        if starts and ends and not month_day_problem(starts) and not month_day_problem(ends):
            return Season(default.name, starts.strip(), ends.strip())
        return default
    return (season(HEATING_SEASON, heating_starts, heating_ends),
            season(COOLING_SEASON, cooling_starts, cooling_ends))

# Item kinds offered to the clerk, each with its statutory minimum (第四十条).
KIND_STRUCTURE = '地基基础和主体结构'
KIND_WATERPROOFING = '屋面防水及防渗漏'
KIND_HEATING = '供热系统'
KIND_COOLING = '供冷系统'
KIND_ELECTRICAL = '电气管线'
KIND_PLUMBING = '给排水管道'
KIND_EQUIPMENT = '设备安装'
KIND_DECORATION = '装修工程'
KIND_OTHER = '其他（合同约定）'

WARRANTY_KINDS = (KIND_STRUCTURE, KIND_WATERPROOFING, KIND_HEATING, KIND_COOLING, KIND_ELECTRICAL,
                  KIND_PLUMBING, KIND_EQUIPMENT, KIND_DECORATION, KIND_OTHER)

STATUTORY_MONTHS = {
    KIND_WATERPROOFING: 60,
    KIND_ELECTRICAL: 24,
    KIND_PLUMBING: 24,
    KIND_EQUIPMENT: 24,
    KIND_DECORATION: 24,
}
STATUTORY_SEASONS = 2

STATUTORY_TEXT = {
    KIND_STRUCTURE: '地基基础工程和主体结构工程的最低保修期限为设计文件规定的该工程的合理使用年限',
    KIND_WATERPROOFING: '屋面防水工程、有防水要求的卫生间、房间和外墙面的防渗漏，最低保修期限为5年',
    KIND_HEATING: '供热系统的最低保修期限为2个采暖期',
    KIND_COOLING: '供冷系统的最低保修期限为2个供冷期',
    KIND_ELECTRICAL: '电气管线的最低保修期限为2年',
    KIND_PLUMBING: '给排水管道的最低保修期限为2年',
    KIND_EQUIPMENT: '设备安装工程的最低保修期限为2年',
    KIND_DECORATION: '装修工程的最低保修期限为2年',
}


def seasons_end_on(starts_on: date, season: Season, count: int = STATUTORY_SEASONS) -> date:
    """End of the `count`-th full season that starts on or after `starts_on`.

    第四十条（三）：“供热与供冷系统，为2个采暖期、供冷期”. The period is counted in seasons, not in
    months: an item accepted in May is covered through the coming winter and the next one, so its
    heating warranty ends on the end day of the second heating season (03-15 two years later),
    not 24 months after May. A season already under way on the start day is not a full season
    and does not count — counting it would shorten the owner's statutory protection.
    """
    if count < 1:
        raise ValueError('count must be at least 1')
    first_start = season.first_start_on_or_after(starts_on)
    nth_start = _day_in_year(first_start.year + count - 1, season.starts)
    return season.end_of_season_started(nth_start)


def statutory_expires_on(kind: str, starts_on: date, *, design_life_years: Optional[int] = None,
                         heating: Season = HEATING_SEASON, cooling: Season = COOLING_SEASON
                         ) -> Optional[date]:
    """The earliest expiry the law allows for an item of `kind` accepted on `starts_on`.

    第四十条 (see ARTICLE_40); 保修期自竣工验收合格之日起计算. None when the law sets no minimum
    (其他项目 — agreed between the parties) or the design life of a structure is not known yet.
    """
    if kind in STATUTORY_MONTHS:
        return add_months(starts_on, STATUTORY_MONTHS[kind])
    if kind == KIND_HEATING:
        return seasons_end_on(starts_on, heating)
    if kind == KIND_COOLING:
        return seasons_end_on(starts_on, cooling)
    if kind == KIND_STRUCTURE and design_life_years:
        return add_months(starts_on, 12 * design_life_years)
    return None


def warranty_expires_on(kind: str, starts_on: Optional[date], *, period_months: Optional[int] = None,
                        period_seasons: Optional[int] = None, design_life_years: Optional[int] = None,
                        heating: Season = HEATING_SEASON, cooling: Season = COOLING_SEASON
                        ) -> Optional[date]:
    """Expiry of a warranty item as agreed in its contract, never earlier than the law allows.

    Heating/cooling items may be agreed in seasons (period_seasons) or in months; the others in
    months. A blank period means the statutory minimum (第四十条). Periods run from the day of
    acceptance (“建设工程的保修期，自竣工验收合格之日起计算”), month arithmetic per add_months().
    A period shorter than the statutory minimum is refused by warranty_period_problems(); this
    function then still returns the contractual date, so the clerk sees what was typed.
    """
    if starts_on is None:
        return None
    season = {KIND_HEATING: heating, KIND_COOLING: cooling}.get(kind)
    candidates = []
    if season is not None and period_seasons:
        candidates.append(seasons_end_on(starts_on, season, period_seasons))
    if period_months:
        candidates.append(add_months(starts_on, period_months))
    if candidates:
        return max(candidates)
    return statutory_expires_on(kind, starts_on, design_life_years=design_life_years,
                                heating=heating, cooling=cooling)


def warranty_period_problems(kind: str, starts_on: Optional[date], *, period_months: Optional[int] = None,
                             period_seasons: Optional[int] = None,
                             design_life_years: Optional[int] = None,
                             heating: Season = HEATING_SEASON, cooling: Season = COOLING_SEASON):
    """(field, message) for a contract period shorter than the statutory minimum of 第四十条.

    The statute sets MINIMUM periods (“建设工程的最低保修期限”); a contract may give more, never less.
    """
    problems = []
    if kind not in WARRANTY_KINDS:
        problems.append(('kind', '请选择保修项目类别'))
        return problems
    if period_months is not None and period_months <= 0:
        problems.append(('period_months', '保修期限（月）必须大于0'))
    if period_seasons is not None and period_seasons <= 0:
        problems.append(('period_seasons', '保修期限（采暖期/供冷期数）必须大于0'))
    if period_seasons and kind not in (KIND_HEATING, KIND_COOLING):
        problems.append(('period_seasons', '只有供热、供冷系统按采暖期/供冷期计算保修期，其他项目请按月填写'))
    if kind == KIND_OTHER and not period_months:
        problems.append(('period_months', '其他项目的保修期限由发包方与承包方约定，请填写合同约定的保修月数'))
    if kind == KIND_STRUCTURE and not design_life_years:
        problems.append(('design_life_years', '地基基础和主体结构的保修期为设计文件规定的合理使用年限，请填写设计使用年限'))
    if problems or starts_on is None:
        return problems
    minimum = statutory_expires_on(kind, starts_on, design_life_years=design_life_years,
                                   heating=heating, cooling=cooling)
    agreed = warranty_expires_on(kind, starts_on, period_months=period_months,
                                 period_seasons=period_seasons, design_life_years=design_life_years,
                                 heating=heating, cooling=cooling)
    if minimum is not None and agreed is not None and agreed < minimum:
        field = 'period_seasons' if period_seasons and not period_months else 'period_months'
        problems.append((field, (
            f'合同约定的保修期限（至{agreed.isoformat()}）短于法定最低保修期限（至{minimum.isoformat()}）：'
            f'依据《建设工程质量管理条例》第四十条，{STATUTORY_TEXT[kind]}，合同不得约定更短的期限')))
    return problems


def notice_due_on(expires_on: Optional[date]) -> Optional[date]:
    """The day owners must be told of the coming expiry: two months before it (month-end safe).

    手册002：“并依合同约定在房屋保修即将到期前2个月向小区业主做提前告知,提醒业主对房屋质量问题进行排查”.
    2028-04-30 → 2028-02-29; 2027-04-30 → 2027-02-28.
    """
    return add_months(expires_on, -2) if expires_on else None


def owner_notice_due(notice_on: Optional[date], owners_notified_on: Optional[date], today: date) -> bool:
    """True when the owner notice date has come and owners have not been notified yet (手册002 六)."""
    return notice_on is not None and owners_notified_on is None and notice_on <= today


# ---------------------------------------------------------------------------------------------
# complaint — 客户投诉台账
# ---------------------------------------------------------------------------------------------

COMPLAINT_STATES = ('登记', '分析', '转办', '跟进', '核查', '关闭')
MAJOR = '重大'

# 手册003 顾客投诉：“对所受理的投诉进行登记、分析、传递和协同判定、督促、检查”. A step may be
# repeated backwards where the work is not done: a failed check goes back to follow-up.
COMPLAINT_TRANSITIONS = {
    None: {'登记'},
    '登记': {'登记', '分析'},
    '分析': {'分析', '转办', '登记'},
    '转办': {'转办', '跟进', '分析'},
    '跟进': {'跟进', '核查'},
    '核查': {'核查', '关闭', '跟进'},
    '关闭': {'关闭'},
}

# Passing on needs the responsible department; closing the resolution and the date. A complaint
# created or imported in a later status carries them (and 核查 a follow-up entry, see below).
_PASSED_ON = ('responsible_department',)
COMPLAINT_WORKFLOW = Workflow(
    field='status', initial='登记', final=('关闭',),
    transitions={k: v for k, v in COMPLAINT_TRANSITIONS.items() if k is not None},
    requires={'转办': _PASSED_ON, '跟进': _PASSED_ON, '核查': _PASSED_ON,
              '关闭': _PASSED_ON + ('resolution', 'closed_on')},
    reopen_to='跟进', reopen_clears=('closed_on',))

MAJOR_CLOSE_CLAUSE = ('手册003 顾客投诉：“公司总经理是顾客投诉工作的第一责任人,'
                      '授权公司客户服务分管领导对特殊或重大顾客投诉作出决定或指令。”')


def complaint_problems(*, old_status: Optional[str], status: str, severity: str, can_approve: bool,
                       decided_by: Optional[str], received_on: Optional[date],
                       closed_on: Optional[date], deadline: Optional[date], resolution: Optional[str],
                       responsible_department: Optional[object], follow_up_count: int):
    """(field, message) for every rule of the complaint workflow this edit breaks.

    手册003：“客户服务部负责接待和受理反馈到集团公司的各类顾客投诉,并对所受理的投诉进行登记、分析、
    传递和协同判定、督促、检查” — 登记 → 分析 → 转办 → 跟进 → 核查 → 关闭, one step at a time
    (a failed check returns to 跟进), what each status requires and the closed complaint locked:
    COMPLAINT_WORKFLOW, checked by the register base. Here: a check needs at least one dated
    follow-up (a new complaint has none, so it cannot be created in 核查 or 关闭).
    手册003：“授权公司客户服务分管领导对特殊或重大顾客投诉作出决定或指令” — a 重大 complaint is closed
    only by a supervisor (approve right) who records who decided (decided_by).
    """
    problems = []
    if status not in COMPLAINT_STATES:
        return [('status', '请选择投诉处理状态')]
    index = COMPLAINT_STATES.index(status)
    if index >= COMPLAINT_STATES.index('核查') and follow_up_count < 1:
        problems.append(('status', '核查前须至少登记一条跟进记录（及时跟踪、及时反馈）'))
    if received_on and deadline and deadline < received_on:
        problems.append(('deadline', '处理期限不能早于受理日期'))
    if closed_on and status != '关闭':
        problems.append(('closed_on', '只有关闭的投诉才填写关闭日期'))
    if status == '关闭' and old_status != '关闭':
        if severity == MAJOR:
            if not can_approve:
                problems.append(('status', '重大投诉只能由授权的客户服务分管领导（客服经理）决定关闭：' + MAJOR_CLOSE_CLAUSE))
            elif not (decided_by or '').strip():
                problems.append(('decided_by', '重大投诉关闭须填写作出决定的授权领导'))
    if closed_on and received_on and closed_on < received_on:
        problems.append(('closed_on', '关闭日期不能早于受理日期'))
    return problems


def complaint_overdue(deadline: Optional[date], closed_on: Optional[date], today: date) -> bool:
    """Open past its deadline (手册002：“做到及时跟踪、及时反馈、及时关闭”)."""
    return deadline is not None and closed_on is None and deadline < today


def complaint_summary(rows: Iterable[tuple], today: date) -> list[dict]:
    """Open and overdue complaints per (project, category), from (project, category, deadline, closed_on).

    Returns dicts with keys project, category, total, open, overdue, sorted by project then category.
    """
    table: dict = {}
    for project, category, deadline, closed_on in rows:
        entry = table.setdefault((project, category), {'project': project, 'category': category,
                                                       'total': 0, 'open': 0, 'overdue': 0})
        entry['total'] += 1
        if closed_on is None:
            entry['open'] += 1
        if complaint_overdue(deadline, closed_on, today):
            entry['overdue'] += 1
    return [table[key] for key in sorted(table, key=lambda k: (str(k[0]), str(k[1])))]


# ---------------------------------------------------------------------------------------------
# work_contact_form — 工作联系单
# ---------------------------------------------------------------------------------------------

CONTACT_FORM_PREFIX = 'GZ'
CONTACT_FORM_CLAUSE = ('手册003 与物管单位的沟通：“对急需集团公司有关职能部门协助解决的信息,客户服务部应及时以'
                       '《工作联系单》的形式反馈至责任部门,要求限期整改,并对改进结果进行跟踪验证。”')


def contact_form_no(year: int, existing_nos: Iterable[str], prefix: str = CONTACT_FORM_PREFIX) -> str:
    """Next number of a project's work contact form in `year`: 'GZ-2026-001', 'GZ-2026-002', …

    Numbers run per project and year; `existing_nos` are the numbers the project already used
    (any year — only those of `year` count). Gaps left by deleted forms are not reused.
    """
    pattern = re.compile(rf'^{re.escape(prefix)}-{year}-(\d+)$')
    used = [int(m.group(1)) for m in (pattern.match(no or '') for no in existing_nos) if m]
    return f'{prefix}-{year}-{max(used, default=0) + 1:03d}'


def contact_form_overdue(deadline: Optional[date], replied_on: Optional[date], today: date) -> bool:
    """No reply by the deadline (手册003：“反馈至责任部门,要求限期整改”).

    Without a reply: overdue once today is past the deadline. With a reply: overdue if it came late.
    """
    if deadline is None:
        return False
    if replied_on is None:
        return today > deadline
    return replied_on > deadline


def contact_form_status(deadline: Optional[date], replied_on: Optional[date],
                        verified_on: Optional[date], today: date) -> str:
    """待回复 / 逾期未回复 / 已回复待验证 / 已验证关闭 — the verification date closes the form."""
    if verified_on:
        return '已验证关闭'
    if replied_on:
        return '已回复待验证'
    if contact_form_overdue(deadline, None, today):
        return '逾期未回复'
    return '待回复'


# The form's status follows its dates (contact_form_status); answered, then verified and closed.
CONTACT_FORM_WORKFLOW = Workflow(
    field='status', initial='待回复', final=('已验证关闭',),
    requires={'已回复待验证': ('reply', 'replied_on'),
              '已验证关闭': ('reply', 'replied_on', 'verified_on')},
    reopen_to='已回复待验证', reopen_clears=('verified_on',))


def contact_form_problems(*, issued_on: Optional[date], deadline: Optional[date], reply: Optional[str],
                          replied_on: Optional[date], verified_on: Optional[date]):
    """(field, message): a deadline after issue, a reply before verification (“对改进结果进行跟踪验证”)."""
    problems = []
    if issued_on and deadline and deadline < issued_on:
        problems.append(('deadline', '回复期限不能早于发出日期'))
    if replied_on and issued_on and replied_on < issued_on:
        problems.append(('replied_on', '回复日期不能早于发出日期'))
    if verified_on and not replied_on:
        problems.append(('verified_on', '责任部门尚未回复，不能验证关闭'))
    if verified_on and replied_on and verified_on < replied_on:
        problems.append(('verified_on', '验证日期不能早于回复日期'))
    return problems


# ---------------------------------------------------------------------------------------------
# compensation — 赔付台账
# ---------------------------------------------------------------------------------------------

CENT = Decimal('0.01')
COMPENSATION_CLAUSE = '手册002：“各项目对于接待客户赔付都积累了相当的经验,处理流程完善清晰,赔付都通过OA审批,资料留存齐全。”'


def compensation_problems(*, amount, oa_approval_no: Optional[str], approved_on: Optional[date],
                          paid_on: Optional[date]):
    """(field, message): no payment without the OA approval number and date (手册002：“赔付都通过OA审批”)."""
    problems = []
    if amount is None or Decimal(str(amount)) <= 0:
        problems.append(('amount', '赔付金额必须大于0'))
    if paid_on:
        if not (oa_approval_no or '').strip():
            problems.append(('oa_approval_no', '赔付须经OA审批：填写付款日期前须先填写OA审批单号'))
        if not approved_on:
            problems.append(('approved_on', '赔付须经OA审批：填写付款日期前须先填写OA审批日期'))
        elif paid_on < approved_on:
            problems.append(('paid_on', '付款日期不能早于OA审批日期'))
    return problems


def compensation_totals(rows: Iterable[tuple]) -> list[dict]:
    """Totals per project from (project, amount, paid_on): count, amount, paid amount, unpaid amount."""
    table: dict = {}
    for project, amount, paid_on in rows:
        entry = table.setdefault(project, {'project': project, 'count': 0, 'amount': CENT * 0,
                                           'paid': CENT * 0, 'unpaid': CENT * 0})
        value = Decimal(str(amount or 0)).quantize(CENT)
        entry['count'] += 1
        entry['amount'] += value
        entry['paid' if paid_on else 'unpaid'] += value
    return [table[key] for key in sorted(table, key=str)]


# ---------------------------------------------------------------------------------------------
# repair_order — 报修/维修台账
# ---------------------------------------------------------------------------------------------

REPAIR_SOURCES = ('交付验房', '集中维修', '日常报修', '保修到期排查')
CENTRALIZED = '集中维修'
CENTRALIZED_MONTHS = 3
CENTRALIZED_CLAUSE = ('手册002 四、售后集中维修阶段：“原则上集中入住后三个月内,应成立公司层面的联合维修小组,'
                      '业主的维修维保主要由工程部主责,客服部监督进度并负责业主的赔偿受理。”')


def centralized_repair_ends_on(delivered_on: Optional[date]) -> Optional[date]:
    """Last day of the centralized repair period: delivery + 3 months (手册002 四, see CENTRALIZED_CLAUSE)."""
    return add_months(delivered_on, CENTRALIZED_MONTHS) if delivered_on else None


def is_centralized_repair(reported_on: Optional[date], delivered_on: Optional[date]) -> bool:
    """A repair reported from the project's delivery day to 3 months after it is 集中维修 (手册002 四)."""
    if reported_on is None or delivered_on is None:
        return False
    return delivered_on <= reported_on <= centralized_repair_ends_on(delivered_on)


def repair_source(given: Optional[str], reported_on: Optional[date], delivered_on: Optional[date]) -> str:
    """The source a repair order is filed under: the clerk's choice, else 集中维修 inside the
    3-month window after delivery and 日常报修 outside it (手册002 四/五)."""
    if given:
        return given
    return CENTRALIZED if is_centralized_repair(reported_on, delivered_on) else '日常报修'


HANDOVER_DAY_SOURCE = '交付验房'
HANDOVER_DAY_CLAUSE = ('手册004 4.3.4：“交付期間,客戶關系管理部每日組織當日交付情況總結會……工程項目部組織施工單位'
                       '對當日報修問題進行維修整改和銷單。”')


def repair_default_deadline(source: Optional[str], reported_on: Optional[date],
                            deadline: Optional[date]) -> Optional[date]:
    """The repair's deadline: the clerk's, else the same day for a repair reported on handover day
    (交付验房: fixed and closed that day, HANDOVER_DAY_CLAUSE)."""
    if deadline is None and source == HANDOVER_DAY_SOURCE:
        return reported_on
    return deadline


# 销单 (closed) only once the repair is done (手册002 四、五): a closed order is locked for clerks.
REPAIR_WORKFLOW = Workflow(field='closed', initial=False, final=(True,),
                           requires={True: ('completed_on',)}, reopen_to=False,
                           labels={False: '未销单', True: '已销单'})


def repair_problems(*, source: Optional[str], reported_on: Optional[date], delivered_on: Optional[date],
                    deadline: Optional[date], completed_on: Optional[date], closed: bool,
                    satisfaction: Optional[int], revisited_on: Optional[date]):
    """(field, message) for a repair order (手册002 四、五; CENTRALIZED_CLAUSE)."""
    problems = []
    if source == CENTRALIZED and reported_on and delivered_on and not is_centralized_repair(reported_on, delivered_on):
        problems.append(('source', f'集中维修只限项目集中交付后三个月（日历月）内（{delivered_on.isoformat()} 至 '
                                   f'{centralized_repair_ends_on(delivered_on).isoformat()}，即交付计划“集中维修结束”之日）'
                                   f'的报修（{CENTRALIZED_CLAUSE}）'))
    if reported_on and deadline and deadline < reported_on:
        problems.append(('deadline', '维修期限不能早于报修日期'))
    if reported_on and completed_on and completed_on < reported_on:
        problems.append(('completed_on', '完成日期不能早于报修日期'))
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        problems.append(('satisfaction', '满意度须为1–5分'))
    if satisfaction is not None and not completed_on:
        problems.append(('satisfaction', '维修完成后才能登记业主满意度'))
    if revisited_on and completed_on and revisited_on < completed_on:
        problems.append(('revisited_on', '回访日期不能早于完成日期'))
    return problems


def ratio(part: int, whole: int) -> Optional[Fraction]:
    """part / whole as an exact fraction; None for an empty whole."""
    return Fraction(part, whole) if whole else None


def percent(value: Optional[Fraction], places: int = 1) -> Optional[Decimal]:
    """A fraction as a percentage rounded half-up for display (Fraction(251, 1000) → 25.1)."""
    if value is None:
        return None
    exact = Decimal(value.numerator) * 100 / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def repair_rectification_rate(closed_flags: Iterable[bool]) -> Optional[Fraction]:
    """Repair rectification rate = closed (销单) orders / all orders; None without orders.

    手册002 四: the centralized repair after handover; REGISTERS §5: the handover is rated by its
    repair rectification rate and owner satisfaction.
    """
    flags = list(closed_flags)
    return ratio(sum(1 for flag in flags if flag), len(flags))


def average(scores: Iterable[Optional[int]]) -> Optional[Decimal]:
    """Mean of the given (non-blank) scores to two decimals; None when nobody answered."""
    values = [s for s in scores if s is not None]
    if not values:
        return None
    return (Decimal(sum(values)) / len(values)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)


def repair_summary(rows: Iterable[tuple]) -> list[dict]:
    """Per project, from (project, source, closed, satisfaction): orders, centralized orders, closed,
    rectification rate and average satisfaction (手册002 四, CENTRALIZED_CLAUSE)."""
    grouped: dict = {}
    for project, source, closed, satisfaction in rows:
        grouped.setdefault(project, []).append((source, bool(closed), satisfaction))
    result = []
    for project in sorted(grouped, key=str):
        orders = grouped[project]
        rate = repair_rectification_rate(closed for _, closed, _ in orders)
        result.append({
            'project': project,
            'orders': len(orders),
            'centralized': sum(1 for source, _, _ in orders if source == CENTRALIZED),
            'closed': sum(1 for _, closed, _ in orders if closed),
            'rate': rate,
            'rate_percent': percent(rate),
            'satisfaction': average(s for _, _, s in orders),
        })
    return result


# ---------------------------------------------------------------------------------------------
# callback_survey / survey_response — 顾客回访
# ---------------------------------------------------------------------------------------------

SURVEY_DIMENSIONS = (
    ('product_planning', '产品策划'),
    ('construction_quality', '工程质量'),
    ('sales_service', '销售服务'),
    ('complaint_service', '投诉处理服务'),
    ('property_service', '物业管理服务'),
)
VALIDITY_CLAUSE = '手册003 顾客回访：“当调查问卷回收数量超过总调查量的25%时,顾客回访工作才为有效。”'
CALLBACK_CLAUSE = ('手册003 顾客回访：“当房屋交付后一年且入住率超过50%时,客户服务部(或外地项目公司客户服务部门)'
                   '委托营销代理公司对该项目的业主进行至少一次的顾客回访。”')
CALLBACK_KINDS = ('年度回访',)


def response_rate(issued: Optional[int], returned: Optional[int]) -> Optional[Fraction]:
    """returned / issued as an exact fraction; None before questionnaires are issued."""
    if not issued:
        return None
    return Fraction(returned or 0, issued)


def survey_is_valid(issued: Optional[int], returned: Optional[int]) -> bool:
    """A callback counts only when MORE than 25% of the questionnaires came back (VALIDITY_CLAUSE).

    Exactly 25% is not valid. Integer arithmetic (returned × 4 > issued) keeps the edge exact.
    """
    return bool(issued) and (returned or 0) * 4 > issued


def survey_problems(*, population: Optional[int], issued: Optional[int], returned: Optional[int],
                    report_on: Optional[date], planned_on: Optional[date] = None):
    """(field, message): counts are non-negative and nested (returned ≤ issued ≤ population)."""
    problems = []
    for field, value, label in (('population', population, '应调查户数'), ('issued', issued, '发放份数'),
                                ('returned', returned, '回收份数')):
        if value is not None and value < 0:
            problems.append((field, f'{label}不能为负数'))
    if problems:
        return problems
    if issued is not None and population is not None and issued > population:
        problems.append(('issued', '发放份数不能多于应调查户数'))
    if returned and not issued:
        problems.append(('returned', '尚未发放问卷，不能登记回收份数'))
    elif returned is not None and issued is not None and returned > issued:
        problems.append(('returned', '回收份数不能多于发放份数'))
    if report_on and planned_on and report_on < planned_on:
        problems.append(('report_on', '报告日期不能早于计划日期'))
    return problems


def dimension_averages(responses: Iterable[dict]) -> dict:
    """Average score per dimension (label → Decimal or None) over the responses (手册003：
    “内容应涉及产品策划、工程质量、销售服务、投诉处理服务和物业管理服务等内容”).

    Each response is a mapping field name → score (1–5 or None); a blank answer is left out of
    that dimension's average rather than counted as zero.
    """
    responses = list(responses)
    return {label: average(r.get(field) for r in responses) for field, label in SURVEY_DIMENSIONS}


def score_problems(scores: dict):
    """(field, message) for a questionnaire score outside 1–5."""
    return [(field, f'{label}评分须为1–5分') for field, label in SURVEY_DIMENSIONS
            if scores.get(field) is not None and not 1 <= scores[field] <= 5]


def occupancy_exceeds_half(delivered_units: int, total_units: int) -> bool:
    """入住率 = delivered units / total units, and it must EXCEED 50% (CALLBACK_CLAUSE): exactly half is not enough."""
    return bool(total_units) and delivered_units * 2 > total_units


def callback_due_from(delivered_on: Optional[date]) -> Optional[date]:
    """The first day the owner callback can fall due: one year after delivery (“交付后一年”)."""
    return add_months(delivered_on, 12) if delivered_on else None


def half_occupied_on(delivered_on: Optional[date], handed_over_dates: Iterable[Optional[date]],
                     total_units: int, today: date) -> Optional[date]:
    """The day 入住率 (handed-over units ÷ all units of the project) first EXCEEDED 50%, as of
    `today`; None while it has not. A unit handed over on an unknown day counts from delivery."""
    dates = sorted(d or delivered_on for d in handed_over_dates if (d or delivered_on))
    dates = [d for d in dates if d <= today]
    needed = total_units // 2 + 1          # k × 2 > total: exactly half is not enough
    if not total_units or len(dates) < needed:
        return None
    return dates[needed - 1]


@dataclass(frozen=True)
class CallbackObligation:
    """The one answer on a project's owner callback (CALLBACK_CLAUSE), for every page that shows it.

    due_from:     one year after handover (“交付后一年”), 12 calendar months (29 Feb → 28 Feb)
    half_on:      the day occupancy first exceeded 50%, None while it has not
    due_on:       when the callback fell (or falls) due — the later of the two — None while not both
    satisfied_on: the valid callback (returned > 25%, VALIDITY_CLAUSE) that settles it, dated on or
                  after the one-year mark; a survey made before that mark does not count, and one is
                  enough (“至少一次”): nothing falls due again after it.
    """
    due_from: Optional[date]
    half_on: Optional[date]
    due_on: Optional[date]
    satisfied_on: Optional[date]

    @property
    def open(self) -> bool:
        return self.due_on is not None and self.satisfied_on is None

    def due(self, today: date) -> bool:
        """Owed now: due on or before today and not settled."""
        return self.open and self.due_on <= today


def callback_obligation(*, delivered_on: Optional[date], total_units: int,
                        handed_over_dates: Iterable[Optional[date]], today: date,
                        valid_survey_dates: Iterable[Optional[date]] = ()) -> CallbackObligation:
    """Decide the owner callback of a project as of `today` (see CallbackObligation)."""
    due_from = callback_due_from(delivered_on)
    half_on = half_occupied_on(delivered_on, handed_over_dates, total_units, today) \
        if delivered_on else None
    due_on = max(due_from, half_on) if due_from and half_on else None
    counted = sorted(d for d in valid_survey_dates if d and due_from and due_from <= d <= today)
    return CallbackObligation(due_from, half_on, due_on, counted[0] if counted else None)


def callback_due(*, delivered_on: Optional[date], delivered_units: int, total_units: int, today: date,
                 valid_survey_dates: Iterable[date] = ()) -> bool:
    """True when a project owes its owner callback on `today` (callback_obligation, with the
    `delivered_units` handed over on the delivery day)."""
    return callback_obligation(delivered_on=delivered_on, total_units=total_units,
                               handed_over_dates=[delivered_on] * delivered_units, today=today,
                               valid_survey_dates=valid_survey_dates).due(today)
