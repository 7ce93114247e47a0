"""The change log as people read it: who (their name), when (to the second), which register and
which row (named as people name it: 房号, 合同号 …), and per changed field its Chinese label with
the old and new values as the register shows them (choice labels, names of linked rows, 空, dates,
是/否, amounts).

`readable(entries)` resolves a batch of change_log rows with a few queries per batch — users, one
query per register for the rows' names and one per linked register for the values — never a
query per line, so the list, the history tables and the export of a big change log stay fast.
"""
import decimal
import json
from dataclasses import dataclass, field

from flask import url_for
from flask_login import current_user
from peewee import BooleanField, DateTimeField, DecimalField, ForeignKeyField, TextField

from models.base import AttachmentField, ChangeLog, Register, User, all_registers
from rules.master import MASKS

EMPTY = '空'
TEXT_SHOWN = 200            # a long text is cut in the change log (the row keeps it whole)
ACTION_LABELS = dict(ChangeLog.ACTIONS)
SKIPPED = set(Register.AUDIT_FIELDS) | {'id'}
# Tables the change log holds beside the registers.
OTHER_TABLES = {'app_user': (User, '用户'), 'audit_workbook': (None, '项目审计工作簿'),
                'change_log': (None, '变更记录'), 'export_log': (None, '导出记录')}
EXTRA_LABELS = {'projects': '负责项目'}


@dataclass
class Change:
    """One change_log entry as people read it."""
    entry: ChangeLog
    at: str
    person: str
    register: str
    row: str
    row_url: str
    action: str
    lines: list = field(default_factory=list)      # [(field label, old, new)]
    note: str = ''

    def text(self, limit=None):
        """The change in one line of text: 「标签：旧 → 新；…」."""
        parts = []
        for label, old, new in self.lines:
            parts.append('%s：%s' % (label, new) if self.entry.action == 'create'
                         else '%s：%s → %s' % (label, old, new))
        if self.note:
            parts.append(self.note)
        text = '；'.join(parts) or self.action
        return text if limit is None or len(text) <= limit else text[:limit] + '…'


def registers_by_table():
    # A deleted custom register's history still reads with its name and labels.
    found = {m._meta.table_name: (m, m.register_name())
             for m in all_registers(include_retired=True)}
    for table, pair in OTHER_TABLES.items():
        found.setdefault(table, pair)
    return found


def table_label(table):
    return registers_by_table().get(table, (None, table))[1]


def _load(model, ids):
    """{id: row} of `model` (rows in the recycle bin too), their links loaded in one query each."""
    from views.listing import attach_related
    ids = sorted({i for i in ids if isinstance(i, int)})
    found = {}
    pk = model._meta.primary_key
    for start in range(0, len(ids), 500):
        for row in model.select().where(pk.in_(ids[start:start + 500])):
            found[row.get_id()] = row
    if issubclass(model, Register):
        attach_related(model, list(found.values()))
    return found


def _snapshot(model, data):
    """A row rebuilt from a change's JSON (a row purged since): enough to be named."""
    row = model()
    for name, value in (data or {}).items():
        fld = model._meta.fields.get(name)
        if fld is not None:
            row.__data__[fld.name] = value
    return row


def _row_name(model, row):
    if row is None:
        return ''
    try:
        text = str(row)
    except Exception:         # a name that needs a link gone for good: the id still names it
        text = '#%s' % row.get_id()
    unit_field = model._meta.fields.get('unit')
    if isinstance(unit_field, ForeignKeyField) and row.__data__.get('unit'):
        unit = row.__rel__.get('unit')
        unit_name = str(unit) if unit is not None else ''
        if unit_name and unit_name not in text:
            text = '%s %s' % (unit_name, text)
    return text.strip()


