"""现场验收 (views/inspect.py): the tablet's sync API goes through the same powers, project scope,
rules, version guard and change log as the forms; an item sent twice is stored once; a
verification that met a change made at the desk is reported in Chinese; bad input never 500s."""
import datetime
import io
import json
import threading
import uuid

import pytest

from models.base import ROLE_PERMISSIONS, ChangeLog, role_can
from models.delivery import AcceptanceRound, InspectionIssue
from models.site_walk import InspectReceipt, IssueCheck, UnitVisit
from rules import site_walk as rules
from tests.conftest import PASSWORD, login, logout

TODAY = datetime.date.today()
JPEG = b'\xff\xd8\xff\xe0' + b'\x00' * 64 + b'\xff\xd9'


def send(client, item, photo=None, token=None):
    data = {'item': json.dumps(item, ensure_ascii=False)}
    if photo is not None:
        data['photo'] = (io.BytesIO(photo), 'photo.jpg')
    return client.post('/inspect/api/items', data=data, content_type='multipart/form-data',
                       headers={'X-CSRFToken': token if token is not None else client.csrf()})


def new_issue(project, unit=None, round_row=None, **values):
    item = dict(client_id=str(uuid.uuid4()), kind='issue', project=project.id,
                round=round_row.id if round_row else None, unit=unit.id if unit else None,
                location='卫生间', category='水电', severity='一般', description='厨房冷水管接头渗水',
                found_on=TODAY.isoformat())
    item.update(values)
    return item


@pytest.fixture
def walk(projects, make):
    """A round under way in the clerk's project, a unit of 3栋 and a contractor."""
    project = projects['mine']
    round_row = AcceptanceRound.create_logged(None, project=project, round_no='第二轮',
                                              started_on=TODAY - datetime.timedelta(days=3))
    unit = make.unit(project, building='3栋', room='1602', floor=16, layout='C1-128㎡四房')
    contractor = make.contractor()
    return project, round_row, unit, contractor


def to_verify(project, unit, contractor, supervisor=None):
    """An issue rectified and waiting for verification (walked there at the desk)."""
    issue = InspectionIssue.create_logged(
        None, project=project, unit=unit, location='主卧', category='使用功能',
        description='主卧外窗开启扇关闭不严', found_on=TODAY - datetime.timedelta(days=2))
    issue.status, issue.contractor = '整改中', contractor.id
    issue.deadline = TODAY + datetime.timedelta(days=5)
    issue.save_logged(supervisor)
    issue.status, issue.rectified_on = '待验证', TODAY - datetime.timedelta(days=1)
    issue.save_logged(supervisor)
    return InspectionIssue.get_by_id(issue.id)


def check_item(issue, result='通过', **values):
    item = dict(client_id=str(uuid.uuid4()), kind='check', issue=issue.id, version=issue.version,
                seen_status=issue.status, result=result, note='', checked_on=TODAY.isoformat())
    item.update(values)
    return item


# --------------------------------------------------------------------------- storing once

def test_a_clerk_adds_an_issue_with_a_photo_and_a_repeat_stores_nothing_more(walk, client_as):
    project, round_row, unit, contractor = walk
    clerk = client_as('clerk')
    item = new_issue(project, unit, round_row, contractor=contractor.id)
    first = send(clerk, item, JPEG)
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer['ok'] and answer['state'] == 'stored' and not answer['repeat']
    issue = InspectionIssue.get_by_id(answer['issue']['id'])
    assert (issue.unit_id, issue.round_id, issue.location, issue.status) == (unit.id, round_row.id, '卫生间', '待整改')
    assert issue.found_by == 'clerk' and issue.photo.endswith('.jpg')
    again = send(clerk, item, JPEG)          # the connection dropped before the answer arrived
    assert again.status_code == 200 and again.get_json()['repeat'] is True
    assert again.get_json()['issue']['id'] == issue.id
    assert InspectionIssue.select().count() == 1
    assert ChangeLog.select().where(ChangeLog.table_name == 'inspection_issue').count() == 1
    assert clerk.get('/files/inspection_issue/%d/photo' % issue.id).data == JPEG


