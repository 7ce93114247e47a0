"""Versioned migrations: `init-db` upgrades a database made by the previous version and keeps its
data; a fresh database and a second run are no-ops; a failing step changes nothing."""
from decimal import Decimal

import pytest
from peewee import CharField, DecimalField, IntegerField

from models import schema
from models.base import ChangeLog, db
from models.master import Unit
from models.schema import SchemaVersion, add_column, column_names, init_db, migrator
from playhouse.migrate import migrate

from load.forms import form_fields


# The number the next migration of this file's tests takes (after every shipped one).
NEXT = len(schema.MIGRATIONS) + 1


def applied():
    return [v.version for v in SchemaVersion.select().order_by(SchemaVersion.version)]


@pytest.fixture
def previous_version(app, make, projects):
    """A database as the previous release left it: `unit` has no `heating_area` column yet, and
    holds rows and history."""
    units = [make.unit(projects['mine'], room=str(800 + n), heating_area=None) for n in range(3)]
    migrate(migrator().drop_column('unit', 'heating_area'))
    assert 'heating_area' not in column_names('unit')
    yield units
    # The PostgreSQL test database is shared by the run (truncated per test): put the column back.
    if 'heating_area' not in column_names('unit'):
        add_column('unit', 'heating_area', DecimalField(max_digits=10, decimal_places=2, null=True))
    for extra in column_names('unit') - {f.column_name for f in Unit._meta.sorted_fields}:
        migrate(migrator().drop_column('unit', extra))


def heating_area_migration(monkeypatch, version=NEXT):
    step = (version, 'unit: 供暖面积', lambda: add_column(
        'unit', 'heating_area', DecimalField(max_digits=10, decimal_places=2, null=True)))
    monkeypatch.setattr(schema, 'MIGRATIONS', schema.MIGRATIONS + [step])


def test_fresh_database_records_every_migration(app):
    assert applied() == [v for v, _, _ in schema.MIGRATIONS]


def test_init_db_twice_changes_nothing(app, make, projects):
    unit = make.unit(projects['mine'], room='1201')
    init_db()
    init_db()
    assert applied() == [v for v, _, _ in schema.MIGRATIONS]
    assert Unit.get_by_id(unit.id).room == '1201'


def test_upgrade_adds_the_column_and_keeps_the_data(previous_version, monkeypatch):
    history = ChangeLog.select().count()
    heating_area_migration(monkeypatch)
    init_db()
    assert 'heating_area' in column_names('unit')
    assert applied()[-1] == NEXT
    assert [Unit.get_by_id(u.id).room for u in previous_version] == ['800', '801', '802']
    assert ChangeLog.select().count() == history


def test_upgraded_database_works_through_the_portal(previous_version, monkeypatch, client_as):
    heating_area_migration(monkeypatch)
    init_db()
    unit = previous_version[0]
    clerk = client_as('clerk')
    page = clerk.get('/admin/unit/edit/?id=%d' % unit.id).get_data(as_text=True)
    data = form_fields(page)
    data['heating_area'] = '88.50'
    response = clerk.post_form('/admin/unit/edit/?id=%d' % unit.id, data)
    assert response.status_code == 302
    assert Unit.get_by_id(unit.id).heating_area == Decimal('88.50')


def test_migration_is_a_no_op_on_a_fresh_database(app, make, projects, monkeypatch):
    unit = make.unit(projects['mine'], heating_area=Decimal('70.00'))
    heating_area_migration(monkeypatch)
    init_db()                       # the column is there already (migration 1 made it)
    assert applied()[-1] == NEXT
    assert Unit.get_by_id(unit.id).heating_area == Decimal('70.00')


def test_new_column_with_a_default_fills_old_rows(previous_version, monkeypatch):
    step = (NEXT, 'unit: 交付批次', lambda: add_column('unit', 'batch', CharField(
        max_length=16, default='一批')))
    monkeypatch.setattr(schema, 'MIGRATIONS', schema.MIGRATIONS + [step])
    init_db()
    values = db.execute_sql('SELECT batch FROM unit WHERE id IN (%s)' % ','.join(
        str(u.id) for u in previous_version)).fetchall()
    assert values == [('一批',)] * 3


def test_a_failing_migration_changes_nothing_and_is_tried_again(previous_version, monkeypatch):
    def broken():
        add_column('unit', 'heating_area', DecimalField(max_digits=10, decimal_places=2, null=True))
        raise RuntimeError('step fails half-way')
    monkeypatch.setattr(schema, 'MIGRATIONS', schema.MIGRATIONS + [(NEXT, 'broken', broken)])
    with pytest.raises(RuntimeError):
        init_db()
    db.connect(reuse_if_open=True)
    assert 'heating_area' not in column_names('unit')      # rolled back with the step
    assert NEXT not in applied()
    heating_area_migration(monkeypatch)
    monkeypatch.setattr(schema, 'MIGRATIONS', [m for m in schema.MIGRATIONS if m[1] != 'broken'])
    init_db()
    assert NEXT in applied() and 'heating_area' in column_names('unit')


def test_migrations_are_numbered_in_order_without_gaps():
    versions = [v for v, _, _ in schema.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))


def test_init_db_command_applies_pending_migrations(previous_version, monkeypatch, app):
    heating_area_migration(monkeypatch)
    db.close()
    result = app.test_cli_runner().invoke(args=['init-db'])
    assert result.exit_code == 0 and '数据库已就绪' in result.output
    db.connect(reuse_if_open=True)
    assert 'heating_area' in column_names('unit') and applied()[-1] == NEXT
