"""Before delivery through HTTP: the punch list's approvals and bulk actions, key transfers,
the countdown generator, round windows and summaries."""
import datetime
import io
import re

import openpyxl
import pytest

from models.base import ChangeLog, RuleError
from models.delivery import AcceptanceRound, DeliveryMilestone, InspectionIssue, KeyTransfer
from rules import delivery as rules

TODAY = datetime.date.today()
D = datetime.timedelta
TABLES = ['acceptance_round', 'inspection_issue', 'key_transfer', 'delivery_milestone']


def hidden(page, name):
    m = re.search(r'name="%s"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="%s"' % (name, name), page)
    return (m.group(1) if m.group(1) is not None else m.group(2)) if m else None


def issue(project, **values):
    data = dict(project=project, category='水电', description='次卧插座不通电', location='1栋电梯厅',
                found_on=TODAY - D(5))
    data.update(values)
    return InspectionIssue.create_logged(None, **data)


def issue_form(row, **changes):
    """The edit form of an issue as the browser would post it."""
    data = {'project': row.project_id, 'category': row.category, 'description': row.description,
            'location': row.location or '', 'severity': row.severity, 'found_on': str(row.found_on),
            'status': row.status, 'unified_script': row.unified_script or '',
            'found_by': '', 'responsible_person': '', 'penalty': '', 'rectification_plan': '',
            'verified_by': '', 'remarks': ''}
    data.update(changes)
    return data


def edit_issue(portal, row, **changes):
    url = '/admin/inspection_issue/edit/?id=%d' % row.id
    page = portal.get(url).get_data(as_text=True)
    data = issue_form(row, **changes)
    data['row_version'] = hidden(page, 'row_version')
    return portal.post_form(url, data)


def changes_of(row):
    return ChangeLog.select().where((ChangeLog.table_name == 'inspection_issue') &
                                    (ChangeLog.row_id == row.id)).count()


# ------------------------------------------------------------------ lists

@pytest.mark.parametrize('table', TABLES)
def test_every_delivery_register_lists_and_exports(client_as, table):
    assert client_as('clerk').get('/admin/%s/' % table).status_code == 200
    response = client_as('auditor').get('/admin/%s/export/xlsx/' % table)
    assert response.status_code == 200
    openpyxl.load_workbook(io.BytesIO(response.data))


def test_overdue_issue_stands_out_in_the_list(projects, client_as):
    issue(projects['mine'], description='逾期的插座问题', deadline=TODAY - D(2))
    issue(projects['mine'], description='未到期的插座问题', deadline=TODAY + D(2))
    page = client_as('clerk').get('/admin/inspection_issue/').get_data(as_text=True)
    assert page.count('badge-danger overdue') == 1
    assert '逾期2天' in page


def test_overdue_filter_lists_only_overdue_issues(app, projects, client_as):
    issue(projects['mine'], description='逾期甲', deadline=TODAY - D(1))
    issue(projects['mine'], description='按时乙', deadline=TODAY)
    view = next(v for v in app.extensions['admin'][0]._views if getattr(v, 'endpoint', '') == 'inspection_issue')
    index = next(i for i, f in enumerate(view._filters) if f.name == '逾期')
    page = client_as('clerk').get('/admin/inspection_issue/?flt0_%d=1' % index).get_data(as_text=True)
    assert '逾期甲' in page and '按时乙' not in page


# ------------------------------------------------------------------ approvals

def test_clerk_refused_concession_and_row_unchanged(projects, client_as):
    row = issue(projects['mine'])
    before = changes_of(row)
    response = edit_issue(client_as('clerk'), row, status='让步接收', unified_script='符合规范。')
    assert response.status_code == 200
    assert '只有客服经理可以审批' in response.get_data(as_text=True)
    fresh = InspectionIssue.get_by_id(row.id)
    assert fresh.status == '待整改' and fresh.version == row.version
    assert changes_of(row) == before


