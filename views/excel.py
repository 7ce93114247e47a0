"""Excel out: a register's export is the whole register (every field, 编号, who and when), with the
list's filters, search and sort applied (`?columns=shown`: the list's columns only), streamed.

xlsxwriter writes in `constant_memory` mode and rows are fetched in batches, so the size of an
export does not decide the memory it takes. Strings are never turned into formulas or links:
every text cell goes through `write_string`, and the workbook options switch off xlsxwriter's
guessing, so '=HYPERLINK(...)', '+1', '-1+2' or '@SUM(A1)' open as the text they are.
Every export is recorded in export_log (who, what, filters, rows, unmasked personal data).
"""
import datetime
import decimal
import os
import tempfile

from flask import after_this_request, current_app, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup
from peewee import (BooleanField, DateField, DateTimeField, DecimalField, FloatField,
                    ForeignKeyField, IntegerField, fn)
import xlsxwriter

from models.base import AttachmentField, ExportLog, db, is_sqlite, now
from rules.master import MASKS

BATCH = 2000
WIDTH_SAMPLE_ROWS = 200        # column widths are measured on the first rows of a sheet
MAX_WIDTH = 50
WORKBOOK_OPTIONS = {
    'constant_memory': True,
    'strings_to_formulas': False,   # '=HYPERLINK(...)' stays text
    'strings_to_urls': False,
    'strings_to_numbers': False,
    'default_date_format': 'yyyy-mm-dd',
}
XLSX_MIMETYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
SHEET_NAME_FORBIDDEN = '[]:*?/\\'


