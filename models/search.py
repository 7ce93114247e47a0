"""Indexes every register gets from its declaration: list indexes and Chinese text search.

List indexes (both databases), partial on live rows (`deleted_at IS NULL`, as every list query is):
- the declared default sort, then id (the list's tie-breaker): the first page and its keyset
  pages are read from the index in order, never sorted;
- for project registers, project + default sort: a clerk's list;
- every declared filter, then the default sort: a filtered page and its count come from one
  index range (for date and number filters, which are ranges, the filter column alone);
- for project registers, project + each choice/yes-no filter + default sort (project + status
  + found_on ...);
- each foreign key to a unit, an owner or a contract, deleted_at, then the default sort: an
  address or an owner search names a handful of ids (resolved first), and each id's rows come
  from the index in list order (a page reads about a page of rows per id, the count none).

Text search, for every register with `Meta.search`:
- SQLite ≥ 3.34: `<table>_fts`, an FTS5 table with the trigram tokenizer over the register's
  searchable fields (external content: the register table itself), answers terms of three or
  more characters; `<table>_fts2`, a contentless FTS5 table over each field's character bigrams
  (and its last character), answers terms of one or two characters, which trigrams cannot.
  Triggers on insert, update and delete keep both in step; soft-deleted rows stay indexed and
  are left out by the list's scope, like every other query.
- PostgreSQL: a pg_trgm GIN index on the lower-cased searchable text answers LIKE for three or
  more characters, and a GIN index on its array of 1- and 2-character grams (`kefu_bigrams`)
  answers one or two characters (and three or more when the database's locale gives Chinese
  characters no trigrams).
The list always checks candidates with the plain LIKE as well, so an index can only speed a
search up, never change its result.

`install()` is appended to `models.schema.SCHEMA_HOOKS`: init-db runs it after the tables exist.
It is idempotent; a search index whose declaration changed is rebuilt.
"""
import functools
import hashlib
import threading

from peewee import (SQL, BooleanField, CharField, DateField, DateTimeField, DecimalField,
                    Expression, FloatField, ForeignKeyField, IntegerField, NodeList, Table,
                    TextField, fn)

from models.base import AttachmentField, all_registers, db, is_sqlite

MIN_SQLITE_FTS = (3, 34, 0)
# Texts are gram-indexed up to this many characters per field (one row per position in kefu_seq).
MAX_GRAM_CHARS = 20000

_state_lock = threading.Lock()
_ready = {}          # (database key, table) -> bool: search tables present


# --------------------------------------------------------------------------- declaration

def text_fields(model):
    """The register's searchable fields that hold text (what the search indexes cover)."""
    found = []
    for name in getattr(model._meta, 'search', ()) or ():
        fld = model._meta.fields.get(name)
        if isinstance(fld, (CharField, TextField)) and not isinstance(fld, AttachmentField):
            found.append(fld)
    return found


def sort_columns(model):
    """[(column name, descending)] of the declared default sort, then id (the tie-breaker)."""
    columns = []
    for item in getattr(model._meta, 'default_sort', ()) or ():
        name, desc = (item, False) if isinstance(item, str) else (item[0], bool(item[1]))
        fld = model._meta.fields.get(name)
        if fld is not None and fld.column_name not in [c for c, _ in columns]:
            columns.append((fld.column_name, desc))
    if 'id' not in [c for c, _ in columns]:
        columns.append(('id', columns[-1][1] if columns else True))
    return columns


def _is_range(fld):
    return isinstance(fld, (DateField, DateTimeField, IntegerField, DecimalField, FloatField)) and \
        not isinstance(fld, ForeignKeyField) and not fld.choices


