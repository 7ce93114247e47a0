"""Handover rules: roster eligibility, late penalty, 每日交房日报表 on a hand-made roster, +3 and +15."""
import datetime
import io
import re
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest

from models.base import ChangeLog, RuleError
from models.handover import HandoverEntry
from rules import handover as h

D = datetime.date
T = datetime.datetime
D1, D2, D3, D4 = D(2027, 3, 1), D(2027, 3, 2), D(2027, 3, 3), D(2027, 3, 4)


# --------------------------------------------------------------------------- eligibility

@pytest.mark.parametrize('has_contract, signed, cancelled, paid, expected', [
    (True, True, False, True, (True, '')),
    (False, False, False, False, (False, '未签约')),
    (True, False, False, True, (False, '未签约')),
    (True, True, True, True, (False, '合同作废')),
    (True, True, False, False, (False, '房款未结清')),
    (True, True, True, False, (False, '合同作废')),
])
def test_roster_eligibility_for_each_reason(has_contract, signed, cancelled, paid, expected):
    assert h.roster_eligibility(has_contract, signed, cancelled, paid) == expected


def test_roster_and_phone_due_dates():
    assert h.roster_due_on(D(2028, 3, 10)) == D(2028, 2, 29)
    assert h.phone_due_on(D(2028, 3, 1)) == D(2028, 2, 27)
    assert h.roster_due_on(None) is None


# --------------------------------------------------------------------------- late penalty

def test_late_penalty_known_case():
    # Agreed 31 Jan 2027; the project offered handover on 1 March; the owner took the keys on 3 March.
    days = h.late_days(D(2027, 1, 31), offered_on=D(2027, 3, 1), handed_on=D(2027, 3, 3))
    assert days == 29                          # February 2027 has 28 days
    assert h.late_penalty(Decimal('1234567.00'), Decimal('0.0001'), days) == Decimal('3580.24')


def test_late_days_zero_when_delivered_on_the_agreed_day_or_earlier():
    assert h.late_days(D(2027, 3, 1), offered_on=D(2027, 3, 1)) == 0
    assert h.late_days(D(2027, 3, 1), offered_on=D(2027, 2, 20)) == 0


def test_late_days_over_a_leap_day():
    assert h.late_days(D(2028, 2, 28), handed_on=D(2028, 3, 1)) == 2


def test_late_days_run_to_today_until_the_unit_is_offered():
    assert h.late_days(D(2027, 1, 31), as_of=D(2027, 2, 10)) == 10
    assert h.late_days(D(2027, 1, 31)) == 0
    assert h.late_days(None, handed_on=D(2027, 3, 3)) == 0


def test_owner_coming_late_does_not_make_the_seller_late():
    assert h.late_days(D(2027, 3, 1), offered_on=D(2027, 3, 1), handed_on=D(2027, 4, 1)) == 0


def test_late_penalty_rounds_half_up_to_the_cent():
    assert h.late_penalty(Decimal('1000050'), Decimal('0.0001'), 1) == Decimal('100.01')
    assert h.late_penalty(1000000, 0.0001, 31) == Decimal('3100.00')
    assert h.late_penalty(Decimal('1000000'), None, 31) == Decimal('0.00')
    assert h.late_penalty(Decimal('1000000'), Decimal('0.0001'), 0) == Decimal('0.00')


# --------------------------------------------------------------------------- the hand-made roster

def entry(label, eligible=True, reason='', appointment_on=None, arrived_at=None, status='待交付',
          keys_handed_on=None, refused_on=None, refusal_reason=None, issues_found=0, **kw):
    values = dict(unit_label=label, eligible=eligible, ineligible_reason=reason,
                  appointment_on=appointment_on, arrived_at=arrived_at, status=status,
                  keys_handed_on=keys_handed_on, refused_on=refused_on, refusal_reason=refusal_reason,
                  issues_found=issues_found, notice_mailed_on=None, notice_confirmed=False,
                  phoned_on=None, demand_letter_sent_on=None, late_days=0, late_penalty=None)
    values.update(kw)
    return SimpleNamespace(**values)


