"""Fixtures: an app with a clean database per test, users of every role, factories and
logged-in clients (STYLE.md: every test three lines).

Set KEFU_DATABASE_URL=postgresql://… to run the same tests on PostgreSQL.
"""
import datetime
import os
import re
import shutil
from decimal import Decimal

import pytest

from app import create_app
from models.base import db, is_sqlite, make_database
from models.schema import drop_all, init_db

PASSWORD = 'Test-Passw0rd-2026'
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
_PG_READY = {}


def _database_url(tmp_path):
    url = os.environ.get('KEFU_DATABASE_URL', '')
    if url.startswith(('postgres://', 'postgresql://')):
        return url
    return 'sqlite:///' + str(tmp_path / 'test.db')


def _reset_postgres():
    """A clean database per test on PostgreSQL: schema once, then TRUNCATE (fast)."""
    if not _PG_READY:
        drop_all()
        init_db()
        _PG_READY['done'] = True
    from models.schema import MIGRATIONS, SchemaVersion
    from models import custom
    if 'custom_field' in db.get_tables():
        db.execute_sql('TRUNCATE custom_field, custom_register, custom_definition_state')
        custom.drop_undefined()      # a test's own fields and registers
    tables = [t for t in db.get_tables() if t != 'schema_version']
    with db.connection_context():
        db.execute_sql('TRUNCATE %s RESTART IDENTITY CASCADE' % ', '.join('"%s"' % t for t in tables))
        # A test may have recorded a migration of its own: the shipped ones only.
        SchemaVersion.delete().where(SchemaVersion.version.not_in(
            [v for v, _, _ in MIGRATIONS] or [0])).execute()


@pytest.fixture(scope='session')
def _app_once(tmp_path_factory):
    """The app is built once (building every register's view is the slow part); each test then
    gets its own database: a copy of a freshly migrated SQLite file, or a truncated PostgreSQL."""
    base = tmp_path_factory.mktemp('kefu')
    url = _database_url(base)
    template = base / 'template.db'
    if url.startswith('sqlite'):
        url = 'sqlite:///' + str(template)
    application = create_app({
        'TESTING': True,
        'KEFU_DATABASE_URL': url,
        'SECRET_KEY': 'test-secret',
        'KEFU_PASSWORD_METHOD': 'pbkdf2:sha256:1000',   # production: 600,000 (tested apart)
        'KEFU_JOBS_IMMEDIATE': True,     # jobs run at once in the test (tests/test_jobs.py)
    })
    if url.startswith('sqlite'):
        init_db()
        db.execute_sql('PRAGMA wal_checkpoint(TRUNCATE)')
        db.execute_sql('PRAGMA journal_mode=DELETE')
        db.close()
    return application, (template if url.startswith('sqlite') else None)


def fresh_database(application, template, folder):
    """Point the app at a clean database: a copy of the migrated SQLite template in `folder`,
    or the PostgreSQL test database truncated."""
    if template is not None:
        path = folder / 'test.db'
        shutil.copyfile(template, path)
        url = 'sqlite:///' + str(path)
        if not db.is_closed():
            db.close()
        if db.obj is not None:
            db.obj.close_all()      # the pooled connections to the last test's file
        db.initialize(make_database(url))
        application.config['KEFU_DATABASE_URL'] = url
    else:
        with db.connection_context():
            _reset_postgres()
    application.config['KEFU_UPLOAD_DIR'] = str(folder / 'uploads')
    application.instance_path = str(folder)
    db.connect(reuse_if_open=True)
    # The models and views say what this database defines (a test's own fields are gone).
    from models import custom
    from views.custom import follow
    custom.sync(force=True)
    with application.app_context():
        follow(application)


@pytest.fixture
def app(_app_once, tmp_path):
    application, template = _app_once
    saved = dict(application.config)
    saved_instance = application.instance_path
    fresh_database(application, template, tmp_path)
    # No app context stays pushed: each test-client request gets its own `g` (CSRF, nonce).
    yield application
    if not db.is_closed():
        db.close()
    application.config.clear()
    application.config.update(saved)
    application.instance_path = saved_instance