def text_width(text):
    """Display width in Excel's character units: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def sheet_name(name, taken=()):
    """A legal, unique worksheet name (31 characters, none of []:*?/\\)."""
    clean = ''.join('_' if ch in SHEET_NAME_FORBIDDEN else ch for ch in str(name)).strip("'")
    clean = (clean or 'Sheet')[:31]
    candidate, n = clean, 2
    lowered = {t.lower() for t in taken}
    while candidate.lower() in lowered:
        suffix = '(%d)' % n
        candidate = clean[:31 - len(suffix)] + suffix
        n += 1
    return candidate


class SheetWriter:
    """Writes one register sheet: typed cells, frozen header, autofilter, widths.

    `value_of(row, name)`, when given, supplies the value of every column (log lists use their
    formatters); otherwise stored fields are read from the row, foreign keys by their name and
    other list columns (properties) from the row's attribute.
    """

    def __init__(self, workbook, name, model, columns, labels, masked=(), value_of=None):
        self.wb, self.model = workbook, model
        self.ws = workbook.add_worksheet(name)
        self.columns = list(columns)
        self.masked = set(masked)
        self.value_of = value_of
        self.fmt_header = workbook.add_format({'bold': True, 'bg_color': '#DDEBF7', 'border': 1,
                                               'text_wrap': False})
        self.fmt_date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
        self.fmt_datetime = workbook.add_format({'num_format': 'yyyy-mm-dd hh:mm'})
        self.fmt_money = workbook.add_format({'num_format': '#,##0.00'})
        self.fmt_number = workbook.add_format({'num_format': '0.0#####'})
        self.kinds = [self._kind(c) for c in self.columns]
        self.choice_labels = [self._choice_labels(c) for c in self.columns]
        self.plain = [labels is None and name not in self.masked
                      for name, labels in zip(self.columns, self.choice_labels)]
        self.fk_names = {}      # {column: {id: name}} of links resolved per batch
        self.widths = []
        for col, name_ in enumerate(self.columns):
            label = str(labels.get(name_, name_))
            self.ws.write_string(0, col, label, self.fmt_header)
            kind = self.kinds[col]
            floor = {'date': 12, 'datetime': 17, 'money': 14}.get(kind, 8)
            self.widths.append(max(floor, text_width(label) + 4))   # room for the filter arrow
        self.ws.freeze_panes(1, 0)
        self.row = 1

    def _kind(self, name):
        fld = self.model._meta.fields.get(name) if self.model is not None else None
        if fld is None:
            return 'computed'
        if isinstance(fld, AttachmentField):
            return 'attachment'
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

    def _choice_labels(self, name):
        fld = self.model._meta.fields.get(name) if self.model is not None else None
        if fld is None or not fld.choices:
            return None
        labels = {c[0]: c[1] for c in fld.choices}
        return None if all(k == v for k, v in labels.items()) else labels

    def _value(self, row, name, kind):
        if self.value_of is not None:
            return self.value_of(row, name)
        if kind == 'computed':
            value = getattr(row, name, None)
            return value() if callable(value) else value
        if kind == 'fk':
            if name in self.fk_names:
                return self.fk_names[name].get(row.__data__.get(name))
            target = row.__rel__.get(name)
            return str(target) if target is not None else None
        if kind == 'attachment':
            return attachment_url(self.model, row.get_id(), name, row.__data__.get(name))
        return row.__data__.get(name)

    def write_row(self, row):
        self.write_values([self._value(row, name, kind)
                           for name, kind in zip(self.columns, self.kinds)])

    def write_values(self, values):
        """Write one row of already resolved values (foreign keys as their names)."""
        r = self.row
        measure = r <= WIDTH_SAMPLE_ROWS
        write_string, plain = self.ws.write_string, self.plain
        for col, value in enumerate(values):
            if value is None or value == '':
                continue
            if plain[col] and value.__class__ is str:     # most cells: text needing nothing
                write_string(r, col, value)
                shown = value
            else:
                labels = self.choice_labels[col]
                if labels is not None:
                    value = labels.get(value, value)
                name = self.columns[col]
                if name in self.masked:
                    value = MASKS.get(name, lambda v: '****')(str(value))
                shown = self._write(r, col, self.kinds[col], value)
            if measure and shown is not None:
                self.widths[col] = max(self.widths[col], min(MAX_WIDTH, text_width(shown) + 2))
        self.row += 1

    def _write(self, r, col, kind, value):
        """Write one typed cell; returns the text whose width counts (None: fixed width)."""
        ws = self.ws
        if value.__class__ is str:       # the common case first: text, written as text
            ws.write_string(r, col, value)
            return value
        if isinstance(value, bool):
            text = '是' if value else '否'
            ws.write_string(r, col, text)
            return text
        if isinstance(value, datetime.datetime):
            ws.write_datetime(r, col, value, self.fmt_datetime if value.time() != datetime.time()
                              or kind == 'datetime' else self.fmt_date)
            return None
        if isinstance(value, datetime.date):
            ws.write_datetime(r, col, datetime.datetime(value.year, value.month, value.day),
                              self.fmt_date)
            return None
        if isinstance(value, (int, float, decimal.Decimal)) and kind != 'text':
            fmt = {'money': self.fmt_money, 'number': self.fmt_number}.get(kind)
            ws.write_number(r, col, float(value), fmt)
            return format(value, ',.2f') if kind == 'money' else str(value)
        if isinstance(value, Markup):
            value = value.striptags()
        text = str(value)
        ws.write_string(r, col, text)
        return text.split('\n', 1)[0]

    def close(self):
        for col, width in enumerate(self.widths):
            self.ws.set_column(col, col, width)
        if self.columns:
            self.ws.autofilter(0, 0, max(self.row - 1, 0), len(self.columns) - 1)
        return self.row - 1


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


def write_query(workbook, name, model, query, columns, labels, masked=(), value_of=None,
                related=True):
    """Stream `query` into a new sheet `name`; returns the number of rows written.

    When every column is a stored field, rows are read as plain tuples of those columns and
    foreign keys are named once per batch: no model object per row (the cost of a big export).
    A column that is a property of the row needs the row object, so such sheets read models.
    """
    from views import listing
    sheet = SheetWriter(workbook, name, model, columns, labels, masked, value_of)
    fk_names = {c for c, k in zip(sheet.columns, sheet.kinds) if k == 'fk'}
    if value_of is None and 'computed' not in sheet.kinds:
        fields = [model._meta.fields[c] for c in sheet.columns]
        fk_columns = [i for i, c in enumerate(sheet.columns) if c in fk_names]
        files = [i for i, k in enumerate(sheet.kinds) if k == 'attachment']
        if files:   # a file is named by its row: the id rides along, after the columns
            fields.append(model._meta.primary_key)
        for chunk in iterate_batches(query.select(*fields).tuples()):
            names = {i: related_names(model, sheet.columns[i], {row[i] for row in chunk})
                     for i in fk_columns}
            for row in chunk:
                if fk_columns or files:
                    row = list(row)
                    for i in fk_columns:
                        if row[i] is not None:
                            row[i] = names[i].get(row[i])
                    for i in files:
                        row[i] = attachment_url(model, row[-1], sheet.columns[i], row[i])
                    row = row[:len(sheet.columns)]
                sheet.write_values(row)
        return sheet.close()
    who = {c for c in fk_names if c in WHO_AND_WHEN}     # users: attach_related leaves them out
    for chunk in iterate_batches(query):
        if related and fk_names:
            listing.attach_related(model, chunk, fk_names - who)
            for name in who:
                sheet.fk_names[name] = related_names(model, name,
                                                     {r.__data__.get(name) for r in chunk})
        for row in chunk:
            sheet.write_row(row)
    return sheet.close()


def attachment_url(model, row_id, name, stored):
    """The address of a row's stored file (photo, document), to open from the workbook."""
    if not stored:
        return None
    return url_for('uploads.serve', table=model._meta.table_name, row_id=row_id, field=name,
                   _external=True)


