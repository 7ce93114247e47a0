"""待办与预警 — the deadline engine over every register.

The manuals are full of deadlines; the department's real risk is the one nobody noticed. Every
register declares its deadlines once, in its model's `Meta.deadlines` (models.base.Deadline):
what is due, which date field holds the due date, which rows are still open, who owns it and
the manual's words that set it. Obligations that belong to a project rather than to a row (the
owner quality group once more than 30% is sold, the annual callback, the handover countdown of
a project whose plan was never generated, meetings per construction phase) are *deadline
sources*: plain functions registered with `@deadline_source`, yielding `DueItem`s per project.

`collect()` gathers both, for the projects a user may see, at a given date (always passed in:
nothing here reads the clock), and answers with the items sorted by urgency (earliest due date
first: the longest overdue on top) plus counts per status and per register.

Volumes: every register deadline is one indexed range query on its due-date field, ordered and
limited in SQL, and one aggregate query for its counts, so a punch list of a million rows costs
the same as one of a hundred when only the first page is shown.
"""
import datetime
import hashlib
import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Optional

from peewee import SQL, Case, ForeignKeyField, ModelIndex, fn

OVERDUE = '已逾期'
DUE_TODAY = '今日到期'
DUE_SOON = '即将到期'
STATUSES = (OVERDUE, DUE_TODAY, DUE_SOON)
STATUS_LEVELS = {OVERDUE: 'danger', DUE_TODAY: 'warning', DUE_SOON: 'info'}
DEFAULT_DAYS = 14
MAX_DAYS = 366
DEFAULT_OWNER = '客户关系部'
UNSCHEDULED = '未定期限'     # an open row whose deadline is not set: to be chased, never hidden
UNASSIGNED = '未指派'        # an open row whose owner field is empty


def due_status(due_on, today):
    """已逾期 the day after the due date, 今日到期 on it, 即将到期 before it."""
    days_left = (due_on - today).days
    if days_left < 0:
        return OVERDUE
    if days_left == 0:
        return DUE_TODAY
    return DUE_SOON


def horizon(today, days):
    """The last due date listed: `days` days after today (0 = only today and what is overdue)."""
    return today + datetime.timedelta(days=days)


def threshold_crossed_on(sign_dates, total_units, numerator=3, denominator=10):
    """The day sales first exceeded numerator/denominator of the units (by count), or None.

    手册003：“当新建项目的销售比例超过百分之三十时(以户数计算)” — the k-th signing with
    k × 10 > total × 3 is the day the owner quality group fell due. Exactly 30% is not yet.
    """
    if not total_units:
        return None
    needed = total_units * numerator // denominator + 1
    dates = sorted(d for d in sign_dates if d is not None)
    if len(dates) < needed:
        return None
    return dates[needed - 1]


@dataclass
class DueItem:
    """One thing due: what, by when, where, who owns it, and the clause that says so."""
    what: str
    due_on: Optional[datetime.date]      # None: 未定期限
    today: datetime.date
    project_id: Optional[int]
    project_name: str
    owner: str
    clause: str
    manual: str
    register: str                    # table name, or the key of a project-level source
    register_name: str
    link: str = ''
    row_id: Optional[int] = None
    unit_id: Optional[int] = None
    unit_label: str = ''
    detail: str = ''
    seq: int = 0                     # order among items of one source due the same day

    @property
    def days_left(self):
        return None if self.due_on is None else (self.due_on - self.today).days

    @property
    def status(self):
        return UNSCHEDULED if self.due_on is None else due_status(self.due_on, self.today)

    @property
    def level(self):
        return STATUS_LEVELS.get(self.status, 'secondary')

    def sort_key(self):
        return (self.due_on or datetime.date.max, self.project_name, self.register, self.row_id or 0, self.seq, self.what)


@dataclass
class DeadlineSource:
    key: str
    name: str
    func: Callable
    owner: str = DEFAULT_OWNER


SOURCES = []


