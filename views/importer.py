"""Excel in: every register imports from the spreadsheets clerks already keep.

`/admin/<table>/import/template` gives a template (Chinese headers from the form's labels,
dropdowns for choices, an example row). `/admin/<table>/import/` takes an .xlsx (Excel or WPS),
maps its columns by header label, and shows a dry run first: rows to create, rows to update
(matched on the register's `Meta.natural_key`), unchanged rows, and every bad row with its row
number, column and reason. Committing re-reads the kept file and writes every row through
`save_logged` inside ONE write transaction, so the register's rules, the user's project scope
and the change log apply exactly as for the forms, and one bad row changes nothing.

The file is read with openpyxl in read-only mode and processed in chunks, so 50,000 rows fit.
Between dry run and commit the upload waits in instance/tmp under a random name; the session
holds that token, never a path the browser could choose.
"""
import copy
import dataclasses
import datetime
import decimal
import json
import os
import re
import secrets
import time
import zipfile
from dataclasses import dataclass, field as dc_field

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, FloatField,
                    ForeignKeyField, IntegerField, TextField)
from wtforms import HiddenField

from models import jobs
from models.base import AttachmentField, RuleError, db, write_tx
from rules.master import MASKS
from views.base import scope_query
from views.excel import sheet_name, text_width, tmp_dir

CHUNK = 500
SHOWN_ERRORS = 500          # the report lists this many bad rows (all are counted)
SHOWN_SAMPLES = 50          # and this many rows to create / to update
EXAMPLE_MARK = '【示例】'     # the template's example row carries this in 备注 and is skipped
TOKEN_RE = re.compile(r'^[0-9a-f]{32}$')
STALE_SECONDS = 24 * 3600
SESSION_KEY = 'kefu_import'
WAIT_SECONDS = 2.0          # a job done within this shows its outcome at once
UNREADABLE = '导入失败：文件内容无法读取或处理（文件可能已损坏），已记录。请用 Excel 或 WPS 重新保存为 .xlsx 后再试。'

_BLANKS = re.compile(r'[\s\u3000\ufeff\u200b]+')
_PARENS = str.maketrans({'（': '(', '）': ')', '：': ':', '＊': '*'})
_DASHES = re.compile(r'\s*[-－—–_/]\s*')
_DATE_PATTERNS = (
    re.compile(r'^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)?$'),
    re.compile(r'^(\d{4})年(\d{1,2})月(\d{1,2})日?$'),
    re.compile(r'^(\d{4})(\d{2})(\d{2})$'),
)
TRUE_WORDS = {'是', '有', '已', 'y', 'yes', 'true', '1', '√', '✓', 't', '对'}
FALSE_WORDS = {'否', '无', '未', 'n', 'no', 'false', '0', '×', '✗', 'f', '不'}


class ImportRefused(Exception):
    """The file as a whole cannot be imported (not Excel, empty, no known headers, too big)."""


class _BatchFailed(Exception):
    """A row of the commit failed: stop writing (its batch is rolled back, the rest undone)."""


def undo_import(model, note, actor, reason):
    """Undo every row an import wrote (found in the change log by the import's note), newest
    first: a created row is deleted and purged, an updated row gets its values before the import
    back. Each step is logged with the note 撤销导入 and the reason. A row someone else changed
    in the meantime is left as it is and returned among the conflicts.
    Returns (rows undone, ids in conflict)."""
    import json
    from models.base import ChangeLog, Register
    entries = list(ChangeLog.select().where((ChangeLog.table_name == model._meta.table_name) &
                                            (ChangeLog.note == note) &
                                            ChangeLog.action.in_(('create', 'update')))
                   .order_by(ChangeLog.id.desc()))
    why = '撤销导入（%s）' % reason
    undone, conflicts, batch = 0, [], limit('KEFU_IMPORT_BATCH_ROWS')
    for start in range(0, len(entries), batch):
        with write_tx():
            for entry in entries[start:start + batch]:
                after = json.loads(entry.after or '{}')
                row = model.select().where(model._meta.primary_key == entry.row_id).first()
                if row is None or row.version != after.get('version') or row.deleted_at is not None:
                    conflicts.append(entry.row_id)
                    continue
                try:
                    if entry.action == 'create':
                        row.delete_logged(actor, note=why)
                        row.purge_logged(actor, note=why)
                    else:
                        for name, value in json.loads(entry.before or '{}').items():
                            fld = model._meta.fields.get(name)
                            if fld is None or name in ('id',) + Register.AUDIT_FIELDS:
                                continue
                            row.__data__[name] = _stored_value(fld, value)
                        row.save_logged(actor, expected_version=row.version, note=why)
                except RuleError:
                    conflicts.append(entry.row_id)
                    continue
                undone += 1
    return undone, conflicts


def _stored_value(fld, value):
    """A change-log value (JSON) back as the field's Python value."""
    if value is None:
        return None
    if isinstance(fld, DateTimeField):
        return datetime.datetime.fromisoformat(value)
    if isinstance(fld, DateField):
        return datetime.date.fromisoformat(value)
    if isinstance(fld, DecimalField):
        return decimal.Decimal(value)
    return value


# What one import may cost (each a config key; see `limit`). A hostile .xlsx is refused by its
# zip directory before openpyxl parses it: a few hundred KB may unpack to millions of strings.
LIMITS = {
    'KEFU_IMPORT_MAX_BYTES': 50 * 1024 * 1024,          # the uploaded file
    'KEFU_IMPORT_MAX_ROWS': 20000,                      # data rows in one file
    'KEFU_IMPORT_MAX_SECONDS': 120,                     # one dry run or commit
    'KEFU_IMPORT_MAX_UNPACKED_BYTES': 200 * 1024 * 1024,    # all parts of the zip, unpacked
    'KEFU_IMPORT_MAX_ENTRIES': 1000,                    # parts in the zip
    'KEFU_IMPORT_MAX_RATIO': 200,                       # unpacked ÷ packed of one large part
    'KEFU_IMPORT_MAX_SHARED_STRINGS': 1000000,          # entries of xl/sharedStrings.xml
    'KEFU_IMPORT_BATCH_ROWS': 50,                       # rows per write transaction of a commit
}
SPLIT_HINT = '请把文件拆成几个较小的文件（每个文件保留表头行，不超过 %d 行数据）分别导入。'


def limit(name):
    try:
        value = current_app.config.get(name)
    except RuntimeError:        # outside an app (a job runner may call the importer)
        value = None
    return int(value or LIMITS[name])


class FormulaWithoutValue:
    """A formula cell the file holds no computed value for (saved by a generator, not by Excel)."""

    def __init__(self, formula):
        self.formula = formula or ''

    def __str__(self):
        return '=' + self.formula


# --------------------------------------------------------------------------- what can be imported

def header_key(text):
    """A header as compared: no blanks anywhere, ASCII parentheses, no required-mark '*'."""
    return _BLANKS.sub('', str(text)).translate(_PARENS).strip('*')


def importable_columns(view):
    """The register's form fields (what a clerk may type, so what may be imported), in the list's
    column order first, the rest after and 备注 last, so a template reads like the list."""
    fields = view.model._meta.fields
    typed = [n for n in view.form_columns
             if n in fields and not isinstance(fields[n], AttachmentField)]
    if 'project' in fields and 'project' not in typed:
        typed.insert(0, 'project')      # derived from the row it belongs to; in a file it says
                                        # in which project the row's links are looked up
    ordered = [n for n in ('project',) + tuple(view.column_list) if n in typed]
    ordered = list(dict.fromkeys(ordered))
    ordered += [n for n in typed if n not in ordered and n != 'remarks']
    if 'remarks' in typed:
        ordered.append('remarks')
    return ordered


def column_label(view, name):
    return str(view.column_labels.get(name) or view.model.label(name))


def empty(value):
    return value is None or (isinstance(value, str) and not _BLANKS.sub('', value))