def roster():
    return [
        entry('1-101', appointment_on=D1, arrived_at=T(2027, 3, 1, 9), status='已交付', keys_handed_on=D1,
              issues_found=3, notice_mailed_on=D(2027, 2, 19), notice_confirmed=True, phoned_on=D(2027, 2, 26)),
        entry('1-102', appointment_on=D1, arrived_at=T(2027, 3, 1, 9, 30), status='已交付', keys_handed_on=D1,
              notice_mailed_on=D(2027, 2, 19), phoned_on=D(2027, 2, 26)),
        entry('1-103', appointment_on=D1, arrived_at=T(2027, 3, 1, 10), status='已交付', keys_handed_on=D1,
              issues_found=5, notice_mailed_on=D(2027, 2, 19)),
        # refused on site: the refusal day comes from the arrival time
        entry('1-104', appointment_on=D1, arrived_at=T(2027, 3, 1, 10, 30), status='拒收',
              refusal_reason='卫生间渗水', issues_found=2, notice_mailed_on=D(2027, 2, 20)),
        entry('1-105', appointment_on=D1, status='未到场', notice_mailed_on=D(2027, 2, 20),
              demand_letter_sent_on=D(2027, 3, 3)),
        entry('1-106', appointment_on=D2, arrived_at=T(2027, 3, 2, 9), status='已交付', keys_handed_on=D2,
              issues_found=2),
        entry('2-201', appointment_on=D2, arrived_at=T(2027, 3, 2, 9, 15), status='已交付', keys_handed_on=D2,
              issues_found=4),
        # inspected on day 2, keys on day 3: counted as handed over on day 3 only
        entry('2-202', appointment_on=D2, arrived_at=T(2027, 3, 2, 14), status='已交付', keys_handed_on=D3,
              issues_found=1),
        entry('2-203', appointment_on=D2, arrived_at=T(2027, 3, 2, 15), status='拒收', refused_on=D2,
              refusal_reason='面积差异'),
        entry('2-204', appointment_on=D2, status='未到场'),
        entry('2-205', appointment_on=D3, arrived_at=T(2027, 3, 3, 9), status='已交付', keys_handed_on=D3,
              issues_found=6),
        entry('2-206', appointment_on=D3),                      # booked, did not come, status not yet updated
        entry('3-301', appointment_on=D3, arrived_at=T(2027, 3, 3, 11), status='拒收', refused_on=D3),
        entry('3-302', appointment_on=D4),
        entry('3-303'),
        entry('3-304', status='延期', late_days=12, late_penalty=Decimal('1440.00')),
        entry('3-305', eligible=False, reason='房款未结清'),
        entry('3-306', eligible=False, reason='合同作废'),
        entry('3-307', eligible=False, reason='未签约'),
        # arrived on day 1, took the keys on day 2
        entry('3-308', appointment_on=D1, arrived_at=T(2027, 3, 1, 16), status='已交付', keys_handed_on=D2,
              issues_found=2, late_days=3, late_penalty=Decimal('360.00')),
    ]


def test_roster_has_twenty_units():
    assert len(roster()) == 20


def test_daily_report_day_one_number_by_number():
    f = h.daily_figures(roster(), D1)
    assert f.roster_total == 20
    assert f.units_due == 17
    assert f.ineligible == 3
    assert f.appointed_today == 6          # 101–105 and 308
    assert f.arrived_today == 5            # 101–104 and 308
    assert f.handed_today == 3             # 101, 102, 103
    assert f.handed_total == 3
    assert f.completion_ratio == pytest.approx(3 / 17)
    assert f.issues_today == 8
    assert f.issues_per_unit_today == pytest.approx(8 / 3)
    assert f.refused_today == 1            # 104
    assert f.refused_total == 1
    assert f.absent_today == 1             # 105
    assert f.absent_total == 1
    assert f.remaining == 14


def test_daily_report_day_two_number_by_number():
    f = h.daily_figures(roster(), D2)
    assert f.appointed_today == 5          # 106, 201–204
    assert f.arrived_today == 4            # 106, 201, 202, 203
    assert f.handed_today == 3             # 106, 201, 308 — not 202 (keys on day 3)
    assert [r.unit_label for r in f.handed_today_rows] == ['1-106', '2-201', '3-308']
    assert f.handed_total == 6
    assert f.completion_ratio == pytest.approx(6 / 17)
    assert f.issues_today == 8             # 2 + 4 + 2
    assert f.issues_total == 16
    assert f.issues_per_unit_total == pytest.approx(16 / 6)
    assert f.refused_today == 1            # 203
    assert f.refused_total == 2            # 104, 203
    assert f.absent_today == 1             # 204
    assert f.absent_total == 2             # 105, 204
    assert f.remaining == 11


