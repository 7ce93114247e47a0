"""Schema and its versioned migrations: `init-db` creates what is missing and applies, in order,
every migration the database has not seen yet, so an upgrade keeps existing data."""
from peewee import CharField, DateTimeField, IntegerField

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


def _initial():
    db.create_tables(all_models(), safe=True)
    _append_only_triggers()


# (version, name, function). Append; never edit or reorder a migration that has shipped.
MIGRATIONS = [
    (1, 'initial schema and append-only change log', _initial),
]

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