def derived_indexes(model):
    """[(index name, [(column, descending)])] derived from the register's filters and sort."""
    meta = model._meta
    if 'deleted_at' not in meta.fields:
        return []
    sort = sort_columns(model)
    scoped = 'project' in meta.fields
    wanted = [sort]
    if scoped:
        wanted.append([('project_id', False)] + [c for c in sort if c[0] != 'project_id'])
    # Each link to a household (unit, owner, contract), then the default sort: a search for an
    # address or an owner names a handful of ids (models.search.household_terms), and the rows
    # of each id come from the index in list order, so a page reads about a page of rows per id
    # (SQLite leaves an id's range once its rows cannot reach the page: its ORDER BY LIMIT
    # optimisation) and the count reads the index only. deleted_at, always NULL here, is a
    # column so that the list's `deleted_at IS NULL` is an equality of this index: without it
    # SQLite's planner prefers the foreign key's own index, and reads and sorts every row of
    # the ids.
    for fld in household_index_fields(model):
        wanted.append([(fld.column_name, False), ('deleted_at', False)] +
                      [c for c in sort if c[0] not in (fld.column_name, 'deleted_at')])
    for name in getattr(meta, 'filters', ()) or ():
        fld = meta.fields.get(name)
        if fld is None or name == 'project':
            continue
        col = fld.column_name
        if _is_range(fld):
            wanted.append([(col, False), ('id', False)])
            continue
        rest = [c for c in sort if c[0] != col]
        wanted.append([(col, False)] + rest)
        if scoped and (fld.choices or isinstance(fld, BooleanField)):
            wanted.append([('project_id', False), (col, False)] +
                          [c for c in rest if c[0] != 'project_id'])
    found, seen = [], set()
    for columns in wanted:
        key = tuple(columns)
        if key in seen:
            continue
        seen.add(key)
        found.append((_index_name(meta.table_name, columns), columns))
    return found


def household_index_fields(model):
    """The register's foreign keys to a unit, an owner or a contract (household_links)."""
    links = household_links(model)
    return [f for kind in ('unit', 'owner', 'contract') for f in links.get(kind, ())]


def _index_name(table, columns):
    name = 'kx_%s__%s' % (table, '_'.join(c for c, _ in columns))
    if len(name) > 60:   # PostgreSQL cuts names at 63 bytes: keep them unique
        digest = hashlib.md5(name.encode()).hexdigest()[:10]
        name = 'kx_%s__%s' % (table[:40], digest)
    return name


def _q(name):
    return '"%s"' % name.replace('"', '""')


# --------------------------------------------------------------------------- the schema hook

def install(models=None):
    """Create the derived list indexes and the search indexes of every register (idempotent)."""
    models = list(models) if models is not None else all_registers()
    db.connect(reuse_if_open=True)   # init-db holds the connection; never close it here
    with db.atomic():                # one commit for all of it: init-db runs before every test
        _install(models)
    forget()


def _install(models):
    for model in models:
        create_list_indexes(model)
    # A room typed alone (「1602」) is looked up across buildings: by room.
    db.execute_sql('CREATE INDEX IF NOT EXISTS "kx_unit__room" ON "unit" ("room") '
                   'WHERE "deleted_at" IS NULL')
    if is_sqlite():
        if sqlite_has_fts():
            _sqlite_seq()
            for model in models:
                if text_fields(model):
                    install_sqlite_search(model)
    else:
        _pg_functions()
        for model in models:
            if text_fields(model):
                install_pg_search(model)


def create_list_indexes(model):
    table = model._meta.table_name
    for name, columns in derived_indexes(model):
        cols = ', '.join('%s%s' % (_q(c), ' DESC' if desc else '') for c, desc in columns)
        db.execute_sql('CREATE INDEX IF NOT EXISTS %s ON %s (%s) WHERE "deleted_at" IS NULL'
                       % (_q(name), _q(table), cols))


def sqlite_has_fts():
    import sqlite3
    if tuple(int(p) for p in sqlite3.sqlite_version.split('.')[:3]) < MIN_SQLITE_FTS:
        return False
    try:
        db.execute_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.kefu_fts_probe "
                       "USING fts5(x, tokenize='trigram')")
        db.execute_sql('DROP TABLE IF EXISTS temp.kefu_fts_probe')
    except Exception:   # SQLite built without FTS5
        return False
    return True


