"""The after-handover rules at their edges, without HTTP."""
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from rules import aftercare as r
from rules import communication as c


# --- calendar arithmetic -----------------------------------------------------------------------

@pytest.mark.parametrize('start, months, expected', [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2024, 2, 29), 48, date(2028, 2, 29)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
    (date(2026, 1, 15), -2, date(2025, 11, 15)),
])
def test_add_months_clamps_to_month_end(start, months, expected):
    assert r.add_months(start, months) == expected


# --- warranty expiry -----------------------------------------------------------------------------

def test_heating_item_started_in_may_expires_at_end_of_second_heating_season():
    # seasons 2026-11-15..2027-03-15 and 2027-11-15..2028-03-15 — not May 2028 (24 months)
    assert r.warranty_expires_on(r.KIND_HEATING, date(2026, 5, 20)) == date(2028, 3, 15)


def test_heating_item_started_mid_season_does_not_count_the_partial_season():
    assert r.warranty_expires_on(r.KIND_HEATING, date(2026, 12, 1)) == date(2029, 3, 15)


def test_heating_item_started_on_first_day_of_season_counts_it():
    assert r.warranty_expires_on(r.KIND_HEATING, date(2026, 11, 15)) == date(2028, 3, 15)


def test_heating_season_end_is_a_parameter():
    south = r.Season('采暖期', '12-01', '02-28')
    assert r.warranty_expires_on(r.KIND_HEATING, date(2026, 5, 20), heating=south) == date(2028, 2, 28)


def test_cooling_item_started_in_july_skips_the_running_summer():
    # 2026 cooling season started 06-01 before acceptance: seasons 2027 and 2028 count
    assert r.warranty_expires_on(r.KIND_COOLING, date(2026, 7, 1)) == date(2028, 9, 30)


def test_cooling_item_started_in_march():
    assert r.warranty_expires_on(r.KIND_COOLING, date(2026, 3, 1)) == date(2027, 9, 30)


def test_waterproofing_defaults_to_five_years():
    assert r.warranty_expires_on(r.KIND_WATERPROOFING, date(2026, 6, 30)) == date(2031, 6, 30)


@pytest.mark.parametrize('kind', [r.KIND_ELECTRICAL, r.KIND_PLUMBING, r.KIND_EQUIPMENT, r.KIND_DECORATION])
def test_two_year_kinds(kind):
    assert r.warranty_expires_on(kind, date(2024, 2, 29)) == date(2026, 2, 28)


def test_structure_lasts_the_design_life():
    assert r.warranty_expires_on(r.KIND_STRUCTURE, date(2026, 1, 31), design_life_years=50) == date(2076, 1, 31)


def test_contract_may_give_more_than_the_minimum():
    assert r.warranty_expires_on(r.KIND_ELECTRICAL, date(2026, 1, 31), period_months=37) == date(2029, 2, 28)
    assert r.warranty_period_problems(r.KIND_ELECTRICAL, date(2026, 1, 31), period_months=37) == []


def test_one_year_waterproofing_is_refused_quoting_article_40():
    problems = r.warranty_period_problems(r.KIND_WATERPROOFING, date(2026, 5, 1), period_months=12)
    assert len(problems) == 1
    field, message = problems[0]
    assert field == 'period_months'
    assert '第四十条' in message and '5年' in message and '2027-05-01' in message


def test_five_year_waterproofing_is_accepted():
    assert r.warranty_period_problems(r.KIND_WATERPROOFING, date(2026, 5, 1), period_months=60) == []


def test_fifty_nine_months_waterproofing_is_refused():
    assert r.warranty_period_problems(r.KIND_WATERPROOFING, date(2026, 5, 1), period_months=59)


def test_heating_24_months_from_may_covers_both_seasons():
    assert r.warranty_period_problems(r.KIND_HEATING, date(2026, 5, 1), period_months=24) == []
    assert r.warranty_expires_on(r.KIND_HEATING, date(2026, 5, 1), period_months=24) == date(2028, 5, 1)


