"""Before delivery (交付前): mock-acceptance windows, the punch-list workflow, key transfers and the
handover countdown — plain functions of plain values, called by models/delivery.py and views.

Sources: 项目交付管理作业指引 (manual 001), 交付工作指引 4.1–4.4 (manual 004) and the delivery parts
of 客服工作手册-风险控制模块 (manual 000). Manual 004 was garbled by its host site: "企業公司" is the
property company and "應維修用戶" are the owners due for handover.
"""
import datetime
import re
from dataclasses import dataclass
from typing import Iterable, Optional
from rules.dates import add_months  # noqa: F401  (re-exported for callers)
from rules.workflow import Workflow

# --------------------------------------------------------------------------- dates



def fmt(day):
    return day.strftime('%Y-%m-%d') if day else ''


# --------------------------------------------------------------------------- acceptance rounds

ROUND_ORGANIZERS = {1: '项目部', 2: '客户关系部', 3: '物业公司'}

ROUND_CLAUSES = {
    1: '手册001《项目交付管理作业指引》第一轮内部验收：“项目竣工交付前3-6个月,开展第一轮内部验收,'
       '第一轮内部验收由项目部组织”；总结会时间：“第一轮内部验收清查完毕(不晚于入住前2月)”。',
    2: '手册001 第二轮内部验收：“第二轮内部验收于项目交付入住前2个月开展,由客户关系部组织”；'
       '总结会时间：“第二轮内部验收清查完毕(不晚于入住前30天)”。',
    3: '手册001 第三轮内部验收：“第三轮内部验收由物业公司组织,项目部和客户关系部配合,'
       '内部验收时间:不晚于入住前30日。”',
}


@dataclass(frozen=True)
class RoundWindow:
    """When a round may start and by when it must be cleared; None means no bound."""
    round_no: int
    start_from: Optional[datetime.date]
    start_until: Optional[datetime.date]
    clear_by: Optional[datetime.date]
    clause: str

    def describe(self):
        parts = []
        if self.start_from and self.start_until:
            parts.append('开始日期应在 %s 至 %s 之间' % (fmt(self.start_from), fmt(self.start_until)))
        elif self.start_until:
            parts.append('开始日期不晚于 %s' % fmt(self.start_until))
        elif self.start_from:
            parts.append('开始日期不早于 %s' % fmt(self.start_from))
        if self.clear_by:
            parts.append('清查完毕不晚于 %s' % fmt(self.clear_by))
        return '，'.join(parts)


def round_window(round_no, delivery_on):
    """The window of mock-acceptance round `round_no` for move-in (delivery) date `delivery_on`.

    手册001：
    - 第一轮：“项目竣工交付前3-6个月,开展第一轮内部验收”；“第一轮内部验收清查完毕(不晚于入住前2月)”。
      → starts between T−6 months and T−3 months, cleared by T−2 months.
    - 第二轮：“第二轮内部验收于项目交付入住前2个月开展”；“第二轮内部验收清查完毕(不晚于入住前30天)”。
      → starts from T−2 months, and (being cleared by T−30 days) no later than T−30 days.
    - 第三轮：“内部验收时间:不晚于入住前30日”；施工钥匙“移交时间:不晚于入住前15日 移交原则:所有内部验收
      问题关闭” → starts by T−30 days; its issues must be closed by T−15 days for the keys to move.
    """
    if delivery_on is None:
        return None
    if round_no == 1:
        return RoundWindow(1, add_months(delivery_on, -6), add_months(delivery_on, -3),
                           add_months(delivery_on, -2), ROUND_CLAUSES[1])
    if round_no == 2:
        return RoundWindow(2, add_months(delivery_on, -2), delivery_on - datetime.timedelta(days=30),
                           delivery_on - datetime.timedelta(days=30), ROUND_CLAUSES[2])
    if round_no == 3:
        return RoundWindow(3, None, delivery_on - datetime.timedelta(days=30),
                           delivery_on - datetime.timedelta(days=15), ROUND_CLAUSES[3])
    raise ValueError('验收轮次只能是 1、2、3：%r' % (round_no,))


