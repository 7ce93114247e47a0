"""The before-delivery rules of manual 001/004, tested without HTTP at their edges."""
import datetime
from types import SimpleNamespace

import pytest

from rules import delivery as r

D = datetime.date


# --------------------------------------------------------------------------- month arithmetic

@pytest.mark.parametrize('day, months, expected', [
    (D(2027, 8, 31), -6, D(2027, 2, 28)),      # no 31 Feb: last day of the month
    (D(2028, 8, 31), -6, D(2028, 2, 29)),      # leap year keeps the leap day
    (D(2028, 5, 31), -3, D(2028, 2, 29)),
    (D(2027, 3, 15), -3, D(2026, 12, 15)),     # across the new year
    (D(2027, 1, 31), 1, D(2027, 2, 28)),
])
def test_add_months_clamps_to_month_end(day, months, expected):
    assert r.add_months(day, months) == expected


# --------------------------------------------------------------------------- round windows

def test_round_one_window_is_three_to_six_months_before_cleared_two_months_before():
    w = r.round_window(1, D(2027, 6, 30))
    assert (w.start_from, w.start_until, w.clear_by) == (D(2026, 12, 30), D(2027, 3, 30), D(2027, 4, 30))


def test_round_one_window_on_a_leap_year_month_end():
    w = r.round_window(1, D(2028, 8, 31))
    assert w.start_from == D(2028, 2, 29)
    assert w.start_until == D(2028, 5, 31)
    assert w.clear_by == D(2028, 6, 30)


def test_round_two_window_from_two_months_cleared_thirty_days_before():
    w = r.round_window(2, D(2027, 3, 1))
    assert w.start_from == D(2027, 1, 1)
    assert w.clear_by == D(2027, 1, 30)   # 30 days before 1 March 2027 (February has 28 days)
    assert w.start_until == w.clear_by


def test_round_three_starts_no_later_than_thirty_days_before():
    w = r.round_window(3, D(2028, 3, 30))
    assert w.start_from is None
    assert w.start_until == D(2028, 2, 29)    # across a leap February
    assert w.clear_by == D(2028, 3, 15)       # construction keys at T-15 need every issue closed


def test_unknown_round_is_an_error():
    with pytest.raises(ValueError):
        r.round_window(4, D(2027, 1, 1))


def test_no_delivery_date_means_no_window_and_no_flag():
    assert r.round_window(1, None) is None
    assert r.round_window_deviations(1, None, D(2020, 1, 1), None) == []


@pytest.mark.parametrize('started_on, flagged', [
    (D(2026, 12, 29), True),    # one day earlier than six months
    (D(2026, 12, 30), False),   # exactly six months before
    (D(2027, 3, 30), False),    # exactly three months before
    (D(2027, 3, 31), True),     # one day inside three months
])
def test_round_one_start_edges(started_on, flagged):
    found = r.round_window_deviations(1, D(2027, 6, 30), started_on, None)
    assert bool(found) is flagged
    if flagged:
        assert found[0][0] == 'started_on'


@pytest.mark.parametrize('cleared_on, flagged', [
    (D(2027, 4, 30), False),    # exactly two months before
    (D(2027, 5, 1), True),
])
def test_round_one_clearing_edges(cleared_on, flagged):
    found = r.round_window_deviations(1, D(2027, 6, 30), D(2027, 2, 1), cleared_on)
    assert [f for f, _ in found] == (['cleared_on'] if flagged else [])


@pytest.mark.parametrize('started_on, cleared_on, fields', [
    (D(2026, 12, 31), D(2027, 1, 20), ['started_on']),   # before "入住前2个月"
    (D(2027, 1, 1), D(2027, 1, 30), []),                 # both edges exactly
    (D(2027, 1, 1), D(2027, 1, 31), ['cleared_on']),     # 29 days before move-in
    (D(2027, 1, 31), None, ['started_on']),
])
def test_round_two_edges(started_on, cleared_on, fields):
    found = r.round_window_deviations(2, D(2027, 3, 1), started_on, cleared_on)
    assert [f for f, _ in found] == fields