def deadline_source(key, name, owner=DEFAULT_OWNER):
    """Register a project-level source: func(projects, today, ctx) -> iterable of DueItem."""
    def wrap(func):
        SOURCES[:] = [s for s in SOURCES if s.key != key]
        SOURCES.append(DeadlineSource(key, name, func, owner))
        return func
    return wrap


@dataclass
class DueFilter:
    project_ids: Optional[list] = None     # what the user may see; None = every project
    project: Optional[int] = None          # one project among them
    register: Optional[str] = None         # table name or source key
    department: Optional[str] = None
    status: Optional[str] = None
    days: int = DEFAULT_DAYS


@dataclass
class DueReport:
    today: datetime.date
    days: int
    items: list
    total: int
    by_status: dict = field(default_factory=dict)
    by_register: dict = field(default_factory=dict)     # name -> count
    projects: list = field(default_factory=list)

    @property
    def truncated(self):
        return self.total > len(self.items)

    @property
    def horizon_on(self):
        return horizon(self.today, self.days)


# --------------------------------------------------------------------------- the registers

def registers():
    """{table name: model} of every register."""
    from models.base import all_registers
    return {m._meta.table_name: m for m in all_registers()}


def register_deadlines():
    """(model, deadline) for every deadline a register declares, in register order."""
    found = []
    for model in registers().values():
        for deadline in getattr(model._meta, 'deadlines', ()) or ():
            if deadline.due_field in model._meta.fields:
                found.append((model, deadline))
    return found


def register_choices():
    """(key, name) of every register with deadlines and every project-level source."""
    seen, choices = set(), []
    for model, _ in register_deadlines():
        key = model._meta.table_name
        if key not in seen:
            seen.add(key)
            choices.append((key, getattr(model._meta, 'verbose_name', key)))
    choices += [(s.key, s.name) for s in SOURCES]
    return choices


def department_choices():
    """Departments that own something: the department register plus every fixed owner."""
    from models.master import Department
    names = [d.name for d in Department.live(Department.name).order_by(Department.name)]
    for _, deadline in register_deadlines():
        names.append(deadline.owner)
    names += [s.owner for s in SOURCES] + [UNASSIGNED]
    try:
        from rules.delivery import COUNTDOWN
        names += [spec.owner_department for spec in COUNTDOWN]
    except ImportError:     # the countdown is optional for the engine
        pass
    seen, ordered = set(), []
    for name in names:
        if name and name not in seen:
            seen.add(name)
            ordered.append(name)
    return ordered


def _owner_field(model, deadline):
    return model._meta.fields.get(deadline.owner_field) if deadline.owner_field else None


def _unit_field(model, deadline):
    from models.master import Unit
    name = deadline.unit_field or ('unit' if 'unit' in model._meta.fields else None)
    fld = model._meta.fields.get(name) if name else None
    if isinstance(fld, ForeignKeyField) and fld.rel_model is Unit:
        return fld
    return None


def _department_condition(model, deadline, department):
    """A condition on the rows owned by `department`, True (all rows) or False (none). A row whose
    owner field is empty is 未指派 (UNASSIGNED), not the deadline's default owner."""
    fld = _owner_field(model, deadline)
    if fld is None:
        return deadline.owner == department
    if department == UNASSIGNED:
        return fld.is_null() if isinstance(fld, ForeignKeyField) else (fld.is_null() | (fld == ''))
    if isinstance(fld, ForeignKeyField):
        target = fld.rel_model
        name_field = target._meta.fields.get('name')
        if name_field is None:
            return deadline.owner == department
        ids = target.select(target._meta.primary_key).where(name_field == department)
        return fld.in_(ids)
    return fld == department


# --------------------------------------------------------------------------- open rows, indexed

def _literal(value):
    """A constant of a deadline's declaration as SQL text (never user input)."""
    from models.base import is_sqlite
    if value is None:
        return 'NULL'
    if isinstance(value, bool):
        return ('1' if value else '0') if is_sqlite() else ('TRUE' if value else 'FALSE')
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        value = value.isoformat()
    text = str(value).replace("'", "''")
    if not is_sqlite():
        text = text.replace('%', '%%')     # psycopg2 formats '%' in the statement text
    return "'%s'" % text


