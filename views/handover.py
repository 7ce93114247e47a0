"""交付 views: the roster's generation and its day-routine bulk actions (notices mailed, owners
phoned, arrivals), 每日交房日报表 (screen and Excel, each figure linked to its roster rows), the +3
list of units not taken and the +15 summary statistics — all computed by rules/handover.py from
the roster rows, so the screen, the Excel file and the roster always agree.
"""
import datetime
import io

import xlsxwriter
from flask import abort, flash, has_request_context, redirect, request, send_file, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.menu import MenuLink
from flask_login import current_user
from peewee import fn

from models.base import RuleError, all_registers, now
from models.handover import HandoverEntry
from rules import handover as rules
from rules.master import MASKS
from views.base import RegisterView, badge
from views.delivery import apply_each, chosen_project, flash_outcome, parse_day, require

STATUS_LEVELS = {'待交付': 'light', '已交付': 'success', '拒收': 'danger', '未到场': 'warning',
                 '延期': 'secondary'}


def _status(view, context, row, name):
    return badge(row.status, STATUS_LEVELS.get(row.status, 'secondary'))


def _eligible(view, context, row, name):
    return badge('符合', 'success') if row.eligible else badge('不符合', 'danger')


def owner_phone(row):
    """The owner's phone of a roster record, masked for roles that do not see phones. Outside a
    request (the report the job runner sends to the project's supervisors, who see phones) as is."""
    phone = row.owner_phone or ''
    if phone and has_request_context() and not current_user.can('see_phone'):
        phone = MASKS['phone'](phone)
    return phone


def owner_name(row):
    return row.owner_name or ''


WIDE_IMPACT_MIN = 5      # complaints of one category since handover began: a wide-impact matter


def completion_due_on(project, code):
    """The +3 / +15 deadline of the countdown node `code`, counted from the handover's completion
    (手册001 “房屋交付工作完成三日内 / 15日内”); None (待定) while the completion is unknown."""
    from models.delivery import handover_completed_on
    from rules import delivery
    return delivery.spec_due_on(delivery.COUNTDOWN_BY_CODE[code], project.delivery_date,
                                handover_completed_on(project))


def wide_impact_complaints(project, since):
    """(重大 complaints, [(category, count)] raised ≥ WIDE_IMPACT_MIN times) since `since`.

    手册001 asks for 影响面广的客户诉求 three days after handover; the complaint register marks
    the serious ones 重大, and a category many owners raise is wide-impact by definition.
    None when the complaint register is not installed.
    """
    model = next((m for m in all_registers() if m._meta.table_name == 'complaint'), None)
    if model is None or since is None:
        return None
    if not {'severity', 'received_on', 'category'} <= set(model._meta.fields):
        return None
    base = model.live().where((model.project == project.id) & (model.received_on >= since))
    major = list(base.where(model.severity == '重大').order_by(model.received_on).limit(500))
    counts = (base.select(model.category, fn.COUNT(model.id)).group_by(model.category)
              .having(fn.COUNT(model.id) >= WIDE_IMPACT_MIN).order_by(fn.COUNT(model.id).desc()).tuples())
    return major, list(counts)


def handing_over(projects):
    """The project whose handover began most recently and has a roster: what a report page opens on."""
    today = datetime.date.today()
    started = [p for p in projects if p.delivery_date and p.delivery_date <= today]
    with_roster = {pid for (pid,) in HandoverEntry.live(HandoverEntry.project).where(
        HandoverEntry.project.in_([p.id for p in started] or [0])).distinct().tuples()}
    started = [p for p in started if p.id in with_roster]
    return max(started, key=lambda p: p.delivery_date) if started else None