def test_supervisor_approves_concession(projects, client_as):
    row = issue(projects['mine'])
    response = edit_issue(client_as('supervisor'), row, status='让步接收')
    assert response.status_code == 302
    fresh = InspectionIssue.get_by_id(row.id)
    assert fresh.status == '让步接收'
    assert fresh.decision_approved_by == 'supervisor' and fresh.decision_approved_on == TODAY
    assert changes_of(row) == 2


def test_no_fix_without_unified_script_refused_even_for_supervisor(projects, client_as):
    row = issue(projects['mine'])
    supervisor = client_as('supervisor')
    response = edit_issue(supervisor, row, status='不整改', unified_script='')
    assert '须填写「统一说辞」' in response.get_data(as_text=True)
    assert InspectionIssue.get_by_id(row.id).status == '待整改'
    response = edit_issue(supervisor, row, status='不整改', unified_script='经设计复核不影响使用，统一答复业主。')
    assert response.status_code == 302
    assert InspectionIssue.get_by_id(row.id).status == '不整改'


def test_major_issue_without_plan_refused_on_the_form(projects, client_as):
    response = client_as('clerk').post_form('/admin/inspection_issue/new/', {
        'project': projects['mine'].id, 'category': '重大质量问题', 'description': '卫生间渗漏至楼下',
        'location': '2栋1单元', 'severity': '重大', 'found_on': str(TODAY), 'status': '待整改'})
    assert response.status_code == 200
    assert '重大问题必须填写' in response.get_data(as_text=True)
    assert not InspectionIssue.select().exists()


# ------------------------------------------------------------------ bulk actions

def test_bulk_to_verify_and_close_each_row_logged(projects, client_as, make):
    contractor = make.contractor()
    rows = [issue(projects['mine'], description='问题%d' % n, contractor=contractor,
                  deadline=TODAY + D(3)) for n in range(3)]
    unassigned = issue(projects['mine'], description='未指派')
    clerk = client_as('clerk')
    ids = [str(r.id) for r in rows]
    response = clerk.post_form('/admin/inspection_issue/action/',
                               {'action': 'to_verify', 'rowid': ids + [str(unassigned.id)]},
                               follow_redirects=True)
    assert {InspectionIssue.get_by_id(r.id).status for r in rows} == {'待验证'}
    # an issue nobody was made responsible for cannot have been rectified
    assert InspectionIssue.get_by_id(unassigned.id).status == '待整改'
    assert '须填写「责任单位」' in response.get_data(as_text=True)
    clerk.post_form('/admin/inspection_issue/action/', {'action': 'close_verified', 'rowid': ids})
    for r in rows:
        fresh = InspectionIssue.get_by_id(r.id)
        assert fresh.status == '已关闭' and fresh.verified_by == 'clerk' and fresh.verified_on == TODAY
        assert changes_of(r) == 3          # created, to 待验证, closed


def test_close_verified_skips_issues_not_waiting_for_verification(projects, client_as):
    open_row = issue(projects['mine'])
    client_as('clerk').post_form('/admin/inspection_issue/action/',
                                 {'action': 'close_verified', 'rowid': [str(open_row.id)]})
    assert InspectionIssue.get_by_id(open_row.id).status == '待整改'


def test_bulk_action_cannot_touch_other_project(projects, client_as):
    other = issue(projects['other'])
    client_as('clerk').post_form('/admin/inspection_issue/action/',
                                 {'action': 'to_verify', 'rowid': [str(other.id)]})
    assert InspectionIssue.get_by_id(other.id).status == '待整改'


def test_bulk_assign_contractor_and_deadline(make, projects, client_as):
    contractor = make.contractor()
    rows = [issue(projects['mine'], description='问题%d' % n) for n in range(2)]
    other = issue(projects['other'])
    ids = ','.join(str(r.id) for r in rows + [other])
    response = client_as('clerk').post_form('/admin/inspection_issue/assign/', {
        'ids': ids, 'contractor': contractor.id, 'deadline': str(TODAY + D(7)),
        'responsible_person': '陈建国'})
    assert response.status_code == 302
    for r in rows:
        fresh = InspectionIssue.get_by_id(r.id)
        assert fresh.contractor_id == contractor.id and fresh.deadline == TODAY + D(7)
        assert fresh.responsible_person == '陈建国' and changes_of(r) == 2
    assert InspectionIssue.get_by_id(other.id).contractor_id is None