def test_daily_report_day_three_number_by_number():
    f = h.daily_figures(roster(), D3)
    assert f.appointed_today == 3
    assert f.arrived_today == 2
    assert f.handed_today == 2             # 202, 205
    assert f.issues_per_unit_today == pytest.approx(3.5)
    assert f.handed_total == 8
    assert f.completion_ratio == pytest.approx(8 / 17)
    assert f.issues_per_unit_total == pytest.approx(23 / 8)
    assert f.refused_today == 1 and f.refused_total == 3
    assert f.absent_today == 1             # 206 (status still 待交付: the dates decide)
    assert f.absent_total == 3             # 105, 204, 206
    assert [r.unit_label for r in f.absent_today_rows] == ['2-206']


def test_daily_report_before_handover_is_all_zero_and_divides_safely():
    f = h.daily_figures(roster(), D(2027, 2, 28))
    assert (f.handed_total, f.refused_total, f.absent_total) == (0, 0, 0)
    assert f.completion_ratio == 0.0 and f.issues_per_unit_today == 0.0
    assert h.daily_figures([], D1).completion_ratio == 0.0


def test_daily_report_as_rows_in_order():
    rows = h.daily_figures(roster(), D2).as_rows()
    labels = [label for label, _, _ in rows]
    assert labels[:2] == ['名单户数', '应交付户数']
    assert dict((label, value) for label, value, _ in rows)['当日交付户数'] == 3


def test_handover_days():
    assert h.handover_days(roster()) == [D1, D2, D3, D4]


# --------------------------------------------------------------------------- +3 and +15

def test_units_not_taken_three_days_after():
    left = h.not_taken(roster(), D3)
    labels = [r.unit_label for r in left]
    assert labels == ['1-104', '1-105', '2-203', '2-204', '2-206', '3-301', '3-302', '3-303', '3-304',
                      '3-305', '3-306', '3-307']
    reasons = {r.unit_label: h.not_taken_reason(r, D3) for r in left}
    assert reasons['1-104'] == '拒收：卫生间渗水'
    assert reasons['3-301'] == '拒收：未填原因'
    assert reasons['1-105'] == '未到场'
    assert reasons['3-302'] == '待交付'
    assert reasons['3-304'] == '延期'
    assert reasons['3-305'] == '不符合交楼资格：房款未结清'


def test_summary_statistics_fifteen_days_after():
    s = h.summary_statistics(roster(), D(2027, 3, 16))
    assert s.by_day == [(D1, 3, 3, pytest.approx(3 / 17)), (D2, 3, 6, pytest.approx(6 / 17)),
                        (D3, 2, 8, pytest.approx(8 / 17))]
    assert s.daily.handed_total == 8
    assert s.daily.refused_total == 3
    assert s.daily.absent_total == 4      # 105, 204, 206, and 302 (booked 4 March, never came)
    assert dict(s.ineligible_reasons) == {'房款未结清': 1, '合同作废': 1, '未签约': 1}
    assert dict(s.refusal_reasons) == {'卫生间渗水': 1, '面积差异': 1, '未填原因': 1}
    assert s.notices_mailed == 5 and s.notices_confirmed == 1 and s.phoned == 2
    assert s.demand_letters == 1
    assert s.late_units == 2 and s.late_penalty_total == Decimal('1800.00')
    assert (s.first_day, s.last_day) == (D1, D4)


# =========================================================================== through the portal

TODAY = datetime.date.today()
DD = datetime.timedelta


def contract_kinds(make, project):
    """One unit per eligibility case, keyed by the reason (or '' for eligible)."""
    ok = make.contract(project, unit=make.unit(project, room='101', status='已售'))
    unpaid = make.contract(project, unit=make.unit(project, room='102', status='已售'), paid_in_full=False)
    cancelled = make.contract(project, unit=make.unit(project, room='103', status='已售'), cancelled=True,
                              cancel_date=TODAY - DD(10), cancel_reason='客户换房')
    unsigned = make.unit(project, room='104', status='已售')
    make.unit(project, room='105', status='未售')           # unsold: not on the roster
    return {'': ok.unit_id, '房款未结清': unpaid.unit_id, '合同作废': cancelled.unit_id, '未签约': unsigned.id}