def _sqlite_seq():
    """kefu_seq(n) = 1..MAX_GRAM_CHARS: triggers cannot use recursive CTEs, so grams come from it."""
    db.execute_sql('CREATE TABLE IF NOT EXISTS kefu_seq (n INTEGER PRIMARY KEY)')
    have = db.execute_sql('SELECT MAX(n) FROM kefu_seq').fetchone()[0] or 0
    if have < MAX_GRAM_CHARS:
        db.execute_sql('WITH RECURSIVE s(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM s WHERE n < ?) '
                       'INSERT INTO kefu_seq(n) SELECT n FROM s', (have + 1, MAX_GRAM_CHARS))
    db.execute_sql('CREATE TABLE IF NOT EXISTS kefu_search_state '
                   '(table_name TEXT PRIMARY KEY, signature TEXT NOT NULL)')


def _grams_sql(ref, fields):
    """SQL for the space-separated character bigrams of each field (the last character of a
    field is its own gram, so one-character terms match as a prefix)."""
    parts = ["coalesce((SELECT group_concat(substr(%s.%s, n, 2), ' ') FROM kefu_seq "
             "WHERE n <= length(%s.%s)), '')" % (ref, _q(f.column_name), ref, _q(f.column_name))
             for f in fields]
    return " || ' ' || ".join(parts)


def sqlite_search_ddl(model):
    table = model._meta.table_name
    fields = text_fields(model)
    cols = ', '.join(_q(f.column_name) for f in fields)
    fts, fts2 = table + '_fts', table + '_fts2'
    tables = [
        "CREATE VIRTUAL TABLE %s USING fts5(%s, tokenize='trigram', content=%s, "
        "content_rowid='id')" % (_q(fts), cols, "'%s'" % table),
        "CREATE VIRTUAL TABLE %s USING fts5(grams, tokenize='unicode61', content='', "
        "detail=none)" % _q(fts2),
    ]
    new_vals = ', '.join('new.%s' % _q(f.column_name) for f in fields)
    old_vals = ', '.join('old.%s' % _q(f.column_name) for f in fields)
    add = ('INSERT INTO %s(rowid, %s) VALUES (new.id, %s); '
           'INSERT INTO %s(rowid, grams) VALUES (new.id, %s);'
           % (_q(fts), cols, new_vals, _q(fts2), _grams_sql('new', fields)))
    remove = ("INSERT INTO %s(%s, rowid, %s) VALUES ('delete', old.id, %s); "
              "INSERT INTO %s(%s, rowid, grams) VALUES ('delete', old.id, %s);"
              % (_q(fts), _q(fts), cols, old_vals, _q(fts2), _q(fts2), _grams_sql('old', fields)))
    triggers = [
        'CREATE TRIGGER %s AFTER INSERT ON %s BEGIN %s END' % (_q(table + '_search_ai'), _q(table), add),
        'CREATE TRIGGER %s AFTER DELETE ON %s BEGIN %s END' % (_q(table + '_search_ad'), _q(table), remove),
        'CREATE TRIGGER %s AFTER UPDATE OF %s ON %s BEGIN %s %s END'
        % (_q(table + '_search_au'), cols, _q(table), remove, add),
    ]
    return tables, triggers


