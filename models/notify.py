"""Telling people: e-mail, the projects' group robots and the bell in the portal.

Every message is first a row of 通知记录 (`Notification`), written where the reason for it arises
(an event in a save's transaction, a digest, a daily report); the job runner sends what is waiting
(`send_pending`, every minute), so a dead mail server never slows a web request. A failure is
retried with backoff (1, 2, 4 … minutes; given up after MAX_ATTEMPTS with the reason kept).
Nothing is sent twice for the same (recipient, channel, kind, day, subject of the message): the
row's `dedupe_key` is unique.

Channels:
- 邮件 — SMTP from KEFU_SMTP_URL (`smtp://user:password@host:port`, `smtps://…` for TLS),
  KEFU_MAIL_FROM; an attachment (the daily report workbook) travels with it.
- 企业微信 / 钉钉 / 飞书 — the project's group robot (`robot_webhook`, `robot_kind`), with the
  signature 钉钉 and 飞书 robots ask for when `robot_secret` is set.
- 站内 — the bell: unread notifications of the user.
"""
import base64
import datetime
import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Callable

from peewee import (CharField, DateField, DateTimeField, ForeignKeyField, IntegerField,
                    IntegrityError, TextField)

from models.base import BaseModel, User, now, write_tx

log = logging.getLogger(__name__)

IN_PORTAL, EMAIL = '站内', '邮件'
WECOM, DINGTALK, FEISHU = '企业微信', '钉钉', '飞书'
ROBOT_KINDS = (WECOM, DINGTALK, FEISHU)
CHANNELS = (IN_PORTAL, EMAIL) + ROBOT_KINDS
PENDING, SENT, FAILED = '待发送', '已发送', '发送失败'
MAX_ATTEMPTS = 6
SEND_TIMEOUT = 15        # seconds for one SMTP or webhook exchange


class Notification(BaseModel):
    """通知记录 — to whom, by which channel, what, when, and whether it went out."""
    user = ForeignKeyField(User, null=True, backref='+', on_delete='CASCADE', verbose_name='收件人')
    project_id = IntegerField(null=True, index=True, verbose_name='项目ID')
    channel = CharField(max_length=8, verbose_name='渠道')
    address = CharField(max_length=500, null=True, verbose_name='地址')
    kind = CharField(max_length=20, verbose_name='类型')
    day = DateField(verbose_name='日期')
    subject = CharField(max_length=200, verbose_name='标题')
    body = TextField(verbose_name='内容')
    link = CharField(max_length=500, null=True, verbose_name='链接')
    attachment = CharField(max_length=255, null=True, verbose_name='附件')
    status = CharField(max_length=8, default=PENDING, index=True, verbose_name='状态')
    attempts = IntegerField(default=0, verbose_name='尝试次数')
    next_try_at = DateTimeField(null=True, index=True, verbose_name='下次尝试')
    last_error = TextField(null=True, verbose_name='失败原因')
    sent_at = DateTimeField(null=True, verbose_name='发送时间')
    read_at = DateTimeField(null=True, verbose_name='已读时间')
    created_at = DateTimeField(default=now, verbose_name='创建时间')
    dedupe_key = CharField(max_length=300, unique=True, verbose_name='去重键')

    class Meta:
        table_name = 'notification'
        verbose_name = '通知记录'
        indexes = ((('user', 'channel', 'read_at'), False),)


def dedupe_key(channel, recipient, kind, day, ref=''):
    return '|'.join(str(p) for p in (channel, recipient, kind, day.isoformat(), ref))[:300]


def queue(channel, kind, day, subject, body, *, user=None, project_id=None, address=None,
          link=None, attachment=None, ref=''):
    """Record a message to send; None when the same one was queued already (no double send)."""
    recipient = getattr(user, 'id', user) if user is not None else address
    if channel == EMAIL and not mail_configured():
        return None         # mail is off (no KEFU_SMTP_URL): the bell still rings
    try:
        with write_tx():
            return Notification.create(
                user=getattr(user, 'id', user), project_id=project_id, channel=channel,
                address=address, kind=kind, day=day, subject=subject[:200], body=body, link=link,
                attachment=attachment, status=SENT if channel == IN_PORTAL else PENDING,
                sent_at=now() if channel == IN_PORTAL else None, next_try_at=now(),
                dedupe_key=dedupe_key(channel, recipient, kind, day, ref))
    except IntegrityError:
        return None


def unread_count(user):
    return (Notification.select()
            .where((Notification.user == user.id) & (Notification.channel == IN_PORTAL) &
                   Notification.read_at.is_null())
            .count())