def _index_for(model, deadline, name='due_index'):
    where = model.deleted_at.is_null()
    if deadline.open_when is not None:
        where = where & deadline.open_when(model)
    due = getattr(model, deadline.due_field)
    columns = (model.project, due) if 'project' in model._meta.fields else (due,)
    return ModelIndex(model, columns, name=name, where=where, safe=True)


def inline_sql(sql, params):
    from models.base import db
    marker = db.param
    parts = sql.split(marker)
    text = parts[0]
    for value, rest in zip(params, parts[1:]):
        text += _literal(value) + rest
    return text


_OPEN_SQL = {}


def open_condition(model, deadline):
    """The declaration's "still open" rows (live and `open_when`) as SQL with its constants
    written out, exactly as the partial index of that deadline says it: SQLite only uses a
    partial index when the query repeats its WHERE with the same constants, not parameters.
    A million-row punch list then counts its open rows from the index alone."""
    key = (model, id(deadline))
    if key not in _OPEN_SQL:
        from models.base import db
        sql, params = db.get_sql_context().sql(_index_for(model, deadline)).query()
        _OPEN_SQL[key] = inline_sql(sql.split(') WHERE ', 1)[1], params)
    return SQL(_OPEN_SQL[key])


def due_indexes():
    """{(table, index name): CREATE INDEX statement} of every declared deadline: a partial index
    over its open rows on (project, due date). The name carries a digest of the statement, so a
    changed declaration gets a new index instead of silently keeping the old one."""
    from models.base import db
    wanted = {}
    for model, deadline in register_deadlines():
        sql, params = db.get_sql_context().sql(_index_for(model, deadline)).query()
        digest = hashlib.sha1(inline_sql(sql, params).encode('utf-8')).hexdigest()[:10]
        name = 'due_ix_%s_%s' % (model._meta.table_name[:30], digest)
        sql, params = db.get_sql_context().sql(_index_for(model, deadline, name)).query()
        wanted[(model._meta.table_name, name)] = inline_sql(sql, params)
    return wanted


def install_due_indexes():
    """Create the deadlines' partial indexes and drop those no declaration asks for any more.

    Run by init-db (models.schema.SCHEMA_HOOKS); idempotent. An index that cannot be built yet
    (a column a later migration adds) is skipped with a warning: the engine's answers do not
    depend on it, only its speed does."""
    import logging
    from models.base import db
    wanted = due_indexes()
    for table in {t for t, _ in wanted}:
        for index in db.get_indexes(table):
            if index.name.startswith('due_ix_') and (table, index.name) not in wanted:
                db.execute_sql('DROP INDEX IF EXISTS "%s"' % index.name)
    for (table, name), ddl in wanted.items():
        try:
            with db.atomic():
                db.execute_sql(ddl)
        except Exception as exc:   # peewee's OperationalError / ProgrammingError, by backend
            logging.getLogger(__name__).warning('deadline index %s not built: %s', name, exc)


def _register_schema_hook():
    from models import schema
    if install_due_indexes not in schema.SCHEMA_HOOKS:
        schema.SCHEMA_HOOKS.append(install_due_indexes)


_register_schema_hook()


def _deadline_query(model, deadline, flt, project_ids, today, *fields, unscheduled=False):
    """The open rows of one deadline the filter asks for: dated ones up to the horizon, or with
    `unscheduled` those whose due date is not set (未定期限)."""
    due = getattr(model, deadline.due_field)
    query = model.select(*fields).where(open_condition(model, deadline) & due.is_null(unscheduled))
    if 'project' in model._meta.fields:
        query = query.where(model.project.in_(project_ids or [0]))
    elif flt.project_ids is not None or flt.project is not None:
        return None        # a shared register has no project to scope by
    if unscheduled:
        if flt.status not in (None, UNSCHEDULED):
            return None
    elif flt.status == OVERDUE:
        query = query.where(due < today)
    elif flt.status == DUE_TODAY:
        query = query.where(due == today)
    elif flt.status == DUE_SOON:
        query = query.where((due > today) & (due <= horizon(today, flt.days)))
    elif flt.status:
        return None
    else:
        query = query.where(due <= horizon(today, flt.days))
    if flt.department:
        cond = _department_condition(model, deadline, flt.department)
        if cond is False:
            return None
        if cond is not True:
            query = query.where(cond)
    return query