def round_window_deviations(round_no, delivery_on, started_on, cleared_on):
    """(field, 中文说明) for every date of a round outside its window (see `round_window`).

    Not a refusal: a round that really took place late is still recorded — it is flagged.
    """
    window = round_window(round_no, delivery_on)
    if window is None:
        return []
    found = []
    label = '第%d轮' % round_no
    if started_on:
        if window.start_from and started_on < window.start_from:
            found.append(('started_on', '%s开始日期 %s 早于窗口（不早于 %s）。' % (
                label, fmt(started_on), fmt(window.start_from))))
        if window.start_until and started_on > window.start_until:
            found.append(('started_on', '%s开始日期 %s 晚于窗口（不晚于 %s）。' % (
                label, fmt(started_on), fmt(window.start_until))))
    if cleared_on and window.clear_by and cleared_on > window.clear_by:
        found.append(('cleared_on', '%s清查完毕日期 %s 晚于要求（不晚于 %s）。' % (
            label, fmt(cleared_on), fmt(window.clear_by))))
    return found


def round_out_of_window(round_no, delivery_on, started_on, cleared_on, today=None):
    """True when a date is outside the window, or the clear-by date has passed uncleared."""
    if round_window_deviations(round_no, delivery_on, started_on, cleared_on):
        return True
    window = round_window(round_no, delivery_on)
    if window is None or today is None:
        return False
    if not cleared_on and window.clear_by and today > window.clear_by:
        return True
    if not started_on and window.start_until and today > window.start_until:
        return True
    return False


def round3_prerequisite_problems(open_round2_issues, utilities_commissioned, landscaping_done,
                                 completion_filing_obtained):
    """Why round 3 may not start yet; an empty list means it may.

    手册001 第三轮内部验收 检查内容：“第二轮验收问题的关闭情况”；验收必备条件：“室内、外永久水、电调试完毕;
    电话、有线电视、对讲安全系统具备使用条件;景观绿化、室外配套完毕;取得竣工备案表”。
    `open_round2_issues` counts round-2 issues neither closed nor conceded (让步接收/不整改 approved).
    """
    found = []
    if open_round2_issues:
        found.append(('started_on', '第二轮验收尚有 %d 个问题未关闭或未经审批让步接收/不整改，'
                                    '不能开始第三轮（手册001：第三轮检查“第二轮验收问题的关闭情况”）。'
                      % open_round2_issues))
    if not utilities_commissioned:
        found.append(('utilities_commissioned', '第三轮验收必备条件未满足：“室内、外永久水、电调试完毕;'
                                                '电话、有线电视、对讲安全系统具备使用条件”。'))
    if not landscaping_done:
        found.append(('landscaping_done', '第三轮验收必备条件未满足：“景观绿化、室外配套完毕”。'))
    if not completion_filing_obtained:
        found.append(('completion_filing_obtained', '第三轮验收必备条件未满足：“取得竣工备案表”。'))
    return found


# --------------------------------------------------------------------------- inspection issues

STATUS_OPEN = '待整改'
STATUS_IN_PROGRESS = '整改中'
STATUS_TO_VERIFY = '待验证'
STATUS_CLOSED = '已关闭'
STATUS_CONCEDED = '让步接收'
STATUS_NOT_FIXED = '不整改'

ISSUE_STATUSES = (STATUS_OPEN, STATUS_IN_PROGRESS, STATUS_TO_VERIFY, STATUS_CLOSED,
                  STATUS_CONCEDED, STATUS_NOT_FIXED)
# Settled: the issue no longer blocks keys, rounds or counts as overdue.
SETTLED_STATUSES = (STATUS_CLOSED, STATUS_CONCEDED, STATUS_NOT_FIXED)
DECISION_STATUSES = (STATUS_CONCEDED, STATUS_NOT_FIXED)

SEVERITIES = ('一般', '重大')
ISSUE_CATEGORIES = ('交楼标准', '施工图与现场符合', '重大质量问题', '系统性风险', '设计缺陷', '销售承诺',
                    '使用功能', '成品保护', '完整性', '水电', '景观', '观感色差卫生')

