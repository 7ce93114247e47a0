"""Walking the building (the inspector's tablet, views/inspect.py): the rooms of a unit, what a
tablet item must carry, how a verification that met a change made at the desk is judged, and the
day's figures the review meeting after each acceptance day asks for — plain values in, plain
values out.

手册001 第一轮内部验收：“每天内部验收结束后,由内部验收小组组长或其指定人员组织召开验收过程小结会,
项目部负责汇总、整理、分析每日验收情况”.
"""
import datetime
import re
from collections import Counter
from dataclasses import dataclass, field as dc_field

from rules.delivery import SETTLED_STATUSES, STATUS_TO_VERIFY

DAILY_REVIEW_CLAUSE = ('手册001：“每天内部验收结束后,由内部验收小组组长或其指定人员组织召开验收过程小结会,'
                       '项目部负责汇总、整理、分析每日验收情况,将每日需整改问题汇总反馈给监理和总包单位”')

# A unit's rooms as the inspector names them, from its layout (户型): a three-room home has
# 主卧 and 次卧, a four-room one a 书房 and a second bathroom too. Free text is the fallback.
COMMON_ROOMS = ('入户门', '玄关', '客厅', '餐厅', '厨房', '主卧', '次卧', '卫生间', '阳台', '生活阳台',
                '过道')
FOUR_ROOMS = ('书房', '主卫', '次卫')
CHECK_RESULTS = ('通过', '不通过')
PASSED, FAILED = CHECK_RESULTS
ITEM_KINDS = ('issue', 'check', 'visit')

# A client id: made on the tablet (crypto.randomUUID), 8–64 letters, digits and dashes.
_CLIENT_ID = re.compile(r'^[A-Za-z0-9-]{8,64}$')


def rooms_for_layout(layout):
    """The rooms offered for a unit of `layout` (e.g. 「C1-128㎡四房」), in walking order."""
    rooms = list(COMMON_ROOMS)
    text = layout or ''
    if '四房' in text or '4房' in text or '五房' in text:
        rooms[rooms.index('次卧') + 1:rooms.index('次卧') + 1] = ['书房']
        rooms[rooms.index('卫生间'):rooms.index('卫生间') + 1] = ['主卫', '次卫']
    return rooms


def client_id_problem(value):
    """None when `value` is a usable tablet-made id, else the reason in Chinese."""
    if not isinstance(value, str) or not _CLIENT_ID.match(value):
        return '缺少有效的条目编号（client_id，由平板生成）。'
    return None


def parse_day(value, *, what, today):
    """(date, problem): an ISO date not after today; None stays None."""
    if value in (None, ''):
        return None, None
    if not isinstance(value, str):
        return None, '「%s」格式不正确（应为 YYYY-MM-DD）。' % what
    try:
        day = datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None, '「%s」格式不正确（应为 YYYY-MM-DD）：%s' % (what, value[:20])
    if day > today:
        return None, '「%s」%s 晚于今天。' % (what, day.isoformat())
    if day.year < 2000:
        return None, '「%s」%s 不正确。' % (what, day.isoformat())
    return day, None


