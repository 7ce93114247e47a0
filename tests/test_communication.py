"""Owner communication: the supervision-group rules at their edges (no HTTP) and the pages.
(The 30% and 5–10 member edges are in test_aftercare_rules.py with the other manual edges.)"""
from datetime import date, timedelta

import pytest

from models.aftercare import Complaint, ComplaintFollowUp
from models.base import RuleError
from models.communication import CustomerEvent, GroupMeeting, GroupMember, SupervisionGroup
from rules import communication as c


# --- rules --------------------------------------------------------------------------------------

def test_project_without_units_is_never_due():
    assert not c.group_due(0, 0)


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


def test_group_due_projects_skips_those_with_a_group_and_delivered_ones():
    assert c.group_due_projects([('A', '在售', 31, 100, False), ('B', '在售', 31, 100, True),
                                 ('C', '在售', 30, 100, False), ('D', '已交付', 90, 100, False),
                                 ('E', '交付准备', 90, 100, False)]) == ['A', 'E']


# --- pages (HTTP) -------------------------------------------------------------------------------

TODAY = date.today()
DAY = timedelta(days=1)


def page_text(response):
    return response.get_data(as_text=True)


def section(page, table_id):
    """The HTML of one table of the page (empty when the table is not there)."""
    marker = 'id="%s"' % table_id
    return page.split(marker)[1].split('</table>')[0] if marker in page else ''


@pytest.mark.parametrize('table', ('supervision_group', 'group_member', 'group_meeting', 'customer_event'))
def test_register_list_opens(client_as, table):
    assert client_as('clerk').get('/admin/%s/' % table).status_code == 200


def test_groups_page_opens_for_every_role(client_as):
    for role in ('clerk', 'supervisor', 'auditor', 'admin'):
        assert client_as(role).get('/communication/groups').status_code == 200


def sold_project(make, name, sold, total):
    project = make.project(name=name)
    for n in range(total):
        make.unit(project, status='已售' if n < sold else '未售')
    return project


def test_groups_due_at_thirty_percent_and_one_more_sale(client_as, make, users):
    exactly = sold_project(make, '恰好三成', 3, 10)
    sold_project(make, '多售一套', 4, 10)
    auditor = client_as('auditor')
    due = section(page_text(auditor.get('/communication/groups')), 'groups-due')
    assert '多售一套' in due and '恰好三成' not in due
    unit = make.unit(exactly, status='未售')
    unit.status = '已售'
    unit.save_logged(users['admin'])
    due = section(page_text(auditor.get('/communication/groups')), 'groups-due')
    assert '恰好三成' in due      # 4 of 11 sold: 36%


def test_project_with_a_group_is_not_due(client_as, make, users):
    project = sold_project(make, '已成立小组', 5, 10)
    SupervisionGroup.create_logged(users['admin'], project=project, kind=c.QUALITY_GROUP, name='监理小组',
                                   formed_on=TODAY, status='运行中')
    assert '已成立小组' not in section(page_text(client_as('auditor').get('/communication/groups')), 'groups-due')


def quality_group(project, users):
    return SupervisionGroup.create_logged(users['clerk'], project=project, kind=c.QUALITY_GROUP,
                                          name='一期监理小组', formed_on=TODAY - DAY * 300, status='运行中')


def test_group_of_four_is_warned_and_missing_phases_shown(client_as, projects, users, make):
    group = quality_group(projects['mine'], users)
    for _ in range(5):
        member = GroupMember.create_logged(users['clerk'], group=group, owner=make.owner(projects['mine']),
                                           joined_on=TODAY - DAY * 200)
    member.left_on = TODAY - DAY
    member.save_logged(users['clerk'])
    GroupMeeting.create_logged(users['clerk'], group=group, phase='基础', held_on=TODAY - DAY * 100,
                               chair='项目负责人', owner_suggestions='公开检测报告', suggestions_accepted=True)
    health = section(page_text(client_as('clerk').get('/communication/groups')), 'group-health')
    assert '小组现有在册成员4人，少于5人' in health
    assert '主体结构' in health and '装饰装修' in health and '安装' in health
    assert '基础 %s' % (TODAY - DAY * 100).isoformat() in health      # accepted, no feedback yet


def test_group_of_five_not_warned(client_as, projects, users, make):
    group = quality_group(projects['mine'], users)
    for _ in range(5):
        GroupMember.create_logged(users['clerk'], group=group, owner=make.owner(projects['mine']),
                                  joined_on=TODAY - DAY * 200)
    assert '少于5人' not in page_text(client_as('clerk').get('/communication/groups'))