def test_roster_generation_gives_each_reason(make, projects, client_as):
    project = projects['mine']
    units = contract_kinds(make, project)
    response = client_as('clerk').post_form('/admin/handover_entry/generate/', {'project': project.id})
    assert response.status_code == 302
    rows = {r.unit_id: r for r in HandoverEntry.select()}
    assert len(rows) == 4
    for reason, unit_id in units.items():
        assert rows[unit_id].eligible is (reason == '')
        assert (rows[unit_id].ineligible_reason or '') == reason
    assert ChangeLog.select().where(ChangeLog.table_name == 'handover_entry').count() == 4


def test_roster_generation_twice_adds_nothing_and_refreshes_eligibility(make, projects, client_as):
    from models.master import Contract
    project = projects['mine']
    units = contract_kinds(make, project)
    clerk = client_as('clerk')
    clerk.post_form('/admin/handover_entry/generate/', {'project': project.id})
    contract = Contract.get(Contract.unit == units['房款未结清'])
    contract.paid_in_full = True
    contract.save_logged(None)
    response = clerk.post_form('/admin/handover_entry/generate/', {'project': project.id},
                               follow_redirects=True)
    assert '新增 0 户' in response.get_data(as_text=True) and '更新资格 1 户' in response.get_data(as_text=True)
    assert HandoverEntry.select().count() == 4
    assert HandoverEntry.get(HandoverEntry.unit == units['房款未结清']).eligible is True


def test_roster_of_other_project_is_404(projects, client_as):
    response = client_as('clerk').post_form('/admin/handover_entry/generate/',
                                            {'project': projects['other'].id})
    assert response.status_code == 404


def entry_for(make, project, **values):
    contract = make.contract(project, unit=make.unit(project, status='已售'), **values.pop('contract', {}))
    return HandoverEntry.create_logged(None, project=project, unit=contract.unit_id, contract=contract.id,
                                       **values)


def test_ineligible_owner_cannot_be_handed_over(make, projects):
    with pytest.raises(RuleError) as refused:
        entry_for(make, projects['mine'], contract={'paid_in_full': False}, status='已交付',
                  keys_handed_on=TODAY)
    assert '房款未结清' in str(refused.value)


def test_refusal_needs_a_reason_and_takes_the_arrival_day(make, projects):
    arrived = datetime.datetime.combine(TODAY - DD(1), datetime.time(10, 0))
    with pytest.raises(RuleError):
        entry_for(make, projects['mine'], status='拒收', arrived_at=arrived)
    row = entry_for(make, projects['mine'], status='拒收', arrived_at=arrived, refusal_reason='面积差异')
    assert row.refused_on == TODAY - DD(1)


def test_keys_handed_marks_the_row_handed_over(make, projects):
    row = entry_for(make, projects['mine'], keys_handed_on=TODAY)
    assert row.status == '已交付'


def test_late_penalty_computed_from_contract(make, projects):
    project = projects['mine']
    project.contract_delivery_date = TODAY - DD(40)
    project.delivery_start_date = TODAY - DD(9)
    project.save_logged(None)
    row = entry_for(make, project, contract={'total_price': Decimal('1234567.00'),
                                             'late_penalty_rate': Decimal('0.0001'),
                                             'agreed_delivery_date': TODAY - DD(38)},
                    keys_handed_on=TODAY - DD(2))
    # offered 9 days ago, agreed 38 days ago: 29 days late, whatever day the keys changed hands
    assert row.late_days == 29
    assert row.late_penalty == Decimal('3580.24')


def build_roster(make, project, day):
    """Eight units around `day`: 3 handed (one the day before), a refusal, an absence, a pending,
    an ineligible and a future booking."""
    at = lambda d, h: datetime.datetime.combine(d, datetime.time(h, 0))  # noqa: E731
    prev = day - DD(1)
    entry_for(make, project, appointment_on=prev, arrived_at=at(prev, 9), keys_handed_on=prev, issues_found=4)
    entry_for(make, project, appointment_on=day, arrived_at=at(day, 9), keys_handed_on=day, issues_found=3)
    entry_for(make, project, appointment_on=day, arrived_at=at(day, 10), keys_handed_on=day, issues_found=0)
    entry_for(make, project, appointment_on=day, arrived_at=at(day, 11), status='拒收', refusal_reason='渗水')
    entry_for(make, project, appointment_on=day, status='未到场')
    entry_for(make, project, appointment_on=prev)
    entry_for(make, project, contract={'paid_in_full': False})
    entry_for(make, project, appointment_on=day + DD(1))