class HandoverEntryView(RegisterView):
    model_class = HandoverEntry
    list_template = 'handover/roster_list.html'
    column_formatters = {'status': _status, 'eligible': _eligible}
    _action_powers = {'soft_delete': 'delete', 'notice_mailed': 'edit', 'phoned': 'edit',
                      'arrived': 'edit'}

    # ------------------------------------------------------------------ the day's routine, in bulk
    def _record(self, ids, field, value, verb):
        """Set `field` to `value` on the selected rows that have none yet, row by row."""
        rows = [r for r in self.scoped_rows(ids) if getattr(r, field) is None]
        done, refused = apply_each(rows, lambda row: setattr(row, field, value))
        flash_outcome(verb, done, refused, skipped=len(ids) - len(rows))

    @action('notice_mailed', '登记通知书今日寄出', '确定登记选中业主的《交付通知书》今天已寄出吗？')
    def action_notice_mailed(self, ids):
        self._record(ids, 'notice_mailed_on', datetime.date.today(), '已登记寄出')

    @action('phoned', '登记今日已电话通知', '确定登记选中业主今天已电话通知吗？')
    def action_phoned(self, ids):
        self._record(ids, 'phoned_on', datetime.date.today(), '已登记电话通知')

    @action('arrived', '登记到场（现在）', '确定登记选中业主现在已到场吗？')
    def action_arrived(self, ids):
        self._record(ids, 'arrived_at', now(), '已登记到场')

    # ------------------------------------------------------------------ roster
    @expose('/generate/', methods=('GET', 'POST'))
    def generate_view(self):
        project, projects = chosen_project()
        if request.method == 'POST':
            require('create')
            if project is None:
                abort(404)
            try:
                created, refreshed = HandoverEntry.generate_roster(
                    project, current_user._get_current_object())
            except RuleError as exc:
                for _, message in exc.problems:
                    flash(message, 'error')
            else:
                flash('「%s」交楼名单：新增 %d 户，按合同台账更新资格 %d 户。' % (
                    project.name, created, refreshed), 'success')
                return redirect(url_for('.index_view'))
        counts = {p.id: HandoverEntry.live().where(HandoverEntry.project == p.id).count()
                  for p in projects}
        return self.render('handover/generate.html', project=project, projects=projects,
                           counts=counts, due_on=rules.roster_due_on(project.delivery_date)
                           if project else None, clause=rules.ROSTER_CLAUSE)

    # ------------------------------------------------------------------ 每日交房日报表
    def _daily(self):
        project, projects = chosen_project(prefer=handing_over)
        if project is None:
            abort(404)
        rows = HandoverEntry.roster_rows(project.id)
        day = parse_day(request.args.get('day')) or datetime.date.today()
        return project, projects, rows, day, rules.daily_figures(rows, day, datetime.date.today())

    def roster_url(self, project, *conditions):
        """The roster list filtered by (filter label, filter kind, value) conditions."""
        args = {}
        for position, (label, kind, value) in enumerate((('项目', 'FilterEqual', project.id),) + conditions):
            index = next((i for i, f in enumerate(self._filters)
                          if f.name == label and type(f).__name__ == kind), None)
            if index is None:
                return None
            args['flt%d_%d' % (position, index)] = value
        return url_for('.index_view', **args)

    def figure_links(self, project, day):
        """Figures of the daily report that are one roster filter away, so each can be checked."""
        until = '2000-01-01 to %s' % day.isoformat()
        on_day = '%s to %s' % (day.isoformat(), day.isoformat())
        handed = ('交付状态', 'FilterEqual', rules.STATUS_HANDED)
        refused = ('交付状态', 'FilterEqual', rules.STATUS_REFUSED)
        links = {
            '名单户数': self.roster_url(project),
            '应交付户数': self.roster_url(project, ('符合交楼资格', 'BooleanEqualFilter', '1')),
            '不符合交楼资格户数': self.roster_url(project, ('符合交楼资格', 'BooleanEqualFilter', '0')),
            '当日预约户数': self.roster_url(project, ('预约交付日期', 'DateBetweenFilter', on_day)),
            '当日交付户数': self.roster_url(project, handed, ('钥匙交付日期', 'DateBetweenFilter', on_day)),
            '累计交付户数': self.roster_url(project, handed, ('钥匙交付日期', 'DateBetweenFilter', until)),
            '当日拒收户数': self.roster_url(project, refused, ('拒收日期', 'DateBetweenFilter', on_day)),
            '累计拒收户数': self.roster_url(project, refused, ('拒收日期', 'DateBetweenFilter', until)),
        }
        return {k: v for k, v in links.items() if v}

    @expose('/daily/')
    def daily_view(self):
        project, projects, rows, day, figures = self._daily()
        return self.render('handover/daily.html', project=project, projects=projects, day=day,
                           figures=figures, today=datetime.date.today(),
                           links=self.figure_links(project, day),
                           days=[d for d in rules.handover_days(rows) if d <= datetime.date.today()],
                           clause=rules.DAILY_CLAUSE,
                           phone=owner_phone, owner=owner_name)

    @expose('/daily.xlsx')
    def daily_xlsx(self):
        require('export')
        project, _projects, rows, day, figures = self._daily()
        book = daily_book(project, rows, day, figures)
        return book.send('每日交房日报表_%s_%s.xlsx' % (project.code, day.strftime('%Y%m%d')),
                         table='handover_entry', filters='项目 %s；日期 %s' % (project.name, day),
                         count=figures.roster_total)

    # ------------------------------------------------------------------ +3 and +15
    @staticmethod
    def _as_of():
        return parse_day(request.args.get('as_of')) or datetime.date.today()

    @expose('/not-taken/')
    def not_taken_view(self):
        project, projects = chosen_project(prefer=handing_over)
        if project is None:
            abort(404)
        as_of = self._as_of()
        rows = HandoverEntry.roster_rows(project.id)
        left = rules.not_taken(rows, as_of)
        delivery_on = project.delivery_date
        complaints = wide_impact_complaints(project, delivery_on)
        return self.render('handover/not_taken.html', project=project, projects=projects,
                           as_of=as_of, rows=left, reason=lambda r: rules.not_taken_reason(r, as_of),
                           phone=owner_phone, owner=owner_name, complaints=complaints,
                           wide_min=WIDE_IMPACT_MIN, due_on=completion_due_on(project, 'T+3'),
                           clause=rules.PLUS3_CLAUSE)

    @expose('/not-taken.xlsx')
    def not_taken_xlsx(self):
        require('export')
        project, _projects = chosen_project(prefer=handing_over)
        if project is None:
            abort(404)
        as_of = self._as_of()
        left = rules.not_taken(HandoverEntry.roster_rows(project.id), as_of)
        book = ReportBook('未接房名单 — %s — 截至 %s' % (project.name, as_of))
        book.table('未接房', ('房号', '业主', '联系电话', '符合交楼资格', '状态', '原因', '预约交付日期',
                           '催告函发出日期'),
                   [(r.unit_label, owner_name(r), owner_phone(r), '是' if r.eligible else '否', r.status,
                     rules.not_taken_reason(r, as_of), r.appointment_on, r.demand_letter_sent_on)
                    for r in left])
        return book.send('未接房名单_%s_%s.xlsx' % (project.code, as_of.strftime('%Y%m%d')),
                         table='handover_entry', filters='项目 %s；截至 %s' % (project.name, as_of),
                         count=len(left))

    @expose('/summary/')
    def summary_view(self):
        project, projects = chosen_project(prefer=handing_over)
        if project is None:
            abort(404)
        as_of = self._as_of()
        summary = rules.summary_statistics(HandoverEntry.roster_rows(project.id), as_of)
        return self.render('handover/summary.html', project=project, projects=projects,
                           as_of=as_of, summary=summary, clause=rules.PLUS15_CLAUSE,
                           due_on=completion_due_on(project, 'T+15'))

    @expose('/summary.xlsx')
    def summary_xlsx(self):
        require('export')
        project, _projects = chosen_project(prefer=handing_over)
        if project is None:
            abort(404)
        as_of = self._as_of()
        summary = rules.summary_statistics(HandoverEntry.roster_rows(project.id), as_of)
        book = ReportBook('交房汇总统计表 — %s — 截至 %s' % (project.name, as_of))
        book.figures('汇总', summary.as_rows(), rules.PLUS15_CLAUSE)
        book.table('逐日统计', ('日期', '当日交付户数', '累计交付户数', '完成交付比例'), summary.by_day,
                   formats={3: 'ratio'})
        book.table('不符合资格原因', ('原因', '户数'), list(summary.ineligible_reasons.items()))
        book.table('拒收原因', ('原因', '户数'), list(summary.refusal_reasons.items()))
        return book.send('交房汇总统计表_%s_%s.xlsx' % (project.code, as_of.strftime('%Y%m%d')),
                         table='handover_entry', filters='项目 %s；截至 %s' % (project.name, as_of),
                         count=summary.daily.roster_total)