class Reader:
    """Resolves batches of change_log rows; names found are kept for the next batch."""

    def __init__(self, user=None):
        self.user = user if user is not None else current_user
        self.tables = registers_by_table()
        self.people = {}
        self.names = {}        # (model, id) -> name

    # ---- batch lookups
    def _people(self, entries):
        wanted = {e.user_id for e in entries if e.user_id is not None} - set(self.people)
        if wanted:
            for user in User.select(User.id, User.display_name, User.username).where(
                    User.id.in_(sorted(wanted))):
                self.people[user.id] = user.display_name or user.username

    def _name_rows(self, model, ids):
        wanted = {i for i in ids if (model, i) not in self.names}
        if wanted:
            rows = _load(model, wanted)
            for i in wanted:
                self.names[(model, i)] = _row_name(model, rows.get(i)) if i in rows else None

    def _prepare(self, entries):
        if len(self.names) > 50000:      # a long export: keep what one batch needs, not all
            self.names.clear()
        self._people(entries)
        rows, links = {}, {}
        for entry in entries:
            model = self.tables.get(entry.table_name, (None, None))[0]
            if model is None:
                continue
            rows.setdefault(model, set()).add(entry.row_id)
            if entry.action not in ('create', 'update'):
                continue
            before, after = _json(entry.before), _json(entry.after)
            for name in _changed(model, entry, before, after):
                fld = model._meta.fields.get(name)
                if isinstance(fld, ForeignKeyField) and name not in SKIPPED:
                    links.setdefault(fld.rel_model, set()).update(
                        v for v in (before.get(name), after.get(name)) if isinstance(v, int))
        for model, ids in rows.items():
            self._name_rows(model, ids)
        for model, ids in links.items():
            self._name_rows(model, ids)

    # ---- one entry
    def read(self, entries):
        entries = list(entries)
        self._prepare(entries)
        return [self._read(e) for e in entries]

    def _read(self, entry):
        model, register = self.tables.get(entry.table_name, (None, entry.table_name))
        before, after = _json(entry.before), _json(entry.after)
        name = self.names.get((model, entry.row_id)) if model is not None else None
        url = ''
        if name is None and model is not None:     # purged: named from what the log kept
            snap = _snapshot(model, before or after)
            name = _row_name(model, snap) if (before or after) else ''
        elif model is not None and issubclass(model, Register) and entry.action != 'purge':
            try:
                url = url_for('%s.details_view' % entry.table_name, id=entry.row_id)
            except Exception:      # a register without a details page
                url = ''
        lines = []
        if entry.action in ('create', 'update'):
            for field_name in _changed(model, entry, before, after):
                lines.append((self.label(model, field_name),
                              self.value(model, field_name, before.get(field_name)),
                              self.value(model, field_name, after.get(field_name))))
        person = self.people.get(entry.user_id) or (
            '系统' if (entry.username or 'system') == 'system' else entry.username)
        return Change(entry=entry, at=entry.at.strftime('%Y-%m-%d %H:%M:%S') if entry.at else '',
                      person=person, register=register, row=name or '#%s' % entry.row_id,
                      row_url=url, action=ACTION_LABELS.get(entry.action, entry.action),
                      lines=lines, note=entry.__data__.get('note') or '')

    @staticmethod
    def label(model, name):
        fld = model._meta.fields.get(name) if model is not None else None
        if fld is not None and fld.verbose_name:
            return fld.verbose_name
        if model is not None:        # a custom field purged since: the label it had
            from models.custom import purged_label
            found = purged_label(model._meta.table_name, name)
            if found:
                return found
        return EXTRA_LABELS.get(name, name)

    def value(self, model, name, raw):
        """`raw` (as the change log keeps it) as the register shows it."""
        if raw is None or raw == '' or raw == []:
            return EMPTY
        fld = model._meta.fields.get(name) if model is not None else None
        if fld is None:
            return '、'.join(str(v) for v in raw) if isinstance(raw, list) else str(raw)
        power = getattr(model._meta, 'masked', {}).get(name)
        if power and not self.user.can(power):
            return MASKS.get(name, lambda v: '****')(str(raw))
        if isinstance(fld, ForeignKeyField):
            found = self.names.get((fld.rel_model, raw))
            return found if found else '#%s（已不存在）' % raw
        if fld.choices:
            return str(dict(fld.choices).get(raw, raw))
        if isinstance(fld, BooleanField):
            return '是' if raw else '否'
        if isinstance(fld, AttachmentField):
            return '（附件）'
        if isinstance(fld, DateTimeField):
            return str(raw).replace('T', ' ')[:19]
        if isinstance(fld, DecimalField):
            try:
                number = decimal.Decimal(str(raw))
            except decimal.InvalidOperation:
                return str(raw)
            return format(number, ',.%df' % fld.decimal_places) if fld.decimal_places else \
                format(number, ',f')
        text = str(raw)
        if isinstance(fld, TextField) and len(text) > TEXT_SHOWN:
            return text[:TEXT_SHOWN] + '…'
        return text


def _json(text):
    try:
        value = json.loads(text or '{}')
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _changed(model, entry, before, after):
    """The fields a create set or an update changed, in the register's field order."""
    if entry.action == 'create':
        names = [n for n, v in after.items() if v not in (None, '', [], False)]
    elif entry.action == 'update':
        names = [n for n in set(before) | set(after) if before.get(n) != after.get(n)]
    else:
        return []
    order = {n: i for i, n in enumerate(model._meta.sorted_field_names)} if model is not None else {}
    return sorted((n for n in names if n not in SKIPPED), key=lambda n: (order.get(n, len(order)), n))


def readable(entries, user=None):
    """[Change] of change_log rows, resolved in one batch."""
    return Reader(user).read(entries)


def describe(entry):
    """One entry in one line of text (a single entry: its own small batch)."""
    return readable([entry])[0].text(limit=300)


__all__ = ['Change', 'Reader', 'readable', 'describe', 'table_label', 'registers_by_table', 'EMPTY']


EXPORT_COLUMNS = ('时间', '操作人', '台账', '记录', '操作', '字段', '原值', '新值')


def export(view):
    """`/admin/change_log/export/xlsx/`: one row per changed field (时间、操作人、台账、记录、操作、
    字段、原值、新值), with the list's filters, search and sort; streamed in batches, each batch
    resolved together."""
    from models.base import db, now
    from views import excel
    query = excel.list_query(view)
    path, workbook = excel.new_workbook()
    reader = Reader()
    try:
        sheet = excel.SheetWriter(workbook, excel.sheet_name(view.name), None, EXPORT_COLUMNS,
                                  {c: c for c in EXPORT_COLUMNS})
        count = 0
        with db.atomic():       # one consistent snapshot (a server-side cursor on PostgreSQL)
            for chunk in excel.iterate_batches(query):
                for change in reader.read(chunk):
                    head = [change.at, change.person, change.register, change.row, change.action]
                    lines = [list(line) for line in change.lines]
                    if change.note:
                        lines.append(['说明', '', change.note])
                    for line in lines or [['', '', '']]:
                        sheet.write_values(head + line)
                    count += 1
        sheet.close()
        filters_text = excel.describe_filters(view)
        excel.write_provenance(workbook, view.name, filters_text, count,
                               extra=[('说明', '每个变更字段一行；「空」表示没有值。')])
    finally:
        workbook.close()
    excel.record_export(view.model._meta.table_name, filters_text, count)
    return excel.send_workbook(path, '%s_%s.xlsx' % (view.name, now().strftime('%Y%m%d_%H%M')))