def test_two_tabs_sending_one_item_at_the_same_moment_store_it_once(walk, client_as):
    project, round_row, unit, _ = walk
    tabs = [client_as('clerk'), client_as('clerk')]
    for tab in tabs:
        tab.csrf()
    item = new_issue(project, unit, round_row)
    answers = []

    def post(tab):
        answers.append(send(tab, item))
    threads = [threading.Thread(target=post, args=(tab,)) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in answers) == [200, 200]
    assert len({r.get_json()['issue']['id'] for r in answers}) == 1
    assert InspectionIssue.select().count() == 1
    assert InspectReceipt.select().count() == 1


@pytest.mark.parametrize('role', sorted(ROLE_PERMISSIONS))
def test_every_role_adds_issues_only_with_the_create_power(role, walk, client_as, users):
    project, round_row, unit, _ = walk
    response = send(client_as(role), new_issue(project, unit, round_row))
    if role_can(role, 'create'):
        assert response.status_code == 200, response.get_json()
        assert InspectionIssue.select().count() == 1
    else:
        assert response.status_code == 403
        assert '不能登记验收问题' in response.get_json()['message']
        assert InspectionIssue.select().count() == 0


@pytest.mark.parametrize('role', sorted(ROLE_PERMISSIONS))
def test_every_role_verifies_only_with_the_edit_power(role, walk, client_as):
    project, round_row, unit, contractor = walk
    issue = to_verify(project, unit, contractor)
    response = send(client_as(role), check_item(issue, round=round_row.id))
    if role_can(role, 'edit'):
        assert response.status_code == 200, response.get_json()
        assert InspectionIssue.get_by_id(issue.id).status == '已关闭'
    else:
        assert response.status_code == 403
        assert InspectionIssue.get_by_id(issue.id).status == '待验证'
        assert IssueCheck.select().count() == 0


def test_an_auditor_reads_the_walk_but_changes_nothing(walk, client_as):
    project, round_row, unit, _ = walk
    auditor = client_as('auditor')
    assert auditor.get('/inspect/').status_code == 200
    me = auditor.get('/inspect/api/me').get_json()
    assert me['user']['can_create'] is False and me['user']['can_edit'] is False
    assert auditor.get('/inspect/api/building?project=%d&building=3栋' % project.id).status_code == 200
    visit = dict(client_id=str(uuid.uuid4()), kind='visit', project=project.id, unit=unit.id)
    for item in (new_issue(project, unit), visit):
        assert send(auditor, item).status_code == 403
    assert InspectionIssue.select().count() == 0 and UnitVisit.select().count() == 0


def test_a_clerk_cannot_post_into_or_read_another_project(projects, make, client_as):
    other = projects['other']
    unit = make.unit(other, building='A1栋')
    clerk = client_as('clerk')
    response = send(clerk, new_issue(other, unit))
    assert response.status_code == 403 and '不属于您负责的项目' in response.get_json()['message']
    assert InspectionIssue.select().count() == 0
    assert clerk.get('/inspect/api/project?project=%d' % other.id).status_code == 404
    assert clerk.get('/inspect/api/building?project=%d&building=A1栋' % other.id).status_code == 404
    assert [p['id'] for p in clerk.get('/inspect/api/me').get_json()['projects']] == [projects['mine'].id]


def test_a_unit_or_round_of_another_project_is_refused(walk, projects, make, client_as):
    project, round_row, unit, _ = walk
    foreign = make.unit(projects['other'], building='A1栋')
    clerk = client_as('clerk')
    response = send(clerk, new_issue(project, foreign, round_row))
    assert response.status_code == 422 and '房号不属于本项目' in response.get_json()['message']
    other_round = AcceptanceRound.create_logged(None, project=projects['other'], round_no='第一轮')
    response = send(clerk, new_issue(project, unit, other_round))
    assert response.status_code == 422 and '验收轮次不属于本项目' in response.get_json()['message']


# --------------------------------------------------------------------------- the register's rules

