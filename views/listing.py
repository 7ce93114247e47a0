"""How a register list is fetched: search, filters, count, order, page, related names.

Every RegisterView's `get_list` comes here, so what makes lists fast and correct is written once
(docs/performance.md):
- search goes through the register's text-search indexes (models/search.py), checked by LIKE;
- the count is exact while it is cheap (a count that stops at `KEFU_EXACT_COUNT_LIMIT` rows);
  beyond that it is an estimate from five id windows, shown as "约 N 条", and exact on demand
  (`?exact=1`, kept for two minutes);
- pages after the first are keyset pages (`?after=` / `?before=` the (sort key, id) of a row
  of the page shown, signed with the app's secret; `?last=` the last page, read in reverse
  order), so no page scans the rows before it; numbered pages (`?page=`) past the middle of an exactly counted list are read from
  the end;
- foreign keys shown are loaded in one query per field, so a page costs the same number of
  queries however many rows the register holds;
- the view, edit and delete buttons of a row are rendered once per page and filled in with each
  row's id (`PageRowAction`).
"""
import datetime
import decimal
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from flask import current_app, g, has_request_context, request
from flask_admin.model import template as row_actions
from itsdangerous import BadData, URLSafeSerializer
from markupsafe import Markup
from peewee import (SQL, BooleanField, DateField, DateTimeField, DecimalField, FloatField,
                    ForeignKeyField, IntegerField, NodeList, fn)

from models.base import Register, db, is_sqlite
from models import search as search_index
from views.params import to_int

EXACT_COUNT_LIMIT = 1000        # counted exactly up to here on every page
SAMPLE_WINDOWS = 5              # estimate: matching rows among 5 windows of ids ...
SAMPLE_WIDTH = 1000             # ... of 1000 ids each, spread over the register
EXACT_CACHE_SECONDS = 120
POSITION_ARGS = ('after', 'before', 'last')

_exact_cache = {}
_exact_lock = threading.Lock()


@dataclass
class Count:
    value: int
    exact: bool
    counted_at: Optional[datetime.datetime] = None
    low_id: Optional[int] = None        # the register's id range when counted
    high_id: Optional[int] = None

    @property
    def span(self):
        return 0 if self.low_id is None else self.high_id - self.low_id + 1

    @property
    def label(self):
        if self.exact:
            return '共 %s 条' % format(self.value, ',')
        return '约 %s 条' % format(_round_estimate(self.value), ',')


@dataclass
class Paging:
    """What the list template shows about the count and how to move between pages."""
    count: Count
    keyset: bool                     # pages are moved by keyset links, not page numbers
    first_url: Optional[str] = None
    prev_url: Optional[str] = None
    next_url: Optional[str] = None
    last_url: Optional[str] = None
    exact_url: Optional[str] = None
    at_last: bool = False


# --------------------------------------------------------------------------- search and filters

def _search_fields(view):
    return [view.model._meta.fields[n] for n in view.column_searchable_list or ()
            if n in view.model._meta.fields]


def apply_search(view, query, search, mode='in'):
    """Each word must appear in one of the register's searchable fields, or name the household
    a row is about (an address, an owner's name or phone: models.search.apply_search).

    mode 'in' (exports, plain lists): index candidates checked by LIKE; 'like': LIKE only, for
    a page that walks its order through a frequent term; 'join': a search table drives the
    query (SQLite), for counts that stop early and pages of rarer terms.
    """
    if not search:
        return query
    return search_index.apply_search(query, view.model, _search_fields(view), search, mode=mode)


def apply_filters(view, query, filters):
    joins = set()
    for index, _name, value in filters or ():
        flt = view._filters[index]
        query = view._handle_join(query, flt.column, joins)
        query = flt.apply(query, flt.clean(value))
    return query, joins


def list_order(view, sort_column, sort_desc):
    """[(field, descending)] of the list: the chosen column, then the declared sort, then id.

    Ties of a chosen column keep the declared order, and a descending sort is the exact
    reverse of the ascending one, so both read the index derived for that column (its
    filter index: column, default sort, id) forwards or backwards, never sort the table.
    """
    def resolve(column):
        return getattr(view.model, column) if isinstance(column, str) else column

    pk = view.model._meta.primary_key
    default = [(resolve(c), bool(d)) for c, d in (view._get_default_order() or [])]
    if not any(f is pk for f, _ in default):
        default.append((pk, default[-1][1] if default else True))
    if sort_column is None:
        return default
    chosen = resolve(view._sortable_columns[sort_column])
    desc = bool(sort_desc)
    natural = next((d for f, d in default if f is chosen), False)
    flip = desc != natural
    tail = [(f, d != flip) for f, d in default if f is not chosen]
    return [(chosen, desc)] + tail