# Allowed moves between statuses of an existing issue. Reopening a settled issue (the
# verification was wrong, the defect came back) sends it back to 整改中.
ISSUE_TRANSITIONS = {
    STATUS_OPEN: {STATUS_IN_PROGRESS, STATUS_TO_VERIFY, STATUS_CONCEDED, STATUS_NOT_FIXED},
    STATUS_IN_PROGRESS: {STATUS_OPEN, STATUS_TO_VERIFY, STATUS_CONCEDED, STATUS_NOT_FIXED},
    STATUS_TO_VERIFY: {STATUS_CLOSED, STATUS_IN_PROGRESS, STATUS_CONCEDED, STATUS_NOT_FIXED},
    STATUS_CLOSED: {STATUS_IN_PROGRESS},
    STATUS_CONCEDED: {STATUS_IN_PROGRESS},
    STATUS_NOT_FIXED: {STATUS_IN_PROGRESS},
}

# The punch list's workflow (rules/workflow.py): an issue is assigned (整改中: who and by when,
# 手册001 “落实整改时间”), rectified (待验证: when), verified and closed (验证人、验证日期,
# 手册001 “整改结果进行验证”). Created or imported in a later status, it carries all of that.
_ASSIGNED = ('contractor', 'deadline')
_RECTIFIED = _ASSIGNED + ('rectified_on',)
ISSUE_WORKFLOW = Workflow(
    field='status', initial=STATUS_OPEN, final=SETTLED_STATUSES, transitions=ISSUE_TRANSITIONS,
    requires={STATUS_IN_PROGRESS: _ASSIGNED, STATUS_TO_VERIFY: _RECTIFIED,
              STATUS_CLOSED: _RECTIFIED + ('verified_by', 'verified_on'),
              # 手册001 验收总结会：“确定不整改的问题,形成统一说辞”
              STATUS_NOT_FIXED: ('unified_script',)},
    reopen_to=STATUS_IN_PROGRESS, reopen_clears=('rectified_on', 'verified_on', 'verified_by'))

MAJOR_ISSUE_CLAUSE = ('手册001：“对于重大质量问题及时组织总包、监理、工程管理部制定整改措施,'
                      '并确定整改期限、责任人和处罚措施。”')
NOT_FIXED_CLAUSE = '手册001 验收总结会：“确定不整改的问题,形成统一说辞,履行决策审批后由客户关系部和项目部存档。”'
VERIFY_CLAUSE = '手册001 客户关系部职责：“对内部验收、风险检查及交房准备过程中发现问题进行统计、分析、反馈,整改结果进行验证”。'


def issue_problems(issue, old_status, can_approve):
    """(field, 中文消息) for every workflow rule `issue` breaks when saved from `old_status`.

    `issue` is any object with the punch-list attributes (status, severity, rectification_plan,
    deadline, responsible_person, penalty, unified_script, rectified_on, verified_on, verified_by);
    `old_status` is None for a new issue; `can_approve` is the saving user's approval power.

    - 流程：待整改 → 整改中 → 待验证 → 已关闭，或 让步接收 / 不整改 — ISSUE_WORKFLOW, checked by the
      register base on create and edit alike (what each status requires, closed issues locked).
    - 让步接收/不整改：“履行决策审批”，只有客服经理（或管理员）可以作出或撤销该决定。
    - 不整改：“确定不整改的问题,形成统一说辞”（统一说辞：ISSUE_WORKFLOW）。
    - 重大：“制定整改措施,并确定整改期限、责任人和处罚措施”。
    - 已关闭：整改结果经客户关系部验证（验证人、验证日期，见 ISSUE_WORKFLOW）。
    """
    status = issue.status
    found = []
    if status not in ISSUE_STATUSES:
        return [('status', '状态「%s」不在可选范围内。' % (status,))]
    entering_decision = status in DECISION_STATUSES and status != old_status
    leaving_decision = old_status in DECISION_STATUSES and status != old_status
    if (entering_decision or leaving_decision) and not can_approve:
        found.append(('status', '只有客服经理可以审批「让步接收」或「不整改」（%s）' % NOT_FIXED_CLAUSE))
    if getattr(issue, 'severity', None) == '重大' and status not in DECISION_STATUSES:
        missing = [label for attr, label in (('rectification_plan', '整改措施'), ('deadline', '整改期限'),
                                             ('responsible_person', '责任人'), ('penalty', '处罚措施'))
                   if not _filled(getattr(issue, attr, None))]
        if missing:
            found.append(('severity', '重大问题必须填写%s（%s）' % ('、'.join(missing), MAJOR_ISSUE_CLAUSE)))
    rectified_on = getattr(issue, 'rectified_on', None)
    verified_on = getattr(issue, 'verified_on', None)
    found_on = getattr(issue, 'found_on', None)
    if rectified_on and found_on and rectified_on < found_on:
        found.append(('rectified_on', '整改完成日期不能早于发现日期。'))
    if verified_on and rectified_on and verified_on < rectified_on:
        found.append(('verified_on', '验证日期不能早于整改完成日期。'))
    deadline = getattr(issue, 'deadline', None)
    if deadline and found_on and deadline < found_on:
        found.append(('deadline', '整改期限不能早于发现日期。'))
    return found


