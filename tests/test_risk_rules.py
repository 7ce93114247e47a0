"""The risk-control rules of manual 000, at their edges, without HTTP or a database."""
import os
import re
from datetime import date

import pytest

from rules import risk
from rules.risk import (DONE_LATE, DONE_ON_TIME, DUE_SOON, NO_DATE, NOT_DUE, OVERDUE,
                        add_months, change_needs_pre_delivery_review, count_open_findings,
                        count_open_promises, design_change_after_launch, document_review_late,
                        finding_close_problems, floor_plan_check_late, floor_plan_coverage,
                        inspection_due_date, inspection_timing, owners_still_to_tell,
                        pending_notices, required_checks, sales_script_problems)

MANUAL_PATH = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'seeds',
                           '000_e0e801c4cceafe3f.txt')


def fields(problems):
    return [name for name, _ in problems]


# ---------------------------------------------------------------- month arithmetic

@pytest.mark.parametrize('day, months, expected', [
    (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2024, 5, 31), -3, date(2024, 2, 29)),
    (date(2025, 5, 31), -3, date(2025, 2, 28)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2024, 11, 30), 3, date(2025, 2, 28)),
    (date(2025, 1, 15), -1, date(2024, 12, 15)),
    (date(2024, 12, 31), 1, date(2025, 1, 31)),
])
def test_months_are_calendar_months_clamped_to_month_end(day, months, expected):
    assert add_months(day, months) == expected


# ---------------------------------------------------------------- inspection windows per kind

def test_drawing_review_is_due_ten_days_after_drawings_issued():
    w = inspection_due_date('审图评估', anchor_on=date(2025, 1, 25))
    assert (w.start_on, w.due_on) == (date(2025, 1, 25), date(2025, 2, 4))


def test_drawing_review_across_leap_day():
    assert inspection_due_date('审图评估', anchor_on=date(2024, 2, 20)).due_on == date(2024, 3, 1)
    assert inspection_due_date('审图评估', anchor_on=date(2023, 2, 20)).due_on == date(2023, 3, 2)


def test_show_unit_check_is_due_seven_days_after_show_unit_built():
    w = inspection_due_date('样板间检查', anchor_on=date(2024, 2, 29))
    assert w.due_on == date(2024, 3, 7)


def test_sales_document_countersign_is_due_twenty_days_before_launch():
    w = inspection_due_date('销售资料会签', launch_on=date(2024, 3, 20))
    assert w.due_on == date(2024, 2, 29)
    assert w.start_on is None


def test_pre_launch_check_is_done_by_seven_days_before_launch():
    w = inspection_due_date('开盘及上市前检查', launch_on=date(2025, 3, 1))
    assert (w.start_on, w.due_on) == (None, date(2025, 2, 22))


def test_pre_listing_check_counts_from_the_listing_date_when_given():
    w = inspection_due_date('开盘及上市前检查', launch_on=date(2024, 1, 1), listing_on=date(2024, 3, 1))
    assert (w.anchor_on, w.start_on, w.due_on) == (date(2024, 3, 1), None, date(2024, 2, 23))


def test_pre_delivery_check_is_done_by_three_calendar_months_before_delivery_month_end():
    w = inspection_due_date('交付前风险检查', delivery_on=date(2024, 5, 31))
    assert (w.start_on, w.due_on) == (None, date(2024, 2, 29))
    w = inspection_due_date('交付前风险检查', delivery_on=date(2025, 5, 31))
    assert w.due_on == date(2025, 2, 28)


def test_joint_acceptance_is_due_seven_days_before_delivery():
    w = inspection_due_date('交付联合验收', delivery_on=date(2024, 3, 7))
    assert w.due_on == date(2024, 2, 29)


def test_post_delivery_evaluation_is_due_three_months_after_delivery():
    assert inspection_due_date('交付后客户体验评估', delivery_on=date(2023, 11, 29)).due_on == \
        date(2024, 2, 29)
    assert inspection_due_date('交付后客户体验评估', delivery_on=date(2024, 11, 30)).due_on == \
        date(2025, 2, 28)


@pytest.mark.parametrize('kind', ['审图评估', '样板间检查'])
def test_own_anchor_kinds_ignore_project_dates(kind):
    assert inspection_due_date(kind, launch_on=date(2025, 1, 1), delivery_on=date(2026, 1, 1)) \
        is None