@pytest.mark.parametrize('started_on, flagged', [
    (D(2027, 1, 30), False),   # exactly 30 days before 1 March 2027
    (D(2027, 1, 31), True),
    (D(2026, 10, 1), False),   # no lower bound: the round-2 gate decides when it may start
])
def test_round_three_start_edges(started_on, flagged):
    assert bool(r.round_window_deviations(3, D(2027, 3, 1), started_on, None)) is flagged


def test_round_flagged_when_clear_by_passed_without_clearing():
    assert r.round_out_of_window(1, D(2027, 6, 30), D(2027, 2, 1), None, today=D(2027, 4, 30)) is False
    assert r.round_out_of_window(1, D(2027, 6, 30), D(2027, 2, 1), None, today=D(2027, 5, 1)) is True


def test_round_flagged_when_not_started_by_the_last_start_day():
    assert r.round_out_of_window(2, D(2027, 3, 1), None, None, today=D(2027, 1, 30)) is False
    assert r.round_out_of_window(2, D(2027, 3, 1), None, None, today=D(2027, 1, 31)) is True


def test_deviation_message_quotes_the_dates():
    (field, message), = r.round_window_deviations(1, D(2027, 6, 30), D(2027, 4, 1), None)
    assert '2027-04-01' in message and '2027-03-30' in message


# --------------------------------------------------------------------------- round-3 gate

def test_round_three_allowed_when_all_four_prerequisites_met():
    assert r.round3_prerequisite_problems(0, True, True, True) == []


@pytest.mark.parametrize('args, field', [
    ((1, True, True, True), 'started_on'),
    ((0, False, True, True), 'utilities_commissioned'),
    ((0, True, False, True), 'landscaping_done'),
    ((0, True, True, False), 'completion_filing_obtained'),
])
def test_round_three_blocked_by_each_prerequisite(args, field):
    found = r.round3_prerequisite_problems(*args)
    assert [f for f, _ in found] == [field]


def test_round_three_gate_names_open_issue_count_and_all_missing_conditions():
    found = r.round3_prerequisite_problems(7, False, False, False)
    assert len(found) == 4
    assert '7' in found[0][1]
    assert '竣工备案表' in found[3][1]


# --------------------------------------------------------------------------- inspection issues

def issue(**kw):
    values = dict(status='待整改', severity='一般', rectification_plan='', deadline=None,
                  responsible_person='', penalty='', unified_script='', found_on=D(2027, 1, 5),
                  rectified_on=None, verified_on=None, verified_by='')
    values.update(kw)
    return SimpleNamespace(**values)


@pytest.mark.parametrize('old, new', [
    ('待整改', '整改中'), ('整改中', '待验证'), ('待整改', '待验证'), ('待验证', '整改中'),
])
def test_normal_workflow_steps_allowed_for_a_clerk(old, new):
    assert r.issue_problems(issue(status=new, rectified_on=D(2027, 1, 9)), old, False) == []


def test_close_after_verification():
    row = issue(status='已关闭', rectified_on=D(2027, 1, 9), verified_on=D(2027, 1, 10), verified_by='王敏')
    assert r.issue_problems(row, '待验证', False) == []


def flow(new, old, **kw):
    """The punch-list workflow's problems for an issue saved as `new` (from `old`; None: created)."""
    values = dict(vars(new), contractor=3)
    return list(r.ISSUE_WORKFLOW.problems(values, None if old is None else {'status': old},
                                          what='验收问题', **kw))


def test_close_without_verification_refused():
    found = flow(issue(status='已关闭', deadline=D(2027, 1, 9), rectified_on=D(2027, 1, 9)), '待验证')
    assert [f for f, _ in found] == ['verified_by', 'verified_on']


@pytest.mark.parametrize('old, new', [('待整改', '已关闭'), ('整改中', '已关闭')])
def test_skipping_a_step_refused(old, new):
    row = issue(status=new, deadline=D(2027, 1, 9), rectified_on=D(2027, 1, 9),
                verified_on=D(2027, 1, 10), verified_by='王敏')
    found = flow(row, old)
    assert [f for f, _ in found] == ['status']
    assert '不能从' in found[0][1]


def test_leaving_a_closed_issue_is_a_reopening():
    row = issue(status='待验证', deadline=D(2027, 1, 9), rectified_on=D(2027, 1, 9))
    assert [f for f, _ in flow(row, '已关闭')] == ['status']
    assert flow(row, '已关闭', reopening=True) == []
    assert [f for f, _ in flow(row, '已关闭', may_change_closed=False)] == [None]