def parse_id(value):
    """A positive row id from JSON (int or digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2 ** 63 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        number = int(value)
        return number if number > 0 else None
    return None


@dataclass(frozen=True)
class CheckConflict:
    """A verification made on the tablet that met a change made at the desk meanwhile."""
    message: str


def check_conflict(seen_status, seen_version, current_status, current_version, changed_by=None,
                   changed_at=None):
    """How a verification made on the tablet (of an issue it saw in `seen_status` at version
    `seen_version`) meets the issue as it now is.

    The register's rules decide: a verification only applies to an issue 待验证. If the issue is
    still 待验证 the result is recorded on the current row even if something else of it was
    changed at the desk (a deadline, a remark): what was verified is still what is there. If its
    status moved (closed, sent back to 整改中, conceded), the tablet's result is not applied and
    the inspector is told who changed it and when — never dropped silently.

    Returns None (apply, at `current_version`) or a CheckConflict."""
    if current_status == STATUS_TO_VERIFY and (seen_status in (None, STATUS_TO_VERIFY)):
        return None
    who = ''
    if changed_by:
        who = '已由%s' % changed_by
    when = ''
    if changed_at:
        when = '于%s' % (changed_at.strftime('%Y-%m-%d %H:%M') if hasattr(changed_at, 'strftime')
                         else str(changed_at)[:16])
    if current_status in SETTLED_STATUSES:
        return CheckConflict('该问题在您复验期间%s%s在台账中改为「%s」，您的复验结果未保存。'
                             '如现场仍有问题，请联系客服经理重新打开。' % (who, when, current_status))
    if current_version == seen_version and current_status != STATUS_TO_VERIFY:
        return CheckConflict('该问题当前为「%s」，不是「待验证」，不能复验。' % current_status)
    return CheckConflict('该问题在您复验期间%s%s改为「%s」（不再是「待验证」），您的复验结果未保存。'
                         '请刷新本户问题后再处理。' % (who, when, current_status))


@dataclass
class DayFigures:
    """The figures of one acceptance day (or round), as the review meeting reads them."""
    found: int = 0
    major: int = 0
    units_walked: int = 0
    units_with_issues: int = 0
    by_building: list = dc_field(default_factory=list)      # [(building, found, major, units walked)]
    by_category: list = dc_field(default_factory=list)      # [(category, found, major)]
    checks_passed: int = 0
    checks_failed: int = 0

    @property
    def issues_per_unit(self):
        return round(self.found / self.units_walked, 2) if self.units_walked else 0.0


def day_figures(issues, visits, checks=(), sort_key=None):
    """The day's figures from what was captured.

    issues: (building or None, category, severity, unit id or None) of the issues found that day
            (building None: a public area, counted under 「公共部位」);
    visits: (building, unit id) of the units walked that day (opened and marked 已查, or with an
            issue found in them);
    checks: results (通过/不通过) of the verifications made that day.
    """
    sort_key = sort_key or (lambda text: text)
    figures = DayFigures()
    by_building, major_by_building = Counter(), Counter()
    by_category, major_by_category = Counter(), Counter()
    walked = {}
    units_with_issues = set()
    for building, category, severity, unit_id in issues:
        place = building or '公共部位'
        figures.found += 1
        by_building[place] += 1
        by_category[category] += 1
        if severity == '重大':
            figures.major += 1
            major_by_building[place] += 1
            major_by_category[category] += 1
        if unit_id is not None:
            units_with_issues.add(unit_id)
            walked.setdefault(unit_id, building)
    for building, unit_id in visits:
        walked.setdefault(unit_id, building)
    walked_by_building = Counter(walked.values())
    figures.units_walked = len(walked)
    figures.units_with_issues = len(units_with_issues)
    places = set(by_building) | {b for b in walked_by_building if b}
    figures.by_building = [(b, by_building[b], major_by_building[b], walked_by_building[b])
                           for b in sorted(places, key=lambda b: (b == '公共部位', sort_key(b)))]
    figures.by_category = sorted(((c, n, major_by_category[c]) for c, n in by_category.items()),
                                 key=lambda row: (-row[1], row[0]))
    results = Counter(checks)
    figures.checks_passed, figures.checks_failed = results[PASSED], results[FAILED]
    return figures


def summary_text(day, round_label, figures):
    """The day's figures as a paragraph for the review meeting's minutes (当日验收情况小结)."""
    parts = ['%s %s：查验 %d 户，发现问题 %d 个（重大 %d 个），户均 %.2f 个。' % (
        day.isoformat(), round_label, figures.units_walked, figures.found, figures.major,
        figures.issues_per_unit)]
    if figures.by_building:
        parts.append('按楼栋：' + '；'.join('%s %d 个（查验 %d 户）' % (b, n, w)
                                          for b, n, _, w in figures.by_building) + '。')
    if figures.by_category:
        parts.append('按类别：' + '；'.join('%s %d' % (c, n) for c, n, _ in figures.by_category) + '。')
    if figures.checks_passed or figures.checks_failed:
        parts.append('复验通过 %d 个，未通过 %d 个。' % (figures.checks_passed, figures.checks_failed))
    return ''.join(parts)
