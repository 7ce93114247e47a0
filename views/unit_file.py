"""一户一档 — `/unit/<id>`: everything about one unit on one page, printable, and as one workbook.

The sections are found, not listed: every register with a foreign key to the unit contributes
its live rows (contract, floor-plan check, promises, punch-list issues across rounds, handover
record, repairs, complaints, compensation, survey answers …), so a register added later appears
here without a change. Key transfers name their scope in words (buildings or rooms), so the ones
whose scope covers this unit are found through rules.delivery's scope matching. Owners come from
the unit's contracts and roster row. Personal data is masked by role (each register's
Meta.masked against `user.can`), on screen and in the workbook.

Scoped like everything else: the unit is selected through `scope_query`, so another project's
unit is "not found".
"""
import datetime
import decimal
from flask import Blueprint, abort, current_app, request
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required
from peewee import ForeignKeyField

from models import search as search_index
from models.base import ChangeLog, Register, all_registers
from models.master import Owner, Project, Unit
from rules.master import MASKS
from views.base import scope_query
from views.pages import render_page

bp = Blueprint('unit_file', __name__)

ADMIN_LINKS = (MenuLink(name='一户一档', url='/unit/', category='基础数据'),)

# The order a clerk reads a unit's life in; registers not named here follow, by stage.
SECTION_ORDER = ('contract', 'floor_plan_check', 'sales_promise', 'inspection_issue',
                 'key_transfer', 'handover_entry', 'repair_order', 'complaint', 'compensation',
                 'survey_response')
HISTORY_LIMIT = 300


class Section:
    def __init__(self, model, rows, columns, title=None, via=''):
        self.model = model
        self.table = model._meta.table_name
        self.title = title or getattr(model._meta, 'verbose_name', self.table)
        self.rows = rows
        self.columns = columns
        self.labels = {c: column_label(model, c) for c in columns}
        self.via = via

    def masked_fields(self, user):
        return {name for name, power in (getattr(self.model._meta, 'masked', {}) or {}).items()
                if not user.can(power)}


def column_label(model, name):
    """The column's label as the register's own list shows it (computed columns included)."""
    if name in model._meta.fields:
        return model.label(name)
    admin = current_app.extensions['admin'][0]
    for view in admin._views:
        if getattr(view, 'model', None) is model:
            return (getattr(view, 'column_labels', None) or {}).get(name, name)
    return name


def _scoped_unit(unit_id):
    unit = scope_query(Unit, Unit.select(), current_user).where(Unit.id == unit_id).first()
    if unit is None:
        abort(404)
    return unit


def _columns(model, skip):
    declared = getattr(model._meta, 'list_columns', ()) or tuple(
        n for n in model._meta.sorted_field_names if n not in ('id',) + Register.AUDIT_FIELDS)
    return [c for c in declared if c not in skip]


def _unit_links(model):
    return [f for f in model._meta.fields.values()
            if isinstance(f, ForeignKeyField) and f.rel_model is Unit
            and f.name not in Register.AUDIT_FIELDS]


def _key_transfers(unit):
    """Key transfers whose written scope covers this unit (全部, its building or its room)."""
    model = next((m for m in all_registers() if m._meta.table_name == 'key_transfer'), None)
    if model is None:
        return None, []
    from rules.delivery import units_not_covered
    rows = model.live().where(model.project == unit.__data__['project']).order_by(
        model.transferred_on)
    home = (str(unit), unit.building, unit.entrance, unit.room)
    covering = [r for r in rows if not units_not_covered([home], r.scope)]
    return model, covering


def unit_sections(unit):
    """The sections of the unit file, in reading order; empty registers are left out."""
    sections = []
    for model in all_registers():
        if model is Unit:
            continue
        links = _unit_links(model)
        if not links:
            continue
        cond = None
        for fld in links:
            cond = (fld == unit.id) if cond is None else (cond | (fld == unit.id))
        order = [f for f in (getattr(model._meta, 'default_sort', ()) or ())]
        query = model.live().where(cond)
        for name, desc in order:
            if name in model._meta.fields:
                fld = model._meta.fields[name]
                query = query.order_by_extend(fld.desc() if desc else fld)
        query = query.order_by_extend(model._meta.primary_key)
        rows = list(query)
        if rows:
            skip = {'project'} | {f.name for f in links}
            sections.append(Section(model, rows, _columns(model, skip)))
    keys_model, transfers = _key_transfers(unit)
    if transfers:
        sections.append(Section(keys_model, transfers, _columns(keys_model, {'project'}),
                                via='按移交范围匹配本户'))
    rank = {t: i for i, t in enumerate(SECTION_ORDER)}
    sections.sort(key=lambda s: rank.get(s.table, len(rank)))
    return sections


