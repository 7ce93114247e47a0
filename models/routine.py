"""The department's daily routine, run by the job runner (models/jobs.py) without anyone asking.

- 夜间备份 (KEFU_BACKUP_AT, default 02:15): the consistent backup of models/ops.py into
  KEFU_BACKUP_DIR (default instance/backups), keeping KEFU_BACKUP_KEEP_DAYS days (30); a failure
  is told to the administrators.
- 晨报 (KEFU_DIGEST_AT, 08:00): each user who keeps registers gets by e-mail what is overdue, due
  today and due within 3 days in their projects, grouped by register, with links; each project's
  robot gets the project's summary; a warranty notice falling due today is an alert to the
  project's supervisors. Nothing is sent to a user with nothing due.
- 交房日报 (KEFU_DAILY_REPORT_AT, 18:00): on each day of a concentrated handover (a day with
  appointments, arrivals, keys or refusals on the roster) the 每日交房日报 figures go to the
  project's robot and, with the workbook, to the project's supervisors (手册001, 004 4.3.4:
  交房日报当天报送公司领导及各项目).
- Every minute: what is waiting in 通知记录 is sent (models/notify.py).
"""
import datetime
import os

from flask import current_app

from models import jobs, notify
from models.base import User, now
from models.notify import absolute, admins, base_url, supervisors_of, tell, tell_robot

DIGEST_DAYS = 3
DIGEST_ROLES = ('admin', 'supervisor', 'clerk')     # those who keep registers; auditors read


# --------------------------------------------------------------------------- every minute

def send_waiting():
    return notify.send_pending(current_app.config, current_app.instance_path)


jobs.EVERY_MINUTE.append(send_waiting)


# --------------------------------------------------------------------------- 夜间备份

@jobs.daily('夜间备份', 'KEFU_BACKUP_AT', '02:15')
def nightly_backup(day):
    from models.ops import backup
    folder = current_app.config.get('KEFU_BACKUP_DIR') or os.path.join(current_app.instance_path,
                                                                        'backups')
    keep = int(current_app.config.get('KEFU_BACKUP_KEEP_DAYS') or 30)
    try:
        os.makedirs(folder, exist_ok=True)
        path = backup(current_app.config['KEFU_DATABASE_URL'], folder)
    except Exception as exc:     # told to the admins, then the job fails with the reason
        tell(admins(), '备份失败', day, '夜间备份失败（%s）' % day,
             '夜间备份未完成：%s。请检查备份目录 %s 的空间和权限。' % (exc, folder), ref='backup')
        raise jobs.JobError('备份失败：%s' % exc)
    removed = prune_backups(folder, keep, day)
    return '备份完成：%s（%.1f MB）；删除 %d 个超过 %d 天的旧备份。' % (
        path, os.path.getsize(path) / 1048576, removed, keep)


def prune_backups(folder, keep_days, day):
    """Delete the portal's backups (kefu-YYYYMMDD-…) older than `keep_days` days."""
    limit = day - datetime.timedelta(days=keep_days)
    removed = 0
    for name in os.listdir(folder):
        if not name.startswith('kefu-') or name.endswith('.partial'):
            continue
        try:
            taken = datetime.datetime.strptime(name[5:13], '%Y%m%d').date()
        except ValueError:
            continue
        if taken < limit:
            os.unlink(os.path.join(folder, name))
            removed += 1
    return removed


# --------------------------------------------------------------------------- 晨报

def digest_for(user, day):
    """(subject, body, count) of a user's morning digest; count 0 when nothing is due."""
    from models.due import OVERDUE, DUE_TODAY, DueFilter, collect
    report = collect(day, DueFilter(project_ids=user.project_ids, days=DIGEST_DAYS))
    if not report.total:
        return None, None, 0
    groups = {}
    for item in report.items:
        groups.setdefault(item.register_name, []).append(item)
    lines = ['%s，您好：' % user.display_name, '',
             '截至 %s，您负责的项目共有 %d 项待办：已逾期 %d 项，今日到期 %d 项，%d 日内到期 %d 项。' % (
                 day.isoformat(), report.total, report.by_status.get(OVERDUE, 0),
                 report.by_status.get(DUE_TODAY, 0), DIGEST_DAYS,
                 report.total - report.by_status.get(OVERDUE, 0) - report.by_status.get(DUE_TODAY, 0))]
    for name, items in groups.items():
        lines += ['', '【%s】%d 项' % (name, len(items))]
        for item in items:
            where = ' '.join(p for p in (item.project_name, item.unit_label, item.detail) if p)
            due = item.due_on.isoformat() if item.due_on else '未定期限'
            lines.append('  · [%s] %s %s — %s%s' % (item.status, due, item.what, where,
                                                    ('  ' + absolute(item.link)) if item.link else ''))
    lines += ['', '完整列表：%s/due' % base_url()]
    subject = '客服台账晨报 %s：逾期 %d 项，今日到期 %d 项' % (
        day.isoformat(), report.by_status.get(OVERDUE, 0), report.by_status.get(DUE_TODAY, 0))
    return subject, '\n'.join(lines), report.total


