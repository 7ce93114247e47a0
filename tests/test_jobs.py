"""Work that runs by itself: jobs (我的任务), the daily routine, and telling people.

Real servers started by the tests: an SMTP server (aiosmtpd) that receives the digests, alerts
and the daily report; a local HTTP server that answers as a group robot of each kind and checks
the signature where the kind signs. Jobs run at once in the tests (huey's immediate mode);
tests/test_job_runner.py runs the real consumer in a server process.
"""
import base64
import datetime
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import socket
import threading
import urllib.parse

import pytest
from aiosmtpd.controller import Controller

from models import jobs, notify, routine
from models.base import User
from models.jobs import DONE, FAILED, QUEUED, RUNNING, Job, JobError
from models.notify import Notification
from tests.conftest import PASSWORD, login

TODAY = datetime.date.today()
DAY = datetime.timedelta(days=1)


# --------------------------------------------------------------------------- servers

def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(
            envelope.content, policy=email.policy.default)))
        return '250 OK'

    def to(self, address):
        return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname='127.0.0.1', port=port)
    controller.start()
    app.config['KEFU_SMTP_URL'] = 'smtp://127.0.0.1:%d' % port
    app.config['KEFU_MAIL_FROM'] = 'kefu@example.com'
    app.config['KEFU_BASE_URL'] = 'https://kefu.example.com'
    yield inbox
    controller.stop()


class RobotHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])).decode('utf-8'))
        self.server.received.append((self.path, body))
        answer = self.server.answer
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    server = http.server.HTTPServer(('127.0.0.1', 0), RobotHandler)
    server.received = []
    server.answer = {'errcode': 0, 'errmsg': 'ok'}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def robot_url(server, path='/robot/send?access_token=abc'):
    return 'http://127.0.0.1:%d%s' % (server.server_address[1], path)


def send(app):
    with app.app_context():
        return notify.send_pending(app.config, app.instance_path,
                                   at=datetime.datetime.now() + datetime.timedelta(hours=1))


# --------------------------------------------------------------------------- jobs

@pytest.fixture
def kinds():
    """Job kinds declared for the test (and taken away after it)."""
    added = []

    def declare(kind, func, resumable=False):
        jobs.job_task(kind, '测试任务', resumable=resumable)(func)
        added.append(kind)
    yield declare
    for kind in added:
        jobs.KINDS.pop(kind, None)


def test_a_job_reports_progress_and_its_result(app, users, kinds):
    def count(job, rows):
        for n in range(rows):
            job.progress(n + 1, rows)
        return '已处理 %d 行' % rows
    kinds('t_count', count)
    with app.app_context():
        job = jobs.submit('t_count', users['clerk'], rows=7)
    job = Job.get_by_id(job.id)
    assert (job.state, job.done, job.total, job.percent, job.result) == (DONE, 7, 7, 100, '已处理 7 行')
    assert job.user_id == users['clerk'].id and job.started_at and job.finished_at


def test_a_failed_job_says_why_in_chinese(app, users, kinds):
    def refuse(job):
        raise JobError('文件第 3 行：房号「9-9-9999」不存在。')

    def crash(job):
        raise ZeroDivisionError('division by zero')
    kinds('t_refuse', refuse)
    kinds('t_crash', crash)
    with app.app_context():
        refused = jobs.submit('t_refuse', users['clerk'])
        crashed = jobs.submit('t_crash', users['clerk'])
    assert Job.get_by_id(refused.id).error == '文件第 3 行：房号「9-9-9999」不存在。'
    crashed = Job.get_by_id(crashed.id)
    assert crashed.state == FAILED and '任务出错' in crashed.error and 'ZeroDivisionError' in crashed.error


def test_a_job_delivered_twice_runs_once(app, users, kinds):
    runs = []
    kinds('t_once', lambda job: runs.append(job.id) or 'ok')
    with app.app_context():
        job = jobs.submit('t_once', users['clerk'])
        assert jobs.run(job.id) is None          # the second delivery finds it taken
    assert runs == [job.id]