def test_heating_24_months_from_december_falls_short_of_two_seasons():
    # 2026-12-01 + 24 months = 2028-12-01, before the end of the second full season (2029-03-15)
    problems = r.warranty_period_problems(r.KIND_HEATING, date(2026, 12, 1), period_months=24)
    assert [f for f, _ in problems] == ['period_months']
    assert '采暖期' in problems[0][1]


def test_one_heating_season_is_refused():
    problems = r.warranty_period_problems(r.KIND_HEATING, date(2026, 5, 1), period_seasons=1)
    assert [f for f, _ in problems] == ['period_seasons']


def test_structure_needs_design_life():
    assert [f for f, _ in r.warranty_period_problems(r.KIND_STRUCTURE, date(2026, 5, 1))] == ['design_life_years']


def test_structure_shorter_than_design_life_is_refused():
    assert r.warranty_period_problems(r.KIND_STRUCTURE, date(2026, 5, 1), period_months=120,
                                      design_life_years=50)


def test_other_items_need_an_agreed_period_but_have_no_minimum():
    assert r.warranty_period_problems(r.KIND_OTHER, date(2026, 5, 1))
    assert r.warranty_period_problems(r.KIND_OTHER, date(2026, 5, 1), period_months=6) == []


def test_seasons_only_for_heating_and_cooling():
    assert r.warranty_period_problems(r.KIND_ELECTRICAL, date(2026, 5, 1), period_seasons=2)


@pytest.mark.parametrize('expires, due', [
    (date(2028, 4, 30), date(2028, 2, 29)),
    (date(2027, 4, 30), date(2027, 2, 28)),
    (date(2028, 3, 15), date(2028, 1, 15)),
    (date(2027, 1, 31), date(2026, 11, 30)),
    (date(2026, 2, 28), date(2025, 12, 28)),
])
def test_notice_due_two_months_before_expiry_month_end_safe(expires, due):
    assert r.notice_due_on(expires) == due


def test_owner_notice_due_on_the_day_and_until_notified():
    due = date(2026, 11, 25)
    assert not r.owner_notice_due(due, None, date(2026, 11, 24))
    assert r.owner_notice_due(due, None, date(2026, 11, 25))
    assert not r.owner_notice_due(due, date(2026, 11, 25), date(2026, 12, 1))


# --- complaints ---------------------------------------------------------------------------------

def complaint(**kw):
    values = dict(old_status='核查', status='关闭', severity='一般', can_approve=False, decided_by=None,
                  received_on=date(2026, 1, 5), closed_on=date(2026, 2, 1), deadline=date(2026, 1, 20),
                  resolution='已维修', responsible_department='工程管理部', follow_up_count=1)
    values.update(kw)
    return r.complaint_problems(**values)


def test_ordinary_complaint_closed_by_clerk():
    assert complaint() == []


def test_major_complaint_not_closed_by_clerk():
    problems = complaint(severity='重大', decided_by='张总')
    assert [f for f, _ in problems] == ['status']
    assert '重大投诉' in problems[0][1] and '授权' in problems[0][1]


def test_major_complaint_closed_by_approver_needs_decided_by():
    assert [f for f, _ in complaint(severity='重大', can_approve=True)] == ['decided_by']
    assert complaint(severity='重大', can_approve=True, decided_by='分管副总 张某') == []


def flow(values, before=None, **kw):
    """The complaint workflow's fields for a save of `values` (from `before`, None: created)."""
    return [f for f, _ in r.COMPLAINT_WORKFLOW.problems(values, before, what='投诉', **kw)]


def test_complaint_cannot_skip_steps():
    assert flow({'status': '跟进', 'responsible_department': 3}, {'status': '登记'}) == ['status']


def test_new_complaint_in_a_later_status_carries_what_the_walk_requires():
    assert complaint(old_status=None, status='登记', closed_on=None, responsible_department=None,
                     follow_up_count=0) == []
    assert flow({'status': '登记'}) == []
    assert flow({'status': '转办'}) == ['responsible_department']
    assert flow({'status': '转办', 'responsible_department': 3}) == []
    assert flow({'status': '关闭', 'responsible_department': 3}) == ['resolution', 'closed_on']
    # a check needs a follow-up entry, which a new complaint cannot have yet
    assert complaint(old_status=None, status='核查', closed_on=None, follow_up_count=0)


