"""Schema and its versioned migrations: `init-db` creates what is missing and applies, in order,
every migration the database has not seen yet, so an upgrade keeps existing data.

Adding a field to a register that already has data:

    1. declare the field on the model (null=True or with a default, so old rows stay valid);
    2. append to MIGRATIONS:  (2, 'unit: 交付批次', lambda: add_column('unit', 'batch', CharField(
           max_length=16, null=True)))
    3. `flask --app app init-db` (or restarting `python app.py`) applies it once, in a transaction.

A fresh database gets the current models' tables from migration 1, so every later migration must
be a no-op when its change is already there: `add_column` / `add_index` check first.
"""
from peewee import CharField, DateTimeField, IntegerField, TextField
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from models.base import BaseModel, all_models, db, is_sqlite, now


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    name = CharField(max_length=100)
    applied_at = DateTimeField(default=now)

    class Meta:
        table_name = 'schema_version'


APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS change_log_no_update BEFORE UPDATE ON change_log "
    "BEGIN SELECT RAISE(ABORT, 'change_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS change_log_no_delete BEFORE DELETE ON change_log "
    "BEGIN SELECT RAISE(ABORT, 'change_log is append-only'); END",
)
APPEND_ONLY_POSTGRES = (
    "CREATE OR REPLACE FUNCTION change_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'change_log is append-only'; END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS change_log_append_only ON change_log",
    "CREATE TRIGGER change_log_append_only BEFORE UPDATE OR DELETE ON change_log "
    "FOR EACH ROW EXECUTE FUNCTION change_log_append_only()",
)


def _append_only_triggers():
    for sql in (APPEND_ONLY_SQLITE if is_sqlite() else APPEND_ONLY_POSTGRES):
        db.execute_sql(sql)


def migrator():
    return SqliteMigrator(db.obj) if is_sqlite() else PostgresqlMigrator(db.obj)


def column_names(table):
    return {c.name for c in db.get_columns(table)}


def add_column(table, name, field):
    """Add column `name` to `table` unless it is there (a fresh database has it already)."""
    if name not in column_names(table):
        migrate(migrator().add_column(table, name, field))


def add_index(table, columns, unique=False):
    names = {i.name for i in db.get_indexes(table)}
    index_name = '%s_%s' % (table, '_'.join(columns))
    if index_name not in names:
        migrate(migrator().add_index(table, columns, unique))


def _initial():
    db.create_tables(all_models(), safe=True)
    _append_only_triggers()


# (version, name, function). Append; never edit or reorder a migration that has shipped.
MIGRATIONS = [
    (1, 'initial schema and append-only change log', _initial),
    (2, 'change_log: 说明（重新打开的原因）',
     lambda: add_column('change_log', 'note', TextField(null=True))),
    (3, 'countdown in calendar months; handover completion date',
     lambda: __import__('models.delivery').delivery.countdown_in_calendar_months()),
    (4, 'registers and columns the manuals name (issue 15): seasons, checklists, summary dates',
     lambda: __import__('models.plans').plans.add_manual_gap_columns()),
    (5, 'users: e-mail; projects: group robot (notifications)', lambda: _notification_columns()),
    (6, 'walking the building: verifications, units walked, tablet receipts',
     lambda: __import__('models.site_walk').site_walk.create_tables()),
    (7, "the department's own fields and registers: their definitions",
     lambda: __import__('models.custom').custom.create_tables()),
]


def _notification_columns():
    add_column('app_user', 'email', CharField(max_length=254, null=True))
    add_column('project', 'robot_webhook', CharField(max_length=500, null=True))
    add_column('project', 'robot_kind', CharField(max_length=8, null=True))
    add_column('project', 'robot_secret', CharField(max_length=200, null=True))

# Hooks other modules add (e.g. search indexes); each runs on every init-db and is idempotent.
SCHEMA_HOOKS = []


def init_db():
    """Create missing tables, apply pending migrations, run idempotent schema hooks."""
    with db.connection_context():
        db.create_tables([SchemaVersion], safe=True)
        done = {v.version for v in SchemaVersion.select(SchemaVersion.version)}
        for version, name, apply in MIGRATIONS:
            if version in done:
                continue
            # One transaction per migration: a failing one leaves the database as it was and is
            # tried again at the next init-db (SQLite and PostgreSQL both roll back DDL).
            with db.atomic():
                apply()
                SchemaVersion.create(version=version, name=name, applied_at=now())
        # New registers added since the last migration get their tables too.
        db.create_tables(all_models(), safe=True)
        _append_only_triggers()
        for hook in SCHEMA_HOOKS:
            hook()


def drop_all():
    with db.connection_context():
        db.drop_tables(all_models() + [SchemaVersion], safe=True, cascade=not is_sqlite())