# --------------------------------------------------------------------------- sending

class SendError(Exception):
    pass


def settings():
    """The app's settings — also for a save made outside a request (the demo seed, a CLI)."""
    from flask import current_app, has_app_context
    if has_app_context():
        return current_app.config
    from models.jobs import runner
    return runner.app.config if runner.app is not None else os.environ


def mail_configured():
    return bool(settings().get('KEFU_SMTP_URL'))


def smtp_settings(config):
    """(scheme, host, port, user, password) from KEFU_SMTP_URL, or None when mail is off."""
    url = config.get('KEFU_SMTP_URL')
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ('smtp', 'smtps'):
        raise SendError('KEFU_SMTP_URL 须以 smtp:// 或 smtps:// 开头')
    port = parts.port or (465 if parts.scheme == 'smtps' else 25)
    return (parts.scheme, parts.hostname, port, urllib.parse.unquote(parts.username or ''),
            urllib.parse.unquote(parts.password or ''))


def send_email(config, to, subject, body, attachment_path=None, attachment_name=None):
    settings = smtp_settings(config)
    if settings is None:
        raise SendError('未配置邮件服务器（KEFU_SMTP_URL）')
    scheme, host, port, user, password = settings
    message = EmailMessage()
    message['From'] = config.get('KEFU_MAIL_FROM') or 'kefu@localhost'
    message['To'] = to
    message['Subject'] = subject
    message.set_content(body)
    if attachment_path:
        with open(attachment_path, 'rb') as fh:
            message.add_attachment(
                fh.read(), maintype='application',
                subtype='vnd.openxmlformats-officedocument.spreadsheetml.sheet',
                filename=attachment_name or os.path.basename(attachment_path))
    if scheme == 'smtps':
        client = smtplib.SMTP_SSL(host, port, timeout=SEND_TIMEOUT,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=SEND_TIMEOUT)
    try:
        if scheme == 'smtp' and user and client.has_extn('starttls'):
            client.starttls(context=ssl.create_default_context())
        if user:
            client.login(user, password)
        client.send_message(message)
    finally:
        try:
            client.quit()
        except smtplib.SMTPException:
            pass


def robot_payload(kind, title, text, secret=None, at=None):
    """(url suffix, JSON body) of a group robot message of `kind`, signed where it signs.

    企业微信: markdown, no signature (the key in the webhook address is the secret).
    钉钉: markdown; signed: &timestamp=<ms>&sign=base64(HMAC-SHA256(secret, "<ms>\\n<secret>")).
    飞书: text; signed: timestamp (s) and sign = base64(HMAC-SHA256(key="<s>\\n<secret>", "")).
    """
    at = at or time.time()
    if kind == WECOM:
        return '', {'msgtype': 'markdown', 'markdown': {'content': '**%s**\n%s' % (title, text)}}
    if kind == DINGTALK:
        suffix = ''
        if secret:
            stamp = str(int(at * 1000))
            digest = hmac.new(secret.encode(), ('%s\n%s' % (stamp, secret)).encode(),
                              hashlib.sha256).digest()
            suffix = '&timestamp=%s&sign=%s' % (stamp, urllib.parse.quote_plus(
                base64.b64encode(digest).decode()))
        return suffix, {'msgtype': 'markdown', 'markdown': {'title': title,
                                                            'text': '### %s\n%s' % (title, text)}}
    if kind == FEISHU:
        body = {'msg_type': 'text', 'content': {'text': '%s\n%s' % (title, text)}}
        if secret:
            stamp = str(int(at))
            digest = hmac.new(('%s\n%s' % (stamp, secret)).encode(), b'', hashlib.sha256).digest()
            body.update(timestamp=stamp, sign=base64.b64encode(digest).decode())
        return '', body
    raise SendError('未知的机器人类型：%s' % kind)


def send_robot(kind, webhook, secret, title, text):
    suffix, body = robot_payload(kind, title, text, secret)
    url = webhook
    if suffix:
        url += ('&' if '?' in url else '?') + suffix.lstrip('&')
    request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode('utf-8'),
                                     headers={'Content-Type': 'application/json; charset=utf-8'})
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            answer = json.loads(response.read().decode('utf-8') or '{}')
    except (OSError, ValueError) as exc:
        raise SendError('机器人未应答：%s' % exc)
    code = answer.get('errcode', answer.get('code', answer.get('StatusCode', 0)))
    if code not in (0, '0', None):
        raise SendError('机器人拒绝：%s' % (answer.get('errmsg') or answer.get('msg') or answer))