def _filled(value):
    return value is not None and str(value).strip() != ''


def is_issue_settled(status):
    return status in SETTLED_STATUSES


def is_issue_overdue(deadline, status, today):
    """Overdue: the deadline has passed (strictly before today) and the issue is not settled.

    手册001：“将每日需整改问题汇总反馈给监理和总包单位,并落实整改时间,跟踪关闭整改问题。”
    """
    return bool(deadline) and deadline < today and status not in SETTLED_STATUSES


def closure_rate(found, settled):
    """Settled issues over found issues, as a fraction (0 when nothing was found)."""
    return settled / found if found else 0.0


# --------------------------------------------------------------------------- key transfers

KEY_CONSTRUCTION = '施工钥匙'
KEY_SALES = '销售钥匙'
KEY_KINDS = (KEY_CONSTRUCTION, KEY_SALES)          # the project's two transfers, each with its date
# Keys handed over later (a lost key replaced, a unit sold after the sales keys moved): a kind of
# its own, which neither moves the project's transfer dates nor can be late.
KEY_SUPPLEMENT = '补交/更换钥匙'
KEY_TRANSFER_KINDS = KEY_KINDS + (KEY_SUPPLEMENT,)
SUPPLEMENT_NOTE = '补交/更换钥匙：不改变项目的施工钥匙、销售钥匙移交日期，不计逾期。'
KEY_LEAD_DAYS = {KEY_CONSTRUCTION: 15, KEY_SALES: 4}
KEY_CLAUSES = {
    KEY_CONSTRUCTION: '手册001 钥匙移交：“施工钥匙由施工单位移交给物业公司。钥匙应由项目部组织施工单位办理移交。'
                      '移交时间:不晚于入住前15日 移交原则:所有内部验收问题关闭;让步接收问题完成审批”',
    KEY_SALES: '手册001 钥匙移交：“销售钥匙由营销管理部移交物业公司。移交时间:不晚于入住前4日 '
               '移交原则:保证已售出的房间钥匙全部移交;丢失或坏损的钥匙已更替或修复”',
}


def key_due_on(kind, move_in_on):
    """The last day keys of `kind` may be handed to the property company (see KEY_CLAUSES)."""
    if move_in_on is None:
        return None
    return move_in_on - datetime.timedelta(days=KEY_LEAD_DAYS[kind])


def key_late_days(kind, move_in_on, transferred_on):
    due = key_due_on(kind, move_in_on)
    if due is None or transferred_on is None:
        return 0
    return max(0, (transferred_on - due).days)


def key_timing_note(kind, move_in_on, transferred_on):
    """A sentence saying whether a transfer is on time or late, quoting the rule; '' if unknown."""
    due = key_due_on(kind, move_in_on)
    if due is None or transferred_on is None:
        return ''
    late = key_late_days(kind, move_in_on, transferred_on)
    rule = '不晚于入住前%d日' % KEY_LEAD_DAYS[kind]
    if late:
        return '逾期 %d 天：%s应%s（即 %s 前）移交，实际 %s。' % (
            late, kind, rule, fmt(due), fmt(transferred_on))
    return '按时：%s应%s（即 %s 前）移交。' % (kind, rule, fmt(due))