def test_an_issue_created_closed_carries_what_the_walk_requires():
    found = flow(issue(status='已关闭'), None)
    assert [f for f, _ in found] == ['deadline', 'rectified_on', 'verified_by', 'verified_on']
    assert '新建' in found[0][1]
    done = issue(status='已关闭', deadline=D(2027, 1, 9), rectified_on=D(2027, 1, 9),
                 verified_on=D(2027, 1, 10), verified_by='王敏')
    assert flow(done, None) == []


@pytest.mark.parametrize('status', ['让步接收', '不整改'])
def test_only_an_approver_may_decide_concession_or_no_fix(status):
    row = issue(status=status, unified_script='该处为设计做法，符合规范。')
    assert [f for f, _ in r.issue_problems(row, '待整改', False)] == ['status']
    assert r.issue_problems(row, '待整改', True) == []


def test_a_clerk_may_not_undo_a_decision_either():
    row = issue(status='整改中')
    assert [f for f, _ in r.issue_problems(row, '让步接收', False)] == ['status']
    assert r.issue_problems(row, '让步接收', True) == []


def test_a_clerk_may_edit_other_fields_of_a_decided_issue():
    row = issue(status='让步接收', remarks='补充照片')
    assert r.issue_problems(row, '让步接收', False) == []


def test_new_issue_created_as_concession_needs_approver():
    assert r.issue_problems(issue(status='让步接收'), None, False)


def test_no_fix_needs_unified_script():
    found = flow(issue(status='不整改', unified_script='  '), '待整改', label_of={'unified_script': '统一说辞'}.get)
    assert [f for f, _ in found] == ['unified_script']
    assert '统一说辞' in found[0][1]


def test_major_issue_needs_plan_deadline_person_and_penalty():
    found = r.issue_problems(issue(severity='重大'), None, False)
    assert len(found) == 1
    for word in ('整改措施', '整改期限', '责任人', '处罚措施'):
        assert word in found[0][1]
    full = issue(severity='重大', rectification_plan='返工', deadline=D(2027, 1, 20),
                 responsible_person='李工', penalty='罚款5000元')
    assert r.issue_problems(full, None, False) == []


def test_major_issue_missing_only_penalty_names_only_penalty():
    row = issue(severity='重大', rectification_plan='返工', deadline=D(2027, 1, 20),
                responsible_person='李工')
    (_, message), = r.issue_problems(row, None, False)
    assert '处罚措施' in message and '责任人' not in message.split('（')[0]


def test_dates_must_follow_each_other():
    found = r.issue_problems(issue(status='待验证', rectified_on=D(2027, 1, 4)), '整改中', False)
    assert [f for f, _ in found] == ['rectified_on']
    found = r.issue_problems(issue(deadline=D(2027, 1, 4)), None, False)
    assert [f for f, _ in found] == ['deadline']


@pytest.mark.parametrize('deadline, status, overdue', [
    (D(2027, 1, 9), '整改中', True),
    (D(2027, 1, 10), '整改中', False),   # due today is not yet overdue
    (None, '待整改', False),
    (D(2027, 1, 1), '已关闭', False),
    (D(2027, 1, 1), '让步接收', False),
    (D(2027, 1, 1), '不整改', False),
    (D(2027, 1, 1), '待验证', True),
])
def test_overdue(deadline, status, overdue):
    assert r.is_issue_overdue(deadline, status, D(2027, 1, 10)) is overdue


def test_closure_rate():
    assert r.closure_rate(0, 0) == 0.0
    assert r.closure_rate(4, 1) == 0.25


# --------------------------------------------------------------------------- keys

def test_construction_key_blocked_by_open_issues_quoting_the_rule():
    (field, message), = r.construction_key_problems(3)
    assert field == 'transferred_on'
    assert '3' in message and '所有内部验收问题关闭' in message
    assert r.construction_key_problems(0) == []


