"""待办与预警 — `/due`: everything overdue or due in the next N days, for the projects the user may
see, from the deadline engine (models/due.py); its Excel export; and the `flask due` command that
prints or writes the same list for a date given on the command line (for a morning cron job).
"""
import datetime
import os
from collections import OrderedDict
from urllib.parse import urlencode

import click
from flask import Blueprint, abort, current_app, flash, has_request_context, request
from flask.cli import with_appcontext
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required
import xlsxwriter

from models.base import db, now
from models import due as engine
from views import params
from views.pages import render_page

# cli_group=None: `flask due` sits at the top level of the app's commands.
bp = Blueprint('due', __name__, cli_group=None)

ADMIN_LINKS = (MenuLink(name='待办与预警', url='/due'),)

PAGE_LIMIT = 200
UNSCHEDULED_LIMIT = 50          # rows shown per deadline among 未定期限
STATUS_CHOICES = engine.STATUSES + (engine.UNSCHEDULED,)

COLUMNS = (('status', '状态'), ('days_left', '剩余天数'), ('due_on', '到期日'),
           ('project_name', '项目'), ('unit_label', '房号'), ('register_name', '台账'),
           ('what', '事项'), ('detail', '内容'), ('owner', '责任部门'), ('manual', '依据'),
           ('clause', '条款原文'), ('link', '链接'))


def parse_date(text):
    return params.parse_day(text)     # None for 2026-02-30, 9999-12-31 …


def read_filter(args, project_ids):
    """(DueFilter, today, messages) from the query string; bad values fall back with a message."""
    messages = []
    today = datetime.date.today()
    if args.get('on'):
        given = parse_date(args.get('on'))
        if given is None:
            messages.append('日期「%s」格式不正确，应为 2026-12-01 这样的格式；已按今天计算。' % args.get('on'))
        else:
            today = given
    days = engine.DEFAULT_DAYS
    if args.get('days', '').strip():
        given_days = params.to_int(args.get('days'), 0, engine.MAX_DAYS)
        if given_days is not None:
            days = given_days
        else:
            messages.append('天数应为 0–%d 的整数；已按 %d 天计算。' % (engine.MAX_DAYS, days))
    project = None
    if args.get('project', '').strip():
        project = params.to_id(args.get('project'))
        if project is None or (project_ids is not None and project not in project_ids):
            abort(404)       # a project the user may not see is "not found", like everywhere
    status = args.get('status') or None
    if status and status not in STATUS_CHOICES:
        messages.append('未知的状态「%s」，已忽略。' % status)
        status = None
    register = args.get('register') or None
    if register and register not in dict(engine.register_choices()):
        messages.append('未知的台账「%s」，已忽略。' % register)
        register = None
    department = (args.get('department') or '').strip() or None
    flt = engine.DueFilter(project_ids=project_ids, project=project, register=register,
                           department=department, status=status, days=days)
    return flt, today, messages


def describe(flt, today, projects):
    names = {p.id: p.name for p in projects}
    parts = ['基准日 %s' % today.isoformat(), '%d 天内到期及已逾期' % flt.days]
    if flt.project:
        parts.append('项目：%s' % names.get(flt.project, flt.project))
    if flt.register:
        parts.append('台账：%s' % dict(engine.register_choices()).get(flt.register, flt.register))
    if flt.department:
        parts.append('责任部门：%s' % flt.department)
    if flt.status:
        parts.append('状态：%s' % flt.status)
    return '；'.join(parts)


def groups_of(items):
    """The items grouped by register, the group holding the most urgent item first; each group
    (name, key, items, {status: count})."""
    groups = OrderedDict()
    for item in items:
        group = groups.setdefault(item.register_name, (item.register_name, item.register, [], {}))
        group[2].append(item)
        group[3][item.status] = group[3].get(item.status, 0) + 1
    return list(groups.values())


def query_with(**changes):
    """This page's query string with some parameters changed (a badge or a group's link)."""
    args = request.args.to_dict()
    args.update(changes)
    return urlencode({k: v for k, v in args.items() if v not in (None, '')})


def dated_report(today, flt, limit=None):
    """The dated items (已逾期, 今日到期, 即将到期); none when only 未定期限 is asked for."""
    if flt.status == engine.UNSCHEDULED:
        return engine.DueReport(today=today, days=flt.days, items=[], total=0,
                                by_status={s: 0 for s in engine.STATUSES})
    return engine.collect(today, flt, limit=limit)