def install_sqlite_search(model):
    table = model._meta.table_name
    fts, fts2 = table + '_fts', table + '_fts2'
    tables, triggers = sqlite_search_ddl(model)
    signature = hashlib.md5(('\n'.join(tables + triggers) + str(MAX_GRAM_CHARS)).encode()).hexdigest()
    row = db.execute_sql('SELECT signature FROM kefu_search_state WHERE table_name = ?',
                         (table,)).fetchone()
    exists = db.execute_sql("SELECT COUNT(*) FROM sqlite_master WHERE name IN (?, ?)",
                            (fts, fts2)).fetchone()[0] == 2
    with db.atomic():   # a savepoint inside install()'s transaction
        for kind in ('ai', 'ad', 'au'):
            db.execute_sql('DROP TRIGGER IF EXISTS %s' % _q('%s_search_%s' % (table, kind)))
        if not exists or row is None or row[0] != signature:
            db.execute_sql('DROP TABLE IF EXISTS %s' % _q(fts))
            db.execute_sql('DROP TABLE IF EXISTS %s' % _q(fts2))
            for sql in tables:
                db.execute_sql(sql)
            rebuild_sqlite_search(model)
        elif db.execute_sql('SELECT 1 FROM %s LIMIT 1' % _q(table)).fetchone() is None:
            # An empty register (a recreated database file) must not keep grams of old rows.
            rebuild_sqlite_search(model)
        for sql in triggers:
            db.execute_sql(sql)
        db.execute_sql('INSERT OR REPLACE INTO kefu_search_state(table_name, signature) VALUES (?, ?)',
                       (table, signature))


def rebuild_sqlite_search(model):
    """Re-read every row of the register into its two search tables."""
    table = model._meta.table_name
    fts, fts2 = table + '_fts', table + '_fts2'
    db.execute_sql("INSERT INTO %s(%s) VALUES ('rebuild')" % (_q(fts), _q(fts)))
    db.execute_sql("INSERT INTO %s(%s) VALUES ('delete-all')" % (_q(fts2), _q(fts2)))
    db.execute_sql('INSERT INTO %s(rowid, grams) SELECT id, %s FROM %s AS r'
                   % (_q(fts2), _grams_sql('r', text_fields(model)), _q(table)))


PG_GRAMS_FUNCTION = (
    "CREATE OR REPLACE FUNCTION kefu_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE "
    "PARALLEL SAFE AS $$ SELECT coalesce(array_agg(DISTINCT g), '{}') FROM ("
    "SELECT substr(t, i, 2) AS g FROM generate_series(1, length(t)) AS i "
    "UNION ALL SELECT substr(t, i, 1) FROM generate_series(1, length(t)) AS i) AS s $$"
)


def _pg_functions():
    db.execute_sql(PG_GRAMS_FUNCTION)
    try:
        with db.atomic():
            db.execute_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except Exception:   # no right to create extensions: the gram index answers every length
        pass


def pg_text_sql(model, alias=None):
    """The lower-cased searchable text, exactly as the PostgreSQL indexes are built on it."""
    prefix = '' if alias is None else '%s.' % _q(alias)
    parts = ["coalesce(%s%s, '')" % (prefix, _q(f.column_name)) for f in text_fields(model)]
    return "lower(%s)" % " || ' ' || ".join(parts)


def install_pg_search(model):
    table = model._meta.table_name
    text = pg_text_sql(model)
    db.execute_sql('CREATE INDEX IF NOT EXISTS %s ON %s USING gin (kefu_bigrams(%s))'
                   % (_q('kx_%s__grams' % table[:45]), _q(table), text))
    if _pg_has_trgm():
        db.execute_sql('CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((%s) gin_trgm_ops)'
                       % (_q('kx_%s__trgm' % table[:46]), _q(table), text))


def _pg_has_trgm():
    return bool(db.execute_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone())


# --------------------------------------------------------------------------- querying

def forget():
    with _state_lock:
        _ready.clear()


def _db_key():
    return (id(db.obj), getattr(db.obj, 'database', None))


def search_ready(model):
    """Whether the register's search indexes exist (looked up once per process and database)."""
    key = (_db_key(), model._meta.table_name)
    with _state_lock:
        if key in _ready:
            return _ready[key]
    table = model._meta.table_name
    if is_sqlite():
        found = db.execute_sql("SELECT COUNT(*) FROM sqlite_master WHERE name IN (?, ?)",
                               (table + '_fts', table + '_fts2')).fetchone()[0] == 2
        ready = found
    else:
        rows = db.execute_sql(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname IN (%s, %s)",
            (table, 'kx_%s__grams' % table[:45], 'kx_%s__trgm' % table[:46])).fetchall()
        names = {r[0] for r in rows}
        ready = {'grams': 'kx_%s__grams' % table[:45] in names,
                 'trgm': 'kx_%s__trgm' % table[:46] in names and _pg_trgm_knows_chinese()}
        ready = ready if ready['grams'] else False
    with _state_lock:
        _ready[key] = ready
    return ready


