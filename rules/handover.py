"""Handover (交付): the roster's eligibility, late-delivery penalties, the daily handover report
(每日交房日报表), the +3 list and the +15 summary — plain functions over plain values or roster rows.

A roster row is any object with the attributes of `handover_entry` (eligible, status,
appointment_on, arrived_at, keys_handed_on, refused_on, issues_found, …), so the same
functions serve the screen, the Excel file and the tests.
"""
import datetime
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from rules.workflow import Workflow

STATUS_PENDING = '待交付'
STATUS_HANDED = '已交付'
STATUS_REFUSED = '拒收'
STATUS_ABSENT = '未到场'
STATUS_POSTPONED = '延期'
HANDOVER_STATUSES = (STATUS_PENDING, STATUS_HANDED, STATUS_REFUSED, STATUS_ABSENT, STATUS_POSTPONED)
ARRIVED_STATUSES = (STATUS_HANDED, STATUS_REFUSED)    # the owner came: notices and calls are moot

# A household handed over (keys given, dated) is done: its roster row is locked for clerks.
HANDOVER_WORKFLOW = Workflow(field='status', initial=STATUS_PENDING, final=(STATUS_HANDED,),
                             requires={STATUS_HANDED: ('keys_handed_on',)},
                             reopen_to=STATUS_PENDING, reopen_clears=('keys_handed_on',))

REASON_NO_CONTRACT = '未签约'
REASON_CANCELLED = '合同作废'
REASON_UNPAID = '房款未结清'
INELIGIBLE_REASONS = (REASON_NO_CONTRACT, REASON_CANCELLED, REASON_UNPAID)

ROSTER_CLAUSE = ('手册004 4.2.5：“交付前10日,客戶關系管理部依據簽約、收款責任部門(財務部或營銷部)提供的應維修用戶信息,'
                 '制定《交樓名單》,並將該名單發給企業”（應維修用戶＝应交付用户，企業＝物业公司）')
NOTICE_CLAUSE = '手册004 4.2.6：“交付前10日,客戶關系管理部再次與簽約中心核實應維修用戶信息,填寫並郵寄《交付通知書》”'
PHONE_CLAUSE = '手册004 4.2.7：“交付前3日,客戶關系管理部組織相關人員電話通知用戶……對於不符合交樓資格的用戶要特別說明”'
DAILY_CLAUSE = ('手册004 4.3.4：“交付期間,客戶關系管理部每日組織當日交付情況總結會,統計交付數據,即當天交付戶數、'
                '完成交付比例、戶均問題戶數、拒維修戶數、未維修戶數等,報至公司領導及相關工作人員”；'
                '手册001：“客户关系部就每日房屋交付办理情况……形成每日交房日报表,并当日向公司领导及各项目汇报”')
PLUS3_CLAUSE = '手册001：“房屋交付工作完成三日内,客户关系部对未接房、影响面广的客户诉求进行汇总整理,形成相关记录”'
PLUS15_CLAUSE = '手册001：“房屋交付工作完成15日内,由客户关系部起草房屋交付总结报告,对整个过程进行回顾,附交房汇总统计表”'
PENALTY_CLAUSE = ('商品房买卖合同 逾期交付责任：出卖人未按约定时间交付的，自约定交付期限届满之次日起至实际交付之日止，'
                  '按日计算向买受人支付全部房价款的违约金（日费率见合同台账「延期交房违约金日费率」）')


# --------------------------------------------------------------------------- the roster

def roster_eligibility(has_contract, signed, cancelled, paid_in_full):
    """(eligible, reason) of a unit's owner for the handover roster.

    手册004 4.2.5 制定《交樓名單》 from the owners whose contract and payment the signing and
    collecting departments confirm (REGISTERS §4: “owners whose payment is settled”); 4.2.7
    “對於不符合交樓資格的用戶要特別說明” — so an ineligible row stays on the roster with its reason.
    The first reason that applies is given: 未签约, then 合同作废 (a cancelled contract's
    payment no longer matters), then 房款未结清.
    """
    if not has_contract or not signed:
        return False, REASON_NO_CONTRACT
    if cancelled:
        return False, REASON_CANCELLED
    if not paid_in_full:
        return False, REASON_UNPAID
    return True, ''


