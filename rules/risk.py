"""Risk control before launch (开盘前风险控制): the deadlines, flags, gates and counts of manual 000.

Every function here takes plain values (dates, counts, labels) and returns plain values, so the
models, the views and the deadline engine all ask the same question the same way, and the tests
ask it without a database.

The clauses are quoted verbatim from 《客服工作手册-风险控制模块》 (shared/seeds/000_…): the scraped
text writes 旳 for 的, 完毕 for 完成, 原则层 for 标准层 and 一种月 for 一个月; we quote it as it stands
so that an auditor can find the words in the manual.
"""
import datetime
import math
from typing import NamedTuple, Optional
from rules.dates import add_months  # noqa: F401  (re-exported for callers)
from rules.workflow import Workflow

MANUAL = '客服工作手册-风险控制模块'

# --------------------------------------------------------------------------- date arithmetic




def days(n):
    return datetime.timedelta(days=n)


# --------------------------------------------------------------------------- risk inspections

INSPECTION_KINDS = ('审图评估', '样板间检查', '销售资料会签', '开盘及上市前检查',
                    '交付前风险检查', '交付联合验收', '交付后客户体验评估')

# Kinds whose window is anchored on a date the clerk enters (the others use the project's dates).
KINDS_WITH_OWN_ANCHOR = ('审图评估', '样板间检查')
PRE_LAUNCH_KINDS = ('审图评估', '样板间检查', '销售资料会签', '开盘及上市前检查')
DELIVERY_KINDS = ('交付前风险检查', '交付联合验收', '交付后客户体验评估')


class KindRule(NamedTuple):
    anchor_label: str      # which date the deadline counts from, as the clerk knows it
    section: str           # the manual's section
    clause: str            # the manual's words, verbatim
    summary: str           # the rule in one plain sentence


INSPECTION_RULES = {
    '审图评估': KindRule(
        '设计出图日期', '项目开盘前各阶段风险控制 一、参与设计图纸审图阶段风险控制',
        '工作完毕时间:设计出图后10日内完毕', '设计出图后10日内完成审图评估'),
    '样板间检查': KindRule(
        '样板间施工完成日期', '项目开盘前各阶段风险控制 二、参与开盘前样板间风险检查',
        '工作完毕时间:样板间施工完毕后7日内完毕。', '样板间施工完成后7日内完成检查'),
    '销售资料会签': KindRule(
        '开盘日期', '项目开盘前各阶段风险控制 三、参与开盘前销售资料会签',
        '工作完毕时间:开盘前20日完毕。', '最迟于开盘前20日完成会签'),
    '开盘及上市前检查': KindRule(
        '开盘/上市日期', '项目开盘前各阶段风险控制 四、组织开盘及上市前风险检查',
        '工作完毕时间:开盘、上市前7日内完毕。', '最迟于开盘（上市）前7日完成检查'),
    '交付前风险检查': KindRule(
        '交付日期', '房屋交付入住前风险控制 三、交付前风险检查',
        '完毕时间:交付前三个月内完毕。', '最迟于交付前3个月（日历月）完成检查'),
    '交付联合验收': KindRule(
        '交付日期', '房屋交付入住前风险控制 四、交付前联合验收',
        '完毕时间:交付前7日完毕。', '最迟于交付前7日完成联合验收'),
    '交付后客户体验评估': KindRule(
        '交付日期', '客户入住后客户体验评估',
        '完毕时间:交付后3个月内。', '交付后3个月内完成评估'),
}


def inspection_rule_text(kind):
    """The rule of an inspection kind as the clerk reads it next to the date, with its source."""
    rule = INSPECTION_RULES.get(kind)
    if rule is None:
        return ''
    return '%s（《%s》%s：“%s”）' % (rule.summary, MANUAL, rule.section, rule.clause)


class Window(NamedTuple):
    """When an inspection is to be done: not before `start_on` (None = no lower bound), by `due_on`."""
    anchor_on: datetime.date
    start_on: Optional[datetime.date]
    due_on: datetime.date


