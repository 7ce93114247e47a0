"""首页: each project's card agrees with its registers, at a fixed date (`/?on=`); cards and the
project board are scoped; charts are server-drawn SVG."""
import datetime
import re
from decimal import Decimal

from models.aftercare import CallbackSurvey, Complaint, SurveyResponse
from models.delivery import DeliveryMilestone, InspectionIssue
from models.handover import HandoverEntry
from rules import delivery as delivery_rules
from rules import handover as handover_rules
from views.home import bar_chart, countdown_label

D = datetime.date
ON = D(2026, 12, 5)


def card_of(page, project):
    match = re.search(r'data-project="%d">(.*?)</table>' % project.id, page, re.S)
    assert match, 'no card for %s' % project.name
    return match.group(1)


def figure(card, name):
    match = re.search(r'<tr data-figure="%s">(.*?)</tr>' % name, card, re.S)
    assert match, 'no %s figure' % name
    return re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', match.group(1)))


def span(card, name, cls):
    block = re.search(r'<tr data-figure="%s">(.*?)</tr>' % name, card, re.S).group(1)
    return int(re.search(r'class="%s[^"]*">(\d+)<' % cls, block).group(1))


def build_project(make):
    project = make.project(name='看板项目', code='BOARD', contract_delivery_date=D(2026, 11, 20),
                           delivery_start_date=D(2026, 11, 20), stage='交付准备')
    for code, due_on, done_on in (('T-15', D(2026, 11, 5), D(2026, 11, 4)),
                                  ('T+3', D(2026, 11, 23), None),
                                  ('T+15', D(2026, 12, 5), None),
                                  ('T+3Ma', D(2027, 2, 20), None)):
        spec = delivery_rules.COUNTDOWN_BY_CODE[code]
        DeliveryMilestone.create_logged(None, project=project, code=code, name=spec.name,
                                        offset_days=spec.offset_days, due_on=due_on,
                                        owner_department=spec.owner_department, done_on=done_on)
    common = dict(project=project, location='2栋大堂', category='交楼标准', found_on=D(2026, 11, 1))
    for n, deadline in enumerate((D(2026, 11, 30), D(2026, 12, 2), D(2026, 12, 20))):
        InspectionIssue.create_logged(None, description='未整改%d' % n, deadline=deadline, **common)
    InspectionIssue.create_logged(None, description='已关闭', deadline=D(2026, 11, 10),
                                  status='已关闭', verified_by='客服', verified_on=D(2026, 11, 9),
                                  contractor=make.contractor(), rectified_on=D(2026, 11, 8),
                                  **common)
    contracts = [make.contract(project, sign_date=D(2026, 1, 10)) for _ in range(3)]
    contracts.append(make.contract(project, sign_date=D(2026, 1, 11), paid_in_full=False))
    for n, contract in enumerate(contracts):
        values = dict(project=project, unit=contract.unit, contract=contract)
        if n < 2:
            values.update(status='已交付', keys_handed_on=D(2026, 11, 20 + n), issues_found=2,
                          arrived_at=datetime.datetime(2026, 11, 20 + n, 9, 30))
        HandoverEntry.create_logged(None, **values)
    for category in ('工程质量', '工程质量', '物业'):
        Complaint.create_logged(None, project=project, received_on=D(2026, 11, 21), channel='来电',
                                category=category, content='投诉%s' % category,
                                deadline=D(2026, 11, 28))
    survey = CallbackSurvey.create_logged(None, project=project, kind='交付回访', period='交付首月',
                                          surveyor='第三方', population=100, issued=100,
                                          returned=30, report_on=D(2026, 11, 22))
    for scores in ((4, 3, 5, 2, 4), (5, 4, 5, 3, 4)):
        SurveyResponse.create_logged(None, project=project, survey=survey,
                                     answered_on=D(2026, 11, 21),
                                     **dict(zip(('product_planning', 'construction_quality',
                                                 'sales_service', 'complaint_service',
                                                 'property_service'), scores)))
    return project


def test_countdown_label_counts_from_the_delivery_day():
    assert countdown_label(D(2026, 12, 5), D(2026, 11, 20)) == 'T−15'
    assert countdown_label(D(2026, 12, 5), D(2026, 12, 5)) == 'T日'
    assert countdown_label(D(2026, 12, 5), D(2026, 12, 8)) == 'T+3'
    assert countdown_label(None, D(2026, 12, 8)) is None


