"""How a register list is fetched: search, filters, count, order, page, related names.

Every RegisterView's `get_list` comes here, so what makes lists fast and correct is written once.
"""
from peewee import ForeignKeyField

from models.base import Register


def apply_search(view, query, search):
    """Each word must appear in one of the register's searchable fields."""
    fields = [view.model._meta.fields[n] for n in view.column_searchable_list
              if n in view.model._meta.fields]
    if not fields or not search:
        return query
    for word in search.split():
        cond = None
        for fld in fields:
            clause = fld.contains(word)
            cond = clause if cond is None else (cond | clause)
        query = query.where(cond)
    return query


def apply_filters(view, query, filters):
    joins = set()
    for index, _name, value in filters or ():
        flt = view._filters[index]
        query = view._handle_join(query, flt.column, joins)
        query = flt.apply(query, flt.clean(value))
    return query, joins


def count_rows(view, query):
    return query.order_by().count()


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


def build_query(view, sort_column, sort_desc, search, filters):
    """The list's query with search, filters and order, before paging: the export uses it too."""
    query = view.get_query()
    query = apply_search(view, query, search)
    query, joins = apply_filters(view, query, filters)
    if sort_column is not None:
        order = [(view._sortable_columns[sort_column], sort_desc)]
    else:
        order = view._get_default_order() or []
    order = list(order) + [('id', True)]
    query, joins = view._order_by(query, joins, order)
    return query


def get_list(view, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
    query = build_query(view, sort_column, sort_desc, search, filters)
    count = count_rows(view, query)
    if page_size is None:
        page_size = view.page_size
    if page_size:
        query = query.limit(page_size)
        if page:
            query = query.offset(page * page_size)
    if not execute:
        return count, query
    rows = list(query)
    attach_related(view.model, rows, set(view.column_list))
    return count, rows