def roster_due_on(delivery_on):
    """《交樓名單》 and the mailing of 《交付通知書》 are due 10 days before delivery (4.2.5, 4.2.6)."""
    return delivery_on - datetime.timedelta(days=10) if delivery_on else None


def phone_due_on(delivery_on):
    """Owners are phoned 3 days before delivery (4.2.7)."""
    return delivery_on - datetime.timedelta(days=3) if delivery_on else None


# --------------------------------------------------------------------------- late delivery

def late_days(agreed_on, offered_on=None, handed_on=None, as_of=None):
    """Days the seller is late: from the day after the agreed delivery date to the day it delivered.

    PENALTY_CLAUSE: “自约定交付期限届满之次日起至实际交付之日止”, so the count is
    (delivery day − agreed day). The seller has delivered on the earlier of the day it offered
    the unit (the project's actual handover start, notified to the owner) and the day the keys
    changed hands — an owner who comes late does not make the seller late. Until either is
    known the lateness runs to `as_of` (today). Never negative.
    """
    if agreed_on is None:
        return 0
    candidates = [d for d in (offered_on, handed_on) if d is not None]
    delivered_on = min(candidates) if candidates else as_of
    if delivered_on is None:
        return 0
    return max(0, (delivered_on - agreed_on).days)


CENT = Decimal('0.01')


def late_penalty(total_price, daily_rate, days):
    """Penalty = total price × daily rate × late days, rounded half-up to the cent (PENALTY_CLAUSE).

    `daily_rate` is a fraction per day (万分之一 = 0.0001).
    """
    if not days or total_price in (None, '') or daily_rate in (None, ''):
        return Decimal('0.00')
    amount = Decimal(str(total_price)) * Decimal(str(daily_rate)) * Decimal(days)
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------- events of a row