def inspection_anchor(kind, anchor_on=None, launch_on=None, delivery_on=None, listing_on=None):
    """The date an inspection's deadline counts from.

    审图评估 and 样板间检查 count from a date only the clerk knows (drawings issued, show unit built);
    the others count from the project's launch date (or the listing date of a later batch, “上市”)
    or its delivery date.
    """
    if kind in KINDS_WITH_OWN_ANCHOR:
        return anchor_on
    if kind == '开盘及上市前检查':
        return listing_on or launch_on
    if kind == '销售资料会签':
        return launch_on
    if kind in DELIVERY_KINDS:
        return delivery_on
    return None


def inspection_due_date(kind, anchor_on=None, launch_on=None, delivery_on=None, listing_on=None):
    """The window of an inspection of `kind`, or None while the date it counts from is unknown.

    《客服工作手册-风险控制模块》:
    - 审图评估 “工作完毕时间:设计出图后10日内完毕” → from the issue date to 10 days after it.
    - 样板间检查 “工作完毕时间:样板间施工完毕后7日内完毕。” → from completion to 7 days after.
    - 销售资料会签 “工作完毕时间:开盘前20日完毕。” → by launch − 20 days (no lower bound).
    - 开盘及上市前检查 “工作完毕时间:开盘、上市前7日内完毕。” → done by launch/listing − 7 days (no
      lower bound: a check done earlier is on time, never “too early”).
    - 交付前风险检查 “完毕时间:交付前三个月内完毕。” → done by delivery − 3 calendar months (31 May →
      28/29 Feb); it feeds the T−2-month review and the T−45 kickoff, so one deadline, no lower
      bound — the same date as the countdown's T−3个月 node (rules.delivery.COUNTDOWN).
    - 交付联合验收 “完毕时间:交付前7日完毕。” → by delivery − 7 days.
    - 交付后客户体验评估 “完毕时间:交付后3个月内。” → delivery … delivery + 3 calendar months.
    """
    anchor = inspection_anchor(kind, anchor_on, launch_on, delivery_on, listing_on)
    if anchor is None:
        return None
    if kind == '审图评估':
        return Window(anchor, anchor, anchor + days(10))
    if kind == '样板间检查':
        return Window(anchor, anchor, anchor + days(7))
    if kind == '销售资料会签':
        return Window(anchor, None, anchor - days(20))
    if kind == '开盘及上市前检查':
        return Window(anchor, None, anchor - days(7))
    if kind == '交付前风险检查':
        return Window(anchor, None, add_months(anchor, -3))
    if kind == '交付联合验收':
        return Window(anchor, None, anchor - days(7))
    if kind == '交付后客户体验评估':
        return Window(anchor, anchor, add_months(anchor, 3))
    return None


# The timing a list shows at a glance.
NOT_DUE = '未到期'
DUE_SOON = '即将到期'
OVERDUE = '已逾期'
DONE_ON_TIME = '按时完成'
DONE_LATE = '逾期完成'
DONE_EARLY = '过早完成'
NO_DATE = '缺少日期'
TIMINGS = (NOT_DUE, DUE_SOON, OVERDUE, DONE_ON_TIME, DONE_LATE, DONE_EARLY, NO_DATE)
OUT_OF_WINDOW = (DONE_LATE, DONE_EARLY)

DUE_SOON_DAYS = 7


def timing(window, completed_on, today, soon_days=DUE_SOON_DAYS):
    """Where a windowed task stands on `today`.

    Done: 按时完成 inside the window, 逾期完成 after its due date, 过早完成 before its start (a
    “7 days before launch” check done a month early did not look at the site as it opened).
    Not done: 已逾期 after the due date, 即将到期 within `soon_days` of it, else 未到期.
    缺少日期 while the date the window counts from is unknown.
    """
    if window is None:
        return NO_DATE
    if completed_on is not None:
        if completed_on > window.due_on:
            return DONE_LATE
        if window.start_on is not None and completed_on < window.start_on:
            return DONE_EARLY
        return DONE_ON_TIME
    if today > window.due_on:
        return OVERDUE
    if (window.due_on - today).days <= soon_days:
        return DUE_SOON
    return NOT_DUE


