"""Every page that shows one of issue 15's rules gives the same answer: the register, the
countdown (交付计划节点), /due, the dashboard (/) and the unit file — one test per rule, each
requesting those pages at a fixed date (`?on=`), and each checking that where the rule fires the
manual's clause (manual and section) is shown with it."""
import datetime
import html
import re

from models.aftercare import CallbackSurvey, RepairOrder
from models.delivery import DeliveryMilestone
from models.handover import HandoverEntry
from models.master import Contract, Project, Unit
from models.risk import RiskInspection
from test_excel_import import commit, upload, xlsx

D = datetime.date


def text(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return html.unescape(response.get_data(as_text=True))


def due_items(client, on, project, days=14, register=''):
    """The rows of /due as dicts: register, status, due_on, what (the row's text), manual, clause."""
    page = text(client, '/due?on=%s&project=%d&days=%d&register=%s' % (on, project.id, days, register))
    rows = []
    for reg, body in re.findall(r'<tr class="due-row[^"]*" data-register="([^"]+)"[^>]*>(.*?)</tr>',
                                page, re.S):
        cells = [re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', c)).strip()
                 for c in re.findall(r'<td[^>]*>(.*?)</td>', body, re.S)]
        manual = re.search(r'<summary>(.*?)</summary>|font-weight-bold">([^<]*)<', body, re.S)
        clause = re.search(r'<q>(.*?)</q>', body, re.S)
        rows.append(dict(register=reg, status=cells[0], due_on=cells[2],
                         what=re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', body)).strip(),
                         manual=(manual.group(1) or manual.group(2) or '').strip() if manual else '',
                         clause=clause.group(1) if clause else ''))
    return rows


def card_due(client, on, project):
    """(已逾期, 今日, 即将) on the project's dashboard card."""
    page = text(client, '/?on=%s' % on)
    card = re.search(r'data-project="%d">(.*?)</table>' % project.id, page, re.S).group(1)
    figure = re.search(r'data-figure="due">(.*?)</p>', card, re.S).group(1)
    return tuple(int(n) for n in re.findall(r'(?:已逾期|今日|即将) (\d+)', figure))


def counts(items):
    return tuple(sum(1 for i in items if i['status'] == s) for s in ('已逾期', '今日到期', '即将到期'))


def row_text(page, *needles):
    """The text of the first table row of `page` holding every needle."""
    for row in re.findall(r'<tr[^>]*>(.*?)</tr>', page, re.S):
        flat = re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', row))
        if all(n in flat.split() or n in flat for n in needles):
            return flat
    raise AssertionError('no row with %s' % (needles,))


def milestone_row(client, project, code):
    """The countdown list's row of node `code`: its planned date and state as shown."""
    page = text(client, '/admin/delivery_milestone/?search=%s' % code)
    return row_text(page, ' %s ' % code, project.name)


# ------------------------------------------------------------------ 1. one obligation, one deadline

def test_pre_delivery_and_pre_launch_checks_have_one_deadline_everywhere(make, users, client_as):
    project = make.project(name='三月检查项目', code='AGREE1', launch_date=D(2027, 3, 8),
                           contract_delivery_date=D(2027, 5, 31), stage='在售')
    check = RiskInspection.create_logged(None, project=project, kind='交付前风险检查', report_title='交付前检查')
    launch = RiskInspection.create_logged(None, project=project, kind='开盘及上市前检查', report_title='开盘检查')
    DeliveryMilestone.generate_plan(project, None)
    admin = client_as('admin')
    assert (check.due_on, launch.due_on) == (D(2027, 2, 28), D(2027, 3, 1))

    details = text(admin, '/admin/risk_inspection/details/?id=%d' % check.id)
    assert '2027-02-28' in details and '过早' not in details
    assert '2027-02-28' in milestone_row(admin, project, 'T-3Mb')
    items = due_items(admin, '2027-03-01', project, days=0)
    register = next(i for i in items if i['register'] == 'risk_inspection' and '交付前检查' in i['what'])
    launch_check = next(i for i in items if i['register'] == 'risk_inspection' and '开盘检查' in i['what'])
    node = next(i for i in items if i['register'] == 'delivery_milestone' and 'T-3Mb' in i['what'])
    assert register['due_on'] == node['due_on'] == '2027-02-28'
    assert register['status'] == node['status'] == '已逾期'
    assert (launch_check['due_on'], launch_check['status']) == ('2027-03-01', '今日到期')
    # the clause where it fires: manual and section
    assert '交付前风险检查' in register['manual'] and '交付前三个月内完毕' in register['clause']
    assert node['manual'].startswith('手册000') and '交付前三个月内完毕' in node['clause']
    assert card_due(admin, '2027-03-01', project) == counts(due_items(admin, '2027-03-01', project))

    # Done early is on time (no 过早完成), and done is done on every page: the node follows.
    check.completed_on = D(2026, 9, 1)
    check.save_logged(None)
    assert RiskInspection.get_by_id(check.id).timing == '按时完成'
    listing = text(admin, '/admin/risk_inspection/')
    assert '过早完成' not in listing
    assert '已完成' in milestone_row(admin, project, 'T-3Mb')
    assert not any('交付前风险检查' in i['what'] or 'T-3Mb' in i['what']
                   for i in due_items(admin, '2027-03-01', project, days=0))


# ------------------------------------------------------------------ 2. "N个月" is calendar months

def test_three_months_after_handover_is_one_date_for_the_countdown_and_the_repair_register(
        make, users, client_as):
    project = make.project(name='集中维修项目', code='AGREE2', contract_delivery_date=D(2025, 5, 31),
                           delivery_start_date=D(2025, 5, 31), stage='已交付')
    DeliveryMilestone.generate_plan(project, None)
    unit = make.unit(project)
    admin = client_as('admin')
    assert '2025-08-31' in milestone_row(admin, project, 'T+3Ma')        # not T+90 = 08-29
    node = next(i for i in due_items(admin, '2025-08-31', project, days=0)
                if 'T+3Ma' in i['what'])
    assert (node['due_on'], node['status']) == ('2025-08-31', '今日到期')
    assert node['manual'] == '手册004 4.1.3'

    form = {'project': project.id, 'unit': unit.id, 'source': '集中维修', 'description': '卫生间渗水',
            'category': RepairOrder._meta.fields['category'].choices[0][0]}
    on_the_day = admin.post_form('/admin/repair_order/new/', dict(form, reported_on='2025-08-31'))
    assert on_the_day.status_code == 302, on_the_day.get_data(as_text=True)[:300]
    assert RepairOrder.get(RepairOrder.reported_on == D(2025, 8, 31)).source == '集中维修'
    refused = html.unescape(admin.post_form('/admin/repair_order/new/',
                                            dict(form, reported_on='2025-09-01')).get_data(as_text=True))
    assert '2025-08-31' in refused and '手册002 四、售后集中维修阶段' in refused
    assert not RepairOrder.select().where(RepairOrder.reported_on == D(2025, 9, 1)).exists()


# ------------------------------------------------------------------ 3. +3 / +15 from completion

def test_plus_three_and_fifteen_wait_for_the_completion_then_agree(make, users, client_as):
    project = make.project(name='交付完成项目', code='AGREE3', contract_delivery_date=D(2026, 11, 20),
                           delivery_start_date=D(2026, 11, 20), stage='交付准备')
    DeliveryMilestone.generate_plan(project, None)
    admin = client_as('admin')
    # No completion yet: pending (待定) on the countdown and the +3 page, nothing overdue on /due.
    assert '待定' in milestone_row(admin, project, 'T+3')
    assert '期限待定' in text(admin, '/admin/handover_entry/not-taken/?project=%d' % project.id)
    pending = [i for i in due_items(admin, '2027-06-01', project, days=0)
               if any(w in i['what'] for w in ('未接房', '总结报告'))]
    assert all(i['status'] not in ('已逾期', '今日到期', '即将到期') for i in pending), pending

    # The roster schedules owners up to 11-29: the completion, so +3 is 12-02 and +15 is 12-14.
    contract = make.contract(project)
    HandoverEntry.create_logged(None, project=project, unit=contract.unit, contract=contract,
                                appointment_on=D(2026, 11, 29))

    def shown(on):
        node3, node15 = milestone_row(admin, project, 'T+3'), milestone_row(admin, project, 'T+15')
        items = due_items(admin, on, project, days=30)
        plus3 = next(i for i in items if 'T+3 ' in i['what'])
        return node3, node15, plus3

    node3, node15, plus3 = shown('2026-11-30')
    assert '2026-12-02' in node3 and '2026-12-14' in node15 and plus3['due_on'] == '2026-12-02'
    assert plus3['manual'] == '手册001 房屋交付后续工作' and '房屋交付工作完成三日内' in plus3['clause']
    assert '2026-12-02' in text(admin, '/admin/handover_entry/not-taken/?project=%d' % project.id)
    assert '2026-12-14' in text(admin, '/admin/handover_entry/summary/?project=%d' % project.id)
    # The supervisor records the completion on 11-27: every page moves to 11-30 / 12-12.
    project = Project.get_by_id(project.id)
    project.handover_completed_on = D(2026, 11, 27)
    project.save_logged(None)
    node3, node15, plus3 = shown('2026-11-30')
    assert '2026-11-30' in node3 and '2026-12-12' in node15
    assert (plus3['due_on'], plus3['status']) == ('2026-11-30', '今日到期')
    assert '2026-11-30' in text(admin, '/admin/handover_entry/not-taken/?project=%d' % project.id)
    assert card_due(admin, '2026-11-30', project) == counts(due_items(admin, '2026-11-30', project))


# ------------------------------------------------------------------ 4. a cancelled sale is not a sale

def test_a_cancelled_deleted_or_restored_contract_moves_its_unit_everywhere(make, users, client_as):
    project = make.project(name='退房项目', code='AGREE4', contract_delivery_date=D(2027, 6, 30),
                           stage='在售')
    units = [make.unit(project, room=str(1001 + n)) for n in range(10)]
    contracts = [make.contract(project, unit=u, sign_date=D(2026, 1, 10 + n))
                 for n, u in enumerate(units[:4])]                 # 4 of 10 sold: above 30%
    admin = client_as('admin')
    target = units[3]

    def status_shown():
        page = text(admin, '/unit/%d' % target.id)
        unit_file = page.split('id="section-unit"')[1].split('</table>')[0]
        listed = row_text(text(admin, '/admin/unit/?search=%s' % target.room), ' %s ' % target.room)
        group = [i for i in due_items(admin, '2026-11-30', project, days=0)
                 if i['register'] == 'quality_group']
        project_row = Project.get_by_id(project.id)
        return (Unit.get_by_id(target.id).status, '已售' in unit_file and '未售' not in unit_file,
                '已售' in listed and '未售' not in listed, len(group), project_row.sold_units)

    assert status_shown() == ('已售', True, True, 1, 4)
    group = next(i for i in due_items(admin, '2026-11-30', project, days=0) if i['register'] == 'quality_group')
    assert group['manual'].startswith('手册003') and '百分之三十' in group['clause']
    assert group['due_on'] == '2026-01-13'                # the 4th signing crossed 30%

    # Cancel: the unit is unsold again, 3 of 10 is exactly 30%: no group due, nowhere.
    contract = Contract.get_by_id(contracts[3].id)
    contract.cancelled, contract.cancel_date, contract.cancel_reason = True, D(2026, 3, 1), '客户退房'
    contract.save_logged(None)
    assert status_shown() == ('未售', False, False, 0, 3)
    # A new valid contract on the unit sells it again; deleting it (recycle bin) unsells it,
    # restoring it sells it again.
    again = make.contract(project, unit=target, sign_date=D(2026, 4, 1))
    assert status_shown()[0] == '已售'
    response = admin.post_form('/admin/contract/delete/', {'id': again.id, 'url': '/admin/contract/'})
    assert response.status_code in (200, 302)
    assert Contract.get_by_id(again.id).deleted_at is not None
    assert status_shown() == ('未售', False, False, 0, 3)
    admin.post_form('/admin/recycle/restore/contract/%d' % again.id, follow_redirects=True)
    assert status_shown() == ('已售', True, True, 1, 4)
    # Cancelled through an Excel import: the same.
    header = ['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式', '网签备案', '作废',
              '房款结清', '产权证', '作废日期', '作废原因']
    again = Contract.get_by_id(again.id)
    row = [project.name, again.contract_no, str(target), again.owner.name, '2026-04-01', 1500000,
           '一次性', '未备案', '是', '否', '未办', '2026-05-01', '客户换房']
    checked = upload(admin, 'contract', xlsx([header, row])).get_data(as_text=True)
    committed = commit(admin, 'contract', checked)
    assert committed.status_code in (200, 302), committed.get_data(as_text=True)[:500]
    assert Contract.get_by_id(again.id).cancelled
    assert status_shown() == ('未售', False, False, 0, 3)
    assert card_due(admin, '2026-11-30', project) == counts(due_items(admin, '2026-11-30', project))


# ------------------------------------------------------------------ 5. the callback, at least once

def test_the_callback_is_decided_once_for_due_the_dashboard_and_the_callbacks_page(
        make, users, client_as):
    project = make.project(name='回访一致项目', code='AGREE5', contract_delivery_date=D(2025, 3, 1),
                           delivery_start_date=D(2025, 3, 1), stage='已交付')
    for n in range(10):
        make.unit(project, room=str(501 + n), status='已交付' if n < 6 else '已售')   # 60% handed over
    admin = client_as('admin')

    def shown(on):
        items = [i for i in due_items(admin, on, project, days=14) if i['register'] == 'annual_callback']
        page = text(admin, '/aftercare/callbacks-due?on=%s' % on)
        table = page.split('id="callbacks-due"')[1].split('</table>')[0] if 'id="callbacks-due"' in page else ''
        return items, project.name in table, table

    # A valid survey made before the one-year mark does not settle it.
    CallbackSurvey.create_logged(None, project=project, kind='年度回访', period='提前', surveyor='第三方',
                                 population=10, issued=10, returned=5, report_on=D(2026, 2, 20))
    items, listed, table = shown('2026-03-10')
    assert [(i['due_on'], i['status']) for i in items] == [('2026-03-01', '已逾期')] and listed
    assert '2026-03-01' in table
    assert items[0]['manual'] == '手册003 顾客回访' and '至少一次' in items[0]['clause']
    assert card_due(admin, '2026-03-10', project) == counts(due_items(admin, '2026-03-10', project))
    # The day before the mark: upcoming on /due, not yet owed on the callbacks page.
    items, listed, _ = shown('2026-02-28')
    assert [(i['due_on'], i['status']) for i in items] == [('2026-03-01', '即将到期')] and not listed

    # One valid callback after the mark: settled on both pages, and not again a year later.
    CallbackSurvey.create_logged(None, project=project, kind='年度回访', period='满一年', surveyor='第三方',
                                 population=10, issued=10, returned=3, report_on=D(2026, 3, 15))
    for on in ('2026-03-16', '2027-03-20', '2028-03-01'):
        items, listed, _ = shown(on)
        assert items == [] and not listed, on
    assert '已完成' in text(admin, '/aftercare/callbacks-due?on=2027-03-20')


# ------------------------------------------------------------------ the demo and older databases

def test_the_demo_obeys_the_rules_of_issue_15(app):
    from models.delivery import handover_completed_on
    from rules import delivery as delivery_rules
    from rules.master import unit_status_from_contracts
    from seeds import seed_demo
    assert seed_demo('Demo-Passw0rd-2026')
    valid = {c.unit_id for c in Contract.live().where(Contract.cancelled == False)}  # noqa: E712
    for unit in Unit.live():
        assert unit.status == unit_status_from_contracts(unit.status, unit.id in valid), str(unit)
    for row in DeliveryMilestone.live():
        spec = delivery_rules.COUNTDOWN_BY_CODE[row.code]
        project = Project.get_by_id(row.project_id)
        assert row.due_on == delivery_rules.spec_due_on(spec, project.delivery_date,
                                                        handover_completed_on(project)), row.code
    for check in RiskInspection.live().where(RiskInspection.kind.in_(('交付前风险检查', '开盘及上市前检查'))):
        assert check.window_start_on is None and check.timing != '过早完成'


def test_an_older_database_gets_the_calendar_month_countdown(make):
    """Migration 3: the 90-day nodes of an older plan are renamed and dated in calendar months;
    +3/+15 wait for the completion; a node edited by hand or done keeps its date."""
    from models.delivery import countdown_in_calendar_months
    t = D(2027, 5, 31)
    project = make.project(name='旧计划项目', code='OLDPLAN', contract_delivery_date=t, stage='交付准备')
    old = dict(project=project, owner_department='客户关系部', plan_basis_on=t)
    DeliveryMilestone.insert_many([
        dict(old, code='T-90a', name='编制说明书', offset_days=-90, due_on=t - datetime.timedelta(days=90)),
        dict(old, code='T+90a', name='集中维修结束', offset_days=90, due_on=D(2027, 9, 1)),     # edited
        dict(old, code='T+3', name='未接房汇总', offset_days=3, due_on=D(2027, 6, 3)),
        dict(old, code='T-45', name='交楼启动会', offset_days=-45, due_on=D(2027, 4, 16)),
    ]).execute()
    RiskInspection.insert_many([dict(project=project, kind='交付前风险检查', anchor_on=t,
                                     window_start_on=D(2027, 2, 28), due_on=D(2027, 5, 30),
                                     completed_on=D(2026, 11, 1), out_of_window=True)]).execute()
    countdown_in_calendar_months()
    check = RiskInspection.get(RiskInspection.project == project.id)
    assert (check.window_start_on, check.due_on, check.out_of_window) == (None, D(2027, 2, 28), False)
    rows = {m.code: m for m in DeliveryMilestone.select().where(DeliveryMilestone.project == project.id)}
    assert set(rows) == {'T-3Ma', 'T+3Ma', 'T+3', 'T-45'}
    assert (rows['T-3Ma'].due_on, rows['T-3Ma'].offset_months) == (D(2027, 2, 28), -3)
    assert rows['T+3Ma'].due_on == D(2027, 9, 1) and rows['T+3Ma'].offset_months == 3
    assert rows['T+3'].due_on is None and rows['T+3'].anchor == '交付完成日'
    assert rows['T-45'].due_on == D(2027, 4, 16)
    countdown_in_calendar_months()                  # twice: nothing moves
    assert DeliveryMilestone.get_by_id(rows['T-3Ma'].id).due_on == D(2027, 2, 28)