def _pg_trgm_knows_chinese():
    """pg_trgm takes only 'alphanumeric' characters by the database's locale (C: no Chinese)."""
    try:
        row = db.execute_sql("SELECT array_length(show_trgm('验收问题'), 1)").fetchone()
    except Exception:
        return False
    return bool(row and row[0])


def _like_any(fields, word):
    """`word` in one of `fields`, as LIKE '%word%' (what the list's search has always meant)."""
    # Without ASCII letters case folding cannot matter, and SQLite's instr() is a plain byte
    # search, several times cheaper than LIKE on Chinese text (pages walked row by row).
    plain = is_sqlite() and not any(ch.isascii() and ch.isalpha() for ch in word)
    cond = None
    for fld in fields:
        clause = (fn.instr(fld, word) > 0) if plain else fld.contains(word)
        cond = clause if cond is None else (cond | clause)
    return cond


def _fts_phrase(word):
    return '"%s"' % word.replace('"', '""')


def search_condition(model, fields, word, mode='in'):
    """Rows where `word` appears in one of `fields` (LIKE semantics), served by the indexes.

    mode 'like': the plain LIKE only (the list walks its order and tests each row: the better
    plan when a term is in many rows); 'in': the index candidates, checked by LIKE.
    """
    like = _like_any(fields, word)
    if mode == 'like' or not _indexed(model, fields, word):
        return like
    ready = search_ready(model)
    if is_sqlite():
        fts, match = _sqlite_match(model, word)
        if match is None:
            return like
        sub = SQL('SELECT rowid FROM %s WHERE %s MATCH ?' % (_q(fts), _q(fts)), [match])
        return Expression(model._meta.primary_key, 'IN',
                          NodeList((SQL('('), sub, SQL(')')), glue='')) & like
    text = pg_text_expression(model)
    lowered = word.lower()
    grams = [lowered] if len(lowered) <= 2 else [lowered[i:i + 2] for i in range(len(lowered) - 1)]
    gram_cond = Expression(fn.kefu_bigrams(text), '@>', SQL('%s::text[]', [sorted(set(grams))]))
    if len(lowered) <= 2:
        return gram_cond & like
    pattern = '%' + lowered.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_') + '%'
    cond = Expression(text, 'LIKE', pattern)
    if not ready.get('trgm'):
        cond = cond & gram_cond
    return cond & like


def join_search(query, model, fields, words):
    """`query` limited to rows holding every word, driven by a search table (SQLite).

    The search table is the outer loop of a join, so a count that stops after N rows reads N
    postings only (an IN (subquery) would read every posting of the term first).
    Returns None when no search table can drive (the caller uses search_condition).
    """
    if not is_sqlite() or not words:
        return None
    usable = [w for w in words if _indexed(model, fields, w) and _sqlite_match(model, w)[1]]
    if not usable:
        return None
    driver = max(usable, key=len)
    fts, match = _sqlite_match(model, driver)
    table = Table(fts, ('rowid',)).alias('kefu_search')
    query = query.join(table, on=(table.rowid == model._meta.primary_key)) \
        .where(SQL('"kefu_search".%s MATCH ?' % _q(fts), [match])).switch(model)
    query._search_alias = 'kefu_search'   # lets an estimate bound the postings it reads
    for word in words:
        query = query.where(_like_any(fields, word))
    return query


def _indexed(model, fields, word):
    indexed = text_fields(model)
    if not word or not indexed or {f.name for f in fields} != {f.name for f in indexed}:
        return False
    return bool(search_ready(model))


def _sqlite_match(model, word):
    """(search table, FTS5 query) for `word`: trigrams from three characters, else bigrams."""
    table = model._meta.table_name
    if len(word) >= 3:
        return table + '_fts', _fts_phrase(word)
    return table + '_fts2', _gram_match(word)