def inspection_timing(kind, completed_on, today, anchor_on=None, launch_on=None,
                      delivery_on=None, listing_on=None):
    """The timing of one risk inspection (see `inspection_due_date` and `timing`)."""
    window = inspection_due_date(kind, anchor_on, launch_on, delivery_on, listing_on)
    return timing(window, completed_on, today)


def inspection_problems(kind, anchor_on, completed_on, today):
    """(field, message) for what makes a risk inspection row unusable — refused on save."""
    if kind in KINDS_WITH_OWN_ANCHOR and anchor_on is None:
        yield 'anchor_on', '「%s」须填写%s，期限由此计算（%s）。' % (
            kind, INSPECTION_RULES[kind].anchor_label, INSPECTION_RULES[kind].summary)
    if completed_on is not None and today is not None and completed_on > today:
        yield 'completed_on', '完成日期不能晚于今天（%s）。' % today.isoformat()
    if kind in KINDS_WITH_OWN_ANCHOR and anchor_on is not None and today is not None \
            and anchor_on > today + days(366):
        yield 'anchor_on', '%s不能晚于一年以后，请核对。' % INSPECTION_RULES[kind].anchor_label


# --------------------------------------------------------------------------- risk findings

FINDING_CATEGORIES = ('项目背景资料', '销售签约资料', '广告宣传资料', '销售现场', '合同法规',
                      '设计变更', '销售承诺', '工程质量')
FINDING_STATUSES = ('待整改', '整改中', '待验证', '已关闭')
FINDING_OPEN_STATUSES = ('待整改', '整改中', '待验证')
FINDING_CLOSED = '已关闭'
UNFIXABLE_SCRIPT_KIND = '不整改问题统一说辞'


# A finding is closed once verified (验证人、关闭日期): a closed finding is locked for clerks.
FINDING_WORKFLOW = Workflow(field='status', initial='待整改', final=(FINDING_CLOSED,),
                            requires={FINDING_CLOSED: ('verified_by', 'closed_on')},
                            reopen_to='整改中', reopen_clears=('verified_by', 'closed_on'))


def finding_default_deadline(inspection_kind, launch_on, delivery_on):
    """The date a finding must be closed by when the clerk sets none.

    开盘及上市前检查: “检查完毕后,各项目应就检查报告反映旳问题制定整治方案,由项目客服跟进在项目开盘前
    整治完毕状况。” — findings of the pre-launch inspections are closed before launch (launch − 1);
    those of the delivery inspections before delivery (delivery − 1). None when the date is unknown
    or the inspection is after delivery (the clerk sets it).
    """
    if inspection_kind in PRE_LAUNCH_KINDS and launch_on is not None:
        return launch_on - days(1)
    if inspection_kind in ('交付前风险检查', '交付联合验收') and delivery_on is not None:
        return delivery_on - days(1)
    return None


def finding_is_open(status):
    return status != FINDING_CLOSED


def finding_close_problems(status, fixable, script_kind, verified_by, closed_on, found_on=None,
                           today=None):
    """(field, message) refusing a finding that claims to be closed without what closing needs.

    A finding stays open until verified and closed; one marked not fixable is closed only with a
    unified script (“对无法整治旳问题拟定统一说辞”, 房屋交付入住前风险控制 三) — a `sales_script` of
    kind 不整改问题统一说辞. `script_kind` is the linked script's kind (None when none is linked).
    """
    if status != FINDING_CLOSED:
        if closed_on is not None:
            yield 'closed_on', '问题尚未关闭（状态为「%s」），请勿填写关闭日期。' % status
        return
    # 验证人 and 关闭日期 themselves: FINDING_WORKFLOW.
    if closed_on is not None and today is not None and closed_on > today:
        yield 'closed_on', '关闭日期不能晚于今天（%s）。' % today.isoformat()
    elif closed_on is not None and found_on is not None and closed_on < found_on:
        yield 'closed_on', '关闭日期不能早于发现日期（%s）。' % found_on.isoformat()
    if not fixable:
        if script_kind is None:
            yield 'unified_script', ('该问题标记为无法整改，须先关联一份「%s」类的统一说辞才能关闭'
                                     '（手册：对无法整治旳问题拟定统一说辞）。' % UNFIXABLE_SCRIPT_KIND)
        elif script_kind != UNFIXABLE_SCRIPT_KIND:
            yield 'unified_script', '关联的说辞类型为「%s」，无法整改的问题须关联「%s」。' % (
                script_kind, UNFIXABLE_SCRIPT_KIND)


