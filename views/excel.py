"""Excel out: every register list exports exactly what it shows (filters, search, sort), streamed.

xlsxwriter writes in `constant_memory` mode and rows are fetched in batches, so the size of an
export does not decide the memory it takes. Strings are never turned into formulas or links.
"""
import datetime
import decimal
import json
import os
import tempfile

from flask import after_this_request, current_app, request, send_file
from flask_login import current_user
from peewee import (BooleanField, DateField, DateTimeField, DecimalField, FloatField,
                    ForeignKeyField, IntegerField)
import xlsxwriter

from models.base import ExportLog, db, is_sqlite, now
from rules.master import MASKS

BATCH = 2000
WORKBOOK_OPTIONS = {
    'constant_memory': True,
    'strings_to_formulas': False,   # '=HYPERLINK(...)' stays text
    'strings_to_urls': False,
    'strings_to_numbers': False,
    'default_date_format': 'yyyy-mm-dd',
}


class SheetWriter:
    """Writes one register sheet: typed cells, frozen header, autofilter, widths."""

    def __init__(self, workbook, name, model, columns, labels, masked=()):
        self.wb, self.model = workbook, model
        self.ws = workbook.add_worksheet(name[:31])
        self.columns = list(columns)
        self.masked = set(masked)
        self.fmt_header = workbook.add_format({'bold': True, 'bg_color': '#DDEBF7', 'border': 1})
        self.fmt_date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
        self.fmt_datetime = workbook.add_format({'num_format': 'yyyy-mm-dd hh:mm'})
        self.fmt_money = workbook.add_format({'num_format': '#,##0.00'})
        self.fmt_number = workbook.add_format({'num_format': '0.######'})
        self.kinds = [self._kind(c) for c in self.columns]
        widths = []
        for col, name_ in enumerate(self.columns):
            label = labels.get(name_, name_)
            self.ws.write_string(0, col, str(label), self.fmt_header)
            widths.append(max(10, min(40, len(str(label)) * 2 + 2)))
        for col, kind in enumerate(self.kinds):
            if kind in ('date', 'datetime'):
                widths[col] = 12 if kind == 'date' else 17
            self.ws.set_column(col, col, widths[col])
        self.ws.freeze_panes(1, 0)
        self.row = 1

    def _kind(self, name):
        fld = self.model._meta.fields.get(name)
        if fld is None:
            return 'computed'
        if isinstance(fld, ForeignKeyField):
            return 'fk'
        if isinstance(fld, DateTimeField):
            return 'datetime'
        if isinstance(fld, DateField):
            return 'date'
        if isinstance(fld, BooleanField):
            return 'bool'
        if isinstance(fld, DecimalField):
            return 'money' if fld.decimal_places == 2 else 'number'
        if isinstance(fld, (IntegerField, FloatField)):
            return 'int'
        return 'text'

    def write_row(self, row, computed=None):
        ws, r = self.ws, self.row
        for col, (name, kind) in enumerate(zip(self.columns, self.kinds)):
            if kind == 'computed':
                value = computed(row, name) if computed else getattr(row, name, None)
            elif kind == 'fk':
                target = row.__rel__.get(name)
                value = str(target) if target is not None else None
            else:
                value = row.__data__.get(name)
            if value is None or value == '':
                continue
            if name in self.masked:
                value = MASKS.get(name, lambda v: '****')(str(value))
            if kind == 'date' and isinstance(value, datetime.date):
                ws.write_datetime(r, col, datetime.datetime(value.year, value.month, value.day),
                                  self.fmt_date)
            elif kind == 'datetime' and isinstance(value, datetime.datetime):
                ws.write_datetime(r, col, value, self.fmt_datetime)
            elif kind == 'bool':
                ws.write_string(r, col, '是' if value else '否')
            elif kind == 'money' and isinstance(value, (int, float, decimal.Decimal)):
                ws.write_number(r, col, float(value), self.fmt_money)
            elif kind in ('number', 'int') and isinstance(value, (int, float, decimal.Decimal)):
                ws.write_number(r, col, float(value), self.fmt_number if kind == 'number' else None)
            elif isinstance(value, bool):
                ws.write_string(r, col, '是' if value else '否')
            elif isinstance(value, (int, float, decimal.Decimal)) and kind == 'computed':
                ws.write_number(r, col, float(value))
            elif isinstance(value, datetime.date):
                ws.write_datetime(r, col, datetime.datetime(value.year, value.month, value.day),
                                  self.fmt_date)
            else:
                ws.write_string(r, col, str(value))
        self.row += 1

    def close(self):
        if self.columns:
            self.ws.autofilter(0, 0, max(self.row - 1, 0), len(self.columns) - 1)