def project_summary(project, day):
    from models.due import OVERDUE, DUE_TODAY, DueFilter, collect
    report = collect(day, DueFilter(project_ids=[project.id], days=DIGEST_DAYS), limit=0)
    if not report.total:
        return None
    parts = ['- %s：%d 项' % (name, n) for name, n in report.by_register.items()]
    return ('%s 待办 %s' % (project.name, day.isoformat()),
            '已逾期 %d 项，今日到期 %d 项，共 %d 项：\n%s' % (
                report.by_status.get(OVERDUE, 0), report.by_status.get(DUE_TODAY, 0),
                report.total, '\n'.join(parts)))


@jobs.daily('晨报', 'KEFU_DIGEST_AT', '08:00')
def morning_digest(day):
    from models.master import Project
    sent = 0
    # Every loop below reads its rows in full before writing: on SQLite a half-read cursor keeps
    # a read snapshot open, and a write from it is refused at once when another job committed.
    for user in list(User.select().where((User.active == True) &  # noqa: E712
                                         User.role.in_(DIGEST_ROLES)).order_by(User.id)):
        subject, body, count = digest_for(user, day)
        if not count:
            continue
        notify.queue(notify.IN_PORTAL, '晨报', day, subject, body, user=user, link='/due')
        if user.email and notify.queue(notify.EMAIL, '晨报', day, subject, body, user=user,
                                       address=user.email):
            sent += 1
    robots = 0
    for project in list(Project.live().order_by(Project.code)):
        summary = project_summary(project, day) if project.robot_webhook else None
        if summary:
            tell_robot(project, '晨报', day, summary[0], summary[1], link='/due?project=%d' % project.id)
            robots += 1
    warranty_alerts(day)
    return '晨报：邮件 %d 封，群机器人 %d 个。' % (sent, robots)


def warranty_alerts(day):
    """A warranty notice falling due today: the project's supervisors are told (手册002 六)."""
    from models.aftercare import WarrantyItem
    rows = list(WarrantyItem.live().where((WarrantyItem.notice_due_on == day) &
                                          WarrantyItem.owners_notified_on.is_null()))
    for row in rows:
        tell(supervisors_of(row.project_id), '保修到期告知', day,
             '保修到期告知今日到期：%s' % row,
             '「%s」保修到期日 %s，今日须告知业主（手册002 六）。' % (row, row.expires_on),
             project_id=row.project_id, link='/admin/warranty_item/details/?id=%d' % row.id,
             ref='warranty:%d' % row.id)


# --------------------------------------------------------------------------- 交房日报

def handover_reports(day):
    """[(project, rows, figures)] of the projects whose concentrated handover had activity on `day`."""
    from models.handover import HandoverEntry
    from models.master import Project
    from rules import handover as rules
    found = []
    for project in list(Project.live().order_by(Project.code)):
        if not project.delivery_date or project.delivery_date > day:
            continue
        rows = HandoverEntry.roster_rows(project.id)
        if not rows:
            continue
        figures = rules.daily_figures(rows, day, day + datetime.timedelta(days=1))
        if figures.appointed_today or figures.arrived_today or figures.handed_today or \
                figures.refused_today:
            found.append((project, rows, figures))
    return found


@jobs.daily('交房日报', 'KEFU_DAILY_REPORT_AT', '18:00')
def daily_handover_report(day):
    from views.handover import daily_book
    told = 0
    for project, rows, figures in handover_reports(day):
        text = '\n'.join('%s：%s' % (label, ('%.1f%%' % (value * 100)) if kind == 'ratio' else
                                     ('%.2f' % value) if kind == 'avg' else value)
                         for label, value, kind in figures.as_rows())
        subject = '每日交房日报 %s %s' % (project.name, day.isoformat())
        link = '/admin/handover_entry/daily/?project=%d&day=%s' % (project.id, day.isoformat())
        name = 'report-%d-%s__每日交房日报表_%s_%s.xlsx' % (project.id, day.strftime('%Y%m%d'),
                                                          project.code, day.strftime('%Y%m%d'))
        daily_book(project, rows, day, figures).save(
            os.path.join(jobs.jobs_folder(current_app.instance_path), name),
            '项目 %s；日期 %s；由系统于当日 %s 自动发送' % (project.name, day, now().strftime('%H:%M')))
        tell(supervisors_of(project.id), '交房日报', day, subject, text, project_id=project.id,
             link=link, attachment=name, ref='project:%d' % project.id)
        tell_robot(project, '交房日报', day, subject, text, link=link)
        told += 1
    return '交房日报：%d 个项目。' % told