def unfixable_decision_problems(fixable, was_fixable, can_approve):
    """Marking a finding not fixable (不整改) is a supervisor's decision (REGISTERS.md §8: 客服经理
    approve 让步接收/不整改); a clerk may record findings and follow them, not waive them.

    `was_fixable`: the stored value before this edit (None for a new row).
    """
    if fixable or can_approve:
        return
    if was_fixable is None or was_fixable:
        yield 'fixable', '将问题认定为无法整改（不整改）须由客服经理审批，客服专员不能取消「可整改」。'


def count_open_findings(statuses):
    """How many of the given finding statuses are still open (not 已关闭)."""
    return sum(1 for s in statuses if finding_is_open(s))


# --------------------------------------------------------------------------- sales documents

DOCUMENT_KINDS = ('售楼书', '户型图', '海报', '媒体广告', '销售道具', '认购书', '买卖合同',
                  '补充协议', '前期物业服务合同', '交房标准', '特殊户型告知单', '合同附图')


def document_countersign_due(launch_on):
    """Latest countersign date: “工作完毕时间:开盘前20日完毕。” (三、参与开盘前销售资料会签)."""
    return None if launch_on is None else launch_on - days(20)


def document_review_late(countersigned_on, launch_on):
    """True when the countersign came later than 20 days before launch (exactly 20 days is on time).

    None while either date is unknown: neither late nor on time yet.
    """
    due = document_countersign_due(launch_on)
    if due is None or countersigned_on is None:
        return None
    return countersigned_on > due


def document_review_problems(legal_reviewed_on, cs_reviewed_on, countersigned_on, oa_no, today):
    """(field, message) refused on save: a countersign needs both reviews first and its OA number.

    “审核通过后投入使用” and “最后由销售部汇总工程、设计、客服、法务等部门意见进行OA系统会签” — the legal
    and CS reviews precede the OA countersign.
    """
    if countersigned_on is not None:
        if legal_reviewed_on is None:
            yield 'legal_reviewed_on', '会签前须先完成法务审核，请填写法务审核日期。'
        elif legal_reviewed_on > countersigned_on:
            yield 'legal_reviewed_on', '法务审核日期不能晚于会签日期。'
        if cs_reviewed_on is None:
            yield 'cs_reviewed_on', '会签前须先完成客服审核，请填写客服审核日期。'
        elif cs_reviewed_on > countersigned_on:
            yield 'cs_reviewed_on', '客服审核日期不能晚于会签日期。'
        if not (oa_no or '').strip():
            yield 'oa_no', '已会签的资料须填写OA会签单号。'
        if today is not None and countersigned_on > today:
            yield 'countersigned_on', '会签日期不能晚于今天（%s）。' % today.isoformat()


# --------------------------------------------------------------------------- sales scripts

SCRIPT_KINDS = ('销售说辞', '交付统一答词', UNFIXABLE_SCRIPT_KIND)
SPECIALTIES = ('暖通', '机电', '给排水', '土建', '景观', '精装修', '强弱电', '规划', '车位', '综合')


def script_drafting_starts_on(launch_on):
    """“项目营销组应在开盘前一种月组织项目各专业编制项目销售说辞” → drafting starts by launch − 1 month."""
    return None if launch_on is None else add_months(launch_on, -1)


def script_reconfirm_due(listing_on):
    """“项目营销组应在新产品上市前至少两周……重新确认有关说辞内容” → reconfirmed by listing − 14 days."""
    return None if listing_on is None else listing_on - days(14)


def unified_script_due(delivery_on):
    """“交付前两个月由项目中心组织对……问题进行梳理,对无法整治旳问题拟定统一说辞” → delivery − 2 months."""
    return None if delivery_on is None else add_months(delivery_on, -2)