def _guard():
    if not current_user.can('list'):
        abort(403)


@bp.route('/due')
@login_required
def due_list():
    _guard()
    project_ids = current_user.project_ids
    flt, today, messages = read_filter(request.args, project_ids)
    for message in messages:
        flash(message, 'warning')
    report = dated_report(today, flt, limit=PAGE_LIMIT)
    unscheduled = engine.collect_unscheduled(flt, limit=UNSCHEDULED_LIMIT)
    all_projects = engine.visible_projects(project_ids)
    export_args = request.query_string.decode('utf-8', 'replace')
    return render_page('due/list.html', title='待办与预警', report=report, flt=flt, today=today,
                       groups=groups_of(report.items), unscheduled=unscheduled,
                       unassigned=sum(1 for i in report.items if i.owner == engine.UNASSIGNED),
                       projects=all_projects, registers=engine.register_choices(),
                       departments=engine.department_choices(), statuses=engine.STATUSES,
                       status_choices=STATUS_CHOICES, unscheduled_limit=UNSCHEDULED_LIMIT,
                       query_with=query_with,
                       page_limit=PAGE_LIMIT, export_args=export_args,
                       described=describe(flt, today, all_projects))


# --------------------------------------------------------------------------- Excel

def absolute_link(link):
    """A link as a workbook needs it: absolute (KEFU_BASE_URL, else the address the request came
    to), since a file opened from a mail or a share has no page to be relative to."""
    if not link or '://' in link:
        return link
    base = current_app.config.get('KEFU_BASE_URL') or os.environ.get('KEFU_BASE_URL') or \
        (request.url_root if has_request_context() else '')
    return base.rstrip('/') + link if base else link


def write_due_workbook(workbook, report, notes):
    """The due list into `workbook`: one typed row per item (未定期限 ones without a date), then
    a 说明 sheet (`notes` lines)."""
    ws = workbook.add_worksheet('待办与预警')
    header = workbook.add_format({'bold': True, 'bg_color': '#DDEBF7', 'border': 1})
    date_fmt = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    overdue_fmt = workbook.add_format({'font_color': '#9C0006', 'bg_color': '#FFC7CE'})
    widths = {'status': 9, 'days_left': 9, 'due_on': 12, 'project_name': 16, 'unit_label': 12,
              'register_name': 16, 'what': 28, 'detail': 30, 'owner': 12, 'manual': 28,
              'clause': 60, 'link': 36}
    for col, (name, label) in enumerate(COLUMNS):
        ws.write_string(0, col, label, header)
        ws.set_column(col, col, widths.get(name, 14))
    ws.freeze_panes(1, 0)
    for r, item in enumerate(report.items, start=1):
        for col, (name, _) in enumerate(COLUMNS):
            value = getattr(item, name)
            if value is None:
                continue
            if name == 'link':
                ws.write_string(r, col, absolute_link(value))
            elif name == 'due_on':
                ws.write_datetime(r, col, datetime.datetime(value.year, value.month, value.day),
                                  date_fmt)
            elif name == 'days_left':
                ws.write_number(r, col, value)
            elif name == 'status':
                ws.write_string(r, col, value, overdue_fmt if value == engine.OVERDUE else None)
            elif value not in (None, ''):
                # Text only: a clause or a row label starting with '=' stays text, never a formula.
                ws.write_string(r, col, str(value))
    ws.autofilter(0, 0, max(len(report.items), 1), len(COLUMNS) - 1)
    notes_ws = workbook.add_worksheet('说明')
    bold = workbook.add_format({'bold': True})
    for r, (key, value) in enumerate(notes):
        notes_ws.write_string(r, 0, key, bold)
        notes_ws.write_string(r, 1, str(value))
    notes_ws.set_column(0, 0, 14)
    notes_ws.set_column(1, 1, 90)
    workbook.close()