def construction_key_problems(unsettled_issue_count):
    """Why construction keys may not be recorded as transferred yet.

    手册001：“移交原则:所有内部验收问题关闭;让步接收问题完成审批”。`unsettled_issue_count`
    counts the project's inspection issues neither closed nor decided. Only a supervisor can put
    an issue in 让步接收/不整改, so an issue in either status carries its approval.
    """
    if not unsettled_issue_count:
        return []
    return [('transferred_on', '本项目尚有 %d 个内部验收问题未关闭或未经审批让步接收，不能移交施工钥匙（%s）。' % (
        unsettled_issue_count, KEY_CLAUSES[KEY_CONSTRUCTION]))]


SCOPE_SEPARATORS = re.compile(r'[\s,，、;；]+')
WHOLE_PROJECT_TOKENS = {'全部', '全部房源', '全部已售', '全部已售房源', '全项目'}


def scope_tokens(scope):
    return [t for t in SCOPE_SEPARATORS.split(scope or '') if t]


def building_aliases(building):
    """The ways a clerk writes one building: 1, 1#, 1栋, 1号楼, 1幢."""
    base = str(building).strip()
    for suffix in ('号楼', '栋', '幢', '#', '号'):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
            break
    return {base, base + '#', base + '栋', base + '号楼', base + '幢', str(building).strip()}


def scope_names(token, building, entrance=None, room=None):
    """Whether one token of a transfer scope names this home or its building, however it is
    written (「3栋」「3#」「3-1-1602」「3栋1单元1602」: rules.address)."""
    from rules.address import building_key, entrance_key, parse_address, room_key
    if building is None:
        return False
    if token in building_aliases(building):
        return True
    address = parse_address(token)
    if address is None or address.building is None or address.building != building_key(building):
        return False
    if address.room is None:
        return address.entrance is None
    return room is not None and address.room == room_key(room) and \
        address.entrance in (None, entrance_key(entrance))


def units_not_covered(sold_units, scope):
    """Labels of sold units whose keys the transfer scope leaves out.

    `sold_units` is an iterable of (label, building) or (label, building, entrance, room);
    `scope` is the clerk's text: homes and/or buildings separated by commas, 、 or spaces, or
    全部 for every unit of the project.
    """
    tokens = set(scope_tokens(scope))
    if tokens & WHOLE_PROJECT_TOKENS:
        return []
    missing = []
    for label, building, *home in sold_units:
        if label in tokens or any(scope_names(t, building, *home) for t in tokens):
            continue
        missing.append(label)
    return missing


def unknown_scope_tokens(scope, units):
    """The tokens of a transfer scope that name no building or home of the project: keys move
    for real buildings and rooms only. `units`: (building, entrance, room) of the project."""
    units = list(units)
    labels = {'%s-%s-%s' % u for u in units}
    return [t for t in scope_tokens(scope) if t not in WHOLE_PROJECT_TOKENS and t not in labels
            and not any(scope_names(t, *u) for u in units)]


def scope_problems(scope, units):
    """A transfer's scope must be 全部 or name the project's buildings and homes."""
    if not scope_tokens(scope):
        return [('scope', '请填写移交范围：楼栋或房号（如“1栋、2栋、3-1-101”），或“全部”。')]
    unknown = unknown_scope_tokens(scope, units)
    if not unknown:
        return []
    shown = '、'.join(unknown[:10]) + (' 等' if len(unknown) > 10 else '')
    return [('scope', '移交范围中的「%s」不是本项目的楼栋或房号；楼栋写作“1栋”或“1#”，房号写作“3-1-101”'
                      '或“3栋1单元101”，多个用顿号或逗号分隔，全部房源写“全部”。' % shown)]