def sales_script_problems(effective_on, specialty_lead_signed_on, legal_reviewed_on,
                          cs_reviewed_on, superseded_by_id=None, own_id=None):
    """(field, message) refused on save.

    A script takes effect only after the three signatures of the manual: “由专业负责人签字确认。
    确认后经行政人事部法务岗和客户服务部审核和控制风险。” — the specialty lead's signature, then the
    legal and CS reviews; none of them may come after the effective date.
    """
    reviews = (('specialty_lead_signed_on', specialty_lead_signed_on, '专业负责人签字日期'),
               ('legal_reviewed_on', legal_reviewed_on, '法务审核日期'),
               ('cs_reviewed_on', cs_reviewed_on, '客服审核日期'))
    if effective_on is not None:
        missing = [label for _, value, label in reviews if value is None]
        if missing:
            yield 'effective_on', '说辞生效前须填写%s（专业负责人签字、法务审核、客服审核三项缺一不可）。' % \
                '、'.join(missing)
        for name, value, label in reviews:
            if value is not None and value > effective_on:
                yield name, '%s不能晚于生效日期。' % label
    if specialty_lead_signed_on is not None:
        for name, value, label in reviews[1:]:
            if value is not None and value < specialty_lead_signed_on:
                yield name, '%s不能早于专业负责人签字日期（先签字确认，后审核）。' % label
    if superseded_by_id is not None and own_id is not None and superseded_by_id == own_id:
        yield 'superseded_by', '说辞不能被自身替代。'


def sales_script_flags(kind, drafted_on, launch_on, reconfirmed_on=None, listing_on=None,
                       effective_on=None, delivery_on=None):
    """Lateness flags of a script (shown, not refused): drafting, reconfirming, unified scripts."""
    flags = []
    start_by = script_drafting_starts_on(launch_on)
    if kind == '销售说辞' and start_by is not None and drafted_on is not None \
            and drafted_on > start_by:
        flags.append('说辞编制晚于开盘前一个月（应不晚于%s）' % start_by.isoformat())
    reconfirm_by = script_reconfirm_due(listing_on)
    if kind == '销售说辞' and reconfirm_by is not None:
        if reconfirmed_on is None or reconfirmed_on > reconfirm_by:
            flags.append('新产品上市前说辞未在上市前两周重新确认（应不晚于%s）' % reconfirm_by.isoformat())
    unified_by = unified_script_due(delivery_on)
    if kind == UNFIXABLE_SCRIPT_KIND and unified_by is not None and effective_on is not None \
            and effective_on > unified_by:
        flags.append('统一说辞晚于交付前两个月确定（应不晚于%s）' % unified_by.isoformat())
    return flags


def script_is_effective(effective_on, superseded_by_id, today):
    """In force: effective by today and not replaced by a newer version."""
    return effective_on is not None and effective_on <= today and superseded_by_id is None


# --------------------------------------------------------------------------- risk disclosures

def disclosure_due(launch_on):
    """The boards stand before the project opens: by the day before launch."""
    return None if launch_on is None else launch_on - days(1)


def disclosure_flags(displayed_on, legal_reviewed_on, launch_on):
    """“根据特别提示内容在项目开放前完毕各类展示展板旳摆放” — the boards stand before the project opens."""
    flags = []
    if launch_on is not None and (displayed_on is None or displayed_on >= launch_on):
        flags.append('展板未在开盘前公示（应早于%s）' % launch_on.isoformat())
    if displayed_on is not None and legal_reviewed_on is None:
        flags.append('公示内容未经法务审核')
    return flags


def disclosure_problems(displayed_on, legal_reviewed_on, today):
    if displayed_on is not None and legal_reviewed_on is not None and legal_reviewed_on > displayed_on:
        yield 'legal_reviewed_on', '法务审核日期不能晚于公示日期（先审核，后公示）。'
    if displayed_on is not None and today is not None and displayed_on > today:
        yield 'displayed_on', '公示日期不能晚于今天（%s）。' % today.isoformat()