def _order_clauses(order, reverse=False):
    return [(f.asc() if desc == reverse else f.desc()) for f, desc in order]


def filtered_query(view, search, filters, mode='in', order=None):
    """The scoped list query with filters and search (and the joins a sort needs), unordered."""
    query, joins = apply_filters(view, view.get_query(), filters)
    for fld, _ in order or ():
        if fld.model is not view.model:
            query = view._handle_join(query, fld, joins)
    query = apply_search(view, query, search, mode=mode)
    return query, joins


def build_query(view, sort_column, sort_desc, search, filters):
    """The list's query with search, filters and order, before paging: the export uses it too."""
    order = list_order(view, sort_column, sort_desc)
    # Sorting by a field of another register joins it, as Flask-Admin does.
    query, _joins = filtered_query(view, search, filters, order=order)
    return query.order_by(*_order_clauses(order))


# --------------------------------------------------------------------------- counting

def count_rows(view, query):
    """The exact number of rows of `query` (ignoring its order and paging)."""
    return query.order_by().count()


def count_list(query, model, exact=False, joined=False, sample=None):
    """Count(value, exact) for a list query: exact while cheap, else an estimate.

    `sample` is the same list as a query the estimate can read by id windows (plain LIKE for
    a search), `query` itself by default."""
    query = query.order_by()
    limit = _exact_limit()
    bounded = query.select(SQL('1')).limit(limit + 1).sql()
    if exact:
        value = query.count()
        low, high = _id_range(model)
        stamp = datetime.datetime.now().replace(microsecond=0)
        with _exact_lock:
            if len(_exact_cache) > 500:
                _exact_cache.clear()
            _exact_cache[_cache_key(bounded, low, high)] = (value, time.monotonic(), stamp)
        return Count(value, True, stamp, low, high)
    seen, low, high = _bounded_count(model, bounded)
    if seen <= limit:
        return Count(seen, True, None, low, high)
    # An exact count asked for lately, while no row was added since (the id range is unchanged).
    with _exact_lock:
        cached = _exact_cache.get(_cache_key(bounded, low, high))
    if cached and time.monotonic() - cached[1] < EXACT_CACHE_SECONDS and cached[0] > limit:
        return Count(cached[0], True, cached[2], low, high)
    estimate = estimate_rows(sample if sample is not None else query, model, low, high, joined)
    return Count(max(estimate, limit + 1), False, None, low, high)


def _id_range(model):
    pk = model._meta.primary_key
    row = db.execute_sql(*_select_values(model.select(fn.MIN(pk)), model.select(fn.MAX(pk)))).fetchone()
    return row[0], row[1]


def _bounded_count(model, bounded):
    """(rows of `bounded` — its SQL and parameters —, lowest id, highest id) in one query."""
    table = model.alias('range_t')
    pk = getattr(table, model._meta.primary_key.name)
    sql, params = _select_values(table.select(fn.MIN(pk)), table.select(fn.MAX(pk)))
    sql = 'SELECT (SELECT COUNT(*) FROM (%s) AS "bounded"), %s' % (bounded[0], sql[len('SELECT '):])
    row = db.execute_sql(sql, list(bounded[1]) + params).fetchone()
    return row[0], row[1], row[2]


def _select_values(*queries):
    parts, params = [], []
    for query in queries:
        sql, args = query.sql()
        parts.append('(%s)' % sql)
        params.extend(args)
    return 'SELECT ' + ', '.join(parts), params


_WINDOW_STAND_IN = (-7340033, -7340031)     # window bounds no id or filter value takes