@pytest.mark.parametrize('kind', ['销售资料会签', '开盘及上市前检查'])
def test_launch_kinds_have_no_window_without_a_launch_date(kind):
    assert inspection_due_date(kind, delivery_on=date(2026, 1, 1)) is None


@pytest.mark.parametrize('kind', ['交付前风险检查', '交付联合验收', '交付后客户体验评估'])
def test_delivery_kinds_have_no_window_without_a_delivery_date(kind):
    assert inspection_due_date(kind, launch_on=date(2025, 1, 1)) is None


# ---------------------------------------------------------------- timing at a glance

LAUNCH = date(2025, 3, 1)    # pre-launch check done by 2025-02-22 (launch − 7 days)


@pytest.mark.parametrize('completed_on, today, expected', [
    (None, date(2025, 2, 1), NOT_DUE),
    (None, date(2025, 2, 14), NOT_DUE),       # 8 days to go
    (None, date(2025, 2, 15), DUE_SOON),      # exactly 7 days to go
    (None, date(2025, 2, 22), DUE_SOON),      # due today
    (None, date(2025, 2, 23), OVERDUE),
    (date(2024, 12, 1), date(2025, 3, 5), DONE_ON_TIME),   # early is on time: no 过早完成
    (date(2025, 2, 22), date(2025, 3, 5), DONE_ON_TIME),
    (date(2025, 2, 23), date(2025, 3, 5), DONE_LATE),
])
def test_pre_launch_check_timing(completed_on, today, expected):
    assert inspection_timing('开盘及上市前检查', completed_on, today, launch_on=LAUNCH) == expected


def test_deadline_only_kinds_are_never_done_early():
    assert inspection_timing('销售资料会签', date(2024, 6, 1), date(2025, 3, 1),
                             launch_on=LAUNCH) == DONE_ON_TIME


def test_timing_without_the_anchor_date_says_so():
    assert inspection_timing('审图评估', None, date(2025, 1, 1)) == NO_DATE


def test_inspection_without_its_own_anchor_is_refused():
    found = list(risk.inspection_problems('样板间检查', None, None, date(2025, 1, 1)))
    assert fields(found) == ['anchor_on']
    assert '样板间施工完成日期' in found[0][1]


def test_inspection_completed_in_the_future_is_refused():
    found = list(risk.inspection_problems('销售资料会签', None, date(2025, 1, 2), date(2025, 1, 1)))
    assert fields(found) == ['completed_on']


# ---------------------------------------------------------------- the manual's words

def _squash(text):
    return re.sub(r'\s+', '', text)


@pytest.mark.skipif(not os.path.exists(MANUAL_PATH), reason='manual text not available')
@pytest.mark.parametrize('kind', risk.INSPECTION_KINDS)
def test_every_inspection_rule_quotes_the_manual_verbatim(kind):
    manual = _squash(open(MANUAL_PATH, encoding='utf-8').read())
    rule = risk.INSPECTION_RULES[kind]
    assert _squash(rule.clause) in manual
    assert _squash(rule.section.split(' ')[-1]) in manual


def test_rule_text_names_manual_section_and_clause():
    text = risk.inspection_rule_text('交付前风险检查')
    assert '客服工作手册-风险控制模块' in text and '交付前三个月内完毕' in text
    assert risk.inspection_rule_text('不存在') == ''


# ---------------------------------------------------------------- sales documents

def test_countersign_exactly_twenty_days_before_launch_is_on_time():
    assert document_review_late(date(2024, 2, 29), date(2024, 3, 20)) is False


def test_countersign_nineteen_days_before_launch_is_late():
    assert document_review_late(date(2024, 3, 1), date(2024, 3, 20)) is True


def test_countersign_lateness_unknown_without_dates():
    assert document_review_late(None, date(2024, 3, 20)) is None
    assert document_review_late(date(2024, 3, 1), None) is None


def test_countersign_needs_both_reviews_and_an_oa_number():
    found = fields(risk.document_review_problems(None, None, date(2025, 1, 10), '', date(2025, 2, 1)))
    assert found == ['legal_reviewed_on', 'cs_reviewed_on', 'oa_no']