def iterate_batches(query, batch=BATCH):
    """Rows of `query` in lists of `batch`, without holding the whole result in memory."""
    if is_sqlite():
        source = query.iterator()
    else:
        from playhouse.postgres_ext import ServerSide
        source = ServerSide(query, array_size=batch)
    chunk = []
    for row in source:
        chunk.append(row)
        if len(chunk) >= batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_provenance(workbook, title, filters_text, row_count, extra=()):
    ws = workbook.add_worksheet('说明')
    bold = workbook.add_format({'bold': True})
    url = current_app.config.get('KEFU_DATABASE_URL', '')
    if '@' in url:   # never write a password into a file that leaves the building
        url = url.split('://', 1)[0] + '://…@' + url.split('@', 1)[1]
    lines = [('导出内容', title),
             ('导出人', '%s（%s）' % (current_user.display_name, current_user.username)),
             ('导出时间', now().strftime('%Y-%m-%d %H:%M:%S')),
             ('数据库', url),
             ('筛选条件', filters_text or '无'),
             ('行数', str(row_count))] + list(extra)
    for r, (k, v) in enumerate(lines):
        ws.write_string(r, 0, k, bold)
        ws.write_string(r, 1, v)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 80)


def describe_filters(view):
    """The list's filters and search in words, for the 说明 sheet and the export log."""
    args = view._get_list_extra_args()
    parts = []
    for index, _name, value in args.filters or ():
        flt = view._filters[index]
        parts.append('%s %s %s' % (flt.name, flt.operation(), value))
    if args.search:
        parts.append('搜索「%s」' % args.search)
    if args.sort is not None:
        col = view._get_column_by_idx(args.sort)
        if col:
            parts.append('按「%s」%s排序' % (col[1], '降序' if args.sort_desc else '升序'))
    return '；'.join(str(p) for p in parts)


def send_workbook(path, filename):
    @after_this_request
    def _cleanup(response):
        try:
            os.unlink(path)
        except OSError:
            pass
        return response
    return send_file(path, as_attachment=True, download_name=filename,
                     mimetype='application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')


def export_list(view):
    """`/admin/<table>/export/xlsx/`: the list as shown, with the list's query string applied."""
    from views import listing
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    query = listing.build_query(view, sort[0] if sort else None, args.sort_desc, args.search,
                                args.filters)
    model = view.model
    masked = [n for n, power in getattr(model._meta, 'masked', {}).items()
              if not current_user.can(power)]
    columns = list(view.column_export_list)
    fd, path = tempfile.mkstemp(suffix='.xlsx', dir=_tmp_dir())
    os.close(fd)
    workbook = xlsxwriter.Workbook(path, WORKBOOK_OPTIONS)
    sheet = SheetWriter(workbook, view.name_cn, model, columns, view.column_labels, masked)
    fk_names = {c for c in columns if sheet._kind(c) == 'fk'}
    count = 0
    with db.atomic():   # one consistent snapshot (and a server-side cursor on PostgreSQL)
        for chunk in iterate_batches(query):
            listing.attach_related(model, chunk, fk_names)
            for row in chunk:
                sheet.write_row(row, computed=lambda r, n: _computed(view, r, n))
            count += len(chunk)
    sheet.close()
    filters_text = describe_filters(view)
    write_provenance(workbook, view.name_cn, filters_text, count)
    workbook.close()
    record_export(model._meta.table_name, filters_text, count,
                  unmasked=bool(view.unmasked_fields()))
    stamp = now().strftime('%Y%m%d_%H%M')
    return send_workbook(path, '%s_%s.xlsx' % (view.name_cn, stamp))


def _computed(view, row, name):
    """A list column that is not a stored field (a property or a formatter of the view)."""
    value = getattr(row, name, None)
    return value() if callable(value) else value


def record_export(table, filters_text, count, unmasked=False):
    ExportLog.create(table_name=table, user_id=current_user.id, username=current_user.username,
                     at=now(), filters=filters_text, row_count=count,
                     unmasked_personal_data=unmasked)


def _tmp_dir():
    path = os.path.join(current_app.instance_path, 'tmp')
    os.makedirs(path, exist_ok=True)
    return path