def _counts(model, deadline, query, today):
    due = getattr(model, deadline.due_field)
    row = (query.select(fn.SUM(Case(None, [(due < today, 1)], 0)),
                        fn.SUM(Case(None, [(due == today, 1)], 0)),
                        fn.COUNT(model._meta.primary_key))
           .tuples().first())
    overdue, today_count, total = (int(v or 0) for v in (row or (0, 0, 0)))
    return {OVERDUE: overdue, DUE_TODAY: today_count, DUE_SOON: total - overdue - today_count}


def _detail_fields(model):
    """The plain fields that name a row (Meta.lookup), or None to fall back on str(row)."""
    names = [n for n in (getattr(model._meta, 'lookup', ()) or ())
             if n in model._meta.fields and not isinstance(model._meta.fields[n], ForeignKeyField)]
    return [model._meta.fields[n] for n in names] or None


def _row_detail(model, row, fields):
    if fields is None:
        text = str(row)
    else:
        text = ' '.join(str(row.__data__.get(f.name)) for f in fields
                        if row.__data__.get(f.name) not in (None, ''))
    return text if len(text) <= 60 else text[:59] + '…'


def _unit_labels(ids):
    from models.master import Unit
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    return {u.id: str(u) for u in Unit.select(Unit.id, Unit.building, Unit.entrance, Unit.room)
            .where(Unit.id.in_(ids))}


def _names_of(model, ids):
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    pk = model._meta.primary_key
    name = model._meta.fields.get('name')
    if name is not None:
        return {r.get_id(): r.name for r in model.select(pk, name).where(pk.in_(ids))}
    return {r.get_id(): str(r) for r in model.select().where(pk.in_(ids))}


def _fetch_rows(model, deadline, query, count):
    """The first `count` rows of one deadline's query in urgency order, with only the columns
    an item shows (no id list: the rows that made the cut are a prefix of that order)."""
    detail = _detail_fields(model)
    if detail is None or deadline.row_clause is not None:
        columns = [model]
    else:
        wanted = [model._meta.primary_key, getattr(model, deadline.due_field)] + detail
        for fld in (model._meta.fields.get('project'), _owner_field(model, deadline),
                    _unit_field(model, deadline)):
            if fld is not None:
                wanted.append(fld)
        columns = list(OrderedDict((f.name, f) for f in wanted).values())
    due = getattr(model, deadline.due_field)
    return list(query.select(*columns).order_by(due, model._meta.primary_key).limit(count))


def _register_items(model, deadline, rows, today, project_names):
    table = model._meta.table_name
    name = getattr(model._meta, 'verbose_name', table)
    owner_fld = _owner_field(model, deadline)
    unit_fld = _unit_field(model, deadline)
    detail = _detail_fields(model)
    owners = {}
    if isinstance(owner_fld, ForeignKeyField):
        owners = _names_of(owner_fld.rel_model, (r.__data__.get(owner_fld.name) for r in rows))
    units = _unit_labels(r.__data__.get(unit_fld.name) for r in rows) if unit_fld else {}
    items = []
    for row in rows:
        owner = deadline.owner
        if owner_fld is not None:
            value = row.__data__.get(owner_fld.name)
            if isinstance(owner_fld, ForeignKeyField):
                value = owners.get(value)
            owner = value or UNASSIGNED
        unit_id = row.__data__.get(unit_fld.name) if unit_fld else None
        project_id = row.__data__.get('project')
        manual, clause = deadline.row_clause(row) if deadline.row_clause else (None, None)
        items.append(DueItem(
            what=deadline.what, due_on=row.__data__[deadline.due_field], today=today,
            project_id=project_id, project_name=project_names.get(project_id, ''), owner=owner,
            clause=clause or deadline.clause, manual=manual or deadline.manual,
            register=table, register_name=name,
            link='/admin/%s/details/?id=%s' % (table, row.get_id()), row_id=row.get_id(),
            unit_id=unit_id, unit_label=units.get(unit_id, ''),
            detail=_row_detail(model, row, detail)))
    return items