def test_bulk_assign_without_deadline_says_why(make, projects, client_as):
    row = issue(projects['mine'])
    response = client_as('clerk').post_form('/admin/inspection_issue/assign/', {
        'ids': str(row.id), 'contractor': make.contractor().id, 'deadline': ''})
    assert '请填写整改期限' in response.get_data(as_text=True)
    assert InspectionIssue.get_by_id(row.id).contractor_id is None


def test_auditor_cannot_run_bulk_actions(projects, client_as):
    row = issue(projects['mine'])
    response = client_as('auditor').post_form('/admin/inspection_issue/action/',
                                              {'action': 'to_verify', 'rowid': [str(row.id)]})
    assert response.status_code == 403
    assert client_as('auditor').post_form('/admin/inspection_issue/assign/', {'ids': str(row.id)}) \
        .status_code == 403
    assert InspectionIssue.get_by_id(row.id).status == '待整改'


# ------------------------------------------------------------------ summary

def test_summary_per_round_and_contractor(make, projects, client_as):
    project = projects['mine']
    first = AcceptanceRound.create_logged(None, project=project, round_no='第一轮')
    builder = make.contractor('宏远建设', '总包')
    issue(project, round=first, contractor=builder, deadline=TODAY - D(1))           # overdue
    issue(project, round=first, contractor=builder, status='待验证', rectified_on=TODAY,
          deadline=TODAY + D(3))
    closed = issue(project, round=first, status='待验证', rectified_on=TODAY, contractor=builder,
                   deadline=TODAY + D(3))
    closed.status, closed.verified_by = '已关闭', '李专员'
    closed.save_logged(None)
    issue(project, round=first)                                                      # unassigned
    rows = InspectionIssue.summary(InspectionIssue.live().where(InspectionIssue.project == project.id),
                                   InspectionIssue.round)
    assert rows == [(first.id, 4, 1, 0, 1)]
    page = client_as('clerk').get('/admin/inspection_issue/summary/').get_data(as_text=True)
    assert '宏远建设' in page and '25.0%' in page and '未指派' in page


def test_summary_of_other_project_is_404(projects, client_as):
    response = client_as('clerk').get('/admin/inspection_issue/summary/?project=%d' % projects['other'].id)
    assert response.status_code == 404


# ------------------------------------------------------------------ key transfers

def key_form(project, kind='施工钥匙', **values):
    data = {'project': project.id, 'kind': kind, 'scope': '全部', 'to_party': '物业公司',
            'keys_count': '120', 'transferred_on': str(TODAY)}
    data.update(values)
    return data


def test_construction_keys_refused_with_open_issue_then_accepted_after_closing(projects, client_as,
                                                                              make):
    project = projects['mine']
    row = issue(project, contractor=make.contractor(), deadline=TODAY + D(3))
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/key_transfer/new/', key_form(project))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '尚有 1 个内部验收问题未关闭' in text and '所有内部验收问题关闭' in text
    assert not KeyTransfer.select().exists()
    clerk.post_form('/admin/inspection_issue/action/', {'action': 'to_verify', 'rowid': [str(row.id)]})
    clerk.post_form('/admin/inspection_issue/action/', {'action': 'close_verified', 'rowid': [str(row.id)]})
    response = clerk.post_form('/admin/key_transfer/new/', key_form(project), follow_redirects=True)
    assert KeyTransfer.select().count() == 1
    assert '按时' in response.get_data(as_text=True)


def test_construction_keys_allowed_with_approved_concession(projects, client_as):
    project = projects['mine']
    row = issue(project)
    edit_issue(client_as('supervisor'), row, status='让步接收')
    client_as('clerk').post_form('/admin/key_transfer/new/', key_form(project))
    assert KeyTransfer.select().count() == 1