def test_card_figures_agree_with_the_registers(make, users, client_as):
    project = build_project(make)
    page = client_as('admin').get('/?on=%s' % ON).get_data(as_text=True)
    card = card_of(page, project)
    assert 'data-figure="countdown">T+15<' in card

    milestones = DeliveryMilestone.live().where(DeliveryMilestone.project == project.id)
    assert span(card, 'milestones', 'fig-done') == milestones.where(
        DeliveryMilestone.done_on.is_null(False)).count() == 1
    overdue = [m for m in milestones if delivery_rules.milestone_state(m.due_on, m.done_on, ON) == '逾期']
    assert span(card, 'milestones', 'fig-overdue') == len(overdue) == 1
    assert '下一节点：T+15' in figure(card, 'milestones')

    issues = list(InspectionIssue.live().where(InspectionIssue.project == project.id))
    open_ = [i for i in issues if not delivery_rules.is_issue_settled(i.status)]
    late = [i for i in issues if delivery_rules.is_issue_overdue(i.deadline, i.status, ON)]
    assert span(card, 'punch', 'fig-open') == len(open_) == 3
    assert span(card, 'punch', 'fig-overdue') == len(late) == 2

    keys = figure(card, 'keys')
    assert '未具备移交条件' in keys and '尚有 3 个内部验收问题未关闭' in keys

    rows = list(HandoverEntry.live().where(HandoverEntry.project == project.id))
    figures = handover_rules.daily_figures(rows, ON)
    text = figure(card, 'handover')
    assert span(card, 'handover', 'fig-handed') == figures.handed_total == 2
    assert '应交付 %d' % figures.units_due in text and figures.units_due == 3
    assert '66.7%' in text
    assert 'class="chart chart-line"' in card

    assert span(card, 'complaints', 'fig-open') == 3
    assert '逾期 3' in figure(card, 'complaints')
    assert '工程质量：2件' in card

    survey = figure(card, 'survey')
    assert '有效' in survey and '回收率 30.0%' in survey
    assert '产品策划：4.5分' in card and '投诉处理服务：2.5分' in card


def test_a_survey_at_exactly_a_quarter_is_not_valid(make, users, client_as):
    project = make.project(name='回访项目', code='SURVEY')
    CallbackSurvey.create_logged(None, project=project, kind='年度回访', period='2026年度',
                                 surveyor='第三方', issued=100, returned=25,
                                 report_on=D(2026, 11, 1))
    card = card_of(client_as('admin').get('/?on=%s' % ON).get_data(as_text=True), project)
    assert '无效（回收未超过25%）' in figure(card, 'survey')


def test_construction_keys_are_ready_once_every_issue_is_settled(make, users, client_as):
    project = make.project(name='钥匙项目', code='KEYS', contract_delivery_date=D(2027, 1, 20))
    InspectionIssue.create_logged(None, project=project, location='大堂', category='交楼标准',
                                  description='已关闭', found_on=D(2026, 11, 1), status='已关闭',
                                  verified_by='客服', verified_on=D(2026, 11, 2),
                                  contractor=make.contractor(), deadline=D(2026, 11, 5),
                                  rectified_on=D(2026, 11, 2))
    card = card_of(client_as('admin').get('/?on=%s' % ON).get_data(as_text=True), project)
    keys = figure(card, 'keys')
    assert '施工钥匙： 可移交 最迟 2027-01-05' in keys


def test_a_clerk_sees_only_their_projects_cards(projects, users, client_as):
    clerk = client_as('clerk')
    page = clerk.get('/').get_data(as_text=True)
    assert 'data-project="%d"' % projects['mine'].id in page
    assert 'data-project="%d"' % projects['other'].id not in page
    assert clerk.get('/project/%d' % projects['other'].id).status_code == 404
    assert clerk.get('/project/%d' % projects['mine'].id).status_code == 200


def test_project_board_draws_the_punch_list_burn_down(make, users, client_as):
    project = build_project(make)
    page = client_as('auditor').get('/project/%d?on=%s' % (project.id, ON)).get_data(as_text=True)
    assert '验收问题燃尽' in page
    assert '未分轮次（当前 3）' in page          # four found, one settled


def test_charts_escape_their_labels():
    svg = str(bar_chart([('<script>x</script>', 3)], suffix='件'))
    assert '<script>' not in svg and '&lt;script&gt;' in svg


def test_health_check_stays_open(app):
    response = app.test_client().get('/healthz')
    assert response.status_code == 200 and response.get_json()['status'] == 'ok'