def visible_projects(project_ids=None, project=None):
    """Live projects in the user's scope (None = all), optionally just one of them."""
    from models.master import Project
    query = Project.live().order_by(Project.code)
    if project_ids is not None:
        query = query.where(Project.id.in_(list(project_ids) or [0]))
    if project is not None:
        query = query.where(Project.id == project)
    return list(query)


def collect(today, flt=None, limit=None):
    """Everything overdue or due within `flt.days` days, for the projects the filter allows.

    Returns a DueReport whose items are sorted by urgency (earliest due date first) and cut to
    `limit` (None = all); `total` and the counts always cover everything that matched.
    """
    flt = flt or DueFilter()
    if flt.status and flt.status not in STATUSES:
        raise ValueError('未知的状态：%s' % flt.status)
    projects = visible_projects(flt.project_ids, flt.project)
    project_ids = [p.id for p in projects]
    project_names = {p.id: p.name for p in projects}
    report = DueReport(today=today, days=flt.days, items=[], total=0,
                       by_status={s: 0 for s in STATUSES}, projects=projects)
    # Step 1: (due date, id) of each deadline's most urgent rows; step 2: fetch only the rows
    # that make the cut, so a long list never materializes more than `limit` full rows.
    candidates, queries = [], {}
    for index, (model, deadline) in enumerate(register_deadlines()):
        if flt.register and flt.register != model._meta.table_name:
            continue
        query = _deadline_query(model, deadline, flt, project_ids, today)
        if query is None:
            continue
        due = getattr(model, deadline.due_field)
        pk = model._meta.primary_key
        keys = query.select(due, pk).order_by(due, pk)
        if limit is not None:
            keys = keys.limit(limit)
        keys = list(keys.tuples())
        if limit is not None and len(keys) >= limit:
            counts = _counts(model, deadline, query, today)     # more than a page: count in SQL
        else:
            counts = {s: 0 for s in STATUSES}
            for due_on, _ in keys:
                counts[due_status(due_on, today)] += 1
        found = sum(counts.values())
        if not found:
            continue
        for status, n in counts.items():
            report.by_status[status] += n
        name = getattr(model._meta, 'verbose_name', model._meta.table_name)
        report.by_register[name] = report.by_register.get(name, 0) + found
        report.total += found
        queries[index] = (model, deadline, query)
        candidates.extend((due_on, index, row_id) for due_on, row_id in keys)
    candidates.sort()
    if limit is not None:
        candidates = candidates[:limit]
    taken = {}
    for _, index, _ in candidates:
        taken[index] = taken.get(index, 0) + 1
    streams = []
    for index, count in taken.items():
        model, deadline, query = queries[index]
        rows = _fetch_rows(model, deadline, query, count)
        streams.append(_register_items(model, deadline, rows, today, project_names))

    last = horizon(today, flt.days)
    extra = []
    for source in SOURCES:
        if flt.register and flt.register != source.key:
            continue
        for item in source.func(projects, today, flt) or ():
            if item.due_on > last:
                continue
            if flt.status and item.status != flt.status:
                continue
            if flt.department and item.owner != flt.department:
                continue
            extra.append(item)
            report.by_status[item.status] += 1
            report.by_register[item.register_name] = report.by_register.get(item.register_name, 0) + 1
            report.total += 1
    streams.append(sorted(extra, key=DueItem.sort_key))

    merged = heapq.merge(*[sorted(s, key=DueItem.sort_key) for s in streams], key=DueItem.sort_key)
    items = []
    for item in merged:
        if limit is not None and len(items) >= limit:
            break
        items.append(item)
    report.items = items
    return report