def report_notes(report, filters_text, exporter, database):
    counts = '；'.join('%s %d' % (s, report.by_status.get(s, 0)) for s in STATUS_CHOICES)
    by_register = '；'.join('%s %d' % kv for kv in sorted(report.by_register.items(),
                                                         key=lambda kv: -kv[1]))
    return [('导出内容', '待办与预警（各台账的期限及项目级期限）'),
            ('导出人', exporter),
            ('导出时间', now().strftime('%Y-%m-%d %H:%M:%S')),
            ('数据库', database),
            ('筛选条件', filters_text),
            ('行数', str(len(report.items))),
            ('按状态', counts),
            ('按台账', by_register or '无'),
            ('状态说明', '已逾期：到期日已过仍未办结；今日到期：到期日为基准日；即将到期：N 天内到期；'
                     '未定期限：尚未办结而期限未定，须落实期限。责任部门为“未指派”的须指派。'),
            ('排序', '按到期日升序（逾期最久的在最前）。'),
            ('条款', '“条款原文”列引用各手册原文，“依据”列为手册及章节。')]


@bp.route('/due/export.xlsx')
@login_required
def due_export():
    _guard()
    if not current_user.can('export'):
        abort(403)
    from views.excel import new_workbook, record_export, safe_database_url, send_workbook
    flt, today, _ = read_filter(request.args, current_user.project_ids)
    report = dated_report(today, flt)
    unscheduled = engine.collect_unscheduled(flt)
    report.items += unscheduled.items
    report.total += unscheduled.total
    report.by_status[engine.UNSCHEDULED] = unscheduled.total
    projects = engine.visible_projects(current_user.project_ids)
    filters_text = describe(flt, today, projects)
    path, workbook = new_workbook()
    write_due_workbook(workbook, report, report_notes(
        report, filters_text, '%s（%s）' % (current_user.display_name, current_user.username),
        safe_database_url()))
    record_export('due', filters_text, len(report.items))
    return send_workbook(path, '待办与预警_%s.xlsx' % today.strftime('%Y%m%d'))


# --------------------------------------------------------------------------- the command

def format_line(item):
    unit = item.unit_label or '-'
    return '\t'.join([item.status, '%+d天' % item.days_left, item.due_on.isoformat(),
                      item.project_name, unit, item.register_name, item.what, item.detail or '-',
                      item.owner, item.manual, item.link or '-'])


@bp.cli.command('due')
@click.option('--on', 'on', required=True, help='基准日，如 2026-12-01')
@click.option('--days', default=engine.DEFAULT_DAYS, show_default=True,
              type=click.IntRange(0, engine.MAX_DAYS), help='列出多少天内到期的事项')
@click.option('--project', 'codes', multiple=True, help='项目编码（可重复；默认全部项目）')
@click.option('--status', type=click.Choice(engine.STATUSES), default=None)
@click.option('--xlsx', 'xlsx_path', default=None, help='写入 Excel 文件而不是打印')
@with_appcontext
def due_command(on, days, codes, status, xlsx_path):
    """待办与预警：打印（或写入 Excel）某日已逾期及 N 天内到期的事项。"""
    today = parse_date(on)
    if today is None:
        raise click.BadParameter('日期应为 2026-12-01 这样的格式', param_hint='--on')
    from models.master import Project
    with db.connection_context():
        project_ids = None
        if codes:
            found = {p.code: p.id for p in Project.live().where(Project.code.in_(list(codes)))}
            unknown = [c for c in codes if c not in found]
            if unknown:
                raise click.BadParameter('没有这些项目：%s' % '、'.join(unknown),
                                         param_hint='--project')
            project_ids = list(found.values())
        flt = engine.DueFilter(project_ids=project_ids, days=days, status=status)
        report = engine.collect(today, flt)
        filters_text = describe(flt, today, report.projects)
        if xlsx_path:
            from views.excel import WORKBOOK_OPTIONS, safe_database_url
            write_due_workbook(xlsxwriter.Workbook(xlsx_path, WORKBOOK_OPTIONS), report,
                               report_notes(report, filters_text, '命令行 flask due',
                                            safe_database_url()))
            click.echo('已写入 %s：%d 项（%s）' % (xlsx_path, len(report.items), filters_text))
            return
        click.echo('待办与预警 %s：共 %d 项（%s）' % (
            filters_text, report.total,
            '，'.join('%s %d' % (s, report.by_status.get(s, 0)) for s in engine.STATUSES)))
        for item in report.items:
            click.echo(format_line(item))


def register_cli(app):
    """Add `flask due` to the app (a no-op when the blueprint already brought it)."""
    if 'due' not in app.cli.commands:
        app.cli.add_command(due_command)