@pytest.mark.parametrize('kind, transferred_on, late', [
    ('施工钥匙', D(2027, 2, 14), 0),    # exactly 15 days before 1 March
    ('施工钥匙', D(2027, 2, 15), 1),
    ('销售钥匙', D(2027, 2, 25), 0),    # exactly 4 days before
    ('销售钥匙', D(2027, 2, 28), 3),
])
def test_key_due_dates(kind, transferred_on, late):
    assert r.key_late_days(kind, D(2027, 3, 1), transferred_on) == late
    note = r.key_timing_note(kind, D(2027, 3, 1), transferred_on)
    assert note.startswith('逾期 %d 天' % late) if late else note.startswith('按时')
    assert '不晚于入住前' in note


def test_key_due_on_across_a_leap_day():
    assert r.key_due_on('施工钥匙', D(2028, 3, 14)) == D(2028, 2, 28)
    assert r.key_due_on('销售钥匙', D(2028, 3, 4)) == D(2028, 2, 29)


def test_sold_units_without_keys_listed():
    sold = [('1-1-101', '1'), ('1-1-102', '1'), ('2-1-101', '2'), ('3-1-101', '3#')]
    assert r.units_not_covered(sold, '1栋、3#') == ['2-1-101']
    assert r.units_not_covered(sold, '1号楼 2-1-101，3栋') == []
    assert r.units_not_covered(sold, '全部') == []
    assert r.units_not_covered(sold, '') == ['1-1-101', '1-1-102', '2-1-101', '3-1-101']


def test_sales_key_problems_list_units_and_unreplaced_keys():
    found = r.sales_key_problems(['2-1-101', '2-1-102'], '', False)
    assert [f for f, _ in found] == ['scope']
    assert '2-1-101、2-1-102' in found[0][1] and '已售出的房间钥匙全部移交' in found[0][1]
    found = r.sales_key_problems([], '1-1-101 门锁损坏', False)
    assert [f for f, _ in found] == ['replaced']
    assert r.sales_key_problems([], '1-1-101 门锁损坏', True) == []


# --------------------------------------------------------------------------- countdown

def test_countdown_covers_every_offset_of_section_seven():
    offsets = sorted({(spec.anchor, spec.offset_months, spec.offset_days) for spec in r.COUNTDOWN})
    t = [('交付日', 0, d) for d in (-45, -40, -30, -20, -15, -13, -10, -7, -4, -3, -1)]
    assert offsets == sorted(t + [('交付日', -3, 0), ('交付日', 3, 0), ('交付完成日', 0, 3),
                                  ('交付完成日', 0, 15)])
    assert len({spec.code for spec in r.COUNTDOWN}) == len(r.COUNTDOWN)
    owners = {spec.code: spec.owner_department for spec in r.COUNTDOWN}
    assert owners['T-15'] == '项目部' and owners['T-4'] == '营销管理部' and owners['T-7'] == '项目中心'


def test_plan_generated_from_delivery_date():
    plan = r.missing_milestones(D(2028, 3, 1), [])
    due = {m['code']: m['due_on'] for m in plan}
    assert due['T-3Ma'] == D(2027, 12, 1)          # three calendar months, not 90 days
    assert due['T-1'] == D(2028, 2, 29)
    assert due['T+15'] is None                      # counts from the completion: 待定
    assert len(plan) == len(r.COUNTDOWN)
    done = {m['code']: m['due_on'] for m in r.missing_milestones(D(2028, 3, 1), [], D(2028, 3, 10))}
    assert (done['T+3'], done['T+15']) == (D(2028, 3, 13), D(2028, 3, 25))


def test_plan_generation_is_idempotent():
    first = r.missing_milestones(D(2028, 3, 1), [])
    assert r.missing_milestones(D(2028, 3, 1), [m['code'] for m in first]) == []
    some = [m['code'] for m in first[:5]]
    rest = r.missing_milestones(D(2028, 3, 1), some)
    assert [m['code'] for m in rest] == [m['code'] for m in first[5:]]


def test_no_plan_without_delivery_date():
    assert r.missing_milestones(None, []) == []


@pytest.mark.parametrize('due_on, done_on, state', [
    (D(2027, 1, 10), None, '今日到期'),
    (D(2027, 1, 9), None, '逾期'),
    (D(2027, 1, 11), None, '未到期'),
    (D(2027, 1, 9), D(2027, 1, 9), '已完成'),
    (D(2027, 1, 9), D(2027, 1, 10), '逾期完成'),
])
def test_milestone_state(due_on, done_on, state):
    assert r.milestone_state(due_on, done_on, D(2027, 1, 10)) == state