def test_daily_report_screen_figures(make, projects, client_as):
    project = projects['mine']
    day = TODAY - DD(1)
    build_roster(make, project, day)
    page = client_as('clerk').get('/admin/handover_entry/daily/?project=%d&day=%s' % (project.id, day)) \
        .get_data(as_text=True)
    cells = dict(re.findall(r'data-label="([^"]+)">([^<]+)<', page))
    assert cells['名单户数'] == '8' and cells['应交付户数'] == '7' and cells['不符合交楼资格户数'] == '1'
    assert cells['当日交付户数'] == '2' and cells['累计交付户数'] == '3'
    assert cells['完成交付比例'] == '42.9%'          # 3 / 7
    assert cells['当日户均问题数'] == '1.50' and cells['累计户均问题数'] == '2.33'
    assert cells['当日拒收户数'] == '1' and cells['当日未到场户数'] == '1'
    assert cells['累计未到场户数'] == '2'             # today's absentee and yesterday's booking


def test_daily_report_excel_agrees_with_the_roster(make, projects, client_as):
    project = projects['mine']
    day = TODAY - DD(1)
    build_roster(make, project, day)
    response = client_as('clerk').get('/admin/handover_entry/daily.xlsx?project=%d&day=%s' % (project.id, day))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    figures = {row[0]: row[1] for row in book['日报'].iter_rows(min_row=5, values_only=True) if row[0]}
    expected = h.daily_figures(HandoverEntry.roster_rows(project.id), day)
    for label, value, kind in expected.as_rows():
        assert figures[label] == pytest.approx(value), label
    handed = HandoverEntry.select().where((HandoverEntry.status == '已交付') &
                                          (HandoverEntry.keys_handed_on == day)).count()
    assert figures['当日交付户数'] == handed == 2
    assert book['当日交付'].max_row - 1 == 2 and book['当日拒收'].max_row - 1 == 1


def test_daily_report_of_other_project_is_404(projects, client_as):
    response = client_as('clerk').get('/admin/handover_entry/daily/?project=%d' % projects['other'].id)
    assert response.status_code == 404


def test_auditor_downloads_daily_report_but_cannot_generate_roster(projects, client_as):
    auditor = client_as('auditor')
    assert auditor.get('/admin/handover_entry/daily.xlsx?project=%d' % projects['mine'].id).status_code == 200
    assert auditor.post_form('/admin/handover_entry/generate/', {'project': projects['mine'].id}) \
        .status_code == 403


def test_not_taken_and_summary_pages(make, projects, client_as):
    project = projects['mine']
    build_roster(make, project, TODAY - DD(1))
    clerk = client_as('clerk')
    page = clerk.get('/admin/handover_entry/not-taken/?project=%d' % project.id).get_data(as_text=True)
    assert '拒收：渗水' in page and '不符合交楼资格：房款未结清' in page and '共 5 户' in page
    page = clerk.get('/admin/handover_entry/summary/?project=%d' % project.id).get_data(as_text=True)
    assert '交房汇总统计表' in page and '渗水：1 户' in page
    for url in ('not-taken.xlsx', 'summary.xlsx'):
        response = clerk.get('/admin/handover_entry/%s?project=%d' % (url, project.id))
        assert response.status_code == 200
        openpyxl.load_workbook(io.BytesIO(response.data))


def test_roster_list_and_export(client_as):
    assert client_as('clerk').get('/admin/handover_entry/').status_code == 200
    response = client_as('auditor').get('/admin/handover_entry/export/xlsx/')
    assert response.status_code == 200