def test_the_registers_rules_answer_in_chinese_and_nothing_is_kept(walk, client_as):
    project, round_row, unit, _ = walk
    clerk = client_as('clerk')
    response = send(clerk, new_issue(project, unit, round_row, category='不存在的类别'), JPEG)
    assert response.status_code == 422
    assert '「问题类别」的值「不存在的类别」不在可选范围内' in response.get_json()['message']
    response = send(clerk, new_issue(project, unit, round_row, severity='重大'))
    assert response.status_code == 422
    assert '重大问题必须填写整改措施、整改期限、责任人、处罚措施' in response.get_json()['message']
    response = send(clerk, new_issue(project, unit, round_row, description=''))
    assert response.status_code == 422 and '「问题描述」不能为空' in response.get_json()['message']
    response = send(clerk, new_issue(project, unit, round_row,
                                     found_on=(TODAY + datetime.timedelta(days=2)).isoformat()))
    assert response.status_code == 422 and '晚于今天' in response.get_json()['message']
    assert InspectionIssue.select().count() == 0 and InspectReceipt.select().count() == 0
    # A refused item corrected on the tablet is sent again with the same id and stored.
    item = new_issue(project, unit, round_row, severity='重大', rectification_plan='返工处理',
                     deadline=(TODAY + datetime.timedelta(days=7)).isoformat(),
                     responsible_person='陈建国', penalty='扣款2000元')
    assert send(clerk, item).status_code == 200
    assert InspectionIssue.get().severity == '重大'


def test_a_photo_that_is_not_an_image_is_refused(walk, client_as):
    project, round_row, unit, _ = walk
    response = send(client_as('clerk'), new_issue(project, unit, round_row), b'%PDF-1.4 not a photo')
    assert response.status_code == 422 and '文件类型不允许' in response.get_json()['message']
    assert InspectionIssue.select().count() == 0


@pytest.mark.parametrize('body', [
    'not json', '[1, 2]', '{"kind": "issue"}', '{"client_id": "short", "kind": "issue"}',
    '{"client_id": "0b4a3a4e-1111-2222-3333-444455556666", "kind": "nonsense"}',
    '{"client_id": "0b4a3a4e-1111-2222-3333-444455556666", "kind": "issue", "project": "abc"}',
    '{"client_id": "0b4a3a4e-1111-2222-3333-444455556666", "kind": "issue", "project": 99999999999999999999}',
    '{"client_id": "0b4a3a4e-1111-2222-3333-444455556666", "kind": "check", "issue": [1], "result": "通过"}',
    '{"client_id": "0b4a3a4e-1111-2222-3333-444455556666", "kind": "visit", "project": true}',
    '{"client_id": {"a": 1}, "kind": "issue"}',
])
def test_malformed_items_are_answered_in_chinese_never_500(body, walk, client_as):
    clerk = client_as('clerk')
    for response in (
            clerk.post('/inspect/api/items', data={'item': body}, content_type='multipart/form-data',
                       headers={'X-CSRFToken': clerk.csrf()}),
            clerk.post('/inspect/api/items', data=body, content_type='application/json',
                       headers={'X-CSRFToken': clerk.csrf()})):
        assert 400 <= response.status_code < 500, (body, response.status_code)
        message = response.get_json()['message']
        assert any('\u4e00' <= ch <= '\u9fff' for ch in message), message


def test_wrong_types_in_fields_are_refused(walk, client_as):
    project, round_row, unit, _ = walk
    response = send(client_as('clerk'), new_issue(project, unit, round_row, description=['x'],
                                                  category=7))
    assert response.status_code == 422 and '格式不正确' in response.get_json()['message']


# --------------------------------------------------------------------------- verifications

def test_a_verification_passes_closes_the_issue_once(walk, client_as):
    project, round_row, unit, contractor = walk
    issue = to_verify(project, unit, contractor)
    clerk = client_as('clerk')
    item = check_item(issue, round=round_row.id, note='已修复')
    answer = send(clerk, item, JPEG).get_json()
    assert answer['ok'] and answer['issue']['status'] == '已关闭'
    assert send(clerk, item, JPEG).get_json()['repeat'] is True
    closed = InspectionIssue.get_by_id(issue.id)
    assert (closed.status, closed.verified_by, closed.verified_on) == ('已关闭', 'clerk', TODAY)
    check = IssueCheck.get()
    assert (check.result, check.round_id, check.project_id, check.checked_by) == \
        ('通过', round_row.id, project.id, 'clerk')
    assert check.photo.endswith('.jpg') and IssueCheck.select().count() == 1
    notes = [c.note for c in ChangeLog.select().where((ChangeLog.table_name == 'inspection_issue') &
                                                      (ChangeLog.row_id == issue.id))]
    assert '现场复验通过：已修复' in notes