def _deliver(config, row, instance_path):
    if row.channel == EMAIL:
        attachment = os.path.join(instance_path, 'jobs', row.attachment) if row.attachment else None
        body = row.body + ('\n\n%s' % row.link if row.link else '')
        send_email(config, row.address, row.subject, body, attachment,
                   attachment_name=row.attachment.split('__', 1)[-1] if row.attachment else None)
    elif row.channel in ROBOT_KINDS:
        from models.master import Project
        project = Project.get_or_none(Project.id == row.project_id)
        if project is None or not project.robot_webhook:
            raise SendError('项目未设置群机器人')
        text = row.body + ('\n[打开台账](%s)' % row.link if row.link else '')
        send_robot(row.channel, project.robot_webhook, project.robot_secret, row.subject, text)


def send_pending(config, instance_path, at=None, limit=200):
    """Send what is waiting and due for a try; returns (sent, failed)."""
    at = at or now()
    rows = list(Notification.select()
                .where((Notification.status == PENDING) & (Notification.next_try_at <= at))
                .order_by(Notification.id).limit(limit))
    sent = failed = 0
    for row in rows:
        try:
            _deliver(config, row, instance_path)
        except (SendError, OSError, smtplib.SMTPException) as exc:
            attempts = row.attempts + 1
            gave_up = attempts >= MAX_ATTEMPTS
            Notification.update(
                attempts=attempts, last_error=str(exc)[:1000],
                status=FAILED if gave_up else PENDING,
                next_try_at=at + datetime.timedelta(minutes=2 ** (attempts - 1))) \
                .where(Notification.id == row.id).execute()
            log.warning('notification %s (%s to %s) failed: %s', row.id, row.channel,
                        row.address or row.user_id, exc)
            failed += 1
        else:
            Notification.update(status=SENT, sent_at=now(), attempts=row.attempts + 1,
                                last_error=None).where(Notification.id == row.id).execute()
            sent += 1
    return sent, failed


# --------------------------------------------------------------------------- who is told

def base_url():
    return (settings().get('KEFU_BASE_URL') or 'http://127.0.0.1:5000').rstrip('/')


def absolute(link):
    if not link:
        return ''
    return link if link.startswith(('http://', 'https://')) else base_url() + link


def supervisors_of(project_id):
    from models.master import UserProject
    return list(User.select().join(UserProject, on=(UserProject.user == User.id))
                .where((UserProject.project == project_id) & (User.role == 'supervisor') &
                       (User.active == True)))  # noqa: E712


def admins():
    return list(User.select().where((User.role == 'admin') & (User.active == True)))  # noqa: E712


def tell(users, kind, day, subject, body, *, project_id=None, link=None, attachment=None, ref=''):
    """The bell of each user, and an e-mail to those with an address."""
    for user in users:
        queue(IN_PORTAL, kind, day, subject, body, user=user, project_id=project_id,
              link=link, ref=ref)
        if user.email:
            queue(EMAIL, kind, day, subject, body, user=user, address=user.email,
                  project_id=project_id, link=absolute(link), attachment=attachment, ref=ref)


def tell_robot(project, kind, day, subject, body, link=None):
    if project.robot_webhook and project.robot_kind in ROBOT_KINDS:
        queue(project.robot_kind, kind, day, subject, body, project_id=project.id,
              address='project:%d' % project.id, link=absolute(link))


# --------------------------------------------------------------------------- events that cannot wait

@dataclass
class Alert:
    """Declared on a register (Meta.alerts): when `fires(row)` on a save, the project's
    supervisors are told at once (bell and e-mail), once per row and day."""
    kind: str
    fires: Callable
    subject: Callable


def became(field, value):
    """A save that sets `field` to `value` (a new row with it, or an edit changing to it)."""
    return lambda row: row.__data__.get(field) == value and row.original(field) != value


def raise_alerts(row, alerts):
    table = row._meta.table_name
    for alert in alerts:
        if not alert.fires(row):
            continue
        project_id = row.__data__.get('project')
        subject = alert.subject(row)
        tell(supervisors_of(project_id), alert.kind, now().date(), subject,
             '%s（项目：%s）。请及时处理。' % (subject, getattr(row, 'project', '')),
             project_id=project_id, link='/admin/%s/details/?id=%s' % (table, row.get_id()),
             ref='%s:%s' % (table, row.get_id()))
    from models.jobs import runner
    runner.poke()


EXTRA_MODELS = [Notification]