def pg_text_expression(model):
    """pg_text_sql as a peewee expression, so each query names the table by its own alias."""
    expr = None
    for fld in text_fields(model):
        part = fn.coalesce(fld, SQL("''"))
        expr = part if expr is None else expr.concat(SQL("' '")).concat(part)
    return fn.lower(expr)


def _gram_match(word):
    """The FTS5 query over bigram tokens for a 1–2 character term, or None (use LIKE)."""
    if not all(ch.isalnum() for ch in word):
        return None
    if len(word) == 1:
        return '%s*' % _fts_phrase(word.lower())
    return _fts_phrase(word.lower())


# --------------------------------------------------------------------------- households

# Of a name or phone fragment, this many owners are named by id; more, and the owners' query is
# kept as a subquery (a one-character surname matches thousands).
OWNER_IDS_CAP = 500
# Of an address, this many units are named by id (a home in every project that has it: 20 in
# the benchmark; a building alone, 「8号楼」, a few hundred); more, and the units' query is kept
# as a subquery.
UNIT_IDS_CAP = 500


def _household_models():
    from models.master import Contract, Owner, Unit
    return Unit, Owner, Contract


@functools.lru_cache(maxsize=None)
def household_links(model):
    """How rows of `model` name a household: {'unit': [fields], 'owner': [...], 'contract': [...],
    'parent': [fields to registers that name one]}, found from the foreign keys (the registry
    walked, not a list); empty for a register about no household."""
    from models.base import Register
    unit, owner, contract = _household_models()
    found = {'unit': [], 'owner': [], 'contract': [], 'parent': []}
    for name, fld in model._meta.fields.items():
        if not isinstance(fld, ForeignKeyField) or name in Register.AUDIT_FIELDS or name == 'project':
            continue
        target = fld.rel_model
        kind = {unit: 'unit', owner: 'owner', contract: 'contract'}.get(target)
        if kind is None and target is not model and _direct_links(target):
            kind = 'parent'
        if kind:
            found[kind].append(fld)
    return found if any(found.values()) or model in (unit, owner) else {}


def _direct_links(model):
    from models.base import Register
    return [f for n, f in model._meta.fields.items()
            if isinstance(f, ForeignKeyField) and n not in Register.AUDIT_FIELDS
            and f.rel_model in _household_models()]


def is_household_register(model):
    return bool(household_links(model))


def address_units(address):
    """The units an Address names (rules.address), however their parts are stored."""
    from rules import address as parse
    unit = _household_models()[0]
    query = unit.select(unit.id).where(unit.deleted_at.is_null())
    if address.building is not None:
        query = query.where(unit.building.in_(parse.building_forms(address.building)))
    if address.entrance is not None:
        query = query.where(unit.entrance.in_(parse.entrance_forms(address.entrance)))
    if address.room is not None:
        query = query.where(unit.room.in_(parse.room_forms(address.room)))
    return query


def _ids_or_query(query, cap):
    """The ids `query` selects, as a list, when there are at most `cap`; else `query` itself.

    A list lets the register's (link, sort) index be read id by id in list order: the page
    reads about a page of rows per id and the count only the index, where an IN (subquery) the
    planner cannot see into reads and sorts every matching row."""
    ids = [r[0] for r in query.limit(cap + 1).tuples()]
    return ids if len(ids) <= cap else query


def resolved_units(address):
    """The ids of the units an Address names (address_units), or their query when many.

    Read once per request: a list page builds its query twice (the indexed one and the plain
    one it may walk instead), both for the same units."""
    memo = _request_memo()
    key = ('units', _db_key(), address)
    if memo is not None and key in memo:
        return memo[key]
    found = _ids_or_query(address_units(address), UNIT_IDS_CAP)
    if memo is not None:
        memo[key] = found
    return found