def collect_unscheduled(flt=None, limit=None):
    """Open rows whose deadline is not set yet (未定期限): nobody can be late for them, so they are
    listed to be chased instead of never appearing. The scope and the project, register and
    department filters of `collect`; at most `limit` rows per deadline (None = all), `total`
    and `by_register` counting them all."""
    flt = flt or DueFilter()
    projects = visible_projects(flt.project_ids, flt.project)
    names = {p.id: p.name for p in projects}
    report = DueReport(today=None, days=flt.days, items=[], total=0, projects=projects)
    for model, deadline in register_deadlines():
        if flt.register and flt.register != model._meta.table_name:
            continue
        query = _deadline_query(model, deadline, flt, list(names), None, unscheduled=True)
        found = query.count() if query is not None else 0
        if not found:
            continue
        name = getattr(model._meta, 'verbose_name', model._meta.table_name)
        report.by_register[name] = report.by_register.get(name, 0) + found
        report.total += found
        report.items += _register_items(model, deadline, _fetch_rows(model, deadline, query, limit),
                                        None, names)
    report.by_status = {UNSCHEDULED: report.total}
    return report


# --------------------------------------------------------------------------- project-level sources

def _model(table):
    return registers().get(table)


def _item(source_key, source_name, project, today, *, what, due_on, clause, manual, owner,
          link='', detail='', seq=0):
    return DueItem(what=what, due_on=due_on, today=today, project_id=project.id,
                   project_name=project.name, owner=owner, clause=clause, manual=manual,
                   register=source_key, register_name=source_name, link=link, detail=detail,
                   seq=seq)


COUNTDOWN_KEY = 'countdown_plan'
COUNTDOWN_NAME = '交付倒排计划（未生成节点）'
# The countdown ends at T+90 (centralized repair, experience evaluation); a plan still missing
# long after that is history, not a task.
COUNTDOWN_STALE_DAYS = 180


def _countdown_evidence(project_id):
    """Codes whose work another register already tracks with its own deadline or record."""
    done = set()
    keys = _model('key_transfer')
    if keys is not None:
        kinds = {k.kind for k in keys.live(keys.kind).where(keys.project == project_id)}
        if '施工钥匙' in kinds:
            done.add('T-15')
        if '销售钥匙' in kinds:
            done.add('T-4')
    roster = _model('handover_entry')
    if roster is not None and roster.live().where(roster.project == project_id).exists():
        # The roster exists; its rows carry the notice (T-10) and phone (T-3) deadlines.
        done.update(('T-10a', 'T-10b', 'T-3a'))
    inspections = _model('risk_inspection')
    if inspections is not None:
        kinds = {i.kind for i in inspections.live(inspections.kind)
                 .where(inspections.project == project_id)}
        from rules.delivery import INSPECTION_CODES
        done.update(code for kind, code in INSPECTION_CODES.items() if kind in kinds)
    # Plans and teams (REGISTERS §9): a row carries the node with its own deadline.
    from rules import plans
    teams, plan = _model('work_team'), _model('handover_plan')
    if teams is not None and teams.live().where((teams.project == project_id) &
                                                (teams.kind == plans.MOVE_IN)).exists():
        done.add(plans.COUNTDOWN_TEAMS[plans.MOVE_IN])
    if plan is not None and plan.live().where(plan.project == project_id).exists():
        done.update(plans.PLAN_COUNTDOWN_CODES)
    return done