def cell_text(value):
    """A cell as text: 101.0 → '101', dates → 2026-01-05, strings stripped."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return '是' if value else '否'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%d') if value.time() == datetime.time() else \
            value.strftime('%Y-%m-%d %H:%M:%S')
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).replace('\u3000', ' ').strip()


def parse_date(value):
    """A date from an Excel date, an Excel serial number (WPS files without a date format) or
    text such as 2026-01-05, 2026/1/5, 2026.1.5, 2026年1月5日, 20260105. None when unreadable."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 2958466:     # Excel's own range (1900-01-01 … 9999-12-31)
            from openpyxl.utils.datetime import from_excel
            try:
                value = from_excel(value)
            except (ValueError, OverflowError, TypeError):
                return None
            if isinstance(value, datetime.datetime):
                return value.date()
            return value if isinstance(value, datetime.date) else None
        return None
    text = cell_text(value)
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                return None
    return None


def parse_datetime(value):
    if isinstance(value, datetime.datetime):
        return value.replace(microsecond=0)
    text = cell_text(value)
    for fmt in ('%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M'):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    day = parse_date(value)
    return datetime.datetime(day.year, day.month, day.day) if day else None


def parse_decimal(value, places):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        number = decimal.Decimal(str(value))
    else:
        text = cell_text(value).replace(',', '').replace('，', '').replace('元', '') \
            .replace('¥', '').replace('￥', '').replace('㎡', '').strip()
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            return None
    if not number.is_finite():
        return None
    if places is not None:
        number = number.quantize(decimal.Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
    return number


def parse_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = cell_text(value).replace(',', '')
    return int(text) if re.match(r'^[-+]?\d+$', text) else None


def parse_bool(value):
    if isinstance(value, bool):
        return value
    text = cell_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None


# --------------------------------------------------------------------------- foreign keys by name

def _column_letter(index):
    from openpyxl.utils import get_column_letter
    return get_column_letter(index + 1)


def unit_name(building, entrance, room):
    return '%s-%s-%s' % (building, entrance, room)


def _name_key(text):
    return _DASHES.sub('-', _BLANKS.sub(' ', str(text)).strip())


OWNER_TAIL = re.compile(r'^(?P<name>.+?)\s*[（(](?P<kind>证件|电话)尾号(?P<tail>\w{4})[）)]$')


ROW_NUMBER = re.compile(r'^(?P<name>.+?)\s*[（(]#(?P<id>\d{1,9})[）)]$')


class References:
    """Finds the rows a file names: project by name or code, unit as 楼栋-单元-房号 within the
    row's project, owner by name or ID number within the project, contractor and department by
    name, any other register by the name it shows in lists. Only rows the user may see."""

    def __init__(self, user):
        from models.master import Project
        self.user = user
        self.cache = {}
        self.projects_by_code, self.projects_by_name = {}, {}
        for pid, code, name in scope_query(Project, Project.select(Project.id, Project.code,
                                                                   Project.name), user).tuples():
            self.projects_by_code[_name_key(code)] = pid
            self.projects_by_name.setdefault(_name_key(name), []).append(pid)
        self.project_names = {}

    def project(self, text):
        """(project id, error)."""
        key = _name_key(text)
        if key in self.projects_by_code:
            return self.projects_by_code[key], None
        found = self.projects_by_name.get(key, [])
        if len(found) == 1:
            return found[0], None
        if len(found) > 1:
            return None, '项目名称「%s」不唯一，请改填项目编码。' % text
        return None, '项目「%s」不存在或不是您负责的项目。' % text

    def _names(self, target, project_id):
        """{name: [ids]} of the live rows of `target` the user may see (in the project)."""
        cache_key = (target, project_id)
        if cache_key in self.cache:
            return self.cache[cache_key]
        names = {}
        table = target._meta.table_name
        query = scope_query(target, target.select(), self.user)
        scoped = 'project' in target._meta.fields
        if scoped and project_id is not None:
            query = query.where(target.project == project_id)
        if table == 'unit':
            rows = query.select(target.id, target.building, target.entrance, target.room).tuples()
            for uid, building, entrance, room in rows:
                names.setdefault(_name_key(unit_name(building, entrance, room)), []).append(uid)
        elif table == 'owner':
            rows = query.select(target.id, target.name, target.id_number).tuples()
            for oid, name, id_number in rows:
                names.setdefault(_name_key(name), []).append(oid)
                if id_number:
                    names.setdefault(_name_key(id_number).upper(), []).append(oid)
        elif table == 'app_user':     # a person (custom 人员 fields): by name, login or both
            for uid, username, display in query.select(target.id, target.username,
                                                       target.display_name).tuples():
                for key in (display, username, '%s（%s）' % (display, username)):
                    names.setdefault(_name_key(key), []).append(uid)
        elif table == 'project':
            for pid, code, name in query.select(target.id, target.code, target.name).tuples():
                names.setdefault(_name_key(code), []).append(pid)
                names.setdefault(_name_key(name), []).append(pid)
        else:
            for row in query:
                names.setdefault(_name_key(str(row)), []).append(row.get_id())
        for key in names:
            names[key] = sorted(set(names[key]))
        self.cache[cache_key] = names
        return names

    def find(self, target, text, project_id, label):
        """(id, error) of the row of `target` named `text`; a unit as people write it
        (「3栋2单元101」「3#2-101」「3-2-101」, rules.address), as the pickers take it."""
        if target._meta.table_name == 'unit':
            found = self._find_unit(target, text, project_id, label)
            if found is not None:
                return found
        tail = OWNER_TAIL.match(str(text)) if target._meta.table_name == 'owner' else None
        if tail:    # 「孙涛（证件尾号1248）」: two owners of one name, as exports tell them apart
            ids = self._names(target, project_id).get(_name_key(tail.group('name')), [])
            column = target.id_number if tail.group('kind') == '证件' else target.phone
            found = [r[0] for r in target.select(target.id).where(
                target.id.in_(ids or [0]) & column.endswith(tail.group('tail'))).tuples()]
            if len(found) == 1:
                return found[0], None
        number = ROW_NUMBER.match(str(text))
        if number:  # 「2025-06-13 面积差异（#17）」: rows of one name, as exports tell them apart
            ids = self._names(target, project_id).get(_name_key(number.group('name')), [])
            if int(number.group('id')) in ids:
                return int(number.group('id')), None
        key = _name_key(text)
        names = self._names(target, project_id)
        found = names.get(key) or names.get(key.upper()) or []
        if len(found) == 1:
            return found[0], None
        where = '本项目中' if 'project' in target._meta.fields and project_id else ''
        if len(found) > 1:
            hint = '，请改填证件号码' if target._meta.table_name == 'owner' else ''
            return None, '「%s」%s有 %d 条名为「%s」的记录，无法确定是哪一条%s。' % (
                label, where, len(found), text, hint)
        target_name = getattr(target._meta, 'verbose_name', target._meta.table_name)
        fmt = '（格式：楼栋-单元-房号）' if target._meta.table_name == 'unit' else ''
        return None, '%s找不到%s「%s」%s。' % (where, target_name, text, fmt)


    def _find_unit(self, target, text, project_id, label):
        """(id, error) of the unit an address names, or None when `text` is not a full address."""
        from rules.address import parse_address, unit_key
        address = parse_address(text)
        if address is None or not address.full:
            return None
        cache_key = ('unit-keys', project_id)
        if cache_key not in self.cache:
            query = scope_query(target, target.select(target.id, target.building, target.entrance,
                                                      target.room), self.user)
            if project_id is not None:
                query = query.where(target.project == project_id)
            keys = {}
            for uid, building, entrance, room in query.tuples():
                b, e, r = unit_key(building, entrance, room)
                keys.setdefault((b, e, r), []).append(uid)
                keys.setdefault((b, None, r), []).append(uid)
            self.cache[cache_key] = keys
        found = self.cache[cache_key].get((address.building, address.entrance, address.room), [])
        where = '本项目中' if project_id else ''
        if len(found) == 1:
            return found[0], None
        if len(found) > 1:
            return None, '「%s」%s有 %d 户「%s」（不同单元），请写明单元，如 3栋1单元1602。' % (
                label, where, len(found), text)
        return None, '%s找不到房源「%s」（可写作 3栋1单元1602、3#1-1602 或 3-1-1602）。' % (where, text)


# --------------------------------------------------------------------------- the report

@dataclass
class ImportReport:
    register: str = ''
    filename: str = ''
    columns: list = dc_field(default_factory=list)          # labels mapped
    ignored: list = dc_field(default_factory=list)          # headers not imported, with why
    notes: list = dc_field(default_factory=list)
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list = dc_field(default_factory=list)           # (row, column, message)
    creates: list = dc_field(default_factory=list)          # (row, summary)
    updates: list = dc_field(default_factory=list)          # (row, key, [(label, old, new)])
    seconds: float = 0.0
    committed: bool = False

    def error(self, row_no, column, message):
        self.error_count += 1
        if len(self.errors) < SHOWN_ERRORS:
            self.errors.append((row_no, column or '（整行）', message))

    @property
    def ok(self):
        return self.error_count == 0

    @property
    def changes(self):
        return self.created + self.updated


# --------------------------------------------------------------------------- reading the file

def open_sheet(path):
    """(workbook, first worksheet) in read-only mode, or ImportRefused with the reason."""
    import openpyxl
    with open(path, 'rb') as fh:
        head = fh.read(8)
    if not head:
        raise ImportRefused('上传的文件是空的。')
    if head.startswith(b'\xd0\xcf\x11\xe0'):
        raise ImportRefused('这是旧版 Excel（.xls）文件：请在 Excel 或 WPS 中“另存为 .xlsx”后再导入。')
    if not head.startswith(b'PK'):
        raise ImportRefused('上传的文件不是 Excel（.xlsx）文件。请上传用 Excel 或 WPS 保存的 .xlsx 文件。')
    check_archive(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, IndexError) as exc:
        raise ImportRefused('无法读取该文件：它不是有效的 .xlsx 文件（%s）。' % type(exc).__name__)
    except Exception as exc:   # openpyxl raises many kinds on a damaged file; none is the user's 500
        current_app.logger.info('unreadable import file: %r', exc)
        raise ImportRefused('无法读取该文件：它不是有效的 .xlsx 文件。')
    sheets = [ws for ws in workbook.worksheets if getattr(ws, 'sheet_state', 'visible') == 'visible'] \
        or workbook.worksheets
    if not sheets:
        workbook.close()
        raise ImportRefused('文件中没有工作表。')
    sheet = sheets[0]
    if hasattr(sheet, 'reset_dimensions'):
        # WPS and some generators write a wrong <dimension>; read every row that is there.
        sheet.reset_dimensions()
    return workbook, sheet


_SHARED_STRING = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?si[\s/>]')
TOO_BIG = '文件内容过大（%s），超出一次导入的上限，已拒绝。'


def check_archive(path):
    """Refuse a zip that would unpack past the limits, before anything parses it. The sizes in
    the zip's directory bind: Python's zipfile never returns more than an entry declares."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportRefused('无法读取该文件：它不是有效的 .xlsx 文件（%s）。' % type(exc).__name__)
    with archive:
        entries = archive.infolist()
        if len(entries) > limit('KEFU_IMPORT_MAX_ENTRIES'):
            raise ImportRefused(TOO_BIG % ('压缩包内有 %d 个部件' % len(entries)))
        total = sum(e.file_size for e in entries)
        if total > limit('KEFU_IMPORT_MAX_UNPACKED_BYTES'):
            raise ImportRefused(TOO_BIG % ('解压后 %s' % _size_text(total)))
        ratio = limit('KEFU_IMPORT_MAX_RATIO')
        for entry in entries:
            if entry.file_size > 1024 * 1024 and entry.file_size > ratio * max(entry.compress_size, 1):
                raise ImportRefused(TOO_BIG % ('「%s」压缩比异常：%s 解压为 %s' % (
                    entry.filename[:60], _size_text(entry.compress_size), _size_text(entry.file_size))))
        shared = next((e for e in entries if e.filename.lower() == 'xl/sharedstrings.xml'), None)
        if shared is not None:
            most = limit('KEFU_IMPORT_MAX_SHARED_STRINGS')
            count, tail = 0, b''
            try:
                with archive.open(shared) as fh:
                    while True:
                        block = fh.read(1024 * 1024)
                        if not block:
                            break
                        text = tail + block
                        # a tag cut at the block's end is counted in the next block
                        cut = max(0, len(text) - 64)
                        count += sum(1 for m in _SHARED_STRING.finditer(text) if m.start() < cut)
                        tail = text[cut:]
                        if count > most:
                            raise ImportRefused(TOO_BIG % ('共享字符串超过 %d 条' % most))
                    count += len(_SHARED_STRING.findall(tail))
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                raise ImportRefused('无法读取该文件：它不是有效的 .xlsx 文件（%s）。' % type(exc).__name__)
            if count > most:
                raise ImportRefused(TOO_BIG % ('共享字符串超过 %d 条' % most))


def sheet_rows(sheet):
    """The values of each row of a read-only sheet (row 1 first; a missing row is empty), as
    openpyxl's `iter_rows(values_only=True)` gives them, except that a formula cell saved without
    its computed value is a `FormulaWithoutValue`, not an empty cell."""
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            if cell['value'] is None and element.find(VALUE_TAG) is None:
                formula = element.find(FORMULA_TAG)
                if formula is not None and element.get('t') != 'inlineStr':
                    cell['value'] = FormulaWithoutValue(formula.text)
            return cell

    workbook = sheet.parent
    source = sheet._get_source()
    try:
        parser = Parser(source, sheet._shared_strings, data_only=True, epoch=workbook.epoch,
                        date_formats=workbook._date_formats,
                        timedelta_formats=workbook._timedelta_formats)
        expected = 1
        for row_no, cells in parser.parse():
            if row_no < expected:
                continue        # a repeated row number: openpyxl keeps the first as well
            while expected < row_no:
                yield ()
                expected += 1
            values = [None] * max((c['column'] for c in cells), default=0)
            for c in cells:
                values[c['column'] - 1] = c['value']
            yield tuple(values)
            expected = row_no + 1
    finally:
        source.close()


class Importer:
    """Maps, checks and (when committing) writes the rows of one uploaded file."""

    def __init__(self, view, actor):
        meta = view.model._meta
        self.view, self.model, self.actor = view, view.model, actor
        self.columns = importable_columns(view)
        self.labels = {n: column_label(view, n) for n in self.columns}
        self.fields = {n: meta.fields[n] for n in self.columns}
        self.hidden = {n for n, power in getattr(meta, 'masked', {}).items() if not actor.can(power)}
        self.natural_key = tuple(getattr(meta, 'natural_key', ()) or ())
        self.scoped = 'project' in meta.fields
        self.refs = References(actor)
        self.key_index = {}
        # A job running the import reports progress here: on_progress(rows read, rows expected).
        self.on_progress = None
        self.expected = 0
        # The change-log note of every row this import writes: what finds them to undo them.
        self.note = '导入 %s' % secrets.token_hex(6)

    # ---------------------------------------------------------------- headers
    def map_headers(self, row):
        """{column index: field} for the header row; also what was left out and why."""
        wanted = {}
        for name in self.columns:
            wanted.setdefault(header_key(self.labels[name]), name)
            wanted.setdefault(header_key(name), name)
        known_elsewhere = {header_key(v): v for v in self.view.column_labels.values() if v}
        mapping, ignored, seen = {}, [], set()
        for index, value in enumerate(row):
            if empty(value):
                continue
            key = header_key(value)
            name = wanted.get(key)
            if name is None:
                why = '只读或自动计算，不导入' if key in known_elsewhere else '不是本台账的列，已忽略'
                ignored.append((cell_text(value), why))
            elif name in seen:
                ignored.append((cell_text(value), '重复的列，只取第一列'))
            else:
                mapping[index] = name
                seen.add(name)
        return mapping, ignored

    def find_header(self, rows):
        """The header row is the first of the first ten rows with a known column name."""
        for offset, row in enumerate(rows):
            mapping, ignored = self.map_headers(row)
            if mapping:
                return offset + 1, mapping, ignored
            if offset >= 9:
                break
        return None, {}, []

    # ---------------------------------------------------------------- cells
    def parse(self, name, raw):
        """(value, error) of one non-empty cell; foreign keys stay text until the project is known."""
        fld = self.fields[name]
        if isinstance(fld, ForeignKeyField):
            return cell_text(raw), None
        if fld.choices:
            text = cell_text(raw)
            by_label = {str(c[1]): c[0] for c in fld.choices}
            by_value = {str(c[0]): c[0] for c in fld.choices}
            if text in by_value:
                return by_value[text], None
            if text in by_label:
                return by_label[text], None
            return None, '「%s」不在可选范围内（%s）。' % (text, '、'.join(str(c[1]) for c in fld.choices))
        if isinstance(fld, DateTimeField):
            value = parse_datetime(raw)
            return (value, None) if value else (None, '「%s」不是有效的日期时间，格式如 2026-01-05 09:30。'
                                                 % cell_text(raw))
        if isinstance(fld, DateField):
            value = parse_date(raw)
            return (value, None) if value else (None, '「%s」不是有效的日期，格式如 2026-01-05。'
                                                 % cell_text(raw))
        if isinstance(fld, BooleanField):
            value = parse_bool(raw)
            return (value, None) if value is not None else (None, '「%s」应填“是”或“否”。'
                                                            % cell_text(raw))
        if isinstance(fld, DecimalField):
            value = parse_decimal(raw, fld.decimal_places)
            if value is None:
                return None, '「%s」不是数字。' % cell_text(raw)
            limit = decimal.Decimal(10) ** ((fld.max_digits or 30) - (fld.decimal_places or 0))
            if abs(value) >= limit:
                return None, '「%s」超出允许的范围。' % cell_text(raw)
            return value, None
        if isinstance(fld, IntegerField):
            value = parse_int(raw)
            if value is None or abs(value) > 2 ** 31 - 1:
                return None, '「%s」不是整数。' % cell_text(raw)
            return value, None
        if isinstance(fld, FloatField):
            value = parse_decimal(raw, None)
            return (float(value), None) if value is not None else (None, '「%s」不是数字。' % cell_text(raw))
        text = cell_text(raw) if not isinstance(raw, str) else raw.strip()
        if isinstance(fld, CharField) and '\n' in text and not isinstance(fld, TextField):
            text = ' '.join(text.split())
        return text, None

    # ---------------------------------------------------------------- natural key
    def _norm(self, name, value):
        if value is None:
            return None
        if isinstance(value, str):
            value = value.strip()
            return value or None
        if isinstance(value, decimal.Decimal):
            return value.normalize()
        return value

    def _key_rows(self, project_id):
        """{key: [(id, project id, deleted)]} of the stored rows, loaded once per project."""
        by_project = self.scoped and 'project' in self.natural_key
        bucket = project_id if by_project else '*'
        if bucket in self.key_index:
            return self.key_index[bucket]
        model = self.model
        fields = [model._meta.fields[n] for n in self.natural_key]
        extra = [model.project] if self.scoped else []
        query = model.select(model._meta.primary_key, model.deleted_at, *(extra + fields))
        if by_project:
            query = query.where(model.project == project_id)
        index, masked_index = {}, {}
        hidden_keys = [i for i, n in enumerate(self.natural_key) if n in self.hidden]
        for values in query.tuples().iterator():
            pk, deleted = values[0], values[1]
            pid = values[2] if self.scoped else None
            key_values = values[2 + len(extra):]
            key = tuple(self._norm(n, v) for n, v in zip(self.natural_key, key_values))
            index.setdefault(key, []).append((pk, pid, deleted is not None))
            if hidden_keys:
                masked = list(key)
                for i in hidden_keys:
                    if masked[i]:
                        masked[i] = MASKS.get(self.natural_key[i], lambda v: '****')(masked[i])
                masked_index.setdefault(tuple(masked), []).append((pk, pid, deleted is not None))
        self.key_index[bucket] = (index, masked_index)
        return index, masked_index

    def match(self, values, present):
        """(existing id or None, error) for a row's natural key."""
        if not self.natural_key or not all(n in present for n in self.natural_key):
            return None, None
        key = tuple(self._norm(n, values.get(n)) for n in self.natural_key)
        index, masked_index = self._key_rows(values.get('project'))
        found = index.get(key, [])
        masked_key = any(n in self.hidden and isinstance(values.get(n), str) and '*' in values[n]
                         for n in self.natural_key)
        if masked_key:
            found = masked_index.get(key, [])
        live = [f for f in found if not f[2]]
        if len(live) > 1:
            live = self._narrow(live, values, present)
        if len(live) > 1:
            return None, '已有 %d 条记录与本行的%s相同，无法确定更新哪一条。' % (
                len(live), self.key_text())
        if live:
            pk, pid, _ = live[0]
            if self.scoped and not self.actor.may_see_project(pid):
                return None, '%s与您无权操作的项目中的记录相同，不能导入。' % self.key_text()
            if self.model._meta.table_name == 'project' and not self.actor.may_see_project(pk):
                return None, '%s与您无权操作的项目相同，不能导入。' % self.key_text()
            return pk, None
        if found:
            return None, '%s与回收站中的一条记录相同：请先恢复该记录再导入。' % self.key_text()
        if masked_key:
            return None, '「%s」已遮蔽，找不到对应的记录；新增时请填写完整号码。' % '、'.join(
                self.labels.get(n, n) for n in self.natural_key if n in self.hidden)
        return None, None

    def _narrow(self, candidates, values, present):
        """Of several rows sharing a key (e.g. a masked ID number), the one the row's other
        cells describe exactly, if there is just one."""
        ids = [c[0] for c in candidates]
        rows = self.model.select().where(self.model._meta.primary_key.in_(ids))
        same = {row.get_id() for row in rows if not self.differences(row, values, present)}
        narrowed = [c for c in candidates if c[0] in same]
        return narrowed if len(narrowed) == 1 else candidates

    def key_text(self):
        return '「%s」' % '+'.join(self.labels.get(n, self.model.label(n)) for n in self.natural_key)

    def key_of(self, values):
        return tuple(self._norm(n, values.get(n)) for n in self.natural_key)

    # ---------------------------------------------------------------- rows
    def read_values(self, row_no, cells, mapping, report):
        """{field: value} of one row, or None after reporting its errors."""
        values, present, bad, texts = {}, set(mapping.values()), False, {}
        for index, name in mapping.items():
            raw = cells[index] if index < len(cells) else None
            if isinstance(raw, FormulaWithoutValue):
                report.error(row_no, self.labels[name], (
                    '单元格 %s%d 是公式「%s」，但文件中没有保存它的计算结果，无法导入本行。请在 Excel 或 WPS '
                    '中打开文件、重新计算并保存，或把该列改为“粘贴为数值”。') % (
                    _column_letter(index), row_no, str(raw)[:80]))
                bad = True
                continue
            if empty(raw):
                values[name] = None
                continue
            value, error = self.parse(name, raw)
            if error:
                report.error(row_no, self.labels[name], error)
                bad = True
            else:
                values[name] = value
                texts[name] = cell_text(raw)
        if self.scoped and 'project' in self.fields:    # else derived from the row it belongs to
            if values.get('project') is None and 'project' in present:
                report.error(row_no, self.labels['project'], '「项目」不能为空。')
                return None
            if 'project' not in present:
                ids = self.actor.project_ids
                if ids is not None and len(ids) == 1:
                    values['project'] = ids[0]
                    present.add('project')
                else:
                    report.error(row_no, '项目', '文件缺少「项目」列。')
                    return None
            else:
                pid, error = self.refs.project(values['project'])
                if error:
                    report.error(row_no, self.labels['project'], error)
                    return None
                values['project'] = pid
        for name in present:
            fld = self.fields.get(name)
            if not isinstance(fld, ForeignKeyField) or name == 'project' or values.get(name) is None:
                continue
            target_id, error = self.refs.find(fld.rel_model, values[name], values.get('project'),
                                              self.labels[name])
            if error:
                report.error(row_no, self.labels[name], error)
                bad = True
            else:
                values[name] = target_id
        if bad:
            return None
        return values, present, texts

    def differences(self, row, values, present):
        """[(field, old, new)] the file would change on a stored row."""
        found = []
        for name in present:
            if name in self.hidden or name not in self.fields:
                continue
            new = values.get(name)
            old = row.__data__.get(name)
            if self._norm(name, new) == self._norm(name, old):
                continue
            if new is None and not self.fields[name].null:
                continue     # an empty cell never erases a required value
            found.append((name, old, new))
        return found

    def describe(self, name, value):
        if value is None or value == '':
            return '（空）'
        fld = self.fields.get(name)
        if isinstance(fld, ForeignKeyField):
            target = fld.rel_model.get_or_none(fld.rel_model._meta.primary_key == value)
            return str(target) if target is not None else str(value)
        if isinstance(value, bool):
            return '是' if value else '否'
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)

    def summary(self, values, texts):
        parts = []
        for name in (self.natural_key or self.columns[:3]):
            if name in texts:
                parts.append('%s：%s' % (self.labels.get(name, name), texts[name]))
        return '；'.join(parts) or '；'.join('%s：%s' % (self.labels[n], t)
                                           for n, t in list(texts.items())[:3])

    def new_row(self, values, present):
        row = self.model()
        for name in present:
            value = values.get(name)
            if value is None and self.fields[name].default is not None:
                continue     # an empty cell on a new row takes the register's default
            if name in self.hidden and isinstance(value, str) and '*' in value:
                continue     # a masked value from an export is not the real one: never stored
            setattr(row, name, value)
        return row

    def problems_of(self, row, before):
        """The register's own rules for a row, without writing (the dry run)."""
        row._before_row = before
        row._actor = self.actor
        row.derive()
        return list(row.problems(self.actor))

    def report_problems(self, row_no, problems, report):
        for fld, message in problems:
            column = self.labels.get(fld) or (column_label(self.view, fld) if fld else None)
            report.error(row_no, column, message)

    def run(self, path, commit=False, filename=''):
        """Dry run (commit=False) or the all-or-nothing commit of the file at `path`."""
        started = time.perf_counter()
        report = ImportReport(register=self.view.name_cn, filename=filename)
        workbook, sheet = open_sheet(path)
        try:
            rows = sheet_rows(sheet)
            head = []
            for row in rows:
                head.append(row)
                if len(head) >= 10:
                    break
            if not any(any(not empty(v) for v in r) for r in head):
                raise ImportRefused('文件是空的：第一个工作表中没有任何内容。')
            header_row, mapping, ignored = self.find_header(head)
            if not mapping:
                raise ImportRefused('没有找到可识别的表头：前 10 行中没有本台账的列名（如 %s）。'
                                    '请先下载导入模板，按模板的表头填写。' %
                                    '、'.join('「%s」' % self.labels[n] for n in self.columns[:4]))
            report.columns = [self.labels[n] for n in mapping.values()]
            report.ignored = ignored
            present = set(mapping.values())
            if self.natural_key and not all(n in present or (n == 'project' and self._one_project())
                                            for n in self.natural_key):
                report.notes.append('文件缺少%s中的列，无法匹配已有记录：所有行都将作为新记录。'
                                    % self.key_text())
            hidden_present = sorted(self.hidden & present)
            if hidden_present:
                report.notes.append('您无权查看%s，已有记录的这些列不会被修改。' %
                                    '、'.join('「%s」' % self.labels[n] for n in hidden_present))
            data = self._data_rows(head[header_row:], rows, header_row)
            self.expected = max(0, (getattr(sheet, 'max_row', None) or 0) - header_row - 1)
            if commit:
                self._commit(data, mapping, report)
            else:
                with db.atomic() as tx:       # nothing a rule reads may be left written
                    self._process(data, mapping, report, commit=False)
                    tx.rollback()
            if report.total == 0:
                raise ImportRefused('文件中没有数据行：表头下面是空的。')
            report.errors.sort(key=lambda e: e[0])      # row order, whatever step found them
        finally:
            workbook.close()
        report.seconds = time.perf_counter() - started
        return report

    def _one_project(self):
        ids = self.actor.project_ids
        return ids is not None and len(ids) == 1

    def _data_rows(self, buffered, rest, header_row):
        row_no = header_row
        for source in (buffered, rest):
            for cells in source:
                row_no += 1
                yield row_no, cells

    def _commit(self, data, mapping, report):
        """Write in batches (KEFU_IMPORT_BATCH_ROWS rows, each batch one short write
        transaction), so other clerks' saves get the write lock between batches instead of
        waiting for the whole file. The register never ends half-imported: when a row fails, its
        batch is rolled back by the database and the batches already written are undone
        (`undo_import`), each step in the change log with the reason."""
        try:
            self._process(data, mapping, report, commit=True)
        except _BatchFailed:
            pass
        except BaseException:
            undo_import(self.model, self.note, self.actor, '导入中断')
            raise
        if report.ok:
            report.committed = True
            return
        undone, conflicts = undo_import(self.model, self.note, self.actor,
                                        '第 %d 行出错' % report.errors[0][0] if report.errors else '出错')
        if undone:
            report.notes.append('导入在出错前已写入的 %d 条记录已撤销（变更记录中注明“撤销导入”）。' % undone)
        for row_id in conflicts:
            report.notes.append('记录 #%s 在导入期间已被他人修改，未撤销，请核对。' % row_id)
        report.created = report.updated = 0

    def _process(self, data, mapping, report, commit):
        seen_keys = {}
        remarks_index = next((i for i, n in mapping.items() if n == 'remarks'), None)
        chunk = []
        most_rows, deadline = limit('KEFU_IMPORT_MAX_ROWS'), time.monotonic() + limit(
            'KEFU_IMPORT_MAX_SECONDS')

        def flush():
            if commit:
                try:
                    with write_tx():        # one batch: written whole, or rolled back whole
                        self._flush(chunk, report, commit)
                        if not report.ok:
                            raise _BatchFailed()
                finally:
                    chunk.clear()
            else:
                self._flush(chunk, report, commit)
                chunk.clear()

        for row_no, cells in data:
            cells = tuple(cells or ())
            if all(empty(v) for v in cells):
                continue
            if remarks_index is not None and remarks_index < len(cells) and \
                    isinstance(cells[remarks_index], str) and \
                    cells[remarks_index].strip().startswith(EXAMPLE_MARK):
                continue
            report.total += 1
            if self.on_progress is not None and report.total % 50 == 0:
                self.on_progress(report.total, max(self.expected, report.total))
            if commit and not report.ok:
                raise _BatchFailed()        # stop at the first bad row: nothing more is written
            if report.total > most_rows:
                raise ImportRefused('文件的数据超过 %d 行：一次最多导入 %d 行。' % (most_rows, most_rows)
                                    + SPLIT_HINT % most_rows)
            if report.total % 100 == 0 and time.monotonic() > deadline:
                raise ImportRefused('导入处理超过 %d 秒，已中止，所有数据均未改动。' % limit(
                    'KEFU_IMPORT_MAX_SECONDS') + SPLIT_HINT % min(most_rows, report.total // 2 or 1))
            parsed = self.read_values(row_no, cells, mapping, report)
            if parsed is None:
                continue
            values, present, texts = parsed
            if self.natural_key and all(n in present for n in self.natural_key):
                key = self.key_of(values)
                if key in seen_keys:
                    report.error(row_no, '+'.join(self.labels.get(n, n) for n in self.natural_key),
                                 '与第 %d 行重复（%s相同）。' % (seen_keys[key], self.key_text()))
                    continue
                seen_keys[key] = row_no
            existing_id, error = self.match(values, present)
            if error:
                report.error(row_no, None, error)
                continue
            chunk.append((row_no, values, present, texts, existing_id))
            if len(chunk) >= (limit('KEFU_IMPORT_BATCH_ROWS') if commit else CHUNK):
                flush()
        flush()

    def may(self, action, row_no, report):
        """The power the register's form asks for this action (RegisterView.power_for)."""
        if self.actor.can(self.view.power_for(action)):
            return True
        report.error(row_no, None, '您没有%s「%s」记录的权限（表单同样不允许），本行未导入。' % (
            {'create': '新增', 'edit': '修改'}[action], self.view.name_cn))
        return False

    def _flush(self, chunk, report, commit):
        ids = [c[4] for c in chunk if c[4] is not None]
        stored = {}
        for start in range(0, len(ids), CHUNK):
            part = ids[start:start + CHUNK]
            for row in self.model.select().where(self.model._meta.primary_key.in_(part)):
                stored[row.get_id()] = row
        for row_no, values, present, texts, existing_id in chunk:
            if existing_id is None:
                if not self.may('create', row_no, report):
                    continue
                row, before, changes = self.new_row(values, present), None, None
            else:
                row = stored.get(existing_id)
                if row is None:
                    report.error(row_no, None, '匹配到的记录已不存在（可能刚被删除）。')
                    continue
                changes = self.differences(row, values, present)
                if not changes:
                    report.unchanged += 1
                    continue
                if not self.may('edit', row_no, report):
                    continue
                before = copy.copy(row)
                before.__data__ = dict(row.__data__)
                for name, _old, new in changes:
                    setattr(row, name, new)
            if commit:
                try:
                    row.save_logged(self.actor, expected_version=before.version if before else None,
                                    note=self.note)
                except RuleError as exc:
                    self.report_problems(row_no, exc.problems, report)
                    continue
                except Exception as exc:   # a database constraint the rules did not foresee
                    from peewee import DataError, IntegrityError
                    if not isinstance(exc, (IntegrityError, DataError)):
                        raise
                    report.error(row_no, None, '与已有记录冲突或数据格式不符，无法保存。')
                    continue
            else:
                problems = self.problems_of(row, before)
                if problems:
                    self.report_problems(row_no, problems, report)
                    continue
            if existing_id is None:
                report.created += 1
                if len(report.creates) < SHOWN_SAMPLES:
                    report.creates.append((row_no, self.summary(values, texts)))
            else:
                report.updated += 1
                if len(report.updates) < SHOWN_SAMPLES:
                    report.updates.append((row_no, self.summary(values, texts), [
                        (self.labels[n], self.describe(n, old), self.describe(n, new))
                        for n, old, new in changes]))


# --------------------------------------------------------------------------- the upload

class UploadForm(FlaskForm):
    file = FileField('Excel 文件（.xlsx）', validators=[FileRequired(message='请选择要导入的 Excel 文件。')])
    step = HiddenField(default='check')


class CommitForm(FlaskForm):
    token = HiddenField()
    step = HiddenField(default='commit')


def _max_bytes():
    return limit('KEFU_IMPORT_MAX_BYTES')


def import_file(view, path, user, commit=False, filename=''):
    """Check (commit=False) or write the .xlsx at `path` into `view`'s register as `user`: the
    whole import as one call, so a background job can run it outside a request. Returns the
    ImportReport; raises ImportRefused when the file as a whole is refused."""
    return Importer(view, user).run(path, commit=commit, filename=filename)


def _size_text(size):
    return '%.1f MB' % (size / 1024 / 1024) if size >= 1024 * 1024 else '%d KB' % max(1, size // 1024)


def _path(token):
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    return os.path.join(tmp_dir(), 'import-%s.xlsx' % token)


def _drop(token):
    path = _path(token)
    if path and os.path.exists(path):
        try:
            os.unlink(path)
        except OSError:
            pass


def _sweep():
    """Uploads abandoned after their dry run do not pile up."""
    folder = tmp_dir()
    limit = time.time() - STALE_SECONDS
    for name in os.listdir(folder):
        if name.startswith('import-'):
            full = os.path.join(folder, name)
            try:
                if os.path.getmtime(full) < limit:
                    os.unlink(full)
            except OSError:
                pass


def keep_upload(storage):
    """Copy the upload to instance/tmp under a random token, refusing it past the size limit."""
    limit = _max_bytes()
    token = secrets.token_hex(16)
    path = _path(token)
    size = 0
    with open(path, 'wb') as out:
        while True:
            block = storage.stream.read(1024 * 1024)
            if not block:
                break
            size += len(block)
            if size > limit:
                break
            out.write(block)
    if size > limit:
        os.unlink(path)
        raise ImportRefused('文件太大：导入文件不能超过 %s。请分成几个文件导入。' % _size_text(limit))
    return token


def _pending():
    entry = session.get(SESSION_KEY) or {}
    return entry if isinstance(entry, dict) else {}


def import_page(view):
    """GET: the upload form (with ?job=<id>: that import job's progress or outcome).
    POST step=check: the dry run; POST step=commit: the write. Both run as jobs of the job
    runner (models/jobs.py): a small file's job done within WAIT_SECONDS shows its outcome at
    once; a big one shows a progress bar, and the person may leave and come back (我的任务)."""
    actor = current_user._get_current_object()
    table = view.model._meta.table_name
    if not view.can_import:     # neither the create nor the edit form is theirs on this register
        abort(403)
    if request.method == 'POST' and request.form.get('step') == 'commit':
        return _commit(view, actor, table)
    form = UploadForm()
    if request.method == 'POST':
        if form.validate_on_submit():
            return _check(view, actor, table, form)
        for errors in form.errors.values():
            for message in errors:
                flash(message, 'error')
    elif request.args.get('job'):
        return _job_page(view, table, request.args.get('job'))
    return _render(view, form, None, None)


def _render(view, form, report, commit_form, job=None):
    importer = Importer(view, current_user._get_current_object())
    return view.render('excel/import.html', form=form, report=report, commit_form=commit_form,
                       job=job, columns=[(importer.labels[n], n in importer.natural_key)
                                         for n in importer.columns],
                       key_text=importer.key_text() if importer.natural_key else '',
                       max_size=_size_text(_max_bytes()), max_rows=limit('KEFU_IMPORT_MAX_ROWS'),
                       example_mark=EXAMPLE_MARK)


def _check(view, actor, table, form):
    storage = form.file.data
    filename = os.path.basename(storage.filename or '')[:200]
    _sweep()
    old = _pending()
    if old.get('token'):
        _drop(old['token'])
        session.pop(SESSION_KEY, None)
    if filename and not filename.lower().endswith(('.xlsx', '.xlsm')):
        if filename.lower().endswith('.xls') or filename.lower().endswith('.et'):
            flash('这是旧版 Excel/WPS 表格文件：请另存为 .xlsx 后再导入。', 'error')
        else:
            flash('只能导入 Excel（.xlsx）文件；「%s」不是。' % filename, 'error')
        return _render(view, form, None, None)
    try:
        token = keep_upload(storage)
    except ImportRefused as exc:
        flash(str(exc), 'error')
        return _render(view, form, None, None)
    session[SESSION_KEY] = {'token': token, 'table': table, 'filename': filename}
    job = _wait(jobs.submit('import_check', actor, title='检查导入文件：%s（%s）' % (
        filename or '未命名', view.name_cn), table=table, token=token, filename=filename))
    return _outcome(view, table, job)


def _commit(view, actor, table):
    form = CommitForm()
    pending = _pending()
    token = form.token.data if form.validate_on_submit() else None
    if not token or pending.get('token') != token or pending.get('table') != table or \
            not pending.get('checked') or not os.path.exists(_path(token) or ''):
        flash('没有待确认的导入（可能已确认过或已过期），请重新上传文件。', 'error')
        return redirect(url_for('.import_view'))
    session.pop(SESSION_KEY, None)
    filename = pending.get('filename', '')
    job = _wait(jobs.submit('import_commit', actor, title='导入：%s（%s）' % (
        filename or '未命名', view.name_cn), table=table, token=token, filename=filename))
    return _outcome(view, table, job)


def _wait(job, seconds=None):
    """The job once it ended, or as it is after `seconds` (WAIT_SECONDS)."""
    until = time.monotonic() + (WAIT_SECONDS if seconds is None else seconds)
    while job.state in (jobs.QUEUED, jobs.RUNNING) and time.monotonic() < until:
        time.sleep(0.2)
        job = jobs.Job.get_by_id(job.id)
    return job


def _job_page(view, table, job_id):
    job = None
    if job_id.isdigit() and len(job_id) < 10:
        job = jobs.Job.select().where((jobs.Job.id == int(job_id)) &
                                      (jobs.Job.user == current_user.id) &
                                      jobs.Job.kind.in_(('import_check', 'import_commit'))).first()
    if job is None or job.param_dict.get('table') != table:
        abort(404)
    return _outcome(view, table, job, shown_again=True)


def _outcome(view, table, job, shown_again=False):
    """What the person sees of an import job: its progress, its refusal, or its report."""
    form = UploadForm(formdata=None)
    if job.state in (jobs.QUEUED, jobs.RUNNING):
        if not shown_again:         # the address of the job's page: it can be reloaded
            return redirect(url_for('.import_view', job=job.id))
        return _render(view, form, None, None, job=job)
    report = load_report(job)
    if job.state == jobs.FAILED or report is None:
        if not shown_again:
            flash(job.error or UNREADABLE, 'error')
        return _render(view, form, None, None)
    if job.kind == 'import_check':
        pending = _pending()
        token = job.param_dict.get('token')
        if report.ok and report.changes and pending.get('token') == token:
            session[SESSION_KEY] = dict(pending, checked=job.id)
            return _render(view, form, report, CommitForm(formdata=None, token=token))
        if pending.get('token') == token:
            _drop(token)
            session.pop(SESSION_KEY, None)
        return _render(view, form, report, None)
    if not report.committed:
        if not shown_again:
            flash('导入未执行：有 %d 处错误，所有数据均未改动。请修改文件后重新上传。' %
                  report.error_count, 'error')
        return _render(view, form, report, None)
    if shown_again:
        return _render(view, form, report, None)
    flash('导入完成：新增 %d 条，更新 %d 条，未变化 %d 条（每条改动都已记入变更记录）。' %
          (report.created, report.updated, report.unchanged), 'success')
    return redirect(url_for('.index_view'))


# --------------------------------------------------------------------------- the jobs

def _report_path(job_id):
    return os.path.join(jobs.jobs_folder(current_app.instance_path), 'import-report-%d.json' % job_id)


def save_report(job, report):
    with open(_report_path(job.id), 'w', encoding='utf-8') as fh:
        json.dump(dataclasses.asdict(report), fh, ensure_ascii=False, default=str)


def load_report(job):
    try:
        with open(_report_path(job.id), encoding='utf-8') as fh:
            return ImportReport(**json.load(fh))
    except (OSError, ValueError, TypeError):
        return None


def _register_view(table):
    for candidate in current_app.extensions['admin'][0]._views:
        if getattr(candidate, 'endpoint', None) == table and hasattr(candidate, 'register'):
            return candidate
    raise jobs.JobError('台账「%s」不存在。' % table)


def _run_import(job, table, token, filename, commit):
    from models.base import User
    view = _register_view(table)
    importer = Importer(view, User.get_by_id(job.user_id))
    importer.note = '导入任务 #%d：%s' % (job.id, filename or '未命名')
    importer.on_progress = job.progress
    try:
        report = importer.run(_path(token), commit=commit, filename=filename)
    except ImportRefused as exc:
        raise jobs.JobError(str(exc))
    except jobs.JobError:
        raise
    except Exception:    # a file damaged past what openpyxl reports on opening it
        current_app.logger.exception('import job %s of %s failed', job.id, table)
        raise jobs.JobError(UNREADABLE + ('所有数据均未改动。' if commit else ''))
    finally:
        if commit:
            _drop(token)
    job.progress(report.total, report.total, force=True)
    save_report(job, report)
    if not commit:
        return '检查完成：%d 行，将新增 %d 条、更新 %d 条，错误 %d 处。' % (
            report.total, report.created, report.updated, report.error_count)
    if report.committed:
        return '导入完成：新增 %d 条，更新 %d 条，未变化 %d 条。' % (
            report.created, report.updated, report.unchanged)
    return '导入未执行：有 %d 处错误，所有数据均未改动。' % report.error_count


@jobs.job_task('import_check', '导入检查', resumable=True)
def import_check_job(job, table, token, filename):
    return _run_import(job, table, token, filename, commit=False)


def _undo_interrupted(job):
    """A commit cut off by a restart: the batches it wrote are undone (the change log finds
    them by the job's note), so the register never stays half-imported."""
    from models.base import User
    params = job.param_dict
    view = _register_view(params.get('table'))
    note = '导入任务 #%d：%s' % (job.id, params.get('filename') or '未命名')
    undone, conflicts = undo_import(view.model, note, User.get_or_none(User.id == job.user_id),
                                    '服务器重启，导入中断')
    _drop(params.get('token'))
    return '已撤销本次导入已写入的 %d 条记录%s。' % (
        undone, '；%d 条在此期间已被他人修改，未撤销' % len(conflicts) if conflicts else '')


@jobs.job_task('import_commit', '导入', on_interrupted=_undo_interrupted)
def import_commit_job(job, table, token, filename):
    return _run_import(job, table, token, filename, commit=True)


# --------------------------------------------------------------------------- the template

def _link_names(importer, name, project_id):
    """{name: ids} of the rows link `name` may name in an example row: the user's rows of its
    register, narrowed to those the register says such a link can name (Meta.link_where, e.g. a
    verification names an issue awaiting verification)."""
    target = importer.fields[name].rel_model
    names = importer.refs._names(target, project_id)
    where = (getattr(importer.model._meta, 'link_where', None) or {}).get(name)
    if where is None:
        return names
    fit = {r[0] for r in target.select(target.id).where(where(target)).limit(5000).tuples()}
    return {key: ids for key, ids in names.items() if fit & set(ids)}


def _example_project(importer, project_id):
    """The example row's project: the user's first, or, when a link of the register can only
    name some rows (Meta.link_where), the project of the first such row the user may see."""
    for name, where in (getattr(importer.model._meta, 'link_where', None) or {}).items():
        target = importer.fields[name].rel_model
        if 'project' not in target._meta.fields:
            continue
        if _link_names(importer, name, project_id):
            return project_id
        row = scope_query(target, target.select(target.project), importer.actor) \
            .where(where(target)).order_by(target._meta.primary_key).first()
        if row is not None:
            return row.__data__['project']
    return project_id


def _example(importer, name, project_id):
    fld = importer.fields[name]
    if name == 'remarks':
        return EXAMPLE_MARK + '导入时自动跳过此行，可删除'
    if fld.choices:
        return str(fld.choices[0][1])
    if isinstance(fld, ForeignKeyField):
        target = fld.rel_model
        names = _link_names(importer, name, project_id if 'project' in target._meta.fields
                            else None)
        if target._meta.table_name == 'project':
            pid = project_id
            for key, ids in names.items():
                if pid in ids and key not in importer.refs.projects_by_code:
                    return key
        for key in names:
            return key
        return {'unit': '1栋-1-101', 'project': '示例项目'}.get(target._meta.table_name, '示例')
    if isinstance(fld, DateTimeField):
        return datetime.datetime.now().replace(second=0, microsecond=0)
    if isinstance(fld, DateField):
        return datetime.date.today()
    if isinstance(fld, BooleanField):
        return '否'
    if isinstance(fld, DecimalField):
        return 100.0 if (fld.max_digits or 30) - (fld.decimal_places or 0) > 3 else 1.0
    if isinstance(fld, (IntegerField, FloatField)):
        return 1
    return '示例'


def _example_problems(importer, example):
    """[(field, message)] the import would report for the example row (nothing is written)."""
    report = ImportReport()
    by_label = {label: name for name, label in importer.labels.items()}
    cells = [example[n] for n in importer.columns]
    found = []
    with db.atomic() as tx:
        parsed = importer.read_values(2, cells, dict(enumerate(importer.columns)), report)
        if parsed:
            values, present, _ = parsed
            existing, error = importer.match(values, present)
            if existing is None and not error:
                found += importer.problems_of(importer.new_row(values, present), None)
        tx.rollback()
    return found + [(by_label.get(column), message) for _, column, message in report.errors]


def _settled_example(importer, example):
    """The example row made one the register accepts as it stands: an optional value its rules
    refuse (a closing date on an open complaint, a link to no row) is left empty; a required
    one takes the form of a stored row's value (unless the column is masked for this user)."""
    model = importer.model
    for attempt in range(4):
        found = _example_problems(importer, example)
        if not found:
            break
        problems = {f for f, _ in found if f in importer.fields}
        if attempt == 2 or not problems:        # a rule on the row as a whole: the plainest row
            problems = {n for n, f in importer.fields.items()
                        if (f.null or f.default is not None) and n != 'remarks'}
            for name in problems:
                example[name] = ''
            for name, fld in importer.fields.items():
                # and the status (or the project) the rules object to least
                if fld.choices and not fld.null:
                    options = [str(v) for v, _label in fld.choices]
                elif name == 'project':
                    options = [example[name]] + list(importer.refs.projects_by_code)[:20]
                elif isinstance(fld, ForeignKeyField) and not fld.null:
                    # a required link: the row it names may be taken (a unit already sold, a
                    # closed complaint) — another of the user's rows may not be
                    target = fld.rel_model
                    project_id = importer.refs.project(example.get('project', ''))[0] \
                        if 'project' in target._meta.fields and 'project' in example else None
                    options = [example[name]] + list(_link_names(importer, name, project_id))[:100]
                else:
                    continue
                tried = [(len(_example_problems(importer, dict(example, **{name: v}))), v)
                         for v in options]
                example[name] = min(tried, key=lambda t: t[0])[1]
            continue
        for name in problems:
            fld = importer.fields[name]
            if fld.null or fld.default is not None:
                example[name] = ''
            elif name not in importer.hidden and not isinstance(fld, ForeignKeyField):
                stored = scope_query(model, model.select(fld), importer.actor).where(
                    fld.is_null(False)).order_by(model._meta.primary_key.desc()).scalar()
                if stored is not None:
                    example[name] = stored
    return example


def _format_hint(fld):
    if isinstance(fld, ForeignKeyField):
        table = fld.rel_model._meta.table_name
        return {'project': '项目名称或项目编码', 'unit': '楼栋-单元-房号（如 1栋-1-101），须属于本行的项目',
                'owner': '业主姓名或证件号码（本项目内）'}.get(
            table, '%s的名称（与列表中显示的一致）' % getattr(fld.rel_model._meta, 'verbose_name', table))
    if fld.choices:
        return '从下拉列表中选择'
    if isinstance(fld, DateTimeField):
        return '日期时间，格式如 2026-01-05 09:30'
    if isinstance(fld, DateField):
        return '日期，格式如 2026-01-05'
    if isinstance(fld, BooleanField):
        return '是 / 否'
    if isinstance(fld, DecimalField):
        return '数字，最多 %d 位小数' % (fld.decimal_places or 0)
    if isinstance(fld, IntegerField):
        return '整数'
    if isinstance(fld, CharField) and fld.max_length:
        return '文字，最多 %d 字' % fld.max_length
    return '文字'


def template_download(view):
    """`/admin/<table>/import/template`: headers, dropdowns for choices, one example row."""
    import xlsxwriter
    from views.excel import send_workbook
    actor = current_user._get_current_object()
    importer = Importer(view, actor)
    import tempfile
    fd, path = tempfile.mkstemp(suffix='.xlsx', dir=tmp_dir())
    os.close(fd)
    workbook = xlsxwriter.Workbook(path, {'strings_to_formulas': False, 'strings_to_urls': False,
                                          'strings_to_numbers': False})
    try:
        main = workbook.add_worksheet(sheet_name(view.name_cn, ('填写说明', '选项')))
        guide = workbook.add_worksheet('填写说明')
        options = workbook.add_worksheet('选项')
        options.hide()
        header = workbook.add_format({'bold': True, 'bg_color': '#DDEBF7', 'border': 1})
        key_header = workbook.add_format({'bold': True, 'bg_color': '#FCE4D6', 'border': 1})
        example = workbook.add_format({'italic': True, 'font_color': '#808080'})
        example_date = workbook.add_format({'italic': True, 'font_color': '#808080',
                                            'num_format': 'yyyy-mm-dd'})
        date_fmt = workbook.add_format({'num_format': 'yyyy-mm-dd'})
        ids = actor.project_ids
        project_id = ids[0] if ids else next(iter(importer.refs.projects_by_code.values()), None)
        project_id = _example_project(importer, project_id)
        option_col = 0
        examples = _settled_example(importer, {n: _example(importer, n, project_id)
                                               for n in importer.columns})
        guide.write_row(0, 0, ['列名', '必填', '格式', '可选值', '说明'], header)
        for col, name in enumerate(importer.columns):
            fld = importer.fields[name]
            label = importer.labels[name]
            required = not fld.null and fld.default is None
            main.write_string(0, col, label, key_header if name in importer.natural_key else header)
            main.set_column(col, col, max(12, text_width(label) + 4),
                            date_fmt if isinstance(fld, DateField) else None)
            value = examples[name]
            if isinstance(value, (datetime.date, datetime.datetime)):
                main.write_datetime(1, col, value if isinstance(value, datetime.datetime) else
                                    datetime.datetime(value.year, value.month, value.day), example_date)
            elif isinstance(value, (int, float)):
                main.write_number(1, col, value, example)
            else:
                main.write_string(1, col, value, example)
            choices = [str(c[1]) for c in fld.choices] if fld.choices else \
                (['是', '否'] if isinstance(fld, BooleanField) else None)
            if choices:
                options.write_string(0, option_col, label)
                for r, choice in enumerate(choices, start=1):
                    options.write_string(r, option_col, choice)
                letter = xlsxwriter.utility.xl_col_to_name(option_col)
                main.data_validation(1, col, 1048575, col, {
                    'validate': 'list',
                    'source': "='选项'!$%s$2:$%s$%d" % (letter, letter, len(choices) + 1),
                    'error_title': label, 'error_message': '请从下拉列表中选择。'})
                option_col += 1
            elif isinstance(fld, DateField):
                main.data_validation(1, col, 1048575, col, {
                    'validate': 'date', 'criteria': 'between',
                    'minimum': datetime.date(1990, 1, 1), 'maximum': datetime.date(2100, 12, 31),
                    'error_type': 'warning', 'error_title': label,
                    'error_message': '请填写日期，格式如 2026-01-05。'})
            notes = (fld.help_text or '')
            if name in importer.natural_key:
                notes = ('匹配键：与已有记录相同则更新该记录。' + notes)
            guide.write_row(col + 1, 0, [label, '是' if required else '', _format_hint(fld),
                                         '、'.join(choices or []), notes])
            if notes:
                main.write_comment(0, col, notes[:500], {'x_scale': 2, 'y_scale': 2})
        guide.write_string(len(importer.columns) + 2, 0,
                           '第 2 行是示例（备注以“%s”开头），导入时会自动跳过。表头按名称识别，列的顺序不限，'
                           '多余的列会被忽略。%s' % (EXAMPLE_MARK, ('橙色表头为匹配键：%s。' % importer.key_text())
                                             if importer.natural_key else ''))
        guide.set_column(0, 0, 20)
        guide.set_column(1, 1, 6)
        guide.set_column(2, 2, 36)
        guide.set_column(3, 3, 40)
        guide.set_column(4, 4, 80)
        main.freeze_panes(1, 0)
        main.activate()
    finally:
        workbook.close()
    return send_workbook(path, '%s_导入模板.xlsx' % view.name_cn)