def _request_memo():
    """A dict that lives as long as the current request (None outside one)."""
    try:
        from flask import has_request_context, request
    except ImportError:
        return None
    if not has_request_context():
        return None
    memo = getattr(request, '_kefu_household_memo', None)
    if memo is None:
        memo = {}
        setattr(request, '_kefu_household_memo', memo)
    return memo


def _owners_of_units(units):
    _unit, owner, contract = _household_models()
    live = contract.deleted_at.is_null()
    return owner.select(owner.id).where(
        owner.id.in_(contract.select(contract.owner).where(live & contract.unit.in_(units))) |
        owner.id.in_(contract.select(contract.co_owner).where(live & contract.unit.in_(units))))


def _units_of_owners(owners):
    unit, _owner, contract = _household_models()
    live = contract.deleted_at.is_null()
    return unit.select(unit.id).where(
        unit.id.in_(contract.select(contract.unit).where(
            live & (contract.owner.in_(owners) | contract.co_owner.in_(owners)))))


def matching_owners(word, phone_tail=False):
    """Owners whose name or phone holds `word` (or whose phone ends with it: 手机尾号): a list of
    ids, or a subquery when there are many; None when there are none. Read once per request."""
    memo = _request_memo()
    key = ('owners', _db_key(), word, phone_tail)
    if memo is not None and key in memo:
        return memo[key]
    found = _matching_owners(word, phone_tail)
    if memo is not None:
        memo[key] = found
    return found


def _matching_owners(word, phone_tail):
    owner = _household_models()[1]
    if phone_tail:
        cond = owner.phone.endswith(word)
    else:
        cond = _like_any([owner.name, owner.phone], word)
        if _indexed(owner, text_fields(owner), word):   # the owner register's own search index
            cond = search_condition(owner, text_fields(owner), word) & cond
    found = _ids_or_query(owner.select(owner.id).where(owner.deleted_at.is_null() & cond),
                          OWNER_IDS_CAP)
    return found if not isinstance(found, list) or found else None


def household_condition(model, units, owners, precise=True, depth=0):
    """Rows of `model` about the households of `units` (a unit query) or `owners`.

    precise: an address was given, so a row naming a unit matches by its unit only (the owner's
    other homes are other households); a row naming only an owner matches by the owner."""
    unit, owner, contract = _household_models()
    links = household_links(model)
    if not links:
        return None
    if model is unit:
        cond = unit.id.in_(units)
        return cond if precise or owners is None else cond | unit.id.in_(_units_of_owners(owners))
    if model is owner:
        return owner.id.in_(owners) if owners is not None else None
    parts = [f.in_(units) for f in links['unit']]
    if owners is not None:
        for fld in links['owner']:
            if precise and links['unit']:
                no_unit = None
                for u in links['unit']:
                    no_unit = u.is_null() if no_unit is None else (no_unit & u.is_null())
                parts.append(fld.in_(owners) & no_unit)
            else:
                parts.append(fld.in_(owners))
    if links['contract']:
        which = contract.unit.in_(units)
        if owners is not None and not precise:
            which = which | contract.owner.in_(owners) | contract.co_owner.in_(owners)
        parts += [f.in_(contract.select(contract.id).where(which)) for f in links['contract']]
    if depth == 0:
        for fld in links['parent']:
            inner = household_condition(fld.rel_model, units, owners, precise, depth + 1)
            if inner is not None:
                target = fld.rel_model
                parts.append(fld.in_(target.select(target._meta.primary_key).where(inner)))
    cond = None
    for part in parts:
        cond = part if cond is None else (cond | part)
    return cond


