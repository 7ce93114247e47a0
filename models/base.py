"""The register base: database, users' powers, the Register row, the change log.

Every register of the department is a `Register` (shared knowledge bases, departments, contractors)
or a `ProjectRegister` (everything that belongs to a project, see models/master.py). Both save only
through `create_logged` / `save_logged` / `delete_logged`, which derive, check the rules, guard the
version and write exactly one `change_log` row in the same transaction.
"""
import datetime
import decimal
import json
import threading
from dataclasses import dataclass, field as dc_field
from typing import Callable, Optional

from peewee import (SQL, BooleanField, CharField, DatabaseProxy, DateField, DateTimeField,
                    DecimalField, DoesNotExist, FloatField, ForeignKeyField, IntegerField, Model,
                    SqliteDatabase, TextField)
from playhouse.db_url import parse as parse_db_url
from playhouse.pool import PooledSqliteDatabase

from rules.workflow import Workflow  # noqa: F401  (registers declare Meta.workflow)

db = DatabaseProxy()

# Free text longer than this is no one's typing (and would hold the write lock while it is indexed
# for search): refused with a message.
TEXT_MAX_CHARS = 20000


# --------------------------------------------------------------------------- database

def make_database(url):
    """A peewee database from a URL: ``sqlite:///path`` or ``postgresql://user:pw@host/name``.

    SQLite runs in WAL mode with a long busy timeout and foreign keys on; write transactions
    (`write_tx`) start with BEGIN IMMEDIATE so concurrent writers queue instead of failing
    with "database is locked" half-way through a transaction.

    Connections are pooled: a request takes one and gives it back at its end (`db.close()`), so
    a page does not pay for opening a connection and reading the schema again (on SQLite, the
    tables, search tables, triggers and indexes of every register: about 10 ms), and SQLite's
    page cache stays warm between requests. A connection returned inside a transaction is
    rolled back first; one older than `stale_timeout` seconds is replaced.
    """
    if url.startswith('sqlite'):
        path = url.split(':///', 1)[1] if ':///' in url else ':memory:'
        return PortalSqliteDatabase(path, check_same_thread=False, **POOL, pragmas={
            'journal_mode': 'wal', 'busy_timeout': 15000, 'foreign_keys': 1,
            'synchronous': sqlite_synchronous(), 'cache_size': -32000,
            # Pages read through the OS's page cache by memory map: a big register's search
            # does not re-read what SQLite's own 32 MB cache let go (docs/performance.md).
            'mmap_size': 1 << 30})
    if url.startswith(('postgres://', 'postgresql://', 'postgresql+psycopg2://')):
        url = 'postgresql://' + url.split('://', 1)[1]
        params = parse_db_url(url)
        name = params.pop('database')
        return portal_postgresql_class()(name, register_hstore=False, autorollback=True,
                                         **POOL, **params)
    raise ValueError('KEFU_DATABASE_URL 只支持 sqlite:/// 或 postgresql:// ：%s' % url)


def sqlite_synchronous():
    """SQLite's `synchronous` setting: FULL unless KEFU_SQLITE_SYNCHRONOUS says otherwise.

    A register promises that an acknowledged save survives a power cut or an OS crash. In WAL
    mode NORMAL only promises that for a crash of the process: the last transactions before a
    power cut may be lost. FULL syncs the WAL at every commit (its cost, measured by
    benchmarks/load_test.py, is in docs/operations.md). `normal` is the documented switch for a
    site that accepts that risk for speed."""
    import os
    value = (os.environ.get('KEFU_SQLITE_SYNCHRONOUS') or 'full').strip().lower()
    if value not in ('full', 'normal', 'extra'):
        raise ValueError('KEFU_SQLITE_SYNCHRONOUS 只能是 full、normal 或 extra：%s' % value)
    return value


# No cap of our own: a thread holds one connection at a time, so the pool never holds more
# connections than the server has threads (waitress: --threads, 8 by default).
POOL = {'max_connections': None, 'stale_timeout': 600}


class PortalSqliteDatabase(PooledSqliteDatabase):
    """SQLite with pooled connections (see make_database)."""

    def _can_reuse(self, conn):
        if conn.in_transaction:     # a request that left a transaction open: undo it
            conn.rollback()
        return True


