"""The manuals' dated, counted and gated rules of issue 15 (items 1–5 and the readings decided),
each a plain function checked at its edges: on the day, one day past, month ends (31 January + 1
month, 31 May − 3 months), leap days and exactly at the percentage. No database: the pages that
show these rules are checked to agree in tests/test_rule_agreement.py."""
import datetime

import pytest

from rules import aftercare as care
from rules import communication as comm
from rules import delivery
from rules import risk
from rules.dates import add_months
from rules.master import unit_status_from_contracts

D = datetime.date


# ------------------------------------------------------------------ "N个月" is N calendar months

@pytest.mark.parametrize('day, months, expected', [
    (D(2027, 1, 31), 1, D(2027, 2, 28)),     # 31 January + 1 month
    (D(2028, 1, 31), 1, D(2028, 2, 29)),     # … in a leap year
    (D(2027, 5, 31), -3, D(2027, 2, 28)),    # 31 May − 3 months
    (D(2028, 5, 31), -3, D(2028, 2, 29)),
    (D(2028, 2, 29), 12, D(2029, 2, 28)),    # a leap day + one year
    (D(2026, 11, 30), 3, D(2027, 2, 28)),
])
def test_months_are_calendar_months(day, months, expected):
    assert add_months(day, months) == expected


def test_every_countdown_node_written_in_months_counts_calendar_months():
    """A node whose clause says 三个月/3个月 is offset in months, never in 90 days."""
    for spec in delivery.COUNTDOWN:
        in_months = any(w in spec.clause for w in ('三个月', '3个月', '三個月'))
        assert bool(spec.offset_months) == in_months, spec.code
        if in_months:
            assert spec.offset_days == 0 and abs(spec.offset_months) == 3, spec.code
        assert abs(spec.offset_days) not in (60, 90, 180, 365), spec.code    # no month hidden in days


def test_the_move_in_team_cites_manual_002():
    spec = delivery.COUNTDOWN_BY_CODE['T-3Mc']
    assert spec.manual.startswith('手册002') and '入住前3个月组织成立入住工作小组' in spec.clause


@pytest.mark.parametrize('code, t, due', [
    ('T-3Ma', D(2027, 5, 31), D(2027, 2, 28)),
    ('T-3Mb', D(2028, 5, 31), D(2028, 2, 29)),
    ('T-3Mc', D(2027, 3, 31), D(2026, 12, 31)),
    ('T+3Ma', D(2026, 11, 30), D(2027, 2, 28)),
    ('T+3Mb', D(2027, 11, 30), D(2028, 2, 29)),
    ('T-45', D(2028, 4, 14), D(2028, 2, 29)),
])
def test_countdown_dates_at_month_ends(code, t, due):
    assert delivery.spec_due_on(delivery.COUNTDOWN_BY_CODE[code], t) == due


def test_centralized_repair_ends_with_the_countdown_node():
    t = D(2025, 5, 31)
    last = delivery.spec_due_on(delivery.COUNTDOWN_BY_CODE['T+3Ma'], t)
    assert last == care.centralized_repair_ends_on(t) == D(2025, 8, 31)     # not T + 90 = 08-29
    assert care.is_centralized_repair(last, t)
    assert not care.is_centralized_repair(last + datetime.timedelta(days=1), t)
    found = care.repair_problems(source='集中维修', reported_on=D(2025, 9, 1), delivered_on=t,
                                 deadline=None, completed_on=None, closed=False, satisfaction=None,
                                 revisited_on=None)
    assert [f for f, _ in found] == ['source']
    assert '2025-08-31' in found[0][1] and '手册002' in found[0][1]
    assert care.repair_problems(source='集中维修', reported_on=last, delivered_on=t, deadline=None,
                                completed_on=None, closed=False, satisfaction=None,
                                revisited_on=None) == []


# ------------------------------------------------------------------ 1. one obligation, one deadline

@pytest.mark.parametrize('t, due', [(D(2027, 5, 31), D(2027, 2, 28)), (D(2028, 5, 31), D(2028, 2, 29)),
                                    (D(2027, 3, 1), D(2026, 12, 1))])
def test_pre_delivery_check_is_due_on_the_countdown_date(t, due):
    window = risk.inspection_due_date('交付前风险检查', delivery_on=t)
    assert window.due_on == due == delivery.spec_due_on(delivery.COUNTDOWN_BY_CODE['T-3Mb'], t)
    assert window.start_on is None


@pytest.mark.parametrize('kind, anchor, due', [
    ('交付前风险检查', dict(delivery_on=D(2027, 5, 31)), D(2027, 2, 28)),
    ('开盘及上市前检查', dict(launch_on=D(2028, 3, 7)), D(2028, 2, 29)),
    ('开盘及上市前检查', dict(launch_on=D(2024, 1, 1), listing_on=D(2027, 3, 8)), D(2027, 3, 1)),
])
def test_done_by_its_deadline_is_on_time_however_early(kind, anchor, due):
    day = datetime.timedelta(days=1)
    timing = lambda done, today: risk.inspection_timing(kind, done, today, **anchor)  # noqa: E731
    assert risk.inspection_due_date(kind, **anchor).due_on == due
    assert timing(due, due + 30 * day) == risk.DONE_ON_TIME                 # on the day
    assert timing(due + day, due + 30 * day) == risk.DONE_LATE              # one day past
    assert timing(due - 400 * day, due + 30 * day) == risk.DONE_ON_TIME     # early: never 过早完成
    assert timing(None, due) == risk.DUE_SOON
    assert timing(None, due + day) == risk.OVERDUE


# ------------------------------------------------------------------ 3. +3 / +15 from completion