def unit_owners(unit, sections):
    """Owners named by the unit's contracts (owner, co-owner) and roster rows."""
    ids = []
    for section in sections:
        for row in section.rows:
            for name in ('owner', 'co_owner'):
                fld = section.model._meta.fields.get(name)
                if isinstance(fld, ForeignKeyField) and fld.rel_model is Owner and \
                        section.table in ('contract', 'handover_entry'):
                    value = row.__data__.get(name)
                    if value and value not in ids:
                        ids.append(value)
    if not ids:
        return []
    found = {o.id: o for o in Owner.live().where(Owner.id.in_(ids))}
    return [found[i] for i in ids if i in found]


def display(row, name, masked=()):
    """A cell as the user may see it: names for links, 是/否, dates, masked personal data."""
    fld = row._meta.fields.get(name)
    if isinstance(fld, ForeignKeyField):
        if row.__data__.get(name) is None:
            return ''
        try:
            value = getattr(row, name)
        except Exception:   # a target in the recycle bin or purged: show its id, do not fail
            return '#%s' % row.__data__.get(name)
    elif fld is not None:
        value = row.__data__.get(name)
    else:
        value = getattr(row, name, None)
        value = value() if callable(value) else value
    if value is None or value == '':
        return ''
    if name in masked:
        return MASKS.get(name, lambda v: '****')(str(value))
    if isinstance(value, bool):
        return '是' if value else '否'
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%d %H:%M')
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        from views.base import decimal_text
        return decimal_text(value, fld)       # 1,500,000.00, as the lists show amounts
    return str(value)


def unit_history(unit, sections, owners):
    """Change-log entries of the unit, its owners and every row in its file, newest first."""
    if not current_user.can('history'):
        return []
    keys = {('unit', unit.id)} | {('owner', o.id) for o in owners}
    for section in sections:
        keys |= {(section.table, r.get_id()) for r in section.rows}
    by_table = {}
    for table, row_id in keys:
        by_table.setdefault(table, []).append(row_id)
    cond = None
    for table, ids in by_table.items():
        part = (ChangeLog.table_name == table) & ChangeLog.row_id.in_(ids)
        cond = part if cond is None else (cond | part)
    query = (ChangeLog.select().where(cond & (ChangeLog.project_id == unit.__data__['project']))
             .order_by(ChangeLog.at.desc(), ChangeLog.id.desc()).limit(HISTORY_LIMIT))
    return list(query)


def _file(unit_id):
    unit = _scoped_unit(unit_id)
    project = Project.get_by_id(unit.__data__['project'])
    sections = unit_sections(unit)
    owners = unit_owners(unit, sections)
    return unit, project, sections, owners


@bp.route('/unit/')
@login_required
def unit_search():
    """Find a unit of the user's projects as people name it: 「3栋1单元1602」「3-1-1602」「1602」,
    or its owner's name or phone (the list search's parser, rules.address)."""
    if not current_user.can('view'):
        abort(403)
    text = ' '.join((request.args.get('q') or '').split()[:4])
    units, owners = [], {}
    if text:
        query = search_index.picker_search(scope_query(Unit, Unit.select(), current_user), Unit,
                                           [Unit.building, Unit.room], text)
        units = search_index.natural_page(query, [Unit.building, Unit.entrance, Unit.room], 0, 100)
        owners = unit_owner_names([u.id for u in units])
    names = {p.id: p.name for p in scope_query(Project, Project.select(), current_user)}
    return render_page('unit/search.html', title='一户一档', q=text, units=units, names=names,
                       owners=owners)