def portal_postgresql_class():
    """PostgreSQL with pooled connections (see make_database); psycopg2 is imported on use.

    Peewee runs psycopg2 in autocommit mode and opens transactions with its own BEGIN, which
    psycopg2's rollback() does not know of: a connection given back inside one gets an explicit
    ROLLBACK (also out of an aborted transaction)."""
    from playhouse.pool import PooledPostgresqlExtDatabase
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_UNKNOWN

    class PortalPostgresqlDatabase(PooledPostgresqlExtDatabase):
        def _can_reuse(self, conn):
            status = conn.get_transaction_status()
            if status == TRANSACTION_STATUS_UNKNOWN:    # the server is gone: do not keep it
                return False
            if status != TRANSACTION_STATUS_IDLE:
                with conn.cursor() as cursor:
                    cursor.execute('ROLLBACK')
            return True
    return PortalPostgresqlDatabase


def is_sqlite():
    return isinstance(db.obj, SqliteDatabase)


_after_commit = threading.local()


def after_commit(func):
    """Run `func` once the outermost write transaction (`write_tx`) has committed — at once when
    there is none; never when it rolls back. For work other requests must not see half-done,
    such as the models following a changed field definition (models/custom.py)."""
    if not db.in_transaction():
        func()
        return
    _after_commit.__dict__.setdefault('pending', []).append(func)


class _WriteTx:
    """`write_tx()`: the database's transaction, and `after_commit` work when it is the outer one."""

    def __init__(self):
        self.tx = db.atomic('IMMEDIATE') if is_sqlite() else db.atomic()
        self.outer = False

    def __enter__(self):
        self.outer = not db.in_transaction()
        if self.outer:
            _after_commit.pending = []
        return self.tx.__enter__()

    def __exit__(self, kind, value, traceback):
        try:
            return self.tx.__exit__(kind, value, traceback)
        finally:
            if self.outer:
                pending, _after_commit.pending = getattr(_after_commit, 'pending', []), []
                if kind is None:
                    for func in pending:
                        func()


def write_tx():
    """A write transaction: BEGIN IMMEDIATE on SQLite (writers queue on the busy timeout)."""
    return _WriteTx()


def now():
    return datetime.datetime.now().replace(microsecond=0)


def choices(*labels):
    """Choices whose stored value is the Chinese label itself, as clerks write them in Excel."""
    return [(label, label) for label in labels]


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


# --------------------------------------------------------------------------- roles

ROLE_LABELS = {'admin': '系统管理员', 'supervisor': '客服经理', 'clerk': '客服专员', 'auditor': '审计'}

# One table of role × action (REGISTERS.md §8). Views ask `user.can(action)`, never the role.
ROLE_PERMISSIONS = {
    'admin': {'list', 'view', 'create', 'edit', 'delete', 'approve', 'export', 'import', 'history',
              'restore', 'purge', 'manage_users', 'manage_projects', 'manage_master',
              'see_id_number', 'see_phone', 'all_projects', 'manage_definitions',
              'read_definitions'},
    # Supervisors keep their projects' dates and the department list; only admins add projects.
    'supervisor': {'list', 'view', 'create', 'edit', 'delete', 'approve', 'export', 'import',
                   'history', 'restore', 'manage_master', 'see_id_number', 'see_phone'},
    # Clerks phone owners before handover (manual 004 T-3), so they see phones, not ID numbers.
    'clerk': {'list', 'view', 'create', 'edit', 'export', 'import', 'history', 'see_phone'},
    # Auditors read the department's own field and register definitions, never change them.
    'auditor': {'list', 'view', 'export', 'history', 'all_projects', 'read_definitions'},
}

# Actions that change data: an auditor is refused every one of them.
WRITE_ACTIONS = {'create', 'edit', 'delete', 'approve', 'import', 'restore', 'purge', 'manage_users',
                 'manage_projects', 'manage_master', 'manage_definitions'}


def role_can(role, action):
    return action in ROLE_PERMISSIONS.get(role, ())


# --------------------------------------------------------------------------- users