def test_after_a_restart_nothing_is_lost(app, users, kinds):
    """A job left 运行中 by a dead server runs again when it may, else fails with the reason;
    a queued job is queued again."""
    ran = []
    kinds('t_resumable', lambda job: ran.append('resumable') or '重新运行完成', resumable=True)
    kinds('t_once_only', lambda job: ran.append('once') or 'x')
    with app.app_context():
        resumable = Job.create(kind='t_resumable', title='可重跑', state=RUNNING, attempts=1)
        once = Job.create(kind='t_once_only', title='不可重跑', state=RUNNING, attempts=1)
        queued = Job.create(kind='t_once_only', title='排队中', state=QUEUED)
        jobs.recover()
    assert Job.get_by_id(resumable.id).state == DONE and Job.get_by_id(resumable.id).attempts == 2
    failed = Job.get_by_id(once.id)
    assert failed.state == FAILED and failed.error == jobs.INTERRUPTED
    assert Job.get_by_id(queued.id).state == DONE
    assert sorted(ran) == ['once', 'resumable']


def test_my_jobs_page_shows_mine_and_admins_see_all(app, users, client_as, kinds):
    kinds('t_page', lambda job: '完成')
    with app.app_context():
        mine = jobs.submit('t_page', users['clerk'], title='导入验收问题')
        theirs = jobs.submit('t_page', users['supervisor'], title='导出合同台账')
    clerk = client_as('clerk')
    page = clerk.get('/jobs/').get_data(as_text=True)
    assert '导入验收问题' in page and '导出合同台账' not in page
    assert clerk.get('/jobs/%d.json' % theirs.id).status_code == 404
    assert clerk.get('/jobs/%d.json' % mine.id).get_json()['state'] == DONE
    admin_page = client_as('admin').get('/jobs/').get_data(as_text=True)
    assert '导入验收问题' in admin_page and '导出合同台账' in admin_page


def test_the_daily_routine_runs_once_a_day_after_its_time(app, users):
    ran = []
    jobs.daily('测试例行', 'KEFU_TEST_AT', '08:00')(lambda day: ran.append(day) or 'ok')
    try:
        with app.app_context():
            morning = datetime.datetime.combine(TODAY, datetime.time(7, 59))
            assert '测试例行' not in jobs.tick(morning)
            assert '测试例行' in jobs.tick(morning + datetime.timedelta(minutes=1))
            assert '测试例行' not in jobs.tick(morning + datetime.timedelta(hours=3))
            app.config['KEFU_TEST_AT'] = '06:30'        # configurable; the next day at 06:30
            assert '测试例行' in jobs.tick(datetime.datetime.combine(TODAY + DAY, datetime.time(6, 30)))
        assert ran == [TODAY, TODAY + DAY]
    finally:
        jobs.DAILY[:] = [d for d in jobs.DAILY if d.name != '测试例行']
        jobs.KINDS.pop('daily:测试例行', None)


# --------------------------------------------------------------------------- the digest

def overdue_issue(make, project):
    from models.delivery import InspectionIssue
    return InspectionIssue.create_logged(
        None, project=project, category='水电', description='墙面空鼓', location='客厅',
        found_on=TODAY - 10 * DAY, deadline=TODAY - 2 * DAY)


def with_email(user, address):
    User.update(email=address).where(User.id == user.id).execute()


def test_the_morning_digest_reaches_each_user_with_something_due(app, users, make, projects, smtp):
    issue = overdue_issue(make, projects['mine'])
    with_email(users['clerk'], 'clerk@example.com')
    with_email(users['auditor'], 'auditor@example.com')
    with app.app_context():
        jobs.tick(datetime.datetime.combine(TODAY, datetime.time(8, 0)))
    send(app)
    [message] = smtp.to('clerk@example.com')
    body = message.get_body(('plain',)).get_content()
    assert '晨报' in message['Subject'] and '逾期' in message['Subject']
    assert '【验收问题】' in body and '墙面空鼓' in body and '[已逾期]' in body
    assert 'https://kefu.example.com/due' in body and '/due/' not in body           # absolute links (KEFU_BASE_URL)
    assert not smtp.to('auditor@example.com')                 # auditors read; nothing to chase
    assert Job.get(Job.kind == 'daily:晨报').state == DONE