def test_not_taken_page_lists_wide_impact_complaints(make, projects, client_as):
    from models.aftercare import Complaint
    project = projects['mine']
    project.delivery_start_date = TODAY - DD(4)
    project.save_logged(None)
    for n in range(5):
        Complaint.create_logged(None, project=project, received_on=TODAY - DD(1), channel='来电',
                                category='工程质量', content='外窗渗水%d' % n)
    Complaint.create_logged(None, project=project, received_on=TODAY - DD(2), channel='来访',
                            category='销售承诺', content='会所未按承诺建成', severity='重大')
    Complaint.create_logged(None, project=project, received_on=TODAY - DD(30), channel='来访',
                            category='设计', content='交付前的重大投诉', severity='重大')
    page = client_as('clerk').get('/admin/handover_entry/not-taken/?project=%d' % project.id) \
        .get_data(as_text=True)
    assert '会所未按承诺建成' in page and '交付前的重大投诉' not in page
    assert '<strong>工程质量</strong> 5 件' in page


def test_row_typed_by_hand_takes_the_units_contract(make, projects, client_as):
    project = projects['mine']
    contract = make.contract(project, unit=make.unit(project, status='已售'), paid_in_full=False)
    response = client_as('clerk').post_form('/admin/handover_entry/new/', {
        'project': project.id, 'unit': contract.unit_id, 'status': '待交付', 'issues_found': '0'})
    assert response.status_code == 302
    row = HandoverEntry.get()
    assert row.contract_id == contract.id and row.owner_id == contract.owner_id
    assert row.eligible is False and row.ineligible_reason == '房款未结清'


def test_bulk_notice_and_arrival_logged_per_row(make, projects, client_as):
    rows = [entry_for(make, projects['mine']) for _ in range(2)]
    other = entry_for(make, projects['other'])
    clerk = client_as('clerk')
    ids = [str(r.id) for r in rows + [other]]
    clerk.post_form('/admin/handover_entry/action/', {'action': 'notice_mailed', 'rowid': ids})
    clerk.post_form('/admin/handover_entry/action/', {'action': 'arrived', 'rowid': ids})
    for r in rows:
        fresh = HandoverEntry.get_by_id(r.id)
        assert fresh.notice_mailed_on == TODAY and fresh.arrived_at.date() == TODAY
        assert ChangeLog.select().where((ChangeLog.table_name == 'handover_entry') &
                                        (ChangeLog.row_id == r.id)).count() == 3
    fresh = HandoverEntry.get_by_id(other.id)
    assert fresh.notice_mailed_on is None and fresh.arrived_at is None


def test_late_days_follow_the_project_dates(make, projects):
    project = projects['mine']
    row = entry_for(make, project, contract={'late_penalty_rate': Decimal('0.0001')})
    assert row.late_days == 0
    project.contract_delivery_date = TODAY - DD(40)
    project.delivery_start_date = TODAY - DD(9)
    project.save_logged(None)
    fresh = HandoverEntry.get_by_id(row.id)
    assert fresh.late_days == 31 and fresh.late_penalty == Decimal('4650.00')   # 1,500,000 × 0.0001 × 31
    assert fresh.notice_due_on == TODAY - DD(19)


def test_daily_figures_link_to_the_same_rows_of_the_roster(make, projects, client_as):
    project = projects['mine']
    day = TODAY - DD(1)
    build_roster(make, project, day)
    clerk = client_as('clerk')
    page = clerk.get('/admin/handover_entry/daily/?project=%d&day=%s' % (project.id, day)).get_data(as_text=True)
    cells = dict(re.findall(r'data-label="([^"]+)">([^<]+)<', page))
    links = dict((label, url.replace('&amp;', '&')) for url, label in
                 re.findall(r'<a href="([^"]+)" title="在交楼名单中查看这些户">([^<]+)</a>', page))
    assert set(links) >= {'当日交付户数', '累计交付户数', '应交付户数', '当日拒收户数'}
    for label, url in links.items():
        listed = clerk.get(url).get_data(as_text=True)
        assert '共 %s 条' % cells[label] in listed, label


def test_report_opens_on_the_project_handing_over(make, projects, client_as):
    other = projects['other']
    other.delivery_start_date = TODAY - DD(3)
    other.save_logged(None)
    entry_for(make, other, appointment_on=TODAY - DD(1))
    page = client_as('admin').get('/admin/handover_entry/daily/').get_data(as_text=True)
    assert '每日交房日报表 — 滨湖印象' in page