def test_failed_check_returns_to_follow_up():
    assert complaint(old_status='核查', status='跟进', closed_on=None) == []


def test_check_needs_a_follow_up_entry():
    assert [f for f, _ in complaint(old_status='跟进', status='核查', closed_on=None, follow_up_count=0)] == ['status']


def test_passing_on_needs_a_department():
    assert flow({'status': '转办'}, {'status': '分析'}) == ['responsible_department']


def test_closing_needs_date_and_resolution():
    assert flow({'status': '关闭', 'responsible_department': 3, 'resolution': ' '},
                {'status': '核查'}) == ['resolution', 'closed_on']


def test_closed_complaint_stays_closed():
    # a clerk changes nothing; a supervisor leaves 关闭 only by reopening with a reason
    assert flow({'status': '关闭'}, {'status': '关闭'}, may_change_closed=False) == [None]
    assert flow({'status': '跟进', 'responsible_department': 3}, {'status': '关闭'}) == ['status']
    assert flow({'status': '跟进', 'responsible_department': 3}, {'status': '关闭'},
                reopening=True) == []


def test_complaint_summary_counts_open_and_overdue():
    today = date(2026, 3, 1)
    rows = [('A', '工程质量', date(2026, 2, 28), None),      # overdue
            ('A', '工程质量', date(2026, 3, 1), None),       # due today: open, not overdue
            ('A', '工程质量', date(2026, 2, 1), date(2026, 2, 2)),
            ('A', '物业', None, None),
            ('B', '设计', date(2026, 1, 1), None)]
    summary = r.complaint_summary(rows, today)
    assert summary == [
        {'project': 'A', 'category': '工程质量', 'total': 3, 'open': 2, 'overdue': 1},
        {'project': 'A', 'category': '物业', 'total': 1, 'open': 1, 'overdue': 0},
        {'project': 'B', 'category': '设计', 'total': 1, 'open': 1, 'overdue': 1},
    ]


# --- work contact forms -------------------------------------------------------------------------

def test_contact_form_numbering_per_year():
    assert r.contact_form_no(2026, []) == 'GZ-2026-001'
    assert r.contact_form_no(2026, ['GZ-2026-001', 'GZ-2026-007', 'GZ-2025-012']) == 'GZ-2026-008'
    assert r.contact_form_no(2027, ['GZ-2026-001', 'GZ-2026-007']) == 'GZ-2027-001'
    assert r.contact_form_no(2026, ['GZ-2026-999']) == 'GZ-2026-1000'


def test_contact_form_overdue_only_after_the_deadline_day():
    deadline = date(2026, 1, 31)
    assert not r.contact_form_overdue(deadline, None, date(2026, 1, 31))
    assert r.contact_form_overdue(deadline, None, date(2026, 2, 1))
    assert not r.contact_form_overdue(deadline, date(2026, 1, 31), date(2026, 3, 1))
    assert r.contact_form_overdue(deadline, date(2026, 2, 1), date(2026, 3, 1))


def test_contact_form_status_closed_by_verification():
    today = date(2026, 2, 10)
    assert r.contact_form_status(date(2026, 2, 1), None, None, today) == '逾期未回复'
    assert r.contact_form_status(date(2026, 2, 20), None, None, today) == '待回复'
    assert r.contact_form_status(date(2026, 2, 1), date(2026, 2, 3), None, today) == '已回复待验证'
    assert r.contact_form_status(date(2026, 2, 1), date(2026, 2, 3), date(2026, 2, 5), today) == '已验证关闭'


def test_contact_form_verification_needs_a_reply():
    problems = r.contact_form_problems(issued_on=date(2026, 1, 1), deadline=date(2026, 1, 10), reply=None,
                                       replied_on=None, verified_on=date(2026, 1, 12))
    assert [f for f, _ in problems] == ['verified_on']


def test_contact_form_deadline_before_issue_refused():
    problems = r.contact_form_problems(issued_on=date(2026, 1, 10), deadline=date(2026, 1, 9), reply=None,
                                       replied_on=None, verified_on=None)
    assert [f for f, _ in problems] == ['deadline']