def test_nobody_with_nothing_due_gets_a_digest(app, users, make, projects, smtp):
    overdue_issue(make, projects['other'])             # not the clerk's project
    with_email(users['clerk'], 'clerk@example.com')
    with app.app_context():
        routine.morning_digest(TODAY)
    send(app)
    assert not smtp.to('clerk@example.com')


def test_a_digest_is_never_sent_twice(app, users, make, projects, smtp):
    overdue_issue(make, projects['mine'])
    with_email(users['clerk'], 'clerk@example.com')
    with app.app_context():
        routine.morning_digest(TODAY)
        routine.morning_digest(TODAY)                 # a second consumer, an operator's rerun
    send(app)
    send(app)
    assert len(smtp.to('clerk@example.com')) == 1
    assert Notification.select().where((Notification.channel == notify.EMAIL) &
                                       (Notification.address == 'clerk@example.com')).count() == 1


def test_a_dead_mail_server_is_retried_with_backoff_and_never_slows_a_request(
        app, users, make, projects, client_as):
    app.config['KEFU_SMTP_URL'] = 'smtp://127.0.0.1:%d' % free_port()     # nobody listens
    overdue_issue(make, projects['mine'])
    with_email(users['clerk'], 'clerk@example.com')
    with app.app_context():
        routine.morning_digest(TODAY)
        start = datetime.datetime.now()
        assert notify.send_pending(app.config, app.instance_path, at=start) == (0, 1)
        row = Notification.get(Notification.channel == notify.EMAIL)
        assert (row.status, row.attempts) == (notify.PENDING, 1) and row.last_error
        assert row.next_try_at == start + datetime.timedelta(minutes=1)
        assert notify.send_pending(app.config, app.instance_path, at=start) == (0, 0)   # not yet
        for n in range(2, notify.MAX_ATTEMPTS + 1):
            notify.send_pending(app.config, app.instance_path,
                                at=start + datetime.timedelta(days=n))
        row = Notification.get_by_id(row.id)
    assert (row.status, row.attempts) == (notify.FAILED, notify.MAX_ATTEMPTS)


# --------------------------------------------------------------------------- robots

@pytest.mark.parametrize('kind', [notify.WECOM, notify.DINGTALK, notify.FEISHU])
def test_each_robot_kind_gets_its_json_signed_where_it_signs(app, users, make, projects, robot, kind):
    from models.master import Project
    secret = 'SEC-test-secret' if kind != notify.WECOM else None
    Project.update(robot_webhook=robot_url(robot), robot_kind=kind, robot_secret=secret) \
        .where(Project.id == projects['mine'].id).execute()
    if kind == notify.FEISHU:
        robot.answer = {'code': 0, 'msg': 'success'}
    overdue_issue(make, projects['mine'])
    with app.app_context():
        routine.morning_digest(TODAY)
    assert send(app)[0] >= 1
    [(path, body)] = robot.received
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert query['access_token'] == ['abc']
    if kind == notify.WECOM:
        assert body['msgtype'] == 'markdown' and '云栖雅苑' in body['markdown']['content']
    elif kind == notify.DINGTALK:
        stamp = query['timestamp'][0]
        expected = base64.b64encode(hmac.new(secret.encode(), ('%s\n%s' % (stamp, secret)).encode(),
                                             hashlib.sha256).digest()).decode()
        assert query['sign'] == [expected]
        assert body['msgtype'] == 'markdown' and '已逾期' in body['markdown']['text']
    else:
        expected = base64.b64encode(hmac.new(('%s\n%s' % (body['timestamp'], secret)).encode(), b'',
                                             hashlib.sha256).digest()).decode()
        assert body['sign'] == expected
        assert body['msg_type'] == 'text' and '云栖雅苑' in body['content']['text']


def test_a_robot_that_refuses_is_retried(app, users, make, projects, robot):
    from models.master import Project
    Project.update(robot_webhook=robot_url(robot), robot_kind=notify.DINGTALK) \
        .where(Project.id == projects['mine'].id).execute()
    robot.answer = {'errcode': 310000, 'errmsg': 'sign not match'}
    overdue_issue(make, projects['mine'])
    with app.app_context():
        routine.morning_digest(TODAY)
    assert send(app) == (0, 1)
    row = Notification.get(Notification.channel == notify.DINGTALK)
    assert row.status == notify.PENDING and 'sign not match' in row.last_error