def sales_key_problems(sold_units_without_keys, missing_or_damaged, replaced):
    """Why sales keys may not be recorded as transferred.

    手册001：“移交原则:保证已售出的房间钥匙全部移交;丢失或坏损的钥匙已更替或修复”。
    """
    found = []
    if sold_units_without_keys:
        shown = '、'.join(sold_units_without_keys[:30])
        more = ' 等' if len(sold_units_without_keys) > 30 else ''
        found.append(('scope', '以下 %d 套已售房源的钥匙不在移交范围内：%s%s（%s）。' % (
            len(sold_units_without_keys), shown, more, KEY_CLAUSES[KEY_SALES])))
    if _filled(missing_or_damaged) and not replaced:
        found.append(('replaced', '登记了丢失或坏损的钥匙，须更替或修复后才能移交（%s）。' % KEY_CLAUSES[KEY_SALES]))
    return found


# --------------------------------------------------------------------------- the countdown (§7)

# The day a milestone counts from: T (the first day of the concentrated handover), or the day the
# concentrated handover was completed (手册001 “房屋交付工作完成三日内 / 15日内”).
ANCHOR_T = '交付日'
ANCHOR_DONE = '交付完成日'
ANCHORS = (ANCHOR_T, ANCHOR_DONE)


@dataclass(frozen=True)
class MilestoneSpec:
    """One countdown node: `offset_months` calendar months and then `offset_days` days from its
    anchor ("N个月" in a manual is N calendar months, never N×30 days: see rules.dates)."""
    code: str
    name: str
    offset_days: int
    owner_department: str
    clause: str
    offset_months: int = 0
    anchor: str = ANCHOR_T

    @property
    def label(self):
        return offset_label(self.offset_days, self.offset_months, self.anchor)

    @property
    def manual(self):
        return clause_source(self.clause)


def offset_label(offset_days, offset_months=0, anchor=ANCHOR_T):
    """How the countdown names a node: T-45, T-3个月, T+3个月, 交付完成+3日."""
    text = ('交付完成' if anchor == ANCHOR_DONE else 'T') + \
        ('%+d个月' % offset_months if offset_months else '')
    if offset_days or not offset_months:
        text += '%+d' % offset_days + ('日' if anchor == ANCHOR_DONE else '')
    return text


def clause_source(clause):
    """The manual and section a quoted clause starts with ('手册004 4.2.1：“…”' → '手册004 4.2.1')."""
    head = (clause or '').split('：', 1)[0]
    return head if head != clause else ''


PLUS3_DONE_CLAUSE = '手册001 房屋交付后续工作：“房屋交付工作完成三日内,客户关系部对未接房、影响面广的客户诉求进行汇总整理,形成相关记录”'
PLUS15_DONE_CLAUSE = ('手册001 房屋交付后续工作：“房屋交付工作完成15日内,由客户关系部起草房屋交付总结报告,'
                      '对整个过程进行回顾,附交房汇总统计表”')