def related_names(model, name, ids):
    """{id: name as lists show it} of the rows a foreign-key column points at."""
    target = model._meta.fields[name].rel_model
    pk = target._meta.primary_key
    ids = [i for i in ids if i is not None]
    found = {}
    for start in range(0, len(ids), 500):
        for obj in target.select().where(pk.in_(ids[start:start + 500])):
            found[obj.__data__[pk.name]] = str(obj)    # (a user's get_id() is its login token)
    if target._meta.table_name == 'owner' and found:
        found.update(owner_names_told_apart(target, list(found)))
    elif target._meta.table_name not in NAMED_UNIQUELY and found:
        found.update(rows_told_apart(target, found))
    return found


# Registers whose rows' names are unique (by a unique column, or the unit's address).
NAMED_UNIQUELY = ('project', 'unit', 'contract', 'department', 'contractor', 'app_user')
TELL_APART_LIMIT = 20000


def rows_told_apart(target, found):
    """{id: '2025-06-13 面积差异（#17）'} of linked rows whose name another row of their project
    shares (two complaints received the same day about the same thing): the 编号 tells them
    apart, and the import reads it back (views.importer.References.find)."""
    query = target.live()
    if 'project' in target._meta.fields:
        projects = target.select(target.project).where(target._meta.primary_key.in_(list(found)))
        query = query.where(target.project.in_(projects))
    if query.count() > TELL_APART_LIMIT:
        return {}
    seen = {}
    for row in query:
        key = (row.__data__.get('project'), str(row))
        seen[key] = seen.get(key, 0) + 1
    shared = {name for (_p, name), n in seen.items() if n > 1}
    return {pk: '%s（#%s）' % (name, pk) for pk, name in found.items() if name in shared}


def owner_names_told_apart(owner, ids):
    """{id: '孙涛（证件尾号1248）'} of the owners whose name another owner of their project shares:
    the last four digits of the ID number (or phone), which the masks leave visible, tell them
    apart, and the import reads them back (views.importer.References.find)."""
    rows = list(owner.select(owner.id, owner.project, owner.name, owner.id_number, owner.phone)
                .where(owner.id.in_(ids)).tuples())
    names = {r[2] for r in rows}
    shared = set(owner.select(owner.project, owner.name)
                 .where(owner.name.in_(list(names)) & owner.deleted_at.is_null())
                 .group_by(owner.project, owner.name).having(fn.COUNT(owner.id) > 1).tuples())
    found = {}
    for oid, project_id, name, id_number, phone in rows:
        if (project_id, name) in shared and (id_number or phone):
            found[oid] = '%s（%s尾号%s）' % (name, '证件' if id_number else '电话',
                                          (id_number or phone)[-4:])
    return found


def safe_database_url():
    url = current_app.config.get('KEFU_DATABASE_URL', '')
    if '@' in url:   # never write a password into a file that leaves the building
        url = url.split('://', 1)[0] + '://…@' + url.split('@', 1)[1]
    return url


def write_provenance(workbook, title, filters_text, row_count, extra=(), ws=None):
    """The 说明 sheet: what the file holds, who made it, when, from which database.
    `ws` is a sheet added earlier (to stand first in the workbook) and left empty until now."""
    ws = ws if ws is not None else workbook.add_worksheet('说明')
    bold = workbook.add_format({'bold': True})
    lines = [('导出内容', title),
             ('导出人', '%s（%s）' % (current_user.display_name, current_user.username)),
             ('导出时间', now().strftime('%Y-%m-%d %H:%M:%S')),
             ('数据库', safe_database_url()),
             ('筛选条件', filters_text or '无'),
             ('行数', str(row_count))] + list(extra)
    for r, (k, v) in enumerate(lines):
        ws.write_string(r, 0, str(k), bold)
        ws.write_string(r, 1, str(v))
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)


def _filter_value_text(flt, value):
    options = getattr(flt, 'options', None)
    try:
        options = options() if callable(options) else options
    except Exception:   # a dynamic option list that needs more context than a provenance line
        options = None
    for key, label in options or ():
        if str(key) == str(value):
            return str(label)
    return str(value)


def describe_filters(view):
    """The list's filters, search and sort in words, for the 说明 sheet and the export log."""
    args = view._get_list_extra_args()
    parts = []
    for index, _name, value in args.filters or ():
        flt = view._filters[index]
        parts.append('%s %s %s' % (flt.name, flt.operation(), _filter_value_text(flt, value)))
    if args.search:
        parts.append('搜索「%s」' % args.search)
    if args.sort is not None:
        col = view._get_column_by_idx(args.sort)
        if col:
            parts.append('按「%s」%s排序' % (col[1], '降序' if args.sort_desc else '升序'))
    return '；'.join(str(p) for p in parts)