# --------------------------------------------------------------------------- sales promises

PROMISE_SOURCES = ('广告', '说辞', '合同', '客户提出的变更')
PROMISE_STATUSES = ('待兑现', '已兑现', '无法兑现')


def promise_is_open(status, has_unified_script):
    """Open before delivery: neither 已兑现 nor covered by a unified script.

    交付前风险检查: “销售承诺类(含客户提出旳变更),核对所有销售承诺旳实现状况”; “对无法整治旳问题拟定统一说辞”.
    """
    if status == '已兑现':
        return False
    return not has_unified_script


def count_open_promises(promises):
    """`promises`: iterable of (status, has_unified_script)."""
    return sum(1 for status, has_script in promises if promise_is_open(status, has_script))


# A promise found fulfilled or not (核查日期) is settled; a fulfilled one is locked for clerks
# (an unfulfillable one still gets its unified script).
PROMISE_WORKFLOW = Workflow(field='status', initial='待兑现', final=('已兑现',),
                            requires={'已兑现': ('checked_on',), '无法兑现': ('checked_on',)},
                            reopen_to='待兑现')


def promise_problems(status, checked_on, script_kind, today):
    """The check date of a settled promise: PROMISE_WORKFLOW."""
    if checked_on is not None and today is not None and checked_on > today:
        yield 'checked_on', '核查日期不能晚于今天（%s）。' % today.isoformat()
    if status == '已兑现' and script_kind is not None:
        yield 'unified_script', '已兑现的承诺无需统一说辞，请取消关联。'


# --------------------------------------------------------------------------- floor-plan checks

SPECIAL_UNIT_KINDS = ('首层', '二层', '边户', '非标层')
STANDARD = '标准层'
STANDARD_SAMPLE_PERCENT = 25
STRUCTURE_PROGRESS_LIMIT = 50


def required_checks(category, total):
    """How many units of a category must be checked.

    “对首 层、二层、边户型等特殊户型进行100%检查,对原则层进行不少于25%旳 抽查。” — special units all;
    standard units at least 25%, rounded up (9 units → 3, since 2 would be 22%).
    """
    if category in SPECIAL_UNIT_KINDS:
        return total
    return math.ceil(total * STANDARD_SAMPLE_PERCENT / 100)


def unit_category(special_kind):
    """The coverage category of a unit: its special kind, or 标准层 for every other unit."""
    return special_kind if special_kind in SPECIAL_UNIT_KINDS else STANDARD


class Coverage(NamedTuple):
    category: str
    total: int
    checked: int
    required: int

    @property
    def meets(self):
        return self.checked >= self.required

    @property
    def percent(self):
        return 100.0 if self.total == 0 else round(100.0 * self.checked / self.total, 1)


def floor_plan_coverage(units, checked_unit_ids):
    """Coverage per category (首层/二层/边户/非标层/标准层) and whether the project meets the rule.

    `units`: iterable of (unit_id, special_kind); `checked_unit_ids`: ids of units checked at least
    once (repeats and ids of other projects' units are ignored). Returns (list of Coverage, meets).
    A category with no units is listed with 0/0 and meets.
    """
    checked = set(checked_unit_ids)
    totals = {c: 0 for c in SPECIAL_UNIT_KINDS + (STANDARD,)}
    done = dict.fromkeys(totals, 0)
    for unit_id, special_kind in units:
        category = unit_category(special_kind)
        totals[category] += 1
        if unit_id in checked:
            done[category] += 1
    rows = [Coverage(c, totals[c], done[c], required_checks(c, totals[c])) for c in totals]
    return rows, all(r.meets for r in rows)


def floor_plan_check_late(structure_progress_percent):
    """“完毕时间:原则层主体完毕50%内完毕。” — late once standard floors are over 50% built (50 is on time)."""
    if structure_progress_percent is None:
        return None
    return structure_progress_percent > STRUCTURE_PROGRESS_LIMIT