def test_a_failed_verification_sends_the_issue_back_to_rectification(walk, client_as):
    project, round_row, unit, contractor = walk
    issue = to_verify(project, unit, contractor)
    answer = send(client_as('clerk'), check_item(issue, '不通过', note='仍有渗水')).get_json()
    assert answer['ok'] and answer['issue']['status'] == '整改中'
    again = InspectionIssue.get_by_id(issue.id)
    assert again.status == '整改中' and again.rectified_on is None


def test_a_verification_meeting_a_closure_at_the_desk_is_reported(walk, client_as, users):
    project, round_row, unit, contractor = walk
    issue = to_verify(project, unit, contractor)
    item = check_item(issue, '不通过', note='仍有渗水')       # made offline on the tablet
    desk = InspectionIssue.get_by_id(issue.id)
    desk.status, desk.verified_by, desk.verified_on = '已关闭', '张敏', TODAY
    desk.save_logged(users['supervisor'])
    response = send(client_as('clerk'), item, JPEG)
    assert response.status_code == 409
    body = response.get_json()
    assert body['state'] == 'conflict' and body['current_status'] == '已关闭'
    assert '已由supervisor' in body['message'] and '改为「已关闭」' in body['message']
    assert '复验结果未保存' in body['message']
    assert InspectionIssue.get_by_id(issue.id).status == '已关闭'
    assert IssueCheck.select().count() == 0 and InspectReceipt.select().count() == 0


def test_a_verification_applies_when_only_something_else_changed_at_the_desk(walk, client_as, users):
    project, round_row, unit, contractor = walk
    issue = to_verify(project, unit, contractor)
    item = check_item(issue)
    desk = InspectionIssue.get_by_id(issue.id)
    desk.remarks = '监理已确认整改'
    desk.save_logged(users['supervisor'])
    response = send(client_as('clerk'), item)
    assert response.status_code == 200
    closed = InspectionIssue.get_by_id(issue.id)
    assert closed.status == '已关闭' and closed.remarks == '监理已确认整改'


def test_an_issue_not_waiting_for_verification_cannot_be_verified(walk, client_as):
    project, round_row, unit, _ = walk
    issue = InspectionIssue.create_logged(None, project=project, unit=unit, location='客厅',
                                          category='水电', description='次卧插座不通电')
    response = send(client_as('clerk'), check_item(issue))
    assert response.status_code == 409 and '不是「待验证」' in response.get_json()['message']


def test_a_stale_token_is_answered_with_a_fresh_one(walk, client_as):
    project, round_row, unit, _ = walk
    clerk = client_as('clerk')
    response = send(clerk, new_issue(project, unit, round_row), token='stale')
    assert response.status_code == 403
    body = response.get_json()
    assert body['state'] == 'token' and body['csrf']
    assert send(clerk, new_issue(project, unit, round_row), token=body['csrf']).status_code == 200


# --------------------------------------------------------------------------- an ended session

def test_an_ended_session_asks_for_the_password_then_sends(walk, app, users):
    project, round_row, unit, _ = walk
    client = app.test_client()
    assert login(client, 'clerk').status_code == 302
    logout(client)
    expired = client.post('/inspect/api/items', data={'item': json.dumps(new_issue(project, unit))},
                          content_type='multipart/form-data', headers={'X-CSRFToken': 'x'})
    assert expired.status_code == 401 and '登录已过期' in expired.get_json()['message']
    token = client.get('/inspect/api/me').get_json()['csrf']
    wrong = client.post('/inspect/api/login', json={'username': 'clerk', 'password': 'wrong'},
                        headers={'X-CSRFToken': token})
    assert wrong.status_code == 422 and wrong.get_json()['message'] == '用户名或密码错误。'
    token = wrong.get_json()['csrf']
    again = client.post('/inspect/api/login', json={'username': 'clerk', 'password': PASSWORD},
                        headers={'X-CSRFToken': token})
    assert again.status_code == 200, again.get_json()
    token = again.get_json()['csrf']
    stored = client.post('/inspect/api/items', data={'item': json.dumps(new_issue(project, unit))},
                         content_type='multipart/form-data', headers={'X-CSRFToken': token})
    assert stored.status_code == 200 and InspectionIssue.select().count() == 1