def test_review_after_countersign_is_refused():
    found = fields(risk.document_review_problems(date(2025, 1, 11), date(2025, 1, 9),
                                                 date(2025, 1, 10), 'OA-1', date(2025, 2, 1)))
    assert found == ['legal_reviewed_on']


def test_boards_are_due_the_day_before_launch():
    assert risk.disclosure_due(date(2024, 3, 1)) == date(2024, 2, 29)
    assert risk.disclosure_flags(date(2024, 2, 29), date(2024, 2, 20), date(2024, 3, 1)) == []
    assert len(risk.disclosure_flags(date(2024, 3, 1), date(2024, 2, 20), date(2024, 3, 1))) == 1
    assert risk.disclosure_flags(date(2024, 2, 29), None, date(2024, 3, 1)) == ['公示内容未经法务审核']


# ---------------------------------------------------------------- sales scripts

def test_script_cannot_take_effect_without_the_three_signatures():
    found = list(sales_script_problems(date(2025, 2, 1), date(2025, 1, 10), None, None))
    assert fields(found) == ['effective_on']
    assert '法务审核日期' in found[0][1] and '客服审核日期' in found[0][1]


def test_script_with_three_signatures_takes_effect():
    assert list(sales_script_problems(date(2025, 2, 1), date(2025, 1, 10),
                                      date(2025, 1, 12), date(2025, 2, 1))) == []


def test_review_after_effective_date_is_refused():
    found = fields(sales_script_problems(date(2025, 2, 1), date(2025, 1, 10),
                                         date(2025, 2, 2), date(2025, 1, 20)))
    assert found == ['legal_reviewed_on']


def test_review_before_the_specialty_lead_signed_is_refused():
    found = fields(sales_script_problems(None, date(2025, 1, 10), date(2025, 1, 9), None))
    assert found == ['legal_reviewed_on']


def test_script_cannot_supersede_itself():
    assert fields(sales_script_problems(None, None, None, None, 5, 5)) == ['superseded_by']


def test_drafting_starts_one_calendar_month_before_launch():
    assert risk.script_drafting_starts_on(date(2024, 3, 31)) == date(2024, 2, 29)
    assert risk.script_drafting_starts_on(date(2025, 3, 31)) == date(2025, 2, 28)


def test_script_drafted_later_than_a_month_before_launch_is_flagged():
    launch = date(2025, 3, 31)
    assert risk.sales_script_flags('销售说辞', date(2025, 2, 28), launch) == []
    assert len(risk.sales_script_flags('销售说辞', date(2025, 3, 1), launch)) == 1


def test_new_product_script_reconfirmed_two_weeks_before_listing():
    listing = date(2024, 3, 14)
    assert risk.script_reconfirm_due(listing) == date(2024, 2, 29)
    assert risk.sales_script_flags('销售说辞', None, None, date(2024, 2, 29), listing) == []
    assert risk.sales_script_flags('销售说辞', None, None, date(2024, 3, 1), listing)
    assert risk.sales_script_flags('销售说辞', None, None, None, listing)


def test_unified_script_due_two_months_before_delivery():
    assert risk.unified_script_due(date(2024, 4, 30)) == date(2024, 2, 29)
    flags = risk.sales_script_flags('不整改问题统一说辞', None, None, effective_on=date(2024, 3, 1),
                                    delivery_on=date(2024, 4, 30))
    assert flags and '交付前两个月' in flags[0]


def test_superseded_script_is_no_longer_in_force():
    today = date(2025, 1, 1)
    assert risk.script_is_effective(date(2024, 12, 1), None, today)
    assert not risk.script_is_effective(date(2024, 12, 1), 9, today)
    assert not risk.script_is_effective(date(2025, 1, 2), None, today)


# ---------------------------------------------------------------- findings

def test_not_fixable_finding_cannot_close_without_a_unified_script():
    found = list(finding_close_problems('已关闭', False, None, '张工', date(2025, 1, 5)))
    assert fields(found) == ['unified_script']
    assert '不整改问题统一说辞' in found[0][1]


def test_not_fixable_finding_needs_the_right_kind_of_script():
    found = fields(finding_close_problems('已关闭', False, '销售说辞', '张工', date(2025, 1, 5)))
    assert found == ['unified_script']