@deadline_source(COUNTDOWN_KEY, COUNTDOWN_NAME)
def countdown_without_plan(projects, today, flt):
    """The handover countdown (REGISTERS §7, 手册004 4.1–4.3) for the nodes a project has no
    milestone row for: the roster and notices at T−10, calls at T−3, the +3 list and the +15
    report are due whether or not anyone generated the plan. Nodes with a delivery_milestone row
    (even one in the recycle bin) are that row's business, through its own Meta deadline."""
    try:
        from rules.delivery import ANCHOR_DONE, COUNTDOWN, spec_due_on
        from models.delivery import handover_completed_on
    except ImportError:
        return
    milestones = _model('delivery_milestone')
    link = '/admin/delivery_milestone/generate/' if milestones is not None else ''
    for project in projects:
        delivery_on = project.delivery_date
        if delivery_on is None or project.stage == '出保' or \
                (today - delivery_on).days > COUNTDOWN_STALE_DAYS:
            continue
        have = set()
        if milestones is not None:
            have = {m.code for m in milestones.select(milestones.code)
                    .where(milestones.project == project.id)}
        have |= _countdown_evidence(project.id)
        completed_on = None
        for seq, spec in enumerate(COUNTDOWN):
            if spec.code in have:
                continue
            if spec.anchor == ANCHOR_DONE and completed_on is None:
                completed_on = handover_completed_on(project)
            due_on = spec_due_on(spec, delivery_on, completed_on)
            if due_on is None:          # counts from a completion not known yet: 待定, not due
                continue
            yield _item(COUNTDOWN_KEY, COUNTDOWN_NAME, project, today,
                        what='%s %s' % (spec.label, spec.name), due_on=due_on,
                        clause=spec.clause, manual=spec.manual, owner=spec.owner_department,
                        link=link, detail='交付计划未生成该节点（%s）' % spec.code, seq=seq)


QUALITY_GROUP_KEY = 'quality_group'
QUALITY_GROUP_NAME = '成立业主工程质量监理小组'


@deadline_source(QUALITY_GROUP_KEY, QUALITY_GROUP_NAME, owner='营销管理部')
def quality_group_due(projects, today, flt):
    """A project past 30% sold (by units) without an owner quality group (手册003): due on the
    day the signing that crossed 30% was made."""
    groups = _model('supervision_group')
    if groups is None:
        return
    from models.master import Contract, Unit
    from rules import communication as comm
    for project in projects:
        if project.stage in comm.DELIVERED_STAGES:     # the group is for projects still building
            continue
        total = Unit.live().where(Unit.project == project.id).count()
        sold = Unit.live().where((Unit.project == project.id) &
                                 Unit.status.in_(('已售', '已交付'))).count()
        if not comm.group_due(sold, total):
            continue
        has_group = groups.live().where((groups.project == project.id) &
                                        (groups.kind == comm.QUALITY_GROUP)).exists()
        if has_group:
            continue
        # The signing that passed 30% is the k-th earliest valid one (threshold_crossed_on),
        # read as one row rather than loading every contract.
        needed = total * 3 // 10 + 1
        kth = (Contract.live(Contract.sign_date)
               .where((Contract.project == project.id) & (Contract.cancelled == False) &  # noqa: E712
                      Contract.sign_date.is_null(False))
               .order_by(Contract.sign_date).offset(needed - 1).limit(1).first())
        signed = [kth.sign_date] * needed if kth is not None else []
        due_on = threshold_crossed_on(signed, total) or today
        yield _item(QUALITY_GROUP_KEY, QUALITY_GROUP_NAME, project, today,
                    what=QUALITY_GROUP_NAME, due_on=due_on, clause=comm.GROUP_DUE_CLAUSE,
                    manual='手册003 与业主工程质量监理小组的沟通', owner='营销管理部',
                    link='/admin/supervision_group/new/',
                    detail='已售 %d / %d 户（%.1f%%），尚未成立小组' % (sold, total, sold * 100.0 / total))


CALLBACK_KEY = 'annual_callback'
CALLBACK_NAME = '交付满一年顾客回访'