def test_late_construction_keys_recorded_with_the_rule(make, client_as, projects):
    project = projects['mine']
    project.delivery_start_date = TODAY + D(10)
    project.save_logged(None)
    response = client_as('clerk').post_form('/admin/key_transfer/new/', key_form(project),
                                            follow_redirects=True)
    row = KeyTransfer.get()
    assert row.late_days == 5 and row.due_on == TODAY - D(5)
    assert '逾期 5 天' in response.get_data(as_text=True) and '不晚于入住前15日' in row.timing_note


def test_sales_keys_list_sold_units_without_keys(make, projects, client_as):
    project = projects['mine']
    make.unit(project, building='1栋', room='101', status='已售')
    make.unit(project, building='2栋', room='201', status='已售')
    make.unit(project, building='2栋', room='202', status='未售')
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/key_transfer/new/', key_form(project, '销售钥匙', scope='1栋'))
    text = response.get_data(as_text=True)
    assert '2栋-1-201' in text and '2栋-1-202' not in text
    assert not KeyTransfer.select().exists()
    clerk.post_form('/admin/key_transfer/new/', key_form(project, '销售钥匙', scope='1栋、2栋'))
    assert KeyTransfer.select().count() == 1


def test_future_transfer_refused(projects, client_as):
    response = client_as('clerk').post_form('/admin/key_transfer/new/',
                                            key_form(projects['mine'], transferred_on=str(TODAY + D(1))))
    assert '晚于今天' in response.get_data(as_text=True)
    assert not KeyTransfer.select().exists()


def test_remarks_of_a_past_transfer_editable_after_new_issues(projects):
    project = projects['mine']
    row = KeyTransfer.create_logged(None, project=project, kind='施工钥匙', scope='全部',
                                    transferred_on=TODAY)
    issue(project, description='交付当日新发现')
    row.remarks = '补充移交清单'
    row.save_logged(None)
    row.transferred_on = TODAY - D(1)
    with pytest.raises(RuleError):
        row.save_logged(None)


# ------------------------------------------------------------------ milestones

def test_milestone_generation_is_idempotent_and_keeps_edited_dates(projects, client_as):
    project = projects['mine']
    clerk = client_as('clerk')
    url = '/admin/delivery_milestone/generate/'
    assert clerk.post_form(url, {'project': project.id}).status_code == 302
    rows = DeliveryMilestone.select().where(DeliveryMilestone.project == project.id)
    assert rows.count() == len(rules.COUNTDOWN)
    t = project.delivery_date
    kickoff = DeliveryMilestone.get(DeliveryMilestone.code == 'T-45')
    assert kickoff.due_on == t - D(45) and kickoff.owner_department == '客户关系部'
    kickoff.due_on = t - D(47)
    kickoff.save_logged(None)
    response = clerk.post_form(url, {'project': project.id}, follow_redirects=True)
    assert '未新增' in response.get_data(as_text=True)
    assert rows.count() == len(rules.COUNTDOWN)
    assert DeliveryMilestone.get(DeliveryMilestone.code == 'T-45').due_on == t - D(47)


def test_milestone_generation_for_other_project_is_404(projects, client_as):
    response = client_as('clerk').post_form('/admin/delivery_milestone/generate/',
                                            {'project': projects['other'].id})
    assert response.status_code == 404
    assert not DeliveryMilestone.select().exists()


def test_milestone_list_shows_done_and_overdue(projects, client_as):
    project = projects['mine']
    DeliveryMilestone.create_logged(None, project=project, code='T-45', name='交楼启动会', offset_days=-45,
                                    due_on=TODAY - D(1), owner_department='客户关系部')
    DeliveryMilestone.create_logged(None, project=project, code='T-40', name='成立交房小组', offset_days=-40,
                                    due_on=TODAY - D(1), owner_department='客户关系部', done_on=TODAY - D(2))
    page = client_as('clerk').get('/admin/delivery_milestone/').get_data(as_text=True)
    assert 'badge-danger">逾期' in page and 'badge-success">已完成' in page


# ------------------------------------------------------------------ rounds