def test_the_api_answers_json_when_signed_out(app, projects):
    client = app.test_client()
    for path in ('/inspect/api/me', '/inspect/api/project?project=1',
                 '/inspect/api/building?project=1&building=1栋'):
        response = client.get(path)
        assert response.status_code == 401 and response.is_json
    assert client.get('/inspect/').status_code == 302          # the page: to the login page


# --------------------------------------------------------------------------- what the tablet keeps

def test_the_building_lists_units_floor_by_floor_and_their_open_issues(walk, make, client_as, users):
    project, round_row, unit, contractor = walk
    make.unit(project, building='3栋', room='1601', floor=16)
    open_issue = to_verify(project, unit, contractor)
    closed = InspectionIssue.create_logged(None, project=project, unit=unit, location='客厅',
                                           category='水电', description='次卧插座不通电')
    closed.status, closed.unified_script = '不整改', '统一说辞'
    closed.save_logged(users['supervisor'])
    data = client_as('clerk').get('/inspect/api/building?project=%d&building=3栋' % project.id).get_json()
    assert [u['room'] for u in data['units']] == ['1601', '1602']
    assert data['units'][1]['rooms'][:3] == ['入户门', '玄关', '客厅'] and '书房' in data['units'][1]['rooms']
    assert [i['id'] for i in data['issues']] == [open_issue.id]
    assert data['issues'][0]['status'] == '待验证' and data['issues'][0]['version'] == open_issue.version


def test_the_project_offers_rounds_buildings_phrases_and_a_contractor_per_category(walk, client_as):
    project, round_row, unit, contractor = walk
    clerk = client_as('clerk')
    for _ in range(2):
        send(clerk, new_issue(project, unit, round_row, contractor=contractor.id))
    data = clerk.get('/inspect/api/project?project=%d' % project.id).get_json()
    assert data['rounds'][0]['round_no'] == '第二轮'
    assert data['buildings'] == [{'name': '3栋', 'units': 1}]
    assert data['phrases']['水电'] == ['厨房冷水管接头渗水']
    assert data['contractor_by_category'] == {'水电': contractor.id}


def test_bad_query_values_are_not_found(client_as, walk):
    clerk = client_as('clerk')
    for path in ('/inspect/api/project?project=abc', '/inspect/api/project?project=99999999999999999999',
                 '/inspect/api/building?project=1', '/inspect/day?project=abc'):
        assert clerk.get(path).status_code == 404, path
    assert clerk.get('/inspect/api/building?project=1&building=%00').status_code == 400   # a NUL


def test_the_app_is_installable_and_its_worker_keeps_the_inspect_scope(client_as):
    clerk = client_as('clerk')
    manifest = clerk.get('/inspect/manifest.webmanifest')
    assert manifest.status_code == 200 and manifest.mimetype == 'application/manifest+json'
    body = json.loads(manifest.get_data(as_text=True))
    assert body['start_url'] == '/inspect/' and body['scope'] == '/inspect/'
    for icon in body['icons']:
        assert clerk.get(icon['src']).data.startswith(b'\x89PNG')
    worker = clerk.get('/inspect/sw.js')
    assert worker.status_code == 200 and 'javascript' in worker.mimetype
    assert worker.headers['Service-Worker-Allowed'] == '/inspect/'
    page = clerk.get('/inspect/').get_data(as_text=True)
    assert 'manifest.webmanifest' in page and 'inspect.js' in page
    assert '<script>' not in page and 'http://' not in page and 'https://' not in page  # no CDN


# --------------------------------------------------------------------------- the day's figures