def test_feedback_before_meeting_refused_over_http(client_as, projects, users):
    group = quality_group(projects['mine'], users)
    response = client_as('clerk').post_form('/admin/group_meeting/new/', {
        'group': str(group.id), 'phase': '主体结构', 'held_on': (TODAY - DAY * 10).isoformat(),
        'chair': '项目负责人', 'attendees': '', 'minutes': '', 'minutes_sent_on': '',
        'owner_suggestions': '走道照明', 'suggestions_accepted': 'y',
        'feedback_sent_on': (TODAY - DAY * 20).isoformat(), 'remarks': ''})
    assert response.status_code == 200
    assert '书面反馈日期不能早于会议日期' in page_text(response)
    assert GroupMeeting.select().count() == 0


def test_meeting_saved_over_http_takes_the_groups_project(client_as, projects, users):
    group = quality_group(projects['mine'], users)
    response = client_as('clerk').post_form('/admin/group_meeting/new/', {
        'group': str(group.id), 'phase': '主体结构', 'held_on': (TODAY - DAY * 10).isoformat(),
        'chair': '项目负责人', 'attendees': '', 'minutes': '', 'minutes_sent_on': '',
        'owner_suggestions': '', 'feedback_sent_on': '', 'remarks': ''})
    assert response.status_code == 302, page_text(response)[-2000:]
    assert GroupMeeting.get().project_id == projects['mine'].id


def test_clerk_cannot_attach_a_member_to_another_projects_group(client_as, projects, users, make):
    other_group = quality_group(projects['other'], users)
    response = client_as('clerk').post_form('/admin/group_member/new/', {
        'group': str(other_group.id), 'owner': str(make.owner(projects['other']).id), 'role': '成员',
        'joined_on': TODAY.isoformat(), 'left_on': '', 'remarks': ''})
    assert response.status_code == 200
    assert GroupMember.select().count() == 0


def test_clerk_cannot_log_a_follow_up_on_another_projects_complaint(projects, users):
    complaint = Complaint.create_logged(users['admin'], project=projects['other'], received_on=TODAY,
                                        channel='来电', category='物业', content='电梯故障')
    with pytest.raises(RuleError) as refused:
        ComplaintFollowUp.create_logged(users['clerk'], complaint=complaint, followed_on=TODAY, method='电话',
                                        content='已联系')
    assert '不属于您负责的项目' in str(refused.value)
    assert ComplaintFollowUp.select().count() == 0


def test_groups_page_is_scoped(client_as, projects, users):
    SupervisionGroup.create_logged(users['admin'], project=projects['other'], kind=c.QUALITY_GROUP,
                                   name='别家监理小组', formed_on=TODAY, status='运行中')
    assert '别家监理小组' not in page_text(client_as('clerk').get('/communication/groups'))
    assert '别家监理小组' in page_text(client_as('auditor').get('/communication/groups'))


def test_service_group_without_region_refused(client_as, projects):
    response = client_as('clerk').post_form('/admin/supervision_group/new/', {
        'project': str(projects['mine'].id), 'kind': c.SERVICE_GROUP, 'name': '服务监督小组', 'region': '',
        'formed_on': TODAY.isoformat(), 'status': '运行中', 'remarks': ''})
    assert '按区域设立' in page_text(response)
    assert SupervisionGroup.select().count() == 0


def test_customer_event_saved_over_http(client_as, projects):
    response = client_as('clerk').post_form('/admin/customer_event/new/', {
        'project': str(projects['mine'].id), 'kind': '工地开放日', 'title': '秋季工地开放日',
        'held_on': TODAY.isoformat(), 'participants': '80', 'summary': '', 'remarks': ''})
    assert response.status_code == 302, page_text(response)[-2000:]
    assert CustomerEvent.get().title == '秋季工地开放日'


def test_group_page_shows_its_health(client_as, projects, users, make):
    group = quality_group(projects['mine'], users)
    GroupMember.create_logged(users['clerk'], group=group, owner=make.owner(projects['mine']),
                              joined_on=TODAY - DAY)
    clerk = client_as('clerk')
    page = page_text(clerk.get('/admin/supervision_group/details/?id=%d' % group.id))
    assert '小组现有在册成员1人，少于5人' in page and '基础、主体结构、装饰装修、安装' in page
    for child in ('group_member', 'group_meeting'):
        assert clerk.get('/admin/%s/new/?group=%d' % (child, group.id)).status_code == 200