class User(BaseModel):
    username = CharField(unique=True, max_length=64, verbose_name='用户名')
    display_name = CharField(max_length=64, verbose_name='姓名')
    # Where the morning digest and the supervisors' alerts go (models/notify.py); optional.
    email = CharField(max_length=254, null=True, verbose_name='电子邮箱')
    role = CharField(max_length=16, verbose_name='角色', choices=list(ROLE_LABELS.items()))
    password_hash = CharField(max_length=255, verbose_name='密码散列')
    active = BooleanField(default=True, verbose_name='启用')
    must_change_password = BooleanField(default=False, verbose_name='下次登录须改密码')
    # Rotated at logout and password change: the login cookie carries it, so a copied
    # cookie stops working the moment the session it belonged to has ended.
    session_token = CharField(max_length=64, default='', verbose_name='会话令牌')
    created_at = DateTimeField(default=now, verbose_name='创建时间')
    last_login_at = DateTimeField(null=True, verbose_name='最近登录')

    class Meta:
        table_name = 'app_user'
        verbose_name = '用户'

    def __str__(self):
        return '%s（%s）' % (self.display_name, self.username)

    # Flask-Login protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_active(self):
        return self.active

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return '%s:%s' % (self.id, self.session_token)

    def can(self, action):
        return role_can(self.role, action)

    @property
    def sees_all_projects(self):
        return self.can('all_projects')

    @property
    def project_ids(self):
        """Ids of the projects this user may see; None means every project."""
        if self.sees_all_projects:
            return None
        cached = getattr(self, '_project_ids', None)
        if cached is None:
            from models.master import UserProject
            cached = [up.project_id for up in
                      UserProject.select(UserProject.project).where(UserProject.user == self.id)]
            self._project_ids = cached
        return cached

    def may_see_project(self, project_id):
        ids = self.project_ids
        return ids is None or project_id in ids


# --------------------------------------------------------------------------- change log

def _json_value(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Model):
        return value.get_id()
    return value


def row_dict(row):
    """The row's stored values (foreign keys as ids), JSON-ready."""
    data = {}
    for name, fld in row._meta.fields.items():
        value = row.__data__.get(name)
        data[name] = _json_value(value)
    return data


class ChangeLog(BaseModel):
    """变更记录 — append-only: one row per change, written in the changing transaction."""
    ACTIONS = [('create', '新增'), ('update', '修改'), ('delete', '删除'), ('restore', '恢复'),
               ('purge', '彻底删除')]
    table_name = CharField(max_length=64, verbose_name='台账')
    row_id = IntegerField(verbose_name='记录ID')
    project_id = IntegerField(null=True, verbose_name='项目ID')
    action = CharField(max_length=16, choices=ACTIONS, verbose_name='操作')
    before = TextField(null=True, verbose_name='修改前')
    after = TextField(null=True, verbose_name='修改后')
    user_id = IntegerField(null=True, verbose_name='用户ID')
    username = CharField(max_length=64, default='system', verbose_name='操作人')
    at = DateTimeField(default=now, verbose_name='时间')
    # Why, when the change needs a reason (a closed row reopened by a supervisor).
    note = TextField(null=True, verbose_name='说明')

    class Meta:
        table_name = 'change_log'
        verbose_name = '变更记录'
        indexes = ((('table_name', 'row_id'), False), (('at',), False),
                   (('project_id', 'at'), False))

    @property
    def changed_fields(self):
        before = json.loads(self.before or '{}')
        after = json.loads(self.after or '{}')
        skip = {'updated_at', 'updated_by', 'version'}
        return [k for k in sorted(set(before) | set(after))
                if k not in skip and before.get(k) != after.get(k)]


def log_change(table_name, row_id, action, before, after, actor, project_id=None, note=None):
    return ChangeLog.create(
        table_name=table_name, row_id=row_id, action=action, project_id=project_id,
        before=None if before is None else json.dumps(before, ensure_ascii=False, sort_keys=True),
        after=None if after is None else json.dumps(after, ensure_ascii=False, sort_keys=True),
        user_id=getattr(actor, 'id', None), username=getattr(actor, 'username', 'system'),
        at=now(), note=note or None)