COUNTDOWN = (
    MilestoneSpec('T-3Ma', '编制《住宅使用说明书》《住宅质量保证书》', 0, '项目部',
                  '手册001 房屋交付前期准备：“项目部提前三个月编制住宅使用说明书和住宅质量保证书”',
                  offset_months=-3),
    MilestoneSpec('T-3Mb', '交付前风险检查完成（《项目交付风险自评估报告》）', 0, '客户关系部',
                  '手册000 房屋交付入住前风险控制 三、交付前风险检查：“完毕时间:交付前三个月内完毕。”',
                  offset_months=-3),
    MilestoneSpec('T-3Mc', '成立入住工作小组', 0, '客户关系部',
                  '手册002 客服部工作职责 三、入住阶段：“负责在入住前3个月组织成立入住工作小组”', offset_months=-3),
    MilestoneSpec('T-45', '交楼启动会（《交付风险检查一览表》、交付时间、场地、分工、交付统一答词）', -45,
                  '客户关系部', '手册004 4.1.1：“不晚于交付前45日,客戶關系管理部組織……召開交樓啟動會……並確定交付統一答詞”'),
    MilestoneSpec('T-40', '成立交房小组，制定交房工作计划/方案', -40, '客户关系部',
                  '手册001：“客户关系部负责于交房前40天组织交房小组,结合本项目特点制定交房工作计划/方案”'),
    MilestoneSpec('T-30a', '导出应交付用户信息，与财务/营销核对', -30, '客户关系部',
                  '手册004 4.2.1：“交付前30天,由客戶關系管理部從系統中導出應維修用戶信息,並提供給簽約、收款責任部門核對”'),
    MilestoneSpec('T-30b', '最终交付方案报批', -30, '客户关系部',
                  '手册004 4.2.2：“交付前30日……確定最終交付方案,由客戶關系管理部完成交付方案報批”'),
    MilestoneSpec('T-20a', '《交付通知书》《住宅使用说明书》《住宅质量保证书》等资料印刷完成', -20, '客户关系部',
                  '手册004 4.2.3：“交付前20日,客戶關系管理部負責完成《交付通知書》、《住宅使用說明書》、《住宅質量保證書》……的印刷工作”'),
    MilestoneSpec('T-20b', '交房工作计划/方案审批确定', -20, '客户关系部',
                  '手册001：“并于房屋交付前20天审批确定”'),
    MilestoneSpec('T-15', '施工钥匙移交物业公司', -15, '项目部', KEY_CLAUSES[KEY_CONSTRUCTION]),
    MilestoneSpec('T-13', '《交付通知书》寄发准备', -13, '客户关系部',
                  '手册004 4.2.4：“交付前13日,客戶關系管理部根據應維修用戶信息完成《交付通知書》寄發準備工作”'),
    MilestoneSpec('T-10a', '制定《交楼名单》并发物业公司', -10, '客户关系部',
                  '手册004 4.2.5：“交付前10日,客戶關系管理部依據……應維修用戶信息,制定《交樓名單》,並將該名單發給企業”'),
    MilestoneSpec('T-10b', '核实应交付用户信息，填写并邮寄《交付通知书》', -10, '客户关系部',
                  '手册004 4.2.6：“交付前10日,客戶關系管理部再次與簽約中心核實應維修用戶信息,填寫並郵寄《交付通知書》”'),
    MilestoneSpec('T-7', '交付联合验收（《交付产品品质检查报告》）', -7, '项目中心',
                  '手册000 交付前联合验收：“由项目中心邀请组织进行公司级或集团(飞检)对房屋质量进行综合检查……完毕时间:交付前7日完毕”'),
    MilestoneSpec('T-4', '销售钥匙移交物业公司', -4, '营销管理部', KEY_CLAUSES[KEY_SALES]),
    MilestoneSpec('T-3a', '电话通知业主（不符合交楼资格的特别说明）', -3, '客户关系部',
                  '手册004 4.2.7：“交付前3日,客戶關系管理部組織相關人員電話通知用戶……對於不符合交樓資格的用戶要特別說明”'),
    MilestoneSpec('T-3b', '打印交付当日使用的各种表单', -3, '客户关系部',
                  '手册004 4.2.8：“交付前3日,客戶關系管理部組織企業等相關部門打印交付當日使用的各種表單”'),
    MilestoneSpec('T-3c', '交楼协调会，确定快修队人员、工具和材料', -3, '工程部',
                  '手册004 4.2.9：“交付前3日,工程部組織召開交樓協調會……確定快修隊人員組成及相關工具和材料準備”'),
    MilestoneSpec('T-1', '交付现场包装布置、模拟演练、重点事项培训', -1, '客户关系部',
                  '手册004 4.2.10：“交付前1日,客戶關系管理部組織完成交付現場包裝布置,組織進行交付模擬演練,對交付重點事項進行培訓”'),
    MilestoneSpec('T+3', '未接房、影响面广的客户诉求汇总', 3, '客户关系部', PLUS3_DONE_CLAUSE,
                  anchor=ANCHOR_DONE),
    MilestoneSpec('T+15', '房屋交付总结报告（附交房汇总统计表）', 15, '客户关系部', PLUS15_DONE_CLAUSE,
                  anchor=ANCHOR_DONE),
    MilestoneSpec('T+3Ma', '集中维修结束', 0, '工程部',
                  '手册004 4.1.3：“針對集中交付期現場快速維修和交付後三個月內的集中維修工作,做好人員和組織安排工作”',
                  offset_months=3),
    MilestoneSpec('T+3Mb', '《交付后客户体验评估报告》', 0, '客户关系部',
                  '手册000 客户入住后客户体验评估：“出具《交付后客户体验评估报告》。完毕时间:交付后3个月内。”',
                  offset_months=3),
)
COUNTDOWN_BY_CODE = {spec.code: spec for spec in COUNTDOWN}
# Inspections of the risk register (manual 000) that are countdown nodes: one obligation, one
# deadline — completing the inspection completes the node.
INSPECTION_CODES = {'交付前风险检查': 'T-3Mb', '交付联合验收': 'T-7', '交付后客户体验评估': 'T+3Mb'}
# Codes of earlier releases, when "three months" was counted as 90 days (renamed by migration 3).
RENAMED_CODES = {'T-90a': 'T-3Ma', 'T-90b': 'T-3Mb', 'T-90c': 'T-3Mc', 'T+90a': 'T+3Ma',
                 'T+90b': 'T+3Mb'}


