"""Owner communication: the supervision-group rules at their edges (no HTTP) and the pages."""
from datetime import date

import pytest

from rules import communication as c


# --- rules --------------------------------------------------------------------------------------

def test_thirty_percent_sold_exactly_is_not_due():
    assert not c.group_due(30, 100)
    assert not c.group_due(3, 10)


def test_one_more_sale_makes_the_group_due():
    assert c.group_due(31, 100)
    assert c.group_due(4, 10)


def test_project_without_units_is_never_due():
    assert not c.group_due(0, 0)


@pytest.mark.parametrize('members, warned', [(4, True), (5, False), (10, False), (11, True), (0, True)])
def test_group_size_warning_outside_five_to_ten(members, warned):
    warning = c.group_size_warning(members)
    assert (warning is not None) == warned
    if warned:
        assert f'{members}人' in warning and '5-10人' in warning


def test_member_active_from_joining_until_leaving():
    today = date(2026, 11, 25)
    assert c.member_is_active(date(2026, 1, 1), None, today)
    assert c.member_is_active(date(2026, 11, 25), None, today)
    assert not c.member_is_active(date(2026, 11, 26), None, today)
    assert not c.member_is_active(date(2026, 1, 1), date(2026, 11, 25), today)
    assert c.member_is_active(date(2026, 1, 1), date(2026, 11, 26), today)


def test_missing_phases_in_construction_order():
    assert c.missing_phases([]) == ['基础', '主体结构', '装饰装修', '安装']
    assert c.missing_phases(['安装', '基础', '座谈']) == ['主体结构', '装饰装修']
    assert c.missing_phases(c.CONSTRUCTION_PHASES) == []


def test_accepted_suggestion_waits_for_feedback_date():
    assert c.feedback_pending(True, None)
    assert not c.feedback_pending(True, date(2026, 5, 1))
    assert not c.feedback_pending(False, None)


def meeting(**kw):
    values = dict(kind=c.QUALITY_GROUP, phase='基础', held_on=date(2026, 5, 1), owner_suggestions='加强养护',
                  suggestions_accepted=True, feedback_sent_on=date(2026, 5, 10), today=date(2026, 11, 25))
    values.update(kw)
    return [f for f, _ in c.meeting_problems(**values)]


def test_meeting_rules():
    assert meeting() == []
    assert meeting(feedback_sent_on=date(2026, 4, 30)) == ['feedback_sent_on']
    assert meeting(suggestions_accepted=False) == ['feedback_sent_on']
    assert meeting(owner_suggestions='') == ['owner_suggestions']
    assert meeting(phase='座谈') == ['phase']
    assert meeting(kind=c.SERVICE_GROUP) == ['phase']
    assert meeting(held_on=date(2026, 11, 26), suggestions_accepted=False, feedback_sent_on=None) == ['held_on']


def test_service_group_needs_region_and_quality_group_a_project():
    assert [f for f, _ in c.group_problems(kind=c.SERVICE_GROUP, formed_on=None, region='',
                                            has_project=False)] == ['region']
    assert [f for f, _ in c.group_problems(kind=c.QUALITY_GROUP, formed_on=None, region=None,
                                            has_project=False)] == ['project']


def test_group_due_projects_skips_those_with_a_group():
    assert c.group_due_projects([('A', 31, 100, False), ('B', 31, 100, True), ('C', 30, 100, False)]) == ['A']