class ExportLog(BaseModel):
    """导出记录 — who exported what, when, and whether personal data left unmasked."""
    table_name = CharField(max_length=64, verbose_name='台账')
    user_id = IntegerField(null=True, verbose_name='用户ID')
    username = CharField(max_length=64, verbose_name='导出人')
    at = DateTimeField(default=now, verbose_name='时间')
    filters = TextField(null=True, verbose_name='筛选条件')
    row_count = IntegerField(default=0, verbose_name='行数')
    unmasked_personal_data = BooleanField(default=False, verbose_name='含未遮蔽个人信息')

    class Meta:
        table_name = 'export_log'
        verbose_name = '导出记录'


class LoginAttempt(BaseModel):
    """Login attempts, for throttling (5 failures in 15 minutes per user name or address)."""
    username = CharField(max_length=64, index=True)
    address = CharField(max_length=64, index=True)
    ok = BooleanField(default=False)
    at = DateTimeField(default=now, index=True)

    class Meta:
        table_name = 'login_attempt'


# --------------------------------------------------------------------------- rules plumbing

class RuleError(Exception):
    """A save refused by the register's rules; `problems` is a list of (field or None, message)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__('；'.join(m for _, m in self.problems))


class StaleError(RuleError):
    def __init__(self, current_version=None, by=None):
        who = '（%s）' % by if by else ''
        super().__init__([(None, '该记录已被他人修改%s，您的修改未保存。请重新打开该记录，'
                                 '在最新内容上再修改。' % who)])
        self.current_version = current_version


@dataclass
class Deadline:
    """A deadline a register declares once; the deadline engine (models/due.py) reads it.

    what:       what is due, in Chinese (e.g. '验收问题整改期限')
    due_field:  the date field holding the due date
    open_when:  callable(model) -> peewee expression selecting rows not yet done
    clause:     the manual's words that set the deadline
    manual:     which manual and section
    owner / owner_field: the responsible department (fixed text or a field of the row)
    row_clause: callable(row) -> (manual, clause), when each row carries its own clause
    """
    what: str
    due_field: str
    clause: str
    manual: str
    open_when: Optional[Callable] = None
    owner: str = '客户关系部'
    owner_field: Optional[str] = None
    unit_field: Optional[str] = None
    extra: dict = dc_field(default_factory=dict)
    # callable(row) -> (manual, clause) for registers whose rows quote their own clause
    row_clause: Optional[Callable] = None


class AttachmentField(CharField):
    """A stored upload (photo or document): holds the random stored name; the view takes the file,
    checks its type by content and keeps it outside the static folder (views/uploads.py)."""

    def __init__(self, *args, kinds=('image', 'pdf', 'office'), **kwargs):
        kwargs.setdefault('max_length', 255)
        kwargs.setdefault('null', True)
        self.kinds = kinds
        super().__init__(*args, **kwargs)


# --------------------------------------------------------------------------- the register row

class Register(BaseModel):
    """A row of a register. Shared registers derive from this; project ones from ProjectRegister."""
    remarks = TextField(null=True, verbose_name='备注')
    created_at = DateTimeField(null=True, verbose_name='创建时间')
    created_by = ForeignKeyField(User, null=True, backref='+', index=False, on_delete='SET NULL',
                                 verbose_name='创建人')
    updated_at = DateTimeField(null=True, verbose_name='修改时间')
    updated_by = ForeignKeyField(User, null=True, backref='+', index=False, on_delete='SET NULL',
                                 verbose_name='修改人')
    version = IntegerField(default=1, verbose_name='版本')
    deleted_at = DateTimeField(null=True, verbose_name='删除时间')
    deleted_by = ForeignKeyField(User, null=True, backref='+', index=False, on_delete='SET NULL',
                                 verbose_name='删除人')

    AUDIT_FIELDS = ('created_at', 'created_by', 'updated_at', 'updated_by', 'version',
                    'deleted_at', 'deleted_by')

    # ---- declaration helpers
    @classmethod
    def register_name(cls):
        return getattr(cls._meta, 'verbose_name', cls._meta.table_name)

    @classmethod
    def label(cls, name):
        fld = cls._meta.fields.get(name)
        return (fld.verbose_name if fld is not None and fld.verbose_name else name)

    @classmethod
    def is_project_scoped(cls):
        return 'project' in cls._meta.fields

    @classmethod
    def workflow(cls):
        """The register's declared status workflow (Meta.workflow), or None."""
        return getattr(cls._meta, 'workflow', None)

    def is_closed(self):
        flow = self.workflow()
        return flow is not None and self.__data__.get(flow.field) in flow.final

    def locked_for(self, actor):
        """True when `actor` may not change this row: it is closed and they may not reopen it."""
        flow = self.workflow()
        return self.is_closed() and actor is not None and not actor.can(flow.unlock_power)

    def may_change_closed(self, actor):
        """A closed row changes only by someone who may reopen it, or by the system itself
        (actor None: seeds, derived refreshes) — or when nothing a person types changed."""
        if actor is None or actor.can(self.workflow().unlock_power):
            return True
        before = self._before_row.__data__
        derived = set(getattr(self._meta, 'readonly', ())) | set(self.AUDIT_FIELDS) | {'id'}
        return all(before.get(n) == self.__data__.get(n)
                   for n in self._meta.fields if n not in derived)

    @classmethod
    def live(cls, *fields):
        """Rows not in the recycle bin."""
        return cls.select(*fields).where(cls.deleted_at.is_null())

    # ---- hooks a register overrides
    def derive(self):
        """Compute derived fields (due dates, flags) from the row and its project."""

    def problems(self, actor):
        """Yield (field, message) for every rule this row breaks. Subclasses call super()."""
        meta = self._meta
        flow = self.workflow()
        if flow is not None:
            before = getattr(self, '_before_row', None)
            yield from flow.problems(
                self.__data__, None if before is None else before.__data__,
                what=self.register_name(), label_of=self.label,
                may_change_closed=before is None or self.may_change_closed(actor),
                reopening=bool(getattr(self, '_reopen_reason', None)))
        for name, fld in meta.fields.items():
            if name in ('id',) + self.AUDIT_FIELDS:
                continue
            value = self.__data__.get(name)
            if not fld.null and value in (None, '') and fld.default is None:
                yield name, '「%s」不能为空。' % (fld.verbose_name or name)
            elif fld.choices and value not in (None, '') and \
                    (value != self.original(name) or getattr(self, '_before_row', None) is None):
                allowed = [c[0] for c in fld.choices]     # a stored value stays while unchanged
                if value not in allowed:
                    yield name, '「%s」的值「%s」不在可选范围内（%s）。' % (
                        fld.verbose_name or name, value, '、'.join(str(a) for a in allowed))
            if isinstance(value, int) and not isinstance(value, bool) and \
                    isinstance(fld, IntegerField) and not isinstance(fld, ForeignKeyField) and \
                    not -2 ** 31 < value < 2 ** 31:
                yield name, '「%s」的数值超出允许的范围。' % (fld.verbose_name or name)
            if isinstance(value, str) and isinstance(fld, CharField) and \
                    fld.max_length and len(value) > fld.max_length:
                yield name, '「%s」不能超过 %d 个字符。' % (fld.verbose_name or name, fld.max_length)
            elif isinstance(value, str) and isinstance(fld, TextField) and len(value) > TEXT_MAX_CHARS:
                yield name, '「%s」不能超过 %d 个字符。' % (fld.verbose_name or name, TEXT_MAX_CHARS)
        # The department's own fields (models/custom.py) bring their own checks.
        for fld in meta.fields.values():
            check = getattr(fld, 'custom_check', None)
            if check is not None:
                yield from check(self)
        # Fields only a power may set (Meta.field_powers, e.g. a project's group robot: admins).
        for name, power in getattr(meta, 'field_powers', {}).items():
            if actor is not None and not actor.can(power) and \
                    self.__data__.get(name) != self.original(name) and \
                    not (self.original(name) in (None, '') and self.__data__.get(name) in (None, '')):
                yield name, '「%s」只能由系统管理员设置。' % (meta.fields[name].verbose_name or name)
        # A row may only point at rows of its own project (a unit of another project is refused).
        own_project = self.__data__.get('project') if self.is_project_scoped() else None
        if own_project is not None:
            for name, fld in meta.fields.items():
                if not isinstance(fld, ForeignKeyField) or name == 'project':
                    continue
                target = fld.rel_model
                if 'project' not in target._meta.fields or self.__data__.get(name) is None:
                    continue
                ref = target.select(target.project).where(
                    target._meta.primary_key == self.__data__[name]).first()
                if ref is None:
                    yield name, '「%s」不存在。' % (fld.verbose_name or name)
                elif ref.__data__.get('project') != own_project:
                    yield name, '「%s」不属于本项目，请选择本项目的记录。' % (fld.verbose_name or name)

    def after_save(self, actor, created):
        """Runs inside the saving transaction, after the write (e.g. refresh a derived count)."""

    def _raise_alerts(self):
        """Events that cannot wait (Meta.alerts, models/notify.py): written in the saving
        transaction, sent by the job runner."""
        alerts = getattr(self._meta, 'alerts', ())
        if alerts:
            from models.notify import raise_alerts
            raise_alerts(self, alerts)

    def original(self, name):
        """The stored value of a field before the edit being saved (None for a new row)."""
        before = getattr(self, '_before_row', None)
        return None if before is None else before.__data__.get(name)

    # ---- the only ways to write
    def _check(self, actor):
        self.derive()
        found = list(self.problems(actor))
        if found:
            raise RuleError(found)

    def save_logged(self, actor, expected_version=None, note=None):
        """Insert or update this row with its rules, version guard and one change_log entry
        (`note`: why, kept with the entry)."""
        cls = type(self)
        with write_tx():
            creating = self.get_id() is None
            if creating:
                self._before_row = None
                self._check(actor)
                stamp = now()
                self.created_at = self.updated_at = stamp
                self.created_by = self.updated_by = getattr(actor, 'id', None)
                self.version = 1
                self.save(force_insert=True)
                log_change(cls._meta.table_name, self.get_id(), 'create', None, row_dict(self),
                           actor, self._project_id(), note=note)
                self.after_save(actor, created=True)
                self._raise_alerts()
                return self
            current = cls.select().where(cls._meta.primary_key == self.get_id()).first()
            if current is None or current.deleted_at is not None:
                raise RuleError([(None, '该记录已不存在（可能已被删除）。')])
            if expected_version not in (None, '') and int(expected_version) != current.version:
                raise StaleError(current.version, self._last_editor(current))
            self._before_row = current
            self._check(actor)
            base_version = current.version
            self.updated_at = now()
            self.updated_by = getattr(actor, 'id', None)
            self.version = base_version + 1
            values = {f: self.__data__.get(n) for n, f in cls._meta.fields.items()
                      if n != cls._meta.primary_key.name}
            # Compare-and-swap on the version: of two concurrent saves only one can win.
            changed = (cls.update(values)
                       .where((cls._meta.primary_key == self.get_id()) &
                              (cls.version == base_version))
                       .execute())
            if changed != 1:
                self.version = base_version
                raise StaleError(None)
            log_change(cls._meta.table_name, self.get_id(), 'update', row_dict(current),
                       row_dict(self), actor, self._project_id(), note=note)
            self.after_save(actor, created=False)
            self._raise_alerts()
            return self

    def reopen_logged(self, actor, reason, expected_version=None):
        """A supervisor reopens a closed row (Meta.workflow) with a reason, kept in the change log."""
        flow = self.workflow()
        reason = (reason or '').strip()
        if flow is None or not self.is_closed():
            raise RuleError([(None, '该记录未关闭，无需重新打开。')])
        if actor is None or not actor.can(flow.unlock_power):
            raise RuleError([(None, '只有客服经理可以重新打开已关闭的记录。')])
        if not reason:
            raise RuleError([('reason', '请填写重新打开的原因。')])
        setattr(self, flow.field, flow.reopen_to)
        for name in flow.reopen_clears:
            setattr(self, name, None)
        self._reopen_reason = reason
        return self.save_logged(actor, expected_version, note='重新打开：%s' % reason)

    @classmethod
    def create_logged(cls, actor, **values):
        row = cls(**values)
        return row.save_logged(actor)

    def references(self):
        """(register name, count) of live rows that point at this row."""
        found = []
        for backref in self._meta.backrefs:
            model = backref.model
            if backref.name in self.AUDIT_FIELDS or model.__dict__.get('_abstract', False):
                continue
            query = model.select().where(backref == self.get_id())
            if 'deleted_at' in model._meta.fields:
                query = query.where(model.deleted_at.is_null())
            count = query.count()
            if count:
                name = getattr(model._meta, 'verbose_name', model._meta.table_name)
                found.append((name, count))
        return found

    def delete_logged(self, actor, note=None):
        """Soft delete: the row goes to the recycle bin; refused while other rows point at it."""
        cls = type(self)
        with write_tx():
            refs = self.references()
            if refs:
                raise RuleError([(None, '该记录仍被其他记录引用（%s），不能删除。请先处理这些记录。' %
                                  '、'.join('%s %d 条' % r for r in refs))])
            before = row_dict(self)
            stamp = now()
            changed = (cls.update({cls.deleted_at: stamp, cls.deleted_by: getattr(actor, 'id', None),
                                   cls.version: cls.version + 1})
                       .where((cls._meta.primary_key == self.get_id()) & cls.deleted_at.is_null())
                       .execute())
            if changed != 1:
                raise RuleError([(None, '该记录已不存在（可能已被删除）。')])
            self.deleted_at, self.deleted_by = stamp, getattr(actor, 'id', None)
            self.version = (self.version or 0) + 1
            log_change(cls._meta.table_name, self.get_id(), 'delete', before, row_dict(self),
                       actor, self._project_id(), note=note)
            self.after_save(actor, created=False)

    def restore_logged(self, actor):
        cls = type(self)
        with write_tx():
            before = row_dict(self)
            cls.update({cls.deleted_at: None, cls.deleted_by: None, cls.version: cls.version + 1}) \
               .where(cls._meta.primary_key == self.get_id()).execute()
            self.deleted_at = self.deleted_by = None
            self.version = (self.version or 0) + 1
            log_change(cls._meta.table_name, self.get_id(), 'restore', before, row_dict(self),
                       actor, self._project_id())
            self.after_save(actor, created=False)

    def purge_logged(self, actor, note=None):
        """Remove for good (admins, from the recycle bin). The history stays in change_log."""
        cls = type(self)
        with write_tx():
            refs = self.references()
            if refs:
                raise RuleError([(None, '该记录仍被其他记录引用（%s），不能彻底删除。' %
                                  '、'.join('%s %d 条' % r for r in refs))])
            before = row_dict(self)
            cls.delete().where(cls._meta.primary_key == self.get_id()).execute()
            log_change(cls._meta.table_name, self.get_id(), 'purge', before, None, actor,
                       self._project_id(), note=note)

    def _project_id(self):
        if self._meta.table_name == 'project':
            return self.get_id()
        return self.__data__.get('project')

    @staticmethod
    def _last_editor(row):
        uid = row.__data__.get('updated_by')
        if not uid:
            return None
        user = User.get_or_none(User.id == uid)
        return user.display_name if user else None

    def history(self):
        return (ChangeLog.select()
                .where((ChangeLog.table_name == self._meta.table_name) &
                       (ChangeLog.row_id == self.get_id()))
                .order_by(ChangeLog.at.desc(), ChangeLog.id.desc()))