def test_the_daily_review_gets_the_days_figures(walk, make, client_as):
    project, round_row, unit, contractor = walk
    other = make.unit(project, building='5栋', room='301', floor=3)
    walked = make.unit(project, building='5栋', room='302', floor=3)
    clerk = client_as('clerk')
    send(clerk, new_issue(project, unit, round_row))
    send(clerk, new_issue(project, unit, round_row, category='成品保护', description='木地板表面污染'))
    send(clerk, new_issue(project, other, round_row, severity='重大', rectification_plan='返工',
                          deadline=(TODAY + datetime.timedelta(days=3)).isoformat(),
                          responsible_person='刘伟', penalty='扣款'))
    send(clerk, dict(client_id=str(uuid.uuid4()), kind='visit', project=project.id,
                     round=round_row.id, unit=walked.id))
    send(clerk, new_issue(project, None, round_row, location='小区主入口', category='景观',
                          description='景观灯不亮'))
    page = clerk.get('/inspect/day?project=%d&round=%d&day=%s' % (project.id, round_row.id,
                                                                   TODAY.isoformat()))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-figure="units_walked">3<' in html and 'data-figure="found">4<' in html
    assert 'data-figure="major">1<' in html
    assert '查验 3 户，发现问题 4 个（重大 1 个）' in html
    assert '3栋 2 个（查验 1 户）' in html and '5栋 1 个（查验 2 户）' in html and '公共部位 1 个' in html


def test_day_figures_count_buildings_categories_major_and_units_walked():
    figures = rules.day_figures(
        [('2栋', '水电', '一般', 1), ('2栋', '水电', '重大', 1), ('10栋', '景观', '一般', 7),
         (None, '景观', '一般', None)],
        [('2栋', 2), ('10栋', 7)], ['通过', '不通过', '通过'],
        sort_key=__import__('rules.address', fromlist=['natural_key']).natural_key)
    assert (figures.found, figures.major, figures.units_walked, figures.units_with_issues) == (4, 1, 3, 2)
    assert figures.by_building == [('2栋', 2, 1, 2), ('10栋', 1, 0, 1), ('公共部位', 1, 0, 0)]
    assert figures.by_category == [('景观', 2, 0), ('水电', 2, 1)]
    assert (figures.checks_passed, figures.checks_failed) == (2, 1)
    assert figures.issues_per_unit == 1.33


def test_rooms_follow_the_layout():
    assert rules.rooms_for_layout('A1-89㎡三房') == list(rules.COMMON_ROOMS)
    four = rules.rooms_for_layout('D3-143㎡四房')
    assert '书房' in four and '主卫' in four and '卫生间' not in four
    assert rules.rooms_for_layout(None) == list(rules.COMMON_ROOMS)


def test_a_conflict_is_judged_by_the_status_the_tablet_saw():
    assert rules.check_conflict('待验证', 3, '待验证', 5) is None
    closed = rules.check_conflict('待验证', 3, '已关闭', 4, '张敏',
                                  datetime.datetime(2026, 5, 1, 9, 30))
    assert closed.message.startswith('该问题在您复验期间已由张敏于2026-05-01 09:30在台账中改为「已关闭」')
    assert '不再是「待验证」' in rules.check_conflict('待验证', 3, '整改中', 4).message
    assert '不能复验' in rules.check_conflict('待整改', 3, '待整改', 3).message


def test_the_migration_is_recorded(app):
    from models.schema import MIGRATIONS, SchemaVersion
    assert (6, ) == tuple(v for v, _, _ in MIGRATIONS if v == 6)
    assert SchemaVersion.select().where(SchemaVersion.version == 6).exists()


def test_a_check_recorded_in_the_register_itself_closes_its_issue(walk, users):
    project, round_row, unit, contractor = walk
    issue = to_verify(project, unit, contractor)
    check = IssueCheck.create_logged(users['clerk'], issue=issue.id, round=round_row.id,
                                     result='通过', checked_on=TODAY)
    assert check.project_id == project.id
    assert InspectionIssue.get_by_id(issue.id).status == '已关闭'
    with pytest.raises(Exception) as refused:           # only an issue 待验证 is verified
        IssueCheck.create_logged(users['clerk'], issue=issue.id, result='不通过', checked_on=TODAY)
    assert '只有「待验证」的问题可以复验' in str(refused.value)
    check.result = '不通过'
    with pytest.raises(Exception) as locked:
        check.save_logged(users['clerk'])
    assert '复验结果已记录，不能修改' in str(locked.value)