def floor_plan_check_problems(matches_dm, discrepancy, structure_progress_percent, checked_on,
                              today):
    if matches_dm is False and not (discrepancy or '').strip():
        yield 'discrepancy', '与DM单不一致时须写明差异内容。'
    if structure_progress_percent is not None and not 0 <= structure_progress_percent <= 100:
        yield 'structure_progress', '标准层主体完成比例须在 0–100 之间。'
    if checked_on is not None and today is not None and checked_on > today:
        yield 'checked_on', '复查日期不能晚于今天（%s）。' % today.isoformat()


# --------------------------------------------------------------------------- design changes

COMPLAINT_RISKS = ('高', '中', '低')
NOTICE_METHODS = ('函件', '短信', '公告', '面谈')
CHANGE_STATUSES = ('开盘前变更', '待告知部门', '无需告知业主', '待告知业主', '告知中', '已告知业主')
NOTICE_PARTIES = (('cs_notified_on', '客户关系部'), ('sales_notified_on', '销售部'),
                  ('legal_notified_on', '法务'))


def design_change_after_launch(issued_on, launch_on):
    """“凡在销售开盘后下发旳所有设计变更须及时告知客户服务部、销售部及法务”.

    A change issued on the launch day counts as after launch: owners signing that day bought what
    the pre-change drawings showed. Unknown dates → False (no launch yet, nothing sold).
    """
    if issued_on is None or launch_on is None:
        return False
    return issued_on >= launch_on


def pending_notices(after_launch, cs_notified_on, sales_notified_on, legal_notified_on):
    """The departments an after-launch change has not yet been sent to (CS, sales, legal)."""
    if not after_launch:
        return []
    dates = {'cs_notified_on': cs_notified_on, 'sales_notified_on': sales_notified_on,
             'legal_notified_on': legal_notified_on}
    return [label for name, label in NOTICE_PARTIES if dates[name] is None]


def owners_still_to_tell(customer_notice_required, owners_to_notify, owners_notified):
    """Owners not yet told of a change that must be told to them (0 when no notice is required)."""
    if not customer_notice_required:
        return 0
    return max(0, (owners_to_notify or 0) - (owners_notified or 0))


def design_change_status(after_launch, pending_departments, customer_notice_required,
                         letters_sent_on, owners_left, owners_notified):
    """Where a change stands, in the order the manual handles it: issued → told to CS, sales and
    legal → CS and legal decide whether owners must be told → letters sent → every owner told."""
    if not after_launch:
        return '开盘前变更'
    if pending_departments:
        return '待告知部门'
    if not customer_notice_required:
        return '无需告知业主'
    if letters_sent_on is None and not owners_notified:
        return '待告知业主'
    if owners_left:
        return '告知中'
    return '已告知业主'


def change_untold_to_owners(letters_sent_on, owners_to_notify, owners_notified):
    """Not (fully) told to owners: nothing sent to anyone, or fewer owners told than affected."""
    if letters_sent_on is None and not owners_notified:
        return True
    return bool(owners_to_notify) and (owners_notified or 0) < owners_to_notify


def change_needs_pre_delivery_review(after_launch, complaint_risk, letters_sent_on,
                                     owners_to_notify, owners_notified):
    """The pre-delivery check's list: after-launch, high complaint risk, not told to owners.

    交付前风险检查: “设计变更类,重新核对设计部门及客户关系部门旳设计变更台账,检查变更贯彻、客户反馈信息及
    漏掉状况” — such a change needs its scope, impact and a suggestion before delivery.
    """
    return bool(after_launch) and complaint_risk == '高' and \
        change_untold_to_owners(letters_sent_on, owners_to_notify, owners_notified)