def _day(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    return value


def handed_on(row):
    """The day the keys were handed, for a row whose status says so."""
    return row.keys_handed_on if row.status == STATUS_HANDED else None


def refused_on(row):
    if row.status != STATUS_REFUSED:
        return None
    return getattr(row, 'refused_on', None) or _day(row.arrived_at)


def arrived_on(row):
    return _day(row.arrived_at)


def _by(day_value, day):
    return day_value is not None and day_value <= day


def is_absent_on(row, day):
    """An eligible owner booked for `day` who had neither arrived, taken the keys nor refused by then."""
    return (bool(row.eligible) and row.appointment_on == day and not _by(arrived_on(row), day)
            and not _by(handed_on(row), day) and not _by(refused_on(row), day))


def is_absent_by(row, day):
    """An eligible owner booked on or before `day` who still had not come by the end of it."""
    return (bool(row.eligible) and _by(row.appointment_on, day) and not _by(arrived_on(row), day)
            and not _by(handed_on(row), day) and not _by(refused_on(row), day))


# --------------------------------------------------------------------------- 每日交房日报表

@dataclass
class DailyFigures:
    """One day of 每日交房日报表 (DAILY_CLAUSE)."""
    day: datetime.date
    roster_total: int = 0            # 名单户数
    units_due: int = 0               # 应交付户数 (eligible)
    ineligible: int = 0              # 不符合交楼资格
    appointed_today: int = 0         # 当日预约
    arrived_today: int = 0           # 当日到场
    handed_today: int = 0            # 当日交付户数
    handed_total: int = 0            # 累计交付户数
    refused_today: int = 0           # 当日拒收
    refused_total: int = 0           # 累计拒收
    absent_today: int = 0            # 当日未到场
    absent_total: int = 0            # 累计未到场（至当日仍未到场）
    issues_today: int = 0            # 当日交付户的验房问题数
    issues_total: int = 0            # 累计交付户的验房问题数
    handed_today_rows: list = field(default_factory=list, repr=False)
    refused_today_rows: list = field(default_factory=list, repr=False)
    absent_today_rows: list = field(default_factory=list, repr=False)
    day_over: bool = True            # False while the day runs: its absentees may still come

    @property
    def absent_label(self):
        """当日未到场 once the day is over; until then the owners booked for it are 尚未到场."""
        return '当日未到场' if self.day_over else '尚未到场'

    @property
    def remaining(self):
        """应交付但尚未交付（含拒收、未到场）."""
        return self.units_due - self.handed_total

    @property
    def completion_ratio(self):
        """完成交付比例 = 累计交付户数 / 应交付户数."""
        return self.handed_total / self.units_due if self.units_due else 0.0

    @property
    def issues_per_unit_today(self):
        """户均问题数（当日）= 当日交付户的验房问题数 / 当日交付户数."""
        return self.issues_today / self.handed_today if self.handed_today else 0.0

    @property
    def issues_per_unit_total(self):
        return self.issues_total / self.handed_total if self.handed_total else 0.0

    def as_rows(self):
        """(label, value, kind) in report order; kind is 'int', 'ratio' or 'avg'."""
        return [
            ('名单户数', self.roster_total, 'int'),
            ('应交付户数', self.units_due, 'int'),
            ('不符合交楼资格户数', self.ineligible, 'int'),
            ('当日预约户数', self.appointed_today, 'int'),
            ('当日到场户数', self.arrived_today, 'int'),
            ('当日交付户数', self.handed_today, 'int'),
            ('累计交付户数', self.handed_total, 'int'),
            ('完成交付比例', self.completion_ratio, 'ratio'),
            ('尚未交付户数', self.remaining, 'int'),
            ('当日户均问题数', self.issues_per_unit_today, 'avg'),
            ('累计户均问题数', self.issues_per_unit_total, 'avg'),
            ('当日拒收户数', self.refused_today, 'int'),
            ('累计拒收户数', self.refused_total, 'int'),
            (self.absent_label + '户数', self.absent_today, 'int'),
            ('累计未到场户数', self.absent_total, 'int'),
        ]


def daily_figures(rows, day, today=None):
    """The figures of 每日交房日报表 for `day`, from every roster row of one project.

    DAILY_CLAUSE: 当天交付戶數、完成交付比例、戶均問題戶數、拒維修(拒收)戶數、未維修(未到场)戶數.
    - 当日交付: status 已交付 with keys handed on `day`; 累计: handed on or before `day`.
    - 完成交付比例: 累计交付 / 应交付户数 (eligible rows of the roster).
    - 户均问题数: issues found in the units handed over (that day / so far) per unit handed over.
    - 拒收: status 拒收, refused on `day` (累计: on or before).
    - 未到场: eligible owners booked for `day` who neither came nor took keys nor refused by then
      (累计: booked on or before `day` and still not come).
    Rows whose events fall after `day` count as not yet happened, so a past day's report is stable.
    `today` given: on that day (and later ones) the absentees are labelled 尚未到场.
    """
    figures = DailyFigures(day=day, day_over=today is None or day < today)
    for row in rows:
        figures.roster_total += 1
        if row.eligible:
            figures.units_due += 1
        else:
            figures.ineligible += 1
        if row.appointment_on == day:
            figures.appointed_today += 1
        if arrived_on(row) == day:
            figures.arrived_today += 1
        handed = handed_on(row)
        issues = row.issues_found or 0
        if _by(handed, day):
            figures.handed_total += 1
            figures.issues_total += issues
            if handed == day:
                figures.handed_today += 1
                figures.issues_today += issues
                figures.handed_today_rows.append(row)
        refused = refused_on(row)
        if _by(refused, day):
            figures.refused_total += 1
            if refused == day:
                figures.refused_today += 1
                figures.refused_today_rows.append(row)
        if is_absent_by(row, day):
            figures.absent_total += 1
            if row.appointment_on == day:
                figures.absent_today += 1
                figures.absent_today_rows.append(row)
    return figures


def handover_days(rows):
    """Every day on which something happened on the roster (booking, arrival, keys, refusal), sorted."""
    days = set()
    for row in rows:
        for value in (row.appointment_on, arrived_on(row), handed_on(row), refused_on(row)):
            if value is not None:
                days.add(value)
    return sorted(days)


# --------------------------------------------------------------------------- +3 and +15

def not_taken(rows, as_of):
    """未接房 as of `as_of` (PLUS3_CLAUSE): rows whose keys had not been handed by then.

    Eligible owners come first (the department contacts them, 催告函 with legal's help), then the
    ineligible ones with their reason; within each, in the roster's order.
    """
    left = [row for row in rows if not _by(handed_on(row), as_of)]
    return sorted(left, key=lambda r: not r.eligible)


def not_taken_reason(row, as_of):
    if not row.eligible:
        return '不符合交楼资格：%s' % (row.ineligible_reason or '')
    if _by(refused_on(row), as_of):
        return '拒收：%s' % (row.refusal_reason or '未填原因')
    if is_absent_by(row, as_of):
        return '未到场'
    if row.status == STATUS_POSTPONED:
        return '延期'
    return '待交付'


@dataclass
class HandoverSummary:
    """交房汇总统计表 for the +15 summary report (PLUS15_CLAUSE)."""
    as_of: datetime.date
    daily: DailyFigures
    by_day: list                     # [(day, handed that day, cumulative, ratio)]
    ineligible_reasons: OrderedDict
    refusal_reasons: OrderedDict
    notices_mailed: int
    notices_confirmed: int
    phoned: int
    demand_letters: int
    late_units: int
    late_penalty_total: Decimal
    first_day: datetime.date = None
    last_day: datetime.date = None

    def as_rows(self):
        d = self.daily
        return d.as_rows() + [
            ('交付通知书寄出', self.notices_mailed, 'int'),
            ('通知书确认收到', self.notices_confirmed, 'int'),
            ('已电话通知', self.phoned, 'int'),
            ('已发催告函', self.demand_letters, 'int'),
            ('逾期交付户数', self.late_units, 'int'),
            ('逾期交付违约金合计（元）', self.late_penalty_total, 'money'),
        ]


def summary_statistics(rows, as_of):
    """The +15 statistics table over the whole roster up to `as_of` (PLUS15_CLAUSE)."""
    rows = list(rows)
    daily = daily_figures(rows, as_of)
    handed_days = Counter(handed_on(r) for r in rows if _by(handed_on(r), as_of))
    by_day, running = [], 0
    for day in sorted(handed_days):
        running += handed_days[day]
        by_day.append((day, handed_days[day], running,
                       running / daily.units_due if daily.units_due else 0.0))
    ineligible = Counter((r.ineligible_reason or '未填原因') for r in rows if not r.eligible)
    refusals = Counter((r.refusal_reason or '未填原因') for r in rows if _by(refused_on(r), as_of))
    late = [r for r in rows if (r.late_days or 0) > 0]
    events = handover_days(rows)
    return HandoverSummary(
        as_of=as_of, daily=daily, by_day=by_day,
        ineligible_reasons=OrderedDict(ineligible.most_common()),
        refusal_reasons=OrderedDict(refusals.most_common()),
        notices_mailed=sum(1 for r in rows if _by(r.notice_mailed_on, as_of)),
        notices_confirmed=sum(1 for r in rows if r.notice_confirmed),
        phoned=sum(1 for r in rows if _by(r.phoned_on, as_of)),
        demand_letters=sum(1 for r in rows if _by(r.demand_letter_sent_on, as_of)),
        late_units=len(late),
        late_penalty_total=sum((Decimal(str(r.late_penalty or 0)) for r in late), Decimal('0.00')),
        first_day=events[0] if events else None, last_day=events[-1] if events else None)