def test_only_an_admin_sets_a_projects_robot(app, users, projects):
    from models.base import RuleError
    from models.master import Project
    project = Project.get_by_id(projects['mine'].id)
    project.robot_webhook = 'https://oapi.dingtalk.com/robot/send?access_token=x'
    with pytest.raises(RuleError) as refused:
        project.save_logged(users['supervisor'])
    assert '只能由系统管理员设置' in str(refused.value)
    project.save_logged(users['admin'])
    assert Project.get_by_id(project.id).robot_webhook.endswith('access_token=x')


def test_the_robot_secret_is_not_offered_to_a_supervisor(client_as, projects):
    page = client_as('supervisor').get('/admin/project/edit/?id=%d' % projects['mine'].id)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'robot_secret' not in text and 'robot_webhook' not in text
    assert 'robot_secret' in client_as('admin').get(
        '/admin/project/edit/?id=%d' % projects['mine'].id).get_data(as_text=True)


# --------------------------------------------------------------------------- events and the bell

def test_a_major_complaint_tells_the_projects_supervisors_at_once(app, users, make, projects, smtp,
                                                                  client_as):
    from models.aftercare import Complaint
    with_email(users['supervisor'], 'boss@example.com')
    values = dict(project=projects['mine'], received_on=TODAY, channel='来电', category='工程质量')
    Complaint.create_logged(users['clerk'], content='门口积水', severity='一般', **values)
    row = Complaint.create_logged(users['clerk'], content='外墙大面积渗水', severity='重大', **values)
    send(app)
    [message] = smtp.to('boss@example.com')
    assert '重大投诉' in message['Subject'] and '外墙大面积渗水' in message['Subject']
    body = message.get_body(('plain',)).get_content()
    assert 'https://kefu.example.com/admin/complaint/details/?id=%d' % row.id in body
    supervisor = client_as('supervisor')
    assert '1 条未读' in supervisor.get('/').get_data(as_text=True)         # the bell
    assert '外墙大面积渗水' in supervisor.get('/notifications/').get_data(as_text=True)
    assert supervisor.get('/notifications/count.json').get_json() == {'unread': 0}
    assert client_as('clerk').get('/notifications/count.json').get_json() == {'unread': 0}


def test_an_issue_changed_to_major_alerts_once(app, users, make, projects):
    issue = overdue_issue(make, projects['mine'])
    issue.severity = '重大'
    issue.rectification_plan, issue.responsible_person, issue.penalty = '铲除重做', '张工', '按合同扣款'
    issue.save_logged(users['clerk'])
    issue = type(issue).get_by_id(issue.id)
    issue.description = '墙面空鼓（复查）'
    issue.save_logged(users['clerk'])                   # still 重大: no new alert
    bells = Notification.select().where((Notification.user == users['supervisor'].id) &
                                        (Notification.kind == '重大验收问题'))
    assert bells.count() == 1


# --------------------------------------------------------------------------- 交房日报 and backups

def test_the_daily_handover_report_goes_to_supervisors_with_the_workbook(
        app, users, make, projects, smtp, robot):
    import openpyxl
    from models.handover import HandoverEntry
    from models.master import Project
    from tests.test_handover import entry_for
    Project.update(delivery_start_date=TODAY - 2 * DAY, robot_webhook=robot_url(robot),
                   robot_kind=notify.WECOM).where(Project.id == projects['mine'].id).execute()
    with_email(users['supervisor'], 'boss@example.com')
    entry_for(make, projects['mine'], appointment_on=TODAY, status='已交付', keys_handed_on=TODAY,
              eligible=True, issues_found=2)
    with app.app_context():
        jobs.tick(datetime.datetime.combine(TODAY, datetime.time(18, 0)))
    send(app)
    [message] = [m for m in smtp.to('boss@example.com') if '每日交房日报' in m['Subject']]
    [attachment] = [p for p in message.walk() if p.get_filename()]
    assert attachment.get_filename().endswith('.xlsx')
    path = os.path.join(str(app.instance_path), 'report.xlsx')
    with open(path, 'wb') as fh:
        fh.write(attachment.get_payload(decode=True))
    sheet = openpyxl.load_workbook(path)['日报']
    figures = {sheet.cell(r, 1).value: sheet.cell(r, 2).value for r in range(5, 20)}
    assert figures['当日交付户数'] == 1 and figures['累计交付户数'] == 1
    [body] = [b for _, b in robot.received if '每日交房日报' in b['markdown']['content']]
    assert '当日交付户数：1' in body['markdown']['content']
    assert HandoverEntry.select().count() == 1