# --- compensation -------------------------------------------------------------------------------

def test_compensation_paid_needs_oa_number_and_date():
    problems = r.compensation_problems(amount=Decimal('800'), oa_approval_no='', approved_on=None,
                                       paid_on=date(2026, 3, 1))
    assert [f for f, _ in problems] == ['oa_approval_no', 'approved_on']
    assert 'OA' in problems[0][1]


def test_compensation_with_approval_may_be_paid():
    assert r.compensation_problems(amount=Decimal('800'), oa_approval_no='OA-2026-0312',
                                   approved_on=date(2026, 3, 1), paid_on=date(2026, 3, 1)) == []


def test_compensation_paid_before_approval_refused():
    problems = r.compensation_problems(amount=800, oa_approval_no='OA-1', approved_on=date(2026, 3, 2),
                                       paid_on=date(2026, 3, 1))
    assert [f for f, _ in problems] == ['paid_on']


def test_compensation_unpaid_without_approval_is_fine_but_amount_positive():
    assert r.compensation_problems(amount=100, oa_approval_no=None, approved_on=None, paid_on=None) == []
    assert [f for f, _ in r.compensation_problems(amount=0, oa_approval_no=None, approved_on=None,
                                                   paid_on=None)] == ['amount']


def test_compensation_totals():
    totals = r.compensation_totals([('A', Decimal('100.50'), date(2026, 1, 1)), ('A', 200, None),
                                    ('B', '50', None)])
    assert totals[0] == {'project': 'A', 'count': 2, 'amount': Decimal('300.50'),
                         'paid': Decimal('100.50'), 'unpaid': Decimal('200')}
    assert totals[1]['unpaid'] == Decimal('50')


# --- repairs ------------------------------------------------------------------------------------

def test_centralized_window_is_three_months_inclusive():
    delivered = date(2025, 11, 30)
    assert r.centralized_repair_ends_on(delivered) == date(2026, 2, 28)
    assert r.is_centralized_repair(date(2025, 11, 30), delivered)
    assert r.is_centralized_repair(date(2026, 2, 28), delivered)
    assert not r.is_centralized_repair(date(2026, 3, 1), delivered)
    assert not r.is_centralized_repair(date(2025, 11, 29), delivered)
    assert not r.is_centralized_repair(date(2026, 1, 1), None)


def test_repair_source_defaults_from_the_window():
    delivered = date(2026, 1, 31)
    assert r.repair_source(None, date(2026, 4, 30), delivered) == '集中维修'
    assert r.repair_source(None, date(2026, 5, 1), delivered) == '日常报修'
    assert r.repair_source('交付验房', date(2026, 1, 31), delivered) == '交付验房'


def test_centralized_source_outside_the_window_refused():
    problems = r.repair_problems(source='集中维修', reported_on=date(2026, 5, 1), delivered_on=date(2026, 1, 31),
                                 deadline=None, completed_on=None, closed=False, satisfaction=None,
                                 revisited_on=None)
    assert [f for f, _ in problems] == ['source']


def test_repair_closed_without_completion_refused_and_satisfaction_range():
    problems = r.repair_problems(source='日常报修', reported_on=date(2026, 5, 1), delivered_on=None,
                                 deadline=None, completed_on=None, closed=True, satisfaction=6,
                                 revisited_on=None)
    assert [f for f, _ in problems] == ['satisfaction', 'satisfaction']
    assert [f for f, _ in r.REPAIR_WORKFLOW.problems(
        {'closed': True, 'completed_on': None}, None, what='报修')] == ['completed_on']


def test_rectification_rate_and_satisfaction():
    summary = r.repair_summary([('A', '集中维修', True, 5), ('A', '集中维修', False, None),
                                ('A', '日常报修', True, 4)])
    assert summary == [{'project': 'A', 'orders': 3, 'centralized': 2, 'closed': 2, 'rate': Fraction(2, 3),
                        'rate_percent': Decimal('66.7'), 'satisfaction': Decimal('4.50')}]
    assert r.repair_rectification_rate([]) is None