def design_change_problems(customer_notice_required, notice_basis, notice_method,
                           letters_sent_on, owners_to_notify, owners_notified, issued_on,
                           notified_dates, today):
    """(field, message) refused on save.

    `notified_dates`: {'cs_notified_on': date|None, 'sales_notified_on': …, 'legal_notified_on': …}.
    """
    if owners_to_notify is not None and owners_to_notify < 0:
        yield 'owners_to_notify', '应告知业主数不能为负数。'
    if owners_notified is not None and owners_notified < 0:
        yield 'owners_notified', '已告知业主数不能为负数。'
    if owners_to_notify is not None and owners_notified is not None and \
            owners_notified > owners_to_notify:
        yield 'owners_notified', '已告知业主数（%d）不能多于应告知业主数（%d）。' % (
            owners_notified, owners_to_notify)
    if customer_notice_required and not (notice_basis or '').strip():
        yield 'notice_basis', '需告知客户时须写明判断依据（由客户关系部和法务根据法规判断）。'
    if (owners_notified or letters_sent_on) and not customer_notice_required:
        yield 'customer_notice_required', '已记录告知业主，请勾选「需告知客户」并写明依据。'
    if letters_sent_on is not None and notice_method is None:
        yield 'notice_method', '已发出告知时须选择告知方式。'
    if issued_on is not None:
        for name, label in NOTICE_PARTIES + (('letters_sent_on', '发函'),):
            value = letters_sent_on if name == 'letters_sent_on' else notified_dates.get(name)
            if value is not None and value < issued_on:
                yield name, '%s日期不能早于变更下发日期（%s）。' % (label, issued_on.isoformat())
    for name, label in NOTICE_PARTIES + (('letters_sent_on', '发函'),):
        value = letters_sent_on if name == 'letters_sent_on' else notified_dates.get(name)
        if value is not None and today is not None and value > today:
            yield name, '%s日期不能晚于今天（%s）。' % (label, today.isoformat())


# --------------------------------------------------------------------------- knowledge bases

def quarter_label(day):
    """“在每季度……进行及时更新” — the quarter a knowledge-base point was added, e.g. 2024Q1."""
    return '%dQ%d' % (day.year, (day.month - 1) // 3 + 1)


def parse_quarter(text):
    """'2024Q3' (also '2024q3', '2024-Q3', '2024年第3季度') → (2024, 3), or None when unreadable."""
    import re
    if not text:
        return None
    m = re.fullmatch(r'\s*(\d{4})\s*(?:-|年)?\s*(?:[Qq]|第)\s*([1-4])\s*(?:季度)?\s*', text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


# --------------------------------------------------------------------------- contract documents

CONTRACT_DOC_KINDS = ('买卖合同', '补充协议', '交房标准', '特殊户型告知单', '合同附图')
CONTRACT_DRAFT_DAYS = 14
CONTRACT_DRAFT_CLAUSE = ('手册000 合同及合同附件制作：“开盘前两周由市场营销部销售服务组和项目营销组共同制作商品房'
                         '买卖合同及其附件,附件内容涉及但不限于《销售风险特别提示》、《交屋原则》、《特殊户型告知单》。”')
LEGAL_BACKGROUND_CLAUSE = ('手册000 四、组织开盘及上市前风险检查：“项目背景资料,涉及土地合同、土地证书、环评报告、'
                           '规划批复、预售许可证等。(项目初次开盘前,此部分检查需与法务部共同完毕)”')


def contract_draft_due(doc_kind, launch_on):
    """The sales contract and its attachments are made by launch − 14 days (开盘前两周,
    CONTRACT_DRAFT_CLAUSE); other sales documents have no drafting deadline (None)."""
    if doc_kind not in CONTRACT_DOC_KINDS or launch_on is None:
        return None
    return launch_on - days(CONTRACT_DRAFT_DAYS)


def contract_drafted_late(doc_kind, drafted_on, launch_on):
    """True when a contract document was made later than two weeks before launch (on the day is
    on time); None while unknown."""
    due = contract_draft_due(doc_kind, launch_on)
    if due is None or drafted_on is None:
        return None
    return drafted_on > due


def first_launch_legal_problems(kind, listing_on, completed_on, legal_joined):
    """(field, message): the pre-launch check of a project's first launch (no listing date: not a
    later product listing) is completed only with legal on its background documents."""
    if kind == '开盘及上市前检查' and listing_on is None and completed_on is not None and not legal_joined:
        return [('legal_joined', '项目初次开盘前的检查，项目背景资料须与法务部共同完成：请确认法务已参与（%s）'
                 % LEGAL_BACKGROUND_CLAUSE)]
    return []