def all_registers(include_retired=False):
    """Every concrete register model, in declaration order of the stage modules (then the
    department's own registers, models/custom.py; a retired one only when asked)."""
    import models  # noqa: F401  (imports every stage module)
    found = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if not sub.__dict__.get('_abstract', False):
                if sub not in found and not getattr(sub._meta, 'discarded', False) and \
                        (include_retired or not getattr(sub._meta, 'retired', False)):
                    found.append(sub)
            walk(sub)
    walk(Register)
    return found


def all_models():
    return [User, ChangeLog, ExportLog, LoginAttempt] + [m for m in _extra_models()] + all_registers()


def _extra_models():
    import models
    return getattr(models, 'EXTRA_MODELS', [])


__all__ = ['db', 'make_database', 'write_tx', 'is_sqlite', 'now', 'choices', 'BaseModel', 'User',
           'ChangeLog', 'ExportLog', 'LoginAttempt', 'log_change', 'row_dict', 'Register', 'RuleError', 'StaleError',
           'Deadline', 'Workflow', 'AttachmentField', 'ROLE_LABELS', 'ROLE_PERMISSIONS', 'WRITE_ACTIONS',
           'role_can', 'all_registers', 'all_models', 'SQL', 'DoesNotExist', 'BooleanField',
           'CharField', 'DateField', 'DateTimeField', 'DecimalField', 'FloatField',
           'ForeignKeyField', 'IntegerField', 'TextField']