def test_no_handover_report_on_a_day_without_handover(app, users, make, projects, smtp):
    with_email(users['supervisor'], 'boss@example.com')
    with app.app_context():
        routine.daily_handover_report(TODAY)
    send(app)
    assert not smtp.to('boss@example.com')


def test_the_nightly_backup_keeps_its_days_and_tells_admins_of_a_failure(app, users, tmp_path):
    folder = tmp_path / 'backups'
    folder.mkdir()
    old = folder / ('kefu-%s-021500.db' % (TODAY - 40 * DAY).strftime('%Y%m%d'))
    old.write_bytes(b'old')
    app.config.update(KEFU_BACKUP_DIR=str(folder), KEFU_BACKUP_KEEP_DAYS='30')
    with app.app_context():
        jobs.tick(datetime.datetime.combine(TODAY, datetime.time(2, 15)))
    job = Job.get(Job.kind == 'daily:夜间备份')
    if app.config['KEFU_DATABASE_URL'].startswith('sqlite'):
        assert job.state == DONE and '备份完成' in job.result
        assert not old.exists() and len(list(folder.iterdir())) == 1
    app.config['KEFU_BACKUP_DIR'] = str(tmp_path / 'a-file')
    (tmp_path / 'a-file').write_text('not a folder')
    with app.app_context():
        jobs.tick(datetime.datetime.combine(TODAY + DAY, datetime.time(2, 15)))
    failed = Job.get(Job.key == '夜间备份:%s' % (TODAY + DAY).isoformat())
    assert failed.state == FAILED and '备份失败' in failed.error
    assert Notification.select().where((Notification.user == users['admin'].id) &
                                       (Notification.kind == '备份失败')).count() == 1


def test_notify_command_shows_or_sends_the_days_digests(app, users, make, projects, smtp):
    overdue_issue(make, projects['mine'])
    with_email(users['clerk'], 'clerk@example.com')
    runner = app.test_cli_runner()
    shown = runner.invoke(args=['notify', '--date', TODAY.isoformat(), '--dry-run'])
    assert shown.exit_code == 0 and '墙面空鼓' in shown.output and not smtp.to('clerk@example.com')
    sent = runner.invoke(args=['notify', '--date', TODAY.isoformat()])
    assert sent.exit_code == 0 and '已发送' in sent.output
    assert len(smtp.to('clerk@example.com')) == 1
    bad = runner.invoke(args=['notify', '--date', '2026-13-45'])
    assert bad.exit_code != 0 and 'YYYY-MM-DD' in bad.output


def test_every_link_a_notification_carries_opens(app, users, make, projects, client_as):
    """The links in the bell, the mails and the robot messages lead to real pages."""
    from models.aftercare import Complaint
    from models.master import Project
    Project.update(robot_webhook='http://127.0.0.1:9/none', robot_kind=notify.WECOM) \
        .where(Project.id == projects['mine'].id).execute()
    overdue_issue(make, projects['mine'])
    Complaint.create_logged(users['clerk'], project=projects['mine'], received_on=TODAY,
                            channel='来电', category='工程质量', content='外墙渗水', severity='重大')
    with app.app_context():
        routine.morning_digest(TODAY)
    links = {n.link.replace('http://127.0.0.1:5000', '') for n in Notification.select()
             if n.link}
    assert len(links) >= 3, links
    supervisor = client_as('supervisor')
    for link in links:
        assert supervisor.get(link).status_code == 200, link