# --- callback surveys ---------------------------------------------------------------------------

def test_exactly_25_percent_returned_is_not_valid():
    assert not r.survey_is_valid(1000, 250)
    assert not r.survey_is_valid(4, 1)


def test_25_point_1_percent_returned_is_valid():
    assert r.survey_is_valid(1000, 251)
    assert r.percent(r.response_rate(1000, 251)) == Decimal('25.1')


def test_survey_without_questionnaires_is_not_valid():
    assert not r.survey_is_valid(0, 0)
    assert not r.survey_is_valid(None, None)
    assert r.response_rate(0, 0) is None


def test_survey_counts_must_nest():
    fields = [f for f, _ in r.survey_problems(population=100, issued=120, returned=130, report_on=None)]
    assert fields == ['issued', 'returned']
    assert r.survey_problems(population=100, issued=-1, returned=None, report_on=None)[0][0] == 'issued'


def test_dimension_averages_skip_blank_answers():
    averages = r.dimension_averages([
        {'product_planning': 4, 'construction_quality': 3, 'sales_service': 5, 'complaint_service': None,
         'property_service': 2},
        {'product_planning': 5, 'construction_quality': 4, 'sales_service': 4, 'complaint_service': None,
         'property_service': 3},
    ])
    assert averages == {'产品策划': Decimal('4.50'), '工程质量': Decimal('3.50'), '销售服务': Decimal('4.50'),
                        '投诉处理服务': None, '物业管理服务': Decimal('2.50')}


def test_score_outside_one_to_five_refused():
    assert r.score_problems({'product_planning': 0, 'sales_service': 5}) == [('product_planning', '产品策划评分须为1–5分')]


def test_callback_not_due_one_year_minus_a_day():
    delivered = date(2025, 11, 26)
    assert not r.callback_due(delivered_on=delivered, delivered_units=60, total_units=100, today=date(2026, 11, 25))
    assert r.callback_due(delivered_on=delivered, delivered_units=60, total_units=100, today=date(2026, 11, 26))


def test_callback_not_due_at_exactly_half_occupancy():
    kwargs = dict(delivered_on=date(2024, 1, 1), total_units=100, today=date(2026, 1, 1))
    assert not r.callback_due(delivered_units=50, **kwargs)
    assert r.callback_due(delivered_units=51, **kwargs)


def test_callback_for_a_leap_day_delivery_is_due_on_feb_28():
    assert r.callback_due_from(date(2024, 2, 29)) == date(2025, 2, 28)


def test_valid_callback_since_the_due_date_clears_the_project():
    kwargs = dict(delivered_on=date(2024, 3, 1), delivered_units=80, total_units=100, today=date(2026, 1, 1))
    assert not r.callback_due(valid_survey_dates=[date(2025, 3, 1)], **kwargs)
    # a survey before the one-year day does not count
    assert r.callback_due(valid_survey_dates=[date(2025, 2, 28)], **kwargs)


def test_one_valid_callback_settles_it_for_good():
    """“至少一次”: no yearly round falls due after a valid callback."""
    kwargs = dict(delivered_on=date(2024, 3, 1), delivered_units=80, total_units=100,
                  valid_survey_dates=[date(2025, 3, 10)])
    assert not r.callback_due(today=date(2026, 3, 11), **kwargs)
    assert not r.callback_due(today=date(2030, 1, 1), **kwargs)


# --- owner quality groups (手册003) ---------------------------------------------------------------

def test_thirty_percent_sold_exactly_is_not_due():
    assert not c.group_due(30, 100)
    assert not c.group_due(3, 10)


def test_one_more_sale_makes_the_group_due():
    assert c.group_due(31, 100)
    assert c.group_due(4, 10)


@pytest.mark.parametrize('members, warned', [(4, True), (5, False), (10, False), (11, True), (0, True)])
def test_group_size_warning_outside_five_to_ten(members, warned):
    warning = c.group_size_warning(members)
    assert (warning is not None) == warned
    if warned:
        assert f'{members}人' in warning and '5-10人' in warning