def test_not_fixable_finding_closes_with_a_unified_script():
    assert list(finding_close_problems('已关闭', False, '不整改问题统一说辞', '张工',
                                       date(2025, 1, 5))) == []


def test_closing_needs_verifier_and_date():
    assert fields(risk.FINDING_WORKFLOW.problems(
        {'status': '已关闭', 'verified_by': ' '}, {'status': '待验证'}, what='风险检查问题')) == \
        ['verified_by', 'closed_on']


def test_open_finding_with_a_closing_date_is_refused():
    assert fields(finding_close_problems('整改中', True, None, None, date(2025, 1, 5))) == \
        ['closed_on']


def test_closed_before_found_is_refused():
    assert fields(finding_close_problems('已关闭', True, None, '张工', date(2025, 1, 4),
                                         found_on=date(2025, 1, 5))) == ['closed_on']


def test_open_findings_are_counted_until_closed():
    assert count_open_findings(['待整改', '整改中', '待验证', '已关闭', '已关闭']) == 3
    assert count_open_findings([]) == 0


def test_finding_default_deadline_follows_its_inspection():
    assert risk.finding_default_deadline('开盘及上市前检查', date(2024, 3, 1), None) == \
        date(2024, 2, 29)
    assert risk.finding_default_deadline('交付前风险检查', None, date(2025, 1, 1)) == \
        date(2024, 12, 31)
    assert risk.finding_default_deadline('交付后客户体验评估', None, date(2025, 1, 1)) is None


# ---------------------------------------------------------------- promises

def test_promises_open_until_fulfilled_or_scripted():
    assert count_open_promises([('待兑现', False), ('已兑现', False), ('无法兑现', False),
                                ('无法兑现', True), ('待兑现', True)]) == 2


def test_fulfilled_promise_needs_a_check_date():
    assert fields(risk.PROMISE_WORKFLOW.problems({'status': '已兑现'}, None, what='销售承诺')) == \
        ['checked_on']
    assert list(risk.promise_problems('待兑现', None, None, date(2025, 1, 1))) == []


# ---------------------------------------------------------------- floor-plan coverage

def test_standard_units_need_a_quarter_rounded_up():
    assert required_checks('标准层', 8) == 2      # exactly 25%
    assert required_checks('标准层', 9) == 3      # 2 would be 22%
    assert required_checks('标准层', 0) == 0
    assert required_checks('标准层', 1) == 1
    assert required_checks('首层', 7) == 7


def _coverage(units, checked):
    rows, meets = floor_plan_coverage(units, checked)
    return {r.category: (r.checked, r.required, r.meets) for r in rows}, meets


def test_coverage_exactly_25_percent_of_standard_meets():
    units = [(i, None) for i in range(1, 9)] + [(20, '首层'), (21, '边户')]
    per, meets = _coverage(units, [1, 2, 20, 21])
    assert per['标准层'] == (2, 2, True)
    assert per['首层'] == (1, 1, True) and per['边户'] == (1, 1, True)
    assert per['二层'] == (0, 0, True)
    assert meets


def test_coverage_one_special_unit_missing_fails():
    units = [(1, '首层'), (2, '首层'), (3, '二层'), (4, '非标层'), (5, '')]
    per, meets = _coverage(units, [1, 3, 4, 5])
    assert per['首层'] == (1, 2, False)
    assert not meets


def test_coverage_below_25_percent_of_standard_fails():
    units = [(i, '标准层') for i in range(1, 10)]
    per, meets = _coverage(units, [1, 2, 2, 99])    # repeat and foreign ids do not count
    assert per['标准层'] == (2, 3, False)
    assert not meets


def test_coverage_percent():
    rows, _ = floor_plan_coverage([(1, None), (2, None), (3, None)], [1])
    standard = [r for r in rows if r.category == '标准层'][0]
    assert standard.percent == 33.3


def test_floor_plan_check_due_while_standard_floors_at_most_half_built():
    assert floor_plan_check_late(50) is False
    assert floor_plan_check_late(51) is True
    assert floor_plan_check_late(None) is None