def household_terms(model, text):
    """[(word, household condition)] of a search on `model`, from rules.address:

    - an address: (None, the rows of that home) — a full address finds exactly that unit;
    - a bare room number (1602): (word, rows of every unit with that room or an owner whose
      phone ends with it), the register's own text searched too;
    - a name or phone fragment: (word, rows of the owners it names) when an owner has it;
    - anything else, or a register about no household: (word, None), its own text only."""
    from rules.address import household_text
    words = str(text or '').split()
    if not is_household_register(model):
        return [(w, None) for w in words]
    terms = []
    for part in household_text(text):
        if isinstance(part, str):
            owners = matching_owners(part)
            cond = None if owners is None else household_condition(
                model, _units_of_owners(owners), owners, precise=False)
            terms.append((part, cond))
            continue
        units = resolved_units(part)
        if part.room_only:
            cond = household_condition(model, units, _owners_of_units(units))
            tail = matching_owners(part.room, phone_tail=True)
            if tail is not None:
                cond = cond | household_condition(model, _units_of_owners(tail), tail,
                                                  precise=False)
            terms.append((part.room, cond))
        else:
            terms.append((None, household_condition(model, units, _owners_of_units(units))))
    return terms


def apply_search(query, model, fields, text, mode='in'):
    """`query` limited to rows matching every word of `text` (the list's search box).

    A word is looked for in the register's searchable `fields` through its search index; on a
    register about households (a foreign key to a unit, an owner, a contract, or to a register
    that has one) an address finds that home's rows and a name or phone its owner's rows.
    mode as for search_condition, or 'join': a search table drives the query (join_search)."""
    plain = []
    own_mode = 'in' if mode == 'join' else mode
    for word, household in household_terms(model, text):
        if household is None:
            plain.append(word)
        elif word is None or not fields:
            query = query.where(household)
        else:
            query = query.where(search_condition(model, fields, word, mode=own_mode) | household)
    if not plain or not fields:
        return query
    if mode == 'join':
        joined = join_search(query, model, fields, plain)
        if joined is not None:
            return joined
        mode = 'in'
    for word in plain:
        query = query.where(search_condition(model, fields, word, mode=mode))
    return query


def household_filter(model, kind, text):
    """The list filters 房号 (an address as people write it) and 业主 (a name or phone fragment)."""
    from rules.address import parse_address
    text = str(text or '').strip()
    if kind == 'address':
        address = parse_address(text)
        if address is None:
            return SQL('1 = 0')
        units = resolved_units(address)
        return household_condition(model, units, _owners_of_units(units))
    owners = matching_owners(text) if text else None
    if owners is None:
        return SQL('1 = 0')
    return household_condition(model, _units_of_owners(owners), owners, precise=False)


# --------------------------------------------------------------------------- pickers

# A picker orders at most this many rows of what was typed the way people count; a term that
# names more is narrowed by typing on.
PICKER_SORT_CAP = 1000


def picker_search(query, model, fields, term):
    """A picker's rows for what was typed: on a register about households the words of the
    list's search (an address finds that home, a name or phone its owner), each word also looked
    for in the picker's own fields; elsewhere every word (「-」 separates words) in those fields."""
    def own(word):
        cond = None
        for fld in fields:
            cond = fld.contains(word) if cond is None else (cond | fld.contains(word))
        return cond
    if not is_household_register(model):
        for word in term.replace('-', ' ').split():
            query = query.where(own(word))
        return query
    for word, household in household_terms(model, term):
        if household is None:
            query = query.where(own(word))
        elif word is None:
            query = query.where(household)
        else:
            query = query.where(own(word) | household)
    return query


def natural_page(query, fields, offset, limit):
    """Rows `offset` to `offset + limit` of `query` in the order people count (101 before 1001,
    第二轮 before 第十轮: rules.address.natural_key of each row's name). The database orders
    texts by length first, which is already that order for numbers."""
    from rules.address import natural_key
    order = []
    for fld in fields:
        if isinstance(fld, (CharField, TextField)):
            order.append(fn.length(fld))
        order.append(fld)
    rows = list(query.order_by(*order, query.model._meta.primary_key).limit(PICKER_SORT_CAP))
    rows.sort(key=lambda row: natural_key(str(row)))
    return rows[offset:offset + limit]


# init-db runs it after the tables exist (models.schema.SCHEMA_HOOKS).
def _register_hook():
    from models import schema
    if install not in schema.SCHEMA_HOOKS:
        schema.SCHEMA_HOOKS.append(install)


_register_hook()