def handover_completed_on(set_on, last_scheduled_on):
    """The day the concentrated handover was completed (“房屋交付工作完成”): the date the supervisor
    recorded, else the last day the roster scheduled an owner for; None (待定) while neither is
    known — the +3 and +15 deadlines then wait for it instead of counting from T."""
    return set_on or last_scheduled_on


def milestone_due_on(delivery_on, offset_days=0, offset_months=0, anchor=ANCHOR_T, completed_on=None):
    """The due date of a node: its anchor (T, or the handover's completion) shifted by
    `offset_months` calendar months (rules.dates.add_months: 31 May − 3 months is 28/29 Feb)
    and then `offset_days` days; None while the anchor is unknown (待定)."""
    base = completed_on if anchor == ANCHOR_DONE else delivery_on
    if base is None:
        return None
    return add_months(base, offset_months) + datetime.timedelta(days=offset_days)


def spec_due_on(spec, delivery_on, completed_on=None):
    return milestone_due_on(delivery_on, spec.offset_days, spec.offset_months, spec.anchor,
                            completed_on)


def missing_milestones(delivery_on, existing_codes: Iterable[str], completed_on=None):
    """The §7 countdown rows a project still lacks, as dicts ready to insert.

    Idempotent by code: a milestone already present (whatever its edited date) is left alone,
    so running the generator twice creates nothing new and keeps every edited date. Nodes that
    count from the handover's completion get no date while it is unknown (待定).
    """
    if delivery_on is None:
        return []
    have = set(existing_codes)
    return [dict(code=spec.code, name=spec.name, offset_days=spec.offset_days,
                 offset_months=spec.offset_months, anchor=spec.anchor,
                 due_on=spec_due_on(spec, delivery_on, completed_on),
                 plan_basis_on=completed_on if spec.anchor == ANCHOR_DONE else delivery_on,
                 owner_department=spec.owner_department, clause=spec.clause)
            for spec in COUNTDOWN if spec.code not in have]


PENDING = '待定'


def milestone_state(due_on, done_on, today):
    """已完成 / 逾期 / 今日到期 / 未到期 — a milestone is overdue the day after its due date;
    待定 while the day it counts from is unknown (never overdue)."""
    if done_on:
        return '已完成' if not due_on or done_on <= due_on else '逾期完成'
    if due_on is None:
        return PENDING
    if due_on < today:
        return '逾期'
    if due_on == today:
        return '今日到期'
    return '未到期'


# --------------------------------------------------------------------------- summary meetings

SUMMARY_MEETING_CLAUSES = {
    1: '手册001 第一轮内部验收总结会 时间：“第一轮内部验收清查完毕(不晚于入住前2月)”，召集人项目总经理。',
    2: '手册001 第二轮内部验收总结会 时间：“第二轮内部验收清查完毕(不晚于入住前30天)”，召集人项目总经理。',
}


def summary_meeting_due(round_no, delivery_on):
    """The summary meeting of round 1 by T − 2 calendar months, of round 2 by T − 30 days
    (SUMMARY_MEETING_CLAUSES: held when the round is cleared); round 3 names no date (None)."""
    if round_no not in SUMMARY_MEETING_CLAUSES or delivery_on is None:
        return None
    if round_no == 1:
        return add_months(delivery_on, -2)
    return delivery_on - datetime.timedelta(days=30)