def test_mismatch_needs_its_discrepancy():
    assert fields(risk.floor_plan_check_problems(False, ' ', None, None, None)) == ['discrepancy']
    assert list(risk.floor_plan_check_problems(False, '客厅开间少20cm', 30, None, None)) == []


# ---------------------------------------------------------------- design changes

def test_change_issued_on_launch_day_is_after_launch():
    assert design_change_after_launch(date(2025, 3, 1), date(2025, 3, 1)) is True
    assert design_change_after_launch(date(2025, 2, 28), date(2025, 3, 1)) is False
    assert design_change_after_launch(date(2025, 2, 28), None) is False


def test_after_launch_change_lists_departments_not_yet_told():
    assert pending_notices(True, date(2025, 3, 2), None, None) == ['销售部', '法务']
    assert pending_notices(True, None, None, None) == ['客户关系部', '销售部', '法务']
    assert pending_notices(False, None, None, None) == []


def test_owners_still_to_tell():
    assert owners_still_to_tell(True, 120, 80) == 40
    assert owners_still_to_tell(True, 120, 120) == 0
    assert owners_still_to_tell(True, 120, None) == 120
    assert owners_still_to_tell(False, 120, 0) == 0


def test_high_risk_untold_change_needs_review_before_delivery():
    assert change_needs_pre_delivery_review(True, '高', None, 30, 0)
    assert change_needs_pre_delivery_review(True, '高', date(2025, 4, 1), 30, 29)
    assert not change_needs_pre_delivery_review(True, '高', date(2025, 4, 1), 30, 30)
    assert not change_needs_pre_delivery_review(True, '中', None, 30, 0)
    assert not change_needs_pre_delivery_review(False, '高', None, 30, 0)


def _change_problems(**kw):
    values = dict(customer_notice_required=True, notice_basis='户型变化影响使用',
                  notice_method='函件', letters_sent_on=date(2025, 4, 1), owners_to_notify=30,
                  owners_notified=10, issued_on=date(2025, 3, 10), notified_dates={},
                  today=date(2025, 5, 1))
    values.update(kw)
    return fields(risk.design_change_problems(**values))


def test_valid_design_change_has_no_problems():
    assert _change_problems() == []


def test_more_owners_told_than_affected_is_refused():
    assert _change_problems(owners_notified=31) == ['owners_notified']


def test_notice_without_basis_is_refused():
    assert _change_problems(notice_basis='') == ['notice_basis']


def test_letters_without_notice_decision_are_refused():
    assert 'customer_notice_required' in _change_problems(customer_notice_required=False)


def test_notice_before_the_change_was_issued_is_refused():
    assert _change_problems(notified_dates={'legal_notified_on': date(2025, 3, 9)}) == \
        ['legal_notified_on']


# ---------------------------------------------------------------- knowledge bases

def test_quarter_labels():
    assert risk.quarter_label(date(2024, 3, 31)) == '2024Q1'
    assert risk.quarter_label(date(2024, 4, 1)) == '2024Q2'
    assert risk.parse_quarter('2024年第3季度') == (2024, 3)
    assert risk.parse_quarter('2024-q4') == (2024, 4)
    assert risk.parse_quarter('2024Q5') is None


@pytest.mark.parametrize('args, expected', [
    ((False, [], False, None, 0, 0), '开盘前变更'),
    ((True, ['法务'], True, None, 30, 0), '待告知部门'),
    ((True, [], False, None, 0, 0), '无需告知业主'),
    ((True, [], True, None, 30, 0), '待告知业主'),
    ((True, [], True, date(2025, 4, 1), 10, 20), '告知中'),
    ((True, [], True, date(2025, 4, 1), 0, 30), '已告知业主'),
])
def test_design_change_status_follows_the_notices(args, expected):
    assert risk.design_change_status(*args) == expected


def test_only_an_approver_marks_a_finding_not_fixable():
    assert fields(risk.unfixable_decision_problems(False, None, False)) == ['fixable']
    assert fields(risk.unfixable_decision_problems(False, True, False)) == ['fixable']
    assert list(risk.unfixable_decision_problems(False, None, True)) == []
    assert list(risk.unfixable_decision_problems(True, None, False)) == []
    # already decided by a supervisor: a clerk may go on editing the row
    assert list(risk.unfixable_decision_problems(False, False, False)) == []