def test_round_out_of_window_flagged(projects):
    project = projects['mine']            # round 1 must start by T-3 months; T-80 days is too late
    row = AcceptanceRound.create_logged(None, project=project, round_no='第一轮',
                                        started_on=project.delivery_date - D(80))
    assert row.out_of_window and '晚于窗口' in row.window_note
    assert row.organizer == '项目部'
    ok = AcceptanceRound.create_logged(None, project=project, round_no='第二轮')
    assert not ok.out_of_window and ok.clear_by == project.delivery_date - D(30)


def test_round_three_needs_round_two_closed_and_its_prerequisites(projects, make):
    project = projects['mine']
    second = AcceptanceRound.create_logged(None, project=project, round_no='第二轮')
    open_issue = issue(project, round=second, contractor=make.contractor(), deadline=TODAY + D(3))
    third = AcceptanceRound(project=project, round_no='第三轮', started_on=TODAY - D(1),
                            utilities_commissioned=True, landscaping_done=True)
    with pytest.raises(RuleError) as refused:
        third.save_logged(None)
    fields = [f for f, _ in refused.value.problems]
    assert fields == ['started_on', 'completion_filing_obtained']
    open_issue.status = '待验证'
    open_issue.save_logged(None)
    open_issue.status, open_issue.verified_by = '已关闭', '李专员'
    open_issue.save_logged(None)
    third.completion_filing_obtained = True
    third.save_logged(None)
    assert AcceptanceRound.select().count() == 2


def test_second_round_one_refused(projects):
    AcceptanceRound.create_logged(None, project=projects['mine'], round_no='第一轮')
    with pytest.raises(RuleError):
        AcceptanceRound.create_logged(None, project=projects['mine'], round_no='第一轮')


def test_overdue_milestone_filter(app, projects, client_as):
    project = projects['mine']
    DeliveryMilestone.create_logged(None, project=project, code='T-45', name='交楼启动会', offset_days=-45,
                                    due_on=TODAY - D(1), owner_department='客户关系部')
    DeliveryMilestone.create_logged(None, project=project, code='T-40', name='成立交房小组', offset_days=-40,
                                    due_on=TODAY - D(1), owner_department='客户关系部', done_on=TODAY - D(2))
    DeliveryMilestone.create_logged(None, project=project, code='T-30a', name='导出应交付用户', offset_days=-30,
                                    due_on=None, owner_department='客户关系部')
    view = next(v for v in app.extensions['admin'][0]._views if getattr(v, 'endpoint', '') == 'delivery_milestone')
    index = next(i for i, f in enumerate(view._filters) if f.name == '逾期未完成')
    clerk = client_as('clerk')
    page = clerk.get('/admin/delivery_milestone/?flt0_%d=1' % index).get_data(as_text=True)
    assert '交楼启动会' in page and '成立交房小组' not in page
    page = clerk.get('/admin/delivery_milestone/?flt0_%d=0' % index).get_data(as_text=True)
    assert '交楼启动会' not in page and '成立交房小组' in page and '导出应交付用户' in page


def test_when_delivery_date_moves_windows_keys_and_unedited_milestones_follow(projects, client_as):
    project = projects['mine']
    client_as('clerk').post_form('/admin/delivery_milestone/generate/', {'project': project.id})
    edited = DeliveryMilestone.get(DeliveryMilestone.code == 'T-45')
    edited.due_on = edited.due_on - D(2)
    edited.save_logged(None)
    first = AcceptanceRound.create_logged(None, project=project, round_no='第一轮')
    keys = KeyTransfer.create_logged(None, project=project, kind='施工钥匙', scope='全部', transferred_on=TODAY)
    old_t = project.delivery_date
    project.delivery_start_date = old_t + D(20)
    project.save_logged(None)
    new_t = old_t + D(20)
    assert AcceptanceRound.get_by_id(first.id).clear_by == rules.add_months(new_t, -2)
    assert KeyTransfer.get_by_id(keys.id).due_on == new_t - D(15)
    assert DeliveryMilestone.get(DeliveryMilestone.code == 'T-40').due_on == new_t - D(40)
    assert DeliveryMilestone.get(DeliveryMilestone.code == 'T-45').due_on == old_t - D(47)