def estimate_rows(query, model, low, high, joined=False):
    """Matching rows among SAMPLE_WINDOWS windows of ids spread over the table, scaled up.

    Reads about 5,000 rows whatever the size of the register (a search: only the postings
    inside the windows). On SQLite the windows are read by id (NOT INDEXED) so the planner
    does not walk a filter's index instead.
    """
    pk = model._meta.primary_key
    if low is None:
        return 0
    span = high - low + 1
    width = min(SAMPLE_WIDTH, max(1, span // SAMPLE_WINDOWS))
    starts = sorted({low + (span - width) * i // max(1, SAMPLE_WINDOWS - 1)
                     for i in range(SAMPLE_WINDOWS)})
    base = query.order_by()
    alias = getattr(query, '_search_alias', None)
    if is_sqlite() and not joined and not alias:
        base = base.from_(NodeList((model, SQL('NOT INDEXED'))))
    def window(first, last):
        part = base.select(fn.COUNT(SQL('*'))).where(pk.between(first, last))
        if alias:   # the search table reads only its postings inside the window
            part = part.where(SQL('"%s".rowid BETWEEN ? AND ?' % alias, [first, last]))
        return part.sql()

    # One window's count is rendered to SQL once, with stand-in bounds, and repeated for each
    # window with its own bounds: rendering five copies of a search's WHERE clause cost more
    # than reading the windows.
    sql, params = window(*_WINDOW_STAND_IN)
    slots = [(i, _WINDOW_STAND_IN.index(v)) for i, v in enumerate(params)
             if isinstance(v, int) and v in _WINDOW_STAND_IN]
    parts, values = [], []
    for start in starts:
        bounds = (start, start + width - 1)
        if len(slots) == (4 if alias else 2):
            part = list(params)
            for i, which in slots:
                part[i] = bounds[which]
            parts.append(sql)
            values.extend(part)
        else:   # a filter value equal to a stand-in bound: each window rendered apart
            part_sql, part_params = window(*bounds)
            parts.append(part_sql)
            values.extend(part_params)
    cursor = db.execute_sql(' UNION ALL '.join(parts), values)
    found = sum(r[0] for r in cursor.fetchall())
    sampled = width * len(starts)
    return int(round(found * span / float(sampled)))


def _exact_limit():
    try:
        return int(current_app.config.get('KEFU_EXACT_COUNT_LIMIT', EXACT_COUNT_LIMIT))
    except RuntimeError:
        return EXACT_COUNT_LIMIT


def _cache_key(rendered, low, high):
    sql, params = rendered
    return (search_index._db_key(), sql, tuple(str(p) for p in params), low, high)


def _round_estimate(value):
    if value < 1000:
        return value
    digits = len(str(value)) - 2
    return int(round(value, -digits))


# --------------------------------------------------------------------------- keyset positions

def _signature(view, order, search, filters):
    text = json.dumps([view.model._meta.table_name,
                       [(f.model._meta.table_name, f.name, d) for f, d in order],
                       search or '', [(i, str(v)) for i, _n, v in (filters or ())]],
                      ensure_ascii=False)
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]


def _plain(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _positions():
    return URLSafeSerializer(current_app.secret_key, salt='kefu.list-position')


def sign_position(signature, values):
    """A paging token: the sort's signature and a row's sort values, signed with the app's
    secret, so a token can only carry values the portal itself put in it."""
    return _positions().dumps([signature, values])


def make_token(order, row, signature):
    return sign_position(signature, [_plain(row.__data__.get(f.name)) for f, _ in order])


def read_token(token, order, signature):
    """The sort values a token carries, or None when it belongs to another sort or search, or
    fails to verify or decode, or carries a value its column cannot hold: treated as absent."""
    try:
        sig, values = _positions().loads(token)
    except (BadData, ValueError, TypeError):
        return None
    if sig != signature or not isinstance(values, list) or len(values) != len(order):
        return None
    try:
        return [None if value is None else _position_value(fld, value)
                for (fld, _), value in zip(order, values)]
    except (ArithmeticError, TypeError, ValueError):
        return None


def _position_value(fld, value):
    """`value` as the Python value of `fld`: ValueError (or TypeError) when it is not one."""
    if isinstance(fld, DateTimeField):
        return datetime.datetime.fromisoformat(value)
    if isinstance(fld, DateField):
        return datetime.date.fromisoformat(value)
    if isinstance(fld, BooleanField):
        kinds = (bool,)
    elif isinstance(fld, (IntegerField, ForeignKeyField)):
        if isinstance(value, bool) or to_int(value) is None:
            raise ValueError(value)
        kinds = (int,)
    elif isinstance(fld, DecimalField):
        number = decimal.Decimal(value if isinstance(value, str) else '-')
        if not number.is_finite() or abs(number) >= 10 ** 30:
            raise ValueError(value)
        return number
    elif isinstance(fld, FloatField):
        if isinstance(value, bool) or not abs(float(value)) < float('inf'):
            raise ValueError(value)
        kinds = (int, float)
    else:
        if isinstance(value, str) and '\x00' in value:
            raise ValueError(value)
        kinds = (str,)
    if not isinstance(value, kinds):
        raise TypeError(value)
    return value


def _after(fld, value, desc):
    """Rows of `fld` strictly after `value` in the list order (NULLs where the database puts
    them: first ascending on SQLite, last ascending on PostgreSQL)."""
    null_small = is_sqlite()
    greater = not desc
    if value is None:
        if greater == null_small:        # NULLs come first in this direction: all non-null after
            return fld.is_null(False)
        return None                      # NULLs come last: nothing after
    cond = (fld > value) if greater else (fld < value)
    if greater != null_small and _nullable(fld):     # NULLs come after every value
        cond = cond | fld.is_null()
    return cond


def _nullable(fld):
    return getattr(fld, 'null', True)


def _equal(fld, value):
    return fld.is_null() if value is None else (fld == value)


def keyset_condition(order, values, reverse=False):
    """Rows strictly after `values` in `order` (or before, with reverse=True)."""
    cond, prefix = None, None
    for (fld, desc), value in zip(order, values):
        step = _after(fld, value, desc != reverse)
        if step is not None:
            term = step if prefix is None else (prefix & step)
            cond = term if cond is None else (cond | term)
        eq = _equal(fld, value)
        prefix = eq if prefix is None else (prefix & eq)
    if cond is None:
        return SQL('1 = 0')
    first_fld, first_desc = order[0]
    # A plain bound on the leading sort column (>= or <=, a range, not an OR the planner cannot
    # use) lets the database start the index range there.
    if values[0] is not None:
        greater = not (first_desc != reverse)
        bound = (first_fld >= values[0]) if greater else (first_fld <= values[0])
        if greater != is_sqlite() and _nullable(first_fld):    # NULLs come after every value
            bound = bound | first_fld.is_null()
        cond = bound & cond
    return cond


# --------------------------------------------------------------------------- the page

def get_list(view, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
    if page_size is None:
        page_size = view.page_size
    if not execute or not page_size:
        query = build_query(view, sort_column, sort_desc, search, filters)
        count = count_rows(view, query)
        if page_size:
            query = query.limit(page_size).offset((page or 0) * page_size)
        if not execute:
            return count, query
        rows = list(query)
        attach_related(view.model, rows, set(view.column_list))
        return count, rows

    args = request.args if has_request_context() else {}
    model = view.model
    order = list_order(view, sort_column, sort_desc)
    query, joins = filtered_query(view, search, filters, mode='join', order=order)
    plain = filtered_query(view, search, filters, mode='like', order=order)[0] if search else None
    driven = getattr(query, '_search_alias', None) is not None
    count = count_list(query, model, exact=args.get('exact') == '1', joined=bool(joins),
                       sample=None if driven else plain)
    size = page_size
    if search and is_sqlite() and count.value * count.value > size * count.span:
        # A term in many rows: walking the list's order meets a page of them in fewer rows
        # (about size * span / count) than reading all `count` postings would.
        query = plain
    signature = _signature(view, order, search, filters)
    keyset = not count.exact
    rows, has_prev, has_next, at_last = _fetch(query, order, size, page or 0, count, args,
                                               signature)
    attach_related(model, rows, set(view.column_list))
    _remember_paging(view, order, rows, count, keyset, has_prev, has_next, at_last, signature)
    return (count.value if count.exact else None), rows


def _fetch(query, order, size, page, count, args, signature):
    """(rows, has_prev, has_next, at_last) of the page the request asks for."""
    forward = _order_clauses(order)
    backward = _order_clauses(order, reverse=True)
    if args.get('last') == signature:
        rows = list(query.order_by(*backward).limit(size))[::-1]
        return rows, count.value > len(rows), False, True
    for name, reverse in (('after', False), ('before', True)):
        token = args.get(name)
        values = read_token(token, order, signature) if token else None
        if values is None:
            continue
        cond = keyset_condition(order, values, reverse=reverse)
        rows = list(query.where(cond).order_by(*(backward if reverse else forward)).limit(size + 1))
        more = len(rows) > size
        rows = rows[:size]
        if not reverse:
            return rows, True, more, not more
        if more:
            return rows[::-1], True, True, False
        # Reached the start: show the first page.
        rows = list(query.order_by(*forward).limit(size + 1))
        return rows[:size], False, len(rows) > size, len(rows) <= size
    if page and count.exact and page * size * 2 >= count.value:
        # Past the middle: read from the end, so the last page is as quick as the first.
        end = min(count.value, (page + 1) * size)
        limit = end - page * size
        if limit <= 0:
            return [], True, False, True
        rows = list(query.order_by(*backward).offset(count.value - end).limit(limit))[::-1]
        return rows, True, end < count.value, end >= count.value
    rows = list(query.order_by(*forward).offset(page * size).limit(size + 1))
    more = len(rows) > size
    return rows[:size], page > 0, more, not more


def _remember_paging(view, order, rows, count, keyset, has_prev, has_next, at_last, signature):
    if not has_request_context():
        return
    try:
        view_args = view._get_list_extra_args()
    except RuntimeError:
        return

    def url(**extra):
        kept = {k: v for k, v in view_args.extra_args.items()
                if k not in POSITION_ARGS and k != 'exact'}
        if request.args.get('exact') == '1':
            kept['exact'] = '1'
        kept.update({k: v for k, v in extra.items() if v is not None})
        return view._get_list_url(view_args.clone(page=None, extra_args=kept))

    paging = Paging(count=count, keyset=keyset, at_last=at_last)
    if keyset:
        paging.first_url = url() if has_prev else None
        if has_prev and rows:
            paging.prev_url = url(before=make_token(order, rows[0], signature))
        if has_next and rows:
            paging.next_url = url(after=make_token(order, rows[-1], signature))
        if not at_last:
            paging.last_url = url(last=signature)
    if not count.exact:
        paging.exact_url = url(exact='1')
    g.list_paging = paging


# --------------------------------------------------------------------------- related rows

def attach_related(model, rows, names=None):
    """Load the rows' foreign-key targets in one query per field, not one per row."""
    if not rows:
        return rows
    for name, fld in model._meta.fields.items():
        if not isinstance(fld, ForeignKeyField) or name in Register.AUDIT_FIELDS:
            continue
        if names is not None and name not in names:
            continue
        ids = {r.__data__.get(name) for r in rows} - {None}
        if not ids:
            continue
        target = fld.rel_model
        found = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for obj in target.select().where(target._meta.primary_key.in_(chunk)):
                found[obj.get_id()] = obj
        for row in rows:
            key = row.__data__.get(name)
            if key is not None and key in found:
                row.__rel__[name] = found[key]
    return rows


# --------------------------------------------------------------------------- row buttons

class PageRowAction(row_actions.BaseListRowAction):
    """One of Flask-Admin's row actions (view, edit, delete), rendered once per page.

    Flask-Admin renders each button of each row through its macro: a template call, a `url_for`
    and, for delete, a WTForms form with its CSRF field — a third of the CPU time of a 50-row
    page. The buttons differ from row to row only by the row's id, so the action's own markup is
    rendered once with a stand-in id and the stand-in replaced for each row: the same HTML,
    rendered by the same macro. An id that is not plain letters and digits is rendered the
    usual way."""

    SAME_FOR_EVERY_ROW = (row_actions.ViewRowAction, row_actions.ViewPopupRowAction,
                          row_actions.EditRowAction, row_actions.EditPopupRowAction,
                          row_actions.DeleteRowAction)

    def __init__(self, action):
        super().__init__(action.title)
        self.action = action
        self._page = None       # (return_url, stand-in, markup) of the page being rendered

    def render(self, context, row_id, row):
        key = str(row_id)
        if not (key.isascii() and key.isalnum()):
            return self.action.render(context, row_id, row)
        return_url = context.resolve('return_url')
        if self._page is None or self._page[0] != return_url:
            view = context.resolve('admin_view')
            stand_in = 'kefurow' + uuid.uuid4().hex
            row_stand_in = type(row).__new__(type(row))
            row_stand_in.__data__ = {view._primary_key: stand_in}
            markup = str(self.action.render(context, stand_in, row_stand_in))
            self._page = (return_url, stand_in, markup)
        return Markup(self._page[2].replace(self._page[1], key))