@deadline_source(CALLBACK_KEY, CALLBACK_NAME)
def annual_callback_due(projects, today, flt):
    """The owner callback (手册003): at least one, due once the project is a year past handover and
    its occupancy exceeds 50% (models.aftercare.callback_obligation decides; the callbacks page
    asks the same function)."""
    if _model('callback_survey') is None:
        return
    from models.aftercare import callback_obligation
    from rules import aftercare as care
    for project in projects:
        if project.delivery_start_date is None:
            continue
        obligation, delivered, total, valid = callback_obligation(project, today)
        if not obligation.open:
            continue
        yield _item(CALLBACK_KEY, CALLBACK_NAME, project, today, what=CALLBACK_NAME,
                    due_on=obligation.due_on,
                    clause=care.CALLBACK_CLAUSE + ' ' + care.VALIDITY_CLAUSE,
                    manual='手册003 顾客回访', owner=DEFAULT_OWNER,
                    link='/admin/callback_survey/new/',
                    detail='入住率 %d / %d 户；满一年日 %s 后尚无有效回访' % (
                        delivered, total, obligation.due_from.isoformat()))


PHASE_KEY = 'phase_meetings'
PHASE_NAME = '业主工程质量监理小组阶段会议'


@deadline_source(PHASE_KEY, PHASE_NAME, owner='工程管理部')
def phase_meetings_due(projects, today, flt):
    """A quality group meets at each key construction phase (基础、主体结构、装饰装修、安装,
    手册003). The manual names no day for a phase; construction ends before handover, so a phase
    with no meeting held is due at the latest on the delivery date (T日) — a meeting after the
    owners moved in can no longer steer the works."""
    groups = _model('supervision_group')
    meetings = _model('group_meeting')
    if groups is None or meetings is None:
        return
    from rules import communication as comm
    by_project = {p.id: p for p in projects}
    query = groups.live().where(groups.project.in_(list(by_project) or [0]) &
                                (groups.kind == comm.QUALITY_GROUP) & groups.formed_on.is_null(False))
    for group in query:
        project = by_project[group.__data__['project']]
        if project.delivery_date is None or project.stage in ('已交付', '出保'):
            continue
        held = [m.phase for m in meetings.live(meetings.phase)
                .where((meetings.group == group.id) & meetings.held_on.is_null(False))]
        for seq, phase in enumerate(comm.missing_phases(held)):
            yield _item(PHASE_KEY, PHASE_NAME, project, today, what='%s阶段小组会议' % phase,
                        due_on=project.delivery_date, clause=comm.PHASE_CLAUSE,
                        manual='手册003 与业主工程质量监理小组的沟通（手册未定日期，最迟于交付日前）',
                        owner='工程管理部', link='/admin/group_meeting/new/',
                        detail='%s 尚未召开%s阶段会议' % (group, phase), seq=seq)


def counts_by_project(today, flt=None):
    """{project id: {status: count}} of everything `collect` would list, without the rows.

    One grouped aggregate per register deadline, plus the project-level sources; what the
    dashboard shows on each project's card.
    """
    flt = flt or DueFilter()
    projects = visible_projects(flt.project_ids, flt.project)
    project_ids = [p.id for p in projects]
    counts = {pid: {s: 0 for s in STATUSES} for pid in project_ids}
    for model, deadline in register_deadlines():
        if 'project' not in model._meta.fields:
            continue
        query = _deadline_query(model, deadline, flt, project_ids, today)
        if query is None:
            continue
        due = getattr(model, deadline.due_field)
        rows = (query.select(model.project,
                             fn.SUM(Case(None, [(due < today, 1)], 0)),
                             fn.SUM(Case(None, [(due == today, 1)], 0)),
                             fn.COUNT(model._meta.primary_key))
                .group_by(model.project).tuples())
        for pid, overdue, today_count, total in rows:
            if pid in counts:
                counts[pid][OVERDUE] += int(overdue or 0)
                counts[pid][DUE_TODAY] += int(today_count or 0)
                counts[pid][DUE_SOON] += int(total or 0) - int(overdue or 0) - int(today_count or 0)
    last = horizon(today, flt.days)
    for source in SOURCES:
        for item in source.func(projects, today, flt) or ():
            if item.due_on <= last and item.project_id in counts:
                counts[item.project_id][item.status] += 1
    return counts


# The plans', teams' and reports' sources (REGISTERS §9) live with their registers.
from models import plans as _plans  # noqa: E402

for _key, _name, _owner, _func in _plans.DEADLINE_SOURCES:
    deadline_source(_key, _name, _owner)(_func)