def daily_book(project, rows, day, figures):
    """每日交房日报表 as a workbook: the page's download and the report sent at the day's end
    (models/routine.py) are the same book."""
    book = ReportBook('每日交房日报表 — %s — %s' % (project.name, day))
    book.figures('日报', figures.as_rows(), '截至 %s 24:00；依据：%s' % (day, rules.DAILY_CLAUSE))
    book.table('当日交付', ('房号', '业主', '到场时间', '钥匙交付日期', '验房问题数'),
               [(r.unit_label, owner_name(r), r.arrived_at, r.keys_handed_on, r.issues_found)
                for r in figures.handed_today_rows])
    book.table('当日拒收', ('房号', '业主', '联系电话', '到场时间', '拒收原因'),
               [(r.unit_label, owner_name(r), owner_phone(r), r.arrived_at, r.refusal_reason)
                for r in figures.refused_today_rows])
    book.table(figures.absent_label, ('房号', '业主', '联系电话', '预约交付日期', '电话通知日期'),
               [(r.unit_label, owner_name(r), owner_phone(r), r.appointment_on, r.phoned_on)
                for r in figures.absent_today_rows])
    summary = rules.summary_statistics(rows, day)
    book.table('逐日统计', ('日期', '当日交付户数', '累计交付户数', '完成交付比例'),
               summary.by_day, formats={3: 'ratio'})
    return book