def unit_owner_names(unit_ids):
    """{unit id: '韩梓萱、张伟'} from the units' live contracts (owner and co-owner)."""
    from models.master import Contract
    found = {}
    if not unit_ids:
        return found
    rows = list(Contract.live(Contract.unit, Contract.owner, Contract.co_owner)
                .where(Contract.unit.in_(unit_ids)).tuples())
    ids = {o for _u, owner, co in rows for o in (owner, co) if o}
    people = {o.id: o.name for o in Owner.select(Owner.id, Owner.name).where(Owner.id.in_(list(ids) or [0]))}
    for unit_id, owner, co_owner in rows:
        for oid in (owner, co_owner):
            if oid in people and people[oid] not in found.setdefault(unit_id, []):
                found[unit_id].append(people[oid])
    return {k: '、'.join(v) for k, v in found.items()}


@bp.route('/unit/<int:unit_id>')
@login_required
def unit_file(unit_id):
    if not current_user.can('view'):
        abort(403)
    unit, project, sections, owners = _file(unit_id)
    history = unit_history(unit, sections, owners)
    labels = {(s.table, r.get_id()): s.title for s in sections for r in s.rows}
    labels.update({('unit', unit.id): '房源'})
    labels.update({('owner', o.id): '客户/业主' for o in owners})
    owner_masked = {n for n, power in Owner._meta.masked.items() if not current_user.can(power)}
    owner_columns = [c for c in _columns(Owner, {'project'})]
    unit_columns = [c for c in _columns(Unit, {'project'})]
    return render_page('unit/file.html', title='一户一档 · %s %s' % (project.name, unit),
                       unit=unit, project=project, sections=sections, owners=owners,
                       owner_columns=owner_columns, owner_masked=owner_masked,
                       unit_columns=unit_columns, history=history, history_labels=labels,
                       display=display, label_of=lambda model, name: model.label(name),
                       user=current_user, today=datetime.date.today())


@bp.route('/unit/<int:unit_id>/export.xlsx')
@login_required
def unit_export(unit_id):
    if not current_user.can('export'):
        abort(403)
    from views.excel import (hidden_masked_fields, new_workbook, record_export, register_columns,
                             send_workbook, sheet_name, write_provenance, write_query)
    unit, project, sections, owners = _file(unit_id)
    path, workbook = new_workbook()
    notes = workbook.add_worksheet('说明')
    taken, counts, unmasked = ['说明'], [], False
    plan = [(Unit, '房源', Unit.select().where(Unit.id == unit.id), _columns(Unit, {'project'}))]
    if owners:
        plan.append((Owner, '业主', Owner.select().where(Owner.id.in_([o.id for o in owners])),
                     _columns(Owner, {'project'})))
    for section in sections:
        ids = [r.get_id() for r in section.rows]
        pk = section.model._meta.primary_key
        plan.append((section.model, section.title,
                     section.model.select().where(pk.in_(ids)).order_by(pk), section.columns))
    for model, title, query, columns in plan:
        # Each register whole (views.excel.register_columns), less what every row here shares.
        skip = {'project'} | {f.name for f in _unit_links(model)}
        columns = [c for c in register_columns(model, columns) if c not in skip]
        masked_map = getattr(model._meta, 'masked', {}) or {}
        masked = hidden_masked_fields(model)
        unmasked = unmasked or any(n in columns for n in masked_map if n not in masked)
        name = sheet_name(title, taken)
        taken.append(name)
        labels = dict({c: column_label(model, c) for c in columns}, id='编号')
        count = write_query(workbook, name, model, query, columns, labels, masked)
        counts.append('%s %s 行' % (title, count))
    write_provenance(workbook, '一户一档：%s %s' % (project.name, unit), '房源 ID %d' % unit.id,
                     sum(len(s.rows) for s in sections) + 1 + len(owners),
                     extra=[('内容', '；'.join(counts))], ws=notes)
    workbook.close()
    record_export('unit_file', '%s %s（房源 ID %d）' % (project.name, unit, unit.id),
                  sum(len(s.rows) for s in sections), unmasked=unmasked)
    return send_workbook(path, '一户一档_%s_%s.xlsx' % (project.code, str(unit)))