class Factory:
    """Small factories for rows of each register (bulk-free, logged like a user's save)."""

    def __init__(self, app):
        self.app = app
        self.counter = 0

    def _n(self):
        self.counter += 1
        return self.counter

    def project(self, **values):
        from models.master import Project
        n = self._n()
        today = datetime.date.today()
        data = dict(code='P%03d' % n, name='测试项目%d' % n, region='浙江', city='杭州',
                    launch_date=today - datetime.timedelta(days=200),
                    contract_delivery_date=today + datetime.timedelta(days=100), stage='在售')
        data.update(values)
        return Project.create_logged(None, **data)

    def unit(self, project, **values):
        from models.master import Unit
        n = self._n()
        data = dict(project=project, building='%d栋' % (1 + n % 3), entrance='1',
                    room=str(100 + n), floor=1 + n % 18, layout='A1', special_kind='标准层',
                    contract_area=Decimal('89.50'), status='未售')
        data.update(values)
        return Unit.create_logged(None, **data)

    def owner(self, project, **values):
        from models.master import Owner
        n = self._n()
        data = dict(project=project, name='业主%d' % n, phone='1380000%04d' % n,
                    id_number='33010619900101123X' if n % 2 else '330106199001011248')
        data.update(values)
        return Owner.create_logged(None, **data)

    def contract(self, project, unit=None, owner=None, **values):
        from models.master import Contract
        n = self._n()
        unit = unit or self.unit(project)
        owner = owner or self.owner(project)
        data = dict(project=project, contract_no='HT-%05d' % n, unit=unit, owner=owner,
                    sign_date=datetime.date.today() - datetime.timedelta(days=100),
                    total_price=Decimal('1500000'), payment_method='一次性', paid_in_full=True)
        data.update(values)
        return Contract.create_logged(None, **data)

    def department(self, name='客户关系部'):
        from models.master import Department
        return Department.get_or_none(Department.name == name) or \
            Department.create_logged(None, name=name)

    def contractor(self, name='测试总包有限公司', kind='总包'):
        from models.master import Contractor
        return Contractor.get_or_none(Contractor.name == name) or \
            Contractor.create_logged(None, name=name, kind=kind)


@pytest.fixture
def make(app):
    return Factory(app)


@pytest.fixture
def projects(make):
    """Two projects: `mine` (the clerk's and supervisor's) and `other` (nobody's but admin/auditor)."""
    return {'mine': make.project(name='云栖雅苑', code='MINE'),
            'other': make.project(name='滨湖印象', code='OTHER', city='合肥', region='安徽')}


@pytest.fixture
def users(app, projects):
    from seeds import create_user
    found = {}
    with app.app_context():
        for username, role in (('admin', 'admin'), ('supervisor', 'supervisor'), ('clerk', 'clerk'),
                           ('auditor', 'auditor')):
            codes = ['MINE'] if role in ('supervisor', 'clerk') else []
            found[username] = create_user(username, username, role, PASSWORD, codes)
    return found


class Portal:
    """A logged-in test client that knows its CSRF token."""

    def __init__(self, client, username):
        self.client = client
        self.username = username
        self.token = None

    def __getattr__(self, name):
        return getattr(self.client, name)

    def csrf(self):
        if self.token is None:
            page = self.client.get('/account/password').get_data(as_text=True)
            match = TOKEN_RE.search(page)
            assert match, 'no csrf token on the page'
            self.token = match.group(1) or match.group(2)
        return self.token

    def post_form(self, url, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault('csrf_token', self.csrf())
        return self.client.post(url, data=data, **kwargs)


def login(client, username, password=PASSWORD):
    page = client.get('/login').get_data(as_text=True)
    match = TOKEN_RE.search(page)
    token = match.group(1) or match.group(2)
    return client.post('/login', data={'username': username, 'password': password,
                                       'csrf_token': token})


def logout(client):
    """Sign out as a person does: the confirmation page's form posted with its token."""
    page = client.get('/logout').get_data(as_text=True)
    match = TOKEN_RE.search(page)
    token = (match.group(1) or match.group(2)) if match else ''
    return client.post('/logout', data={'csrf_token': token})


@pytest.fixture
def client_as(app, users):
    def make_client(role):
        client = app.test_client()
        response = login(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return Portal(client, role)
    return make_client