def list_query(view):
    """The list's own query (filters, search, sort from the query string), without paging."""
    from views import listing
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    return listing.build_query(view, sort[0] if sort else None, args.sort_desc, args.search,
                               args.filters)


def new_workbook():
    fd, path = tempfile.mkstemp(suffix='.xlsx', dir=tmp_dir())
    os.close(fd)
    return path, xlsxwriter.Workbook(path, WORKBOOK_OPTIONS)


def send_workbook(path, filename):
    @after_this_request
    def _cleanup(response):
        try:
            os.unlink(path)
        except OSError:
            pass
        return response
    return send_file(path, as_attachment=True, download_name=filename, mimetype=XLSX_MIMETYPE)


def hidden_masked_fields(model):
    """Personal-data fields this user sees masked: they leave masked in the file too."""
    return [n for n, power in getattr(model._meta, 'masked', {}).items()
            if not current_user.can(power)]


# Bookkeeping of the row itself, not the register's content: never exported.
NOT_EXPORTED = ('deleted_at', 'deleted_by', 'version')
WHO_AND_WHEN = ('created_at', 'created_by', 'updated_at', 'updated_by')


def register_columns(model, shown):
    """Every column of a register's export: the list's columns first, as the list shows them,
    then 编号 (the id, to trace a row back), every other field — what the form holds and the
    derived ones —, and who created and last changed the row, when."""
    columns = list(shown)
    for name in model._meta.sorted_field_names:
        if name not in columns and name not in NOT_EXPORTED + WHO_AND_WHEN:
            columns.append(name)
    return columns + [n for n in WHO_AND_WHEN if n in model._meta.fields and n not in columns]


def export_columns(view):
    """The whole register (`column_export_list`), or the list's columns only with
    `?columns=shown`."""
    if request.args.get('columns') == 'shown':
        return list(view.column_list)
    return list(view.column_export_list or view.column_list)


def export_list(view):
    """`/admin/<table>/export/xlsx/`: the whole register, with the list's filters, search and sort
    (the query string) applied; `?columns=shown` keeps only the columns the list shows."""
    path, filename, _count = write_export(view)
    return send_workbook(path, filename)


def write_export(view, on_progress=None):
    """The export of `view` as asked by the current request, written to a temporary file:
    (path, download name, rows). Also what a background export job runs (views/export_jobs.py)."""
    model = view.model
    query = list_query(view)
    path, workbook = new_workbook()
    try:
        with db.atomic():   # one consistent snapshot (and a server-side cursor on PostgreSQL)
            count = write_query(workbook, sheet_name(view.name_cn), model, query,
                                export_columns(view), view.column_labels,
                                hidden_masked_fields(model))
        filters_text = describe_filters(view)
        write_provenance(workbook, view.name_cn, filters_text, count)
    finally:
        workbook.close()
    record_export(model._meta.table_name, filters_text, count,
                  unmasked=bool(view.unmasked_fields()))
    return path, '%s_%s.xlsx' % (view.name_cn, now().strftime('%Y%m%d_%H%M')), count


def log_value_of(view):
    """Values of a log list's columns as the list shows them (its formatters), as plain text."""
    formatters = view.column_formatters or {}

    def value_of(row, name):
        formatter = formatters.get(name)
        if formatter is not None:
            return formatter(view, None, row, name)
        return row.__data__.get(name, getattr(row, name, None))
    return value_of


def export_log(view):
    """`/admin/change_log/export/xlsx/` and `/admin/export_log/export/xlsx/`: the log lists."""
    model = view.model
    query = list_query(view)
    columns = list(view.column_export_list or view.column_list)
    labels = dict(view.column_labels or {})
    path, workbook = new_workbook()
    try:
        with db.atomic():
            count = write_query(workbook, sheet_name(view.name), model, query, columns, labels,
                                value_of=log_value_of(view), related=False)
        filters_text = describe_filters(view)
        write_provenance(workbook, view.name, filters_text, count)
    finally:
        workbook.close()
    record_export(model._meta.table_name, filters_text, count)
    return send_workbook(path, '%s_%s.xlsx' % (view.name, now().strftime('%Y%m%d_%H%M')))


def record_export(table, filters_text, count, unmasked=False):
    ExportLog.create(table_name=table, user_id=current_user.id, username=current_user.username,
                     at=now(), filters=(filters_text or '')[:2000], row_count=count,
                     unmasked_personal_data=unmasked)


def tmp_dir():
    path = os.path.join(current_app.instance_path, 'tmp')
    os.makedirs(path, exist_ok=True)
    return path