class ReportBook:
    """A small report workbook in memory: figure sheets and table sheets, typed cells."""

    def __init__(self, title):
        self.title = title
        self.buffer = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buffer, {'in_memory': True, 'strings_to_formulas': False,
                                                    'strings_to_urls': False,
                                                    'strings_to_numbers': False})
        self.bold = self.wb.add_format({'bold': True})
        self.title_fmt = self.wb.add_format({'bold': True, 'font_size': 14})
        self.header = self.wb.add_format({'bold': True, 'bg_color': '#DDEBF7', 'border': 1})
        self.formats = {
            'ratio': self.wb.add_format({'num_format': '0.0%'}),
            'avg': self.wb.add_format({'num_format': '0.00'}),
            'money': self.wb.add_format({'num_format': '#,##0.00'}),
            'date': self.wb.add_format({'num_format': 'yyyy-mm-dd'}),
            'datetime': self.wb.add_format({'num_format': 'yyyy-mm-dd hh:mm'}),
        }

    def figures(self, name, rows, note):
        """Sheet with the title, then (指标, 数值) rows from `rows` of (label, value, kind)."""
        ws = self.wb.add_worksheet(name)
        ws.write_string(0, 0, self.title, self.title_fmt)
        ws.write_string(1, 0, note[:250])
        ws.write_string(3, 0, '指标', self.header)
        ws.write_string(3, 1, '数值', self.header)
        for i, (label, value, kind) in enumerate(rows, start=4):
            ws.write_string(i, 0, label)
            ws.write_number(i, 1, float(value or 0), self.formats.get(kind))
        ws.set_column(0, 0, 26)
        ws.set_column(1, 1, 14)

    def table(self, name, headers, rows, formats=None):
        ws = self.wb.add_worksheet(name)
        for col, text in enumerate(headers):
            ws.write_string(0, col, text, self.header)
            ws.set_column(col, col, max(12, len(text) * 2 + 2))
        formats = formats or {}
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                self._cell(ws, r, col, value, formats.get(col))
        ws.freeze_panes(1, 0)
        return ws

    def _cell(self, ws, r, col, value, kind=None):
        if value is None or value == '':
            return
        if isinstance(value, bool):
            ws.write_string(r, col, '是' if value else '否')
        elif isinstance(value, datetime.datetime):
            ws.write_datetime(r, col, value, self.formats['datetime'])
        elif isinstance(value, datetime.date):
            ws.write_datetime(r, col, datetime.datetime(value.year, value.month, value.day),
                              self.formats['date'])
        elif isinstance(value, (int, float)) or hasattr(value, 'as_tuple'):
            ws.write_number(r, col, float(value), self.formats.get(kind))
        else:
            ws.write_string(r, col, str(value))

    def save(self, path, note):
        """Close the book into a file (a report sent by the job runner, no one's download)."""
        ws = self.wb.add_worksheet('说明')
        for r, (k, v) in enumerate((('报表', self.title), ('说明', note),
                                    ('生成时间', now().strftime('%Y-%m-%d %H:%M:%S')))):
            ws.write_string(r, 0, k, self.bold)
            ws.write_string(r, 1, v)
        ws.set_column(1, 1, 80)
        self.wb.close()
        with open(path, 'wb') as fh:
            fh.write(self.buffer.getvalue())
        return path

    def send(self, filename, table, filters, count):
        from views.excel import record_export
        ws = self.wb.add_worksheet('说明')
        for r, (k, v) in enumerate((('报表', self.title),
                                    ('导出人', '%s（%s）' % (current_user.display_name, current_user.username)),
                                    ('导出时间', now().strftime('%Y-%m-%d %H:%M:%S')),
                                    ('范围', filters))):
            ws.write_string(r, 0, k, self.bold)
            ws.write_string(r, 1, v)
        ws.set_column(1, 1, 80)
        self.wb.close()
        record_export(table, filters, count, unmasked=current_user.can('see_phone'))
        self.buffer.seek(0)
        return send_file(self.buffer, as_attachment=True, download_name=filename,
                         mimetype='application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')


ADMIN_LINKS = (
    MenuLink(name='每日交房日报表', url='/admin/handover_entry/daily/', category='交付'),
    MenuLink(name='未接房名单（T+3）', url='/admin/handover_entry/not-taken/', category='交付'),
    MenuLink(name='交房汇总统计（T+15）', url='/admin/handover_entry/summary/', category='交付'),
)