def test_completion_is_the_supervisors_date_else_the_last_scheduled_day():
    assert delivery.handover_completed_on(None, None) is None
    assert delivery.handover_completed_on(None, D(2026, 11, 29)) == D(2026, 11, 29)
    assert delivery.handover_completed_on(D(2026, 11, 27), D(2026, 11, 29)) == D(2026, 11, 27)


@pytest.mark.parametrize('code, completed, due', [
    ('T+3', D(2028, 2, 26), D(2028, 2, 29)), ('T+3', D(2027, 2, 26), D(2027, 3, 1)),
    ('T+15', D(2028, 2, 14), D(2028, 2, 29)), ('T+15', D(2026, 12, 31), D(2027, 1, 15)),
])
def test_plus_three_and_fifteen_count_from_the_completion(code, completed, due):
    spec = delivery.COUNTDOWN_BY_CODE[code]
    assert spec.anchor == delivery.ANCHOR_DONE
    assert delivery.spec_due_on(spec, D(2026, 1, 1), completed) == due
    assert delivery.milestone_state(due, None, due) == '今日到期'
    assert delivery.milestone_state(due, None, due + datetime.timedelta(days=1)) == '逾期'


def test_without_a_completion_they_are_pending_not_overdue():
    spec = delivery.COUNTDOWN_BY_CODE['T+15']
    assert delivery.spec_due_on(spec, D(2026, 1, 1), None) is None
    assert delivery.milestone_state(None, None, D(2030, 1, 1)) == delivery.PENDING == '待定'
    plan = {m['code']: m for m in delivery.missing_milestones(D(2026, 1, 1), [])}
    assert plan['T+3']['due_on'] is None and plan['T-1']['due_on'] == D(2025, 12, 31)


# ------------------------------------------------------------------ 4. a cancelled sale is not a sale

@pytest.mark.parametrize('status, valid, expected', [
    ('未售', True, '已售'), ('已售', True, '已售'), ('已交付', True, '已交付'),
    ('已售', False, '未售'), ('未售', False, '未售'), ('已交付', False, '未售'),
])
def test_unit_status_follows_its_valid_contract(status, valid, expected):
    assert unit_status_from_contracts(status, valid) == expected


def test_owner_group_is_due_above_thirty_percent_by_count():
    assert not comm.group_due(3, 10)         # exactly 30%
    assert comm.group_due(4, 10)
    assert not comm.group_due(30, 100) and comm.group_due(31, 100)


# ------------------------------------------------------------------ 5. callback: at least once

def obligation(today, delivered_on=D(2025, 3, 1), handed=None, total=10, surveys=()):
    handed = [delivered_on] * 6 if handed is None else handed
    return care.callback_obligation(delivered_on=delivered_on, total_units=total,
                                    handed_over_dates=handed, today=today,
                                    valid_survey_dates=surveys)


def test_callback_falls_due_on_the_first_anniversary():
    assert obligation(D(2026, 3, 1)).due(D(2026, 3, 1))                        # on the day
    assert not obligation(D(2026, 2, 28)).due(D(2026, 2, 28))                  # a day before
    assert obligation(D(2026, 2, 28)).due_on == D(2026, 3, 1)                  # known, upcoming


def test_callback_of_a_leap_day_delivery_falls_due_on_28_february():
    assert obligation(D(2025, 2, 28), delivered_on=D(2024, 2, 29)).due_on == D(2025, 2, 28)


def test_callback_needs_occupancy_above_half_and_waits_for_it():
    assert obligation(D(2027, 1, 1), handed=[D(2025, 3, 1)] * 5).due_on is None     # exactly 50%
    later = [D(2025, 3, 1)] * 5 + [D(2026, 6, 15)]
    assert obligation(D(2026, 6, 14), handed=later).due_on is None                  # not yet above
    assert obligation(D(2026, 6, 15), handed=later).due_on == D(2026, 6, 15)        # crossed later
    assert care.half_occupied_on(D(2025, 3, 1), [None] * 6, 10, D(2025, 3, 1)) == D(2025, 3, 1)


def test_a_survey_before_the_mark_does_not_count_and_one_after_it_is_enough():
    assert obligation(D(2026, 3, 10), surveys=[D(2026, 2, 28)]).due(D(2026, 3, 10))
    settled = obligation(D(2026, 3, 10), surveys=[D(2026, 3, 1)])
    assert settled.satisfied_on == D(2026, 3, 1) and not settled.open
    assert not obligation(D(2030, 3, 10), surveys=[D(2026, 3, 1)]).due(D(2030, 3, 10))   # not yearly


@pytest.mark.parametrize('issued, returned, valid', [
    (100, 25, False), (100, 26, True), (4, 1, False), (7, 2, True), (0, 0, False), (None, 3, False),
])
def test_survey_validity_is_returned_over_issued_above_a_quarter(issued, returned, valid):
    assert care.survey_is_valid(issued, returned) is valid


# ------------------------------------------------------------------ readings decided

def test_round_three_starts_by_t_minus_30_and_is_cleared_before_the_construction_keys():
    t = D(2028, 3, 30)
    window = delivery.round_window(3, t)
    assert window.start_until == D(2028, 2, 29) and window.clear_by == D(2028, 3, 15)
    assert window.clear_by == delivery.key_due_on(delivery.KEY_CONSTRUCTION, t)
    assert delivery.round_window_deviations(3, t, D(2028, 2, 29), D(2028, 3, 15)) == []
    late = delivery.round_window_deviations(3, t, D(2028, 3, 1), D(2028, 3, 16))
    assert [f for f, _ in late] == ['started_on', 'cleared_on']
