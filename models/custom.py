"""自定义字段与自定义台账 — the department's own fields and registers, declared at run time.

A declared register is a Peewee model whose `Meta` says everything (docs/register_base.md). A
custom field is one more field on such a model, and a custom register is one more model: both are
rows here (`custom_field`, `custom_register`), turned into the same declaration by `apply()`, so
the list, form, filters, search, details, export, import, change log, unit file, recycle bin,
deadlines and scoping follow from the one derivation every register goes through.

Storage: each custom field is a real column (`cf_<id>`) added by ALTER TABLE in the transaction
that saves its definition, with the list indexes a declared filter gets (models/search.py
`derived_indexes`); a custom register is a real table (`cr_<id>`). Names people give are labels,
never identifiers: column and table names are generated (rules/custom.py).

Every server process (and the job runner) follows a change without a restart: each saved
definition writes a new token in `custom_definition_state`; `sync()` (before every request and
every job) compares it with the token it last applied and re-applies the definitions when it moved.
"""
import json
import threading
import uuid

from peewee import (BooleanField, CharField, DateField, DecimalField, FloatField, ForeignKeyField,
                    IntegerField, TextField)

from models.base import (BaseModel, Deadline, Register, RuleError, User, after_commit,
                         all_registers, db, is_sqlite, now)
from models.master import ProjectRegister, Unit
from rules import custom as rules

STAGE = '系统'
KIND_CHOICES = [(k, k) for k in rules.KINDS]
STAGE_CHOICES = [(s, s) for s in rules.STAGES]
# The registers of the definitions themselves, and logs: never extended.
NOT_EXTENSIBLE = ('custom_field', 'custom_register', 'custom_definition_state')


# --------------------------------------------------------------------------- the definitions

class DefinitionState(BaseModel):
    """One row: a token that changes with every definition change (what `sync` compares)."""
    token = CharField(max_length=32)

    class Meta:
        table_name = 'custom_definition_state'


def _bump():
    token = uuid.uuid4().hex
    if DefinitionState.update(token=token).where(DefinitionState.id == 1).execute() == 0:
        DefinitionState.insert(id=1, token=token).execute()
    _forget_applied()


class CustomRegister(Register):
    """A register the department defines itself (its fields are custom_field rows)."""
    name = CharField(max_length=rules.LABEL_MAX, verbose_name='台账名称')
    table_name = CharField(max_length=16, null=True, verbose_name='表名',
                      help_text='系统生成（cr_编号），网址为 /admin/表名/。')
    stage = CharField(max_length=8, choices=STAGE_CHOICES, default='交付后', verbose_name='菜单分组')
    project_scoped = BooleanField(default=True, verbose_name='属于项目',
                                  help_text='是：每条记录属于一个项目，按项目分配权限（如各项目的台账）；'
                                            '否：全公司共用（如知识库）。创建后不能修改。')
    unit_link = BooleanField(default=False, verbose_name='关联房源',
                             help_text='是：每条记录可选一户房源，并显示在一户一档中。创建后不能修改。')
    title_field = CharField(max_length=rules.LABEL_MAX, null=True, verbose_name='记录名称字段',
                            help_text='填本台账一个「文本」字段的名称：记录以它称呼，导入时按它（及项目）'
                                      '匹配已有记录。')
    sort_field = CharField(max_length=rules.LABEL_MAX, null=True, verbose_name='默认排序字段',
                           help_text='填本台账一个字段的名称；留空按录入先后（新的在前）。')
    sort_desc = BooleanField(default=False, verbose_name='倒序排列')
    deadline_field = CharField(max_length=rules.LABEL_MAX, null=True, verbose_name='期限字段',
                               help_text='填本台账一个「日期」字段的名称：未完成的记录按它进入待办与预警和晨报。')
    status_field = CharField(max_length=rules.LABEL_MAX, null=True, verbose_name='状态字段',
                             help_text='填一个「单选」字段的名称；它的值为下面的“完成状态”之一时，记录不再到期。')
    done_values = CharField(max_length=200, null=True, verbose_name='完成状态',
                            help_text='状态字段中表示已办结的选项，用顿号分隔，如：已完成、已关闭。')
    deadline_clause = TextField(null=True, verbose_name='期限依据',
                                help_text='设定该期限的手册条款或制度原文，在待办中按需显示。')

    class Meta:
        table_name = 'custom_register'
        verbose_name = '自定义台账'
        stage = STAGE
        list_columns = ('name', 'table_name', 'stage', 'project_scoped', 'unit_link', 'title_field',
                        'deadline_field')
        filters = ('stage', 'project_scoped', 'unit_link')
        search = ('name',)
        natural_key = ('name',)
        default_sort = (('name', False),)
        readonly = ('table_name',)
        create_power = edit_power = delete_power = 'manage_definitions'
        list_power = 'read_definitions'

    def __str__(self):
        return self.name or ''

    def derive(self):
        self.name = (self.name or '').strip()
        for name in ('title_field', 'sort_field', 'deadline_field', 'status_field'):
            value = (getattr(self, name) or '').strip()
            setattr(self, name, value or None)

    def fields(self):
        """This register's live custom fields, in their order."""
        if not self.table_name:
            return []
        return list(CustomField.live().where(CustomField.register == self.table_name)
                    .order_by(CustomField.position, CustomField.id))

    def problems(self, actor):
        yield from super().problems(actor)
        for message in rules.label_problems(self.name):
            yield 'name', message
        clash = CustomRegister.live().where(CustomRegister.name == self.name)
        if self.id:
            clash = clash.where(CustomRegister.id != self.id)
        if self.name and (clash.exists() or self.name in _declared_register_names()):
            yield 'name', '已有名为「%s」的台账，请换一个名称。' % self.name
        if self.id:
            for name in ('project_scoped', 'unit_link'):
                if self.original(name) is not None and self.original(name) != self.__data__.get(name):
                    yield name, '「%s」创建后不能修改；如需不同的设置，请新建一个台账。' % self.label(name)
        if not self.table_name:
            if any(getattr(self, n) for n in ('title_field', 'sort_field', 'deadline_field',
                                               'status_field')):
                yield 'title_field', '请先保存台账并添加字段，再指定记录名称、排序或期限字段。'
            return
        by_label = {f.name: f for f in self.fields()}
        wanted = {'title_field': ('文本',), 'sort_field': None, 'deadline_field': ('日期',),
                  'status_field': ('单选',)}
        for name, kinds in wanted.items():
            label = getattr(self, name)
            if not label:
                continue
            found = by_label.get(label)
            if found is None:
                yield name, '本台账没有名为「%s」的字段（现有：%s）。' % (
                    label, '、'.join(by_label) or '无')
            elif kinds and found.kind not in kinds:
                yield name, '「%s」须是%s字段。' % (self.label(name), '或'.join('「%s」' % k for k in kinds))
        if self.status_field and not self.deadline_field:
            yield 'deadline_field', '指定了状态字段，请同时指定期限字段。'
        if self.status_field and self.status_field in by_label:
            options = rules.parse_options(by_label[self.status_field].options)
            unknown = [v for v in rules.parse_options(self.done_values) if v not in options]
            if unknown:
                yield 'done_values', '完成状态「%s」不是状态字段的可选项（%s）。' % (
                    '、'.join(unknown), '、'.join(options))

    def after_save(self, actor, created):
        if created:
            self.table_name = rules.table_name(self.id)
            CustomRegister.update(table_name=self.table_name).where(CustomRegister.id == self.id).execute()
            model = register_class(self)
            db.create_tables([model], safe=True)
            set_retired(model, True)      # a register for this process once it has committed
        _after_definition_change(tables=[self.table_name])

    def purge_logged(self, actor, note=None):
        raise RuleError([(None, '自定义台账不能彻底删除（其记录仍在）；删除后可在回收站恢复。')])

    def restore_logged(self, actor):
        _check_restore(self, actor)
        return super().restore_logged(actor)


class CustomField(Register):
    """A field an administrator adds to a register (declared or custom)."""
    # Its choices are the registers there are (declared and custom): `_offer_registers`.
    register = CharField(max_length=64, verbose_name='所属台账', choices=[])
    name = CharField(max_length=rules.LABEL_MAX, verbose_name='字段名称')
    kind = CharField(max_length=8, choices=KIND_CHOICES, default='文本', verbose_name='类型',
                     help_text='创建后不能修改。房源：选一户；人员：选一位系统用户。')
    options = TextField(null=True, verbose_name='可选项',
                        help_text='「单选」「多选」的选项，每行一个（或用顿号分隔）。可随时增改；'
                                  '已存的旧值保留。')
    required = BooleanField(default=False, verbose_name='必填')
    in_list = BooleanField(default=False, verbose_name='在列表中显示')
    searchable = BooleanField(default=False, verbose_name='可搜索',
                              help_text='「文本」「多行文本」字段可被列表的搜索框搜到。')
    help = CharField(max_length=200, null=True, verbose_name='填写说明')
    position = IntegerField(default=0, verbose_name='顺序', help_text='数字小的排在前面。')
    column = CharField(max_length=16, null=True, verbose_name='列名',
                       help_text='系统生成（cf_编号）。')

    class Meta:
        table_name = 'custom_field'
        verbose_name = '自定义字段'
        stage = STAGE
        list_columns = ('register', 'name', 'kind', 'required', 'in_list', 'searchable',
                        'position', 'column')
        filters = ('register', 'kind', 'required', 'in_list', 'searchable')
        search = ('name', 'register')
        natural_key = ('register', 'name')
        default_sort = (('register', False), ('position', False))
        readonly = ('column',)
        create_power = edit_power = delete_power = 'manage_definitions'
        purge_power = 'manage_definitions'
        list_power = 'read_definitions'

    def __str__(self):
        return '%s · %s' % (register_label(self.register), self.name)

    def derive(self):
        self.name = (self.name or '').strip()
        self.register = (self.register or '').strip()
        if self.kind in rules.CHOICE_KINDS:
            self.options = '\n'.join(rules.parse_options(self.options)) or None
        if self.kind not in rules.TEXT_KINDS:
            self.searchable = False
        self.position = self.position or 0

    def problems(self, actor):
        yield from super().problems(actor)
        for message in rules.label_problems(self.name):
            yield 'name', message
        target = extensible_registers().get(self.register)
        if target is None:
            yield 'register', '请选择要添加字段的台账（「%s」不存在或不能添加字段）。' % (self.register or '')
            return
        if self.id:
            for name in ('register', 'kind'):
                if self.original(name) != self.__data__.get(name):
                    yield name, '「%s」创建后不能修改；请新建一个字段，必要时移除这个。' % self.label(name)
        declared = {(f.verbose_name or n) for n, f in target._meta.fields.items()
                    if not getattr(f, 'custom', None)} | {'编号'}
        if self.name in declared:
            yield 'name', '「%s」已是%s的字段，自定义字段不能与之同名。' % (
                self.name, register_label(self.register))
        clash = CustomField.live().where((CustomField.register == self.register) &
                                         (CustomField.name == self.name))
        if self.id:
            clash = clash.where(CustomField.id != self.id)
        if self.name and clash.exists():
            yield 'name', '%s已有名为「%s」的自定义字段。' % (register_label(self.register), self.name)
        for message in rules.options_problems(self.kind, rules.parse_options(self.options)):
            yield 'options', message
        if not -9999 <= (self.position or 0) <= 9999:
            yield 'position', '顺序须在 -9999 到 9999 之间。'
        if self.searchable and self.kind not in rules.TEXT_KINDS:
            yield 'searchable', '只有「文本」「多行文本」字段可以被搜索。'

    def after_save(self, actor, created):
        if created:
            self.column = rules.column_name(self.id)
            CustomField.update(column=self.column).where(CustomField.id == self.id).execute()
            add_column(self.register, self.column, self.kind)
        _after_definition_change(tables=[self.register])

    def restore_logged(self, actor):
        _check_restore(self, actor)
        return super().restore_logged(actor)

    def purge_logged(self, actor, note=None):
        """Remove the field for good: its column and indexes go, the history stays."""
        from models.base import write_tx
        table, column = self.register, self.column
        with write_tx():
            super().purge_logged(actor, note)
            model = extensible_registers(include_retired=True).get(table)
            if model is not None:
                drop_column(model, column)
            _after_definition_change(tables=[table])


def _check_restore(row, actor):
    """A definition comes back from the recycle bin only if it still fits (another field or
    register may have taken its name meanwhile)."""
    deleted = row.deleted_at
    row.deleted_at, row._before_row = None, None
    try:
        found = [p for p in row.problems(actor) if p[0] in ('name', 'register')]
    finally:
        row.deleted_at = deleted
    if found:
        raise RuleError([(None, '不能恢复：%s' % m) for _, m in found])


def purged_label(table, column):
    """The label a purged custom field had (its purge's change-log entry keeps its definition),
    so the register's older history still reads by label; None when `column` is no such field."""
    if not rules.is_column_name(column):
        return None
    from models.base import ChangeLog
    entries = (ChangeLog.select(ChangeLog.before)
               .where((ChangeLog.table_name == 'custom_field') & (ChangeLog.action == 'purge'))
               .order_by(ChangeLog.id.desc()))
    for entry in entries:
        kept = json.loads(entry.before or '{}')
        if kept.get('register') == table and kept.get('column') == column:
            return '%s（已删除）' % kept.get('name')
    return None


def _after_definition_change(tables):
    """In the saving transaction: tell every process with a new token. Once it has committed,
    this process follows (its models and, at the next request, its views) and builds what the
    schema needs: indexes, search, deadline indexes. Never before the commit: other requests of
    this process must not use a column their transaction cannot see yet."""
    _bump()
    after_commit(lambda: follow_and_build(tables))


def follow_and_build(tables):
    """Apply the committed definitions here and build the indexes of the registers `tables`
    (and of every register that changed with them), in a write transaction of its own."""
    import logging
    from models.base import write_tx
    changed = sync(force=True)
    models = [m for m in all_registers() if m._meta.table_name in set(tables)] + changed
    models = [m for m in dict.fromkeys(models)
              if m._meta.table_name in set(db.get_tables())]
    try:
        with write_tx():
            build_indexes(models)
    except Exception as exc:    # the definition is saved; init-db builds what is missing
        logging.getLogger(__name__).warning('indexes of %s not built: %s', tables, exc)


def register_label(table):
    model = extensible_registers(include_retired=True).get(table)
    if model is None:
        return table or ''
    return getattr(model._meta, 'verbose_name', table)


def _declared_register_names():
    return {getattr(m._meta, 'verbose_name', '') for m in all_registers()
            if not getattr(m._meta, 'custom_register', False)}


def extensible_registers(include_retired=False):
    """{table: model} of the registers custom fields may extend (declared and custom ones)."""
    found = {}
    for model in all_registers(include_retired=include_retired):
        table = model._meta.table_name
        if table not in NOT_EXTENSIBLE:
            found[table] = model
    return found


def register_options():
    """(table, Chinese name) of every register a field may be added to, by menu order."""
    from models import STAGE_ORDER  # noqa: F401
    order = list(rules.STAGES)
    models = sorted(extensible_registers().values(), key=lambda m: (
        order.index(getattr(m._meta, 'stage', '')) if getattr(m._meta, 'stage', '') in order else 99))
    return [(m._meta.table_name, getattr(m._meta, 'verbose_name', m._meta.table_name))
            for m in models]


# --------------------------------------------------------------------------- fields

class MultiChoiceField(TextField):
    """A 多选 value: the picked options joined by 、 (filters match one option inside it)."""

    def __init__(self, *args, options=(), **kwargs):
        self.options = list(options)
        super().__init__(*args, **kwargs)


def _field_class(kind):
    return {'文本': CharField, '多行文本': TextField, '数字': FloatField, '金额': DecimalField,
            '日期': DateField, '是否': BooleanField, '单选': CharField, '多选': MultiChoiceField,
            '房源': ForeignKeyField, '人员': ForeignKeyField}[kind]


def field_for(defn, removed=False):
    """The Peewee field of a custom field definition (its column generated, its label as given)."""
    kind = defn.kind
    options = rules.parse_options(defn.options)
    common = dict(null=True, column_name=defn.column, help_text=defn.help or None, index=False,
                  verbose_name=defn.name + ('（已移除）' if removed else ''))
    if kind == '文本':
        fld = CharField(max_length=rules.TEXT_MAX, **common)
    elif kind == '多行文本':
        fld = TextField(**common)
    elif kind == '数字':
        fld = FloatField(**common)
    elif kind == '金额':
        fld = DecimalField(max_digits=16, decimal_places=2, **common)
    elif kind == '日期':
        fld = DateField(**common)
    elif kind == '是否':      # the column is NOT NULL DEFAULT false
        fld = BooleanField(default=False, **dict(common, null=False))
    elif kind == '单选':
        fld = CharField(max_length=rules.OPTION_MAX, choices=[(o, o) for o in options], **common)
    elif kind == '多选':
        fld = MultiChoiceField(options=options, **common)
    elif kind == '房源':
        fld = ForeignKeyField(Unit, backref='%s_%s' % (defn.register, defn.column),
                              on_delete='SET NULL', constraints=None, **common)
    else:   # 人员: a user of the portal
        fld = ForeignKeyField(User, backref='%s_%s' % (defn.register, defn.column),
                              on_delete='SET NULL', **common)
    fld.custom = {'id': defn.id, 'kind': kind, 'required': bool(defn.required),
                  'removed': removed, 'label': defn.name, 'options': options}
    fld.custom_check = _check_for(fld)
    return fld


def _check_for(fld):
    """What the register base asks of a custom field on every save (Register.problems)."""
    def check(row):
        spec = fld.custom
        if spec['removed']:
            return
        value = row.__data__.get(fld.name)
        unchanged = row.original(fld.name) == value and getattr(row, '_before_row', None) is not None
        if spec['required'] and value in (None, '') and spec['kind'] != '是否':
            yield fld.name, '「%s」不能为空。' % spec['label']
        if value in (None, '') or unchanged:
            return
        if spec['kind'] == '多选':
            for message in rules.multi_problems(spec['label'], value, spec['options']):
                yield fld.name, message
        elif spec['kind'] == '人员':
            if not User.select().where((User.id == value) & User.active).exists():
                yield fld.name, '「%s」所选的人员不存在或已停用。' % spec['label']
        elif spec['kind'] == '房源' and not row.is_project_scoped():
            if not Unit.live().where(Unit.id == value).exists():
                yield fld.name, '「%s」所选的房源不存在。' % spec['label']
    return check


_DDL_TYPES = {   # kind: (SQLite, PostgreSQL)
    '文本': ('VARCHAR(%d)' % rules.TEXT_MAX,) * 2, '多行文本': ('TEXT', 'TEXT'),
    '数字': ('REAL', 'DOUBLE PRECISION'), '金额': ('DECIMAL(16,2)', 'NUMERIC(16,2)'),
    '日期': ('DATE', 'DATE'), '是否': ('INTEGER NOT NULL DEFAULT 0', 'BOOLEAN NOT NULL DEFAULT FALSE'),
    '单选': ('VARCHAR(%d)' % rules.OPTION_MAX,) * 2, '多选': ('TEXT', 'TEXT'),
    '房源': ('INTEGER', 'INTEGER'), '人员': ('INTEGER', 'INTEGER'),
}


def _q(name):
    return '"%s"' % name.replace('"', '""')


def add_column(table, column, kind):
    """ALTER TABLE … ADD COLUMN for a custom field (generated, checked names only). A constant
    default costs nothing on either database, however many rows the register has."""
    if not rules.is_column_name(column) or table not in extensible_registers(include_retired=True):
        raise ValueError('unsafe custom column %r on %r' % (column, table))
    if column in {c.name for c in db.get_columns(table)}:
        return
    ddl = _DDL_TYPES[kind][0 if is_sqlite() else 1]
    db.execute_sql('ALTER TABLE %s ADD COLUMN %s %s' % (_q(table), _q(column), ddl))


def drop_column(model, column):
    """Drop a purged field's column, after its indexes (SQLite refuses to drop an indexed one)."""
    if not rules.is_column_name(column):
        raise ValueError('unsafe custom column %r' % column)
    table = model._meta.table_name
    for index in db.get_indexes(table):
        if column in index.columns or ('"%s"' % column) in (index.sql or ''):
            db.execute_sql('DROP INDEX IF EXISTS %s' % _q(index.name))
    if is_sqlite():     # search triggers that still name it (SQLite refuses the drop otherwise)
        for (name,) in db.execute_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
                "AND sql LIKE ?", (table, '%%"%s"%%' % column)).fetchall():
            db.execute_sql('DROP TRIGGER IF EXISTS %s' % _q(name))
    if column in {c.name for c in db.get_columns(table)}:
        db.execute_sql('ALTER TABLE %s DROP COLUMN %s' % (_q(table), _q(column)))


def build_indexes(models):
    """The list indexes and search tables the registers' (new) declarations ask for, and the
    deadline indexes: what init-db would build, for these registers now."""
    from models import due, search
    for model in models:
        if model._meta.table_name in {t for t in db.get_tables()}:
            search.create_list_indexes(model)
    searchable = [m for m in models if search.text_fields(m)]
    with db.atomic():
        for model in models:
            _drop_stale_search(model)
        if is_sqlite():
            if search.sqlite_has_fts():
                search._sqlite_seq()
                for model in searchable:
                    search.install_sqlite_search(model)
        else:
            search._pg_functions()
            for model in searchable:
                search.install_pg_search(model)
    search.forget()
    due.install_due_indexes()
    due._OPEN_SQL.clear()


def _drop_stale_search(model):
    """The search index of a register whose searchable fields changed: on PostgreSQL an index
    over another expression (its name does not change with it), on both databases the search
    of a register left with no searchable field."""
    from models import search
    table = model._meta.table_name
    if is_sqlite():
        if search.text_fields(model):
            return         # install_sqlite_search compares its signature and rebuilds
        for kind in ('ai', 'ad', 'au'):
            db.execute_sql('DROP TRIGGER IF EXISTS %s' % _q('%s_search_%s' % (table, kind)))
        for suffix in ('_fts', '_fts2'):
            db.execute_sql('DROP TABLE IF EXISTS %s' % _q(table + suffix))
        if 'kefu_search_state' in db.get_tables():
            db.execute_sql('DELETE FROM kefu_search_state WHERE table_name = ?', (table,))
        return
    wanted = search.pg_text_sql(model) if search.text_fields(model) else None
    for name in ('kx_%s__grams' % table[:45], 'kx_%s__trgm' % table[:46]):
        row = db.execute_sql('SELECT indexdef FROM pg_indexes WHERE indexname = %s',
                             (name,)).fetchone()
        if row is not None and (wanted is None or wanted not in row[0]):
            db.execute_sql('DROP INDEX IF EXISTS %s' % _q(name))


# --------------------------------------------------------------------------- registers as models

_classes = {}      # table -> model class of a custom register (kept for the process's life)


def _custom_str(self):
    title = getattr(self._meta, 'title_column', None)
    value = self.__data__.get(title) if title else None
    return str(value) if value not in (None, '') else '%s #%s' % (self._meta.verbose_name, self.id)


def register_class(defn):
    """The model of custom register `defn` (made once per table; its Meta follows the definition)."""
    table = defn.table_name
    if not rules.is_table_name(table):
        raise ValueError('unsafe custom table %r' % table)
    model = _classes.get(table)
    kind = (bool(defn.project_scoped), bool(defn.unit_link))
    if model is not None and model._meta.register_kind != kind:
        # The same table name defined otherwise (another database): a model of its own.
        set_retired(model, True)
        model._meta.discarded = True
        model = None
    if model is None:
        base = ProjectRegister if defn.project_scoped else Register
        attrs = {'__module__': __name__, '__str__': _custom_str,
                 'Meta': type('Meta', (), {'table_name': table, 'verbose_name': defn.name,
                                           'stage': defn.stage, 'custom_register': True})}
        model = type('CustomRegister_%s' % table, (base,), attrs)
        if defn.unit_link:     # after the project, which leads the form
            model._meta.add_field('unit', ForeignKeyField(
                Unit, null=True, backref='%s_rows' % table, on_delete='RESTRICT',
                verbose_name='房源'))
        model._meta.register_kind = kind
        _classes[table] = model
    _describe_register(model, defn)
    return model


def _describe_register(model, defn):
    meta = model._meta
    meta.verbose_name = defn.name
    meta.stage = defn.stage
    set_retired(model, bool(defn.deleted_at))
    meta.custom_definition_id = defn.id
    if not defn.project_scoped:     # shared registers are master data: supervisors and admins
        meta.create_power = meta.edit_power = meta.delete_power = 'manage_master'
    lead = (('project',) if defn.project_scoped else ()) + (('unit',) if defn.unit_link else ())
    meta.declared = {'list_columns': lead, 'filters': ('project',) if defn.project_scoped else (),
                     'search': (), 'natural_key': ()}
    meta.register_definition = {
        'title': defn.title_field, 'sort': defn.sort_field, 'sort_desc': bool(defn.sort_desc),
        'deadline': defn.deadline_field, 'status': defn.status_field,
        'done': rules.parse_options(defn.done_values), 'clause': defn.deadline_clause or '',
        'name': defn.name, 'unit_link': bool(defn.unit_link), 'scoped': bool(defn.project_scoped)}


def set_retired(model, retired):
    """A retired register (deleted, or not defined in this database) is no register: it leaves
    `all_registers()`, and the rows it would point at no longer look for it (their backrefs)."""
    meta = model._meta
    if getattr(meta, 'retired', None) == retired:
        return
    meta.retired = retired
    for fld in [f for f in meta.fields.values() if isinstance(f, ForeignKeyField)]:
        if retired and fld in meta.refs:
            meta.remove_ref(fld)
        elif not retired and fld not in meta.refs:
            meta.add_ref(fld)


def _finish_register(model):
    """The parts of a custom register's Meta that name its fields (after they are applied)."""
    meta = model._meta
    spec = meta.register_definition
    by_label = {f.custom['label']: n for n, f in meta.fields.items()
                if getattr(f, 'custom', None) and not f.custom['removed']}
    title = by_label.get(spec['title'])
    meta.title_column = title
    meta.natural_key = ((('project',) if spec['scoped'] else ()) + (title,)) if title else ()
    meta.lookup = (title,) if title else ('id',)
    sort = by_label.get(spec['sort'])
    meta.default_sort = ((sort, spec['sort_desc']),) if sort else (('id', True),)
    meta.list_columns = tuple(getattr(meta, 'list_columns', ()) or meta.declared['list_columns'])
    if not [c for c in meta.list_columns if c not in ('project', 'unit')]:
        shown = [n for n, f in meta.fields.items() if getattr(f, 'custom', None)
                 and not f.custom['removed'] and f.custom['kind'] != '多行文本'][:6]
        meta.list_columns = tuple(meta.list_columns) + tuple(shown)
    due_column = by_label.get(spec['deadline'])
    meta.deadlines = ()
    if due_column:
        status = by_label.get(spec['status'])
        done = tuple(spec['done'])

        def open_when(m, status=status, done=done):
            if not status or not done:
                return m.id.is_null(False)
            column = getattr(m, status)
            return column.is_null() | column.not_in(done)
        meta.deadlines = (Deadline(
            what='%s·%s' % (spec['name'], spec['deadline']), due_field=due_column,
            open_when=open_when, clause=spec['clause'] or '（本部门自定义台账）',
            manual='自定义台账「%s」' % spec['name'],
            unit_field='unit' if spec['unit_link'] else None),)


# --------------------------------------------------------------------------- applying

_lock = threading.RLock()
_applied = {}        # database key -> token last applied in this process
_generation = [0]    # grows with every change applied here (views compare it, views/custom.py)


def generation():
    return _generation[0]


def _touch(model):
    model._meta.custom_stamp = getattr(model._meta, 'custom_stamp', 0) + 1
    _generation[0] += 1


def _db_key():
    return id(db.obj)


def _forget_applied():
    _applied.pop(_db_key(), None)


def load_definitions():
    """(registers, fields): every custom register (live or deleted) and every custom field not
    purged (live, or removed: kept in the model so its data still exports)."""
    registers = list(CustomRegister.select().where(CustomRegister.table_name.is_null(False))
                     .order_by(CustomRegister.id))
    fields = list(CustomField.select().where(CustomField.column.is_null(False))
                  .order_by(CustomField.position, CustomField.id))
    return registers, fields


def _declared_meta(model):
    """The register's own declaration, kept the first time custom fields touch it."""
    meta = model._meta
    if getattr(meta, 'declared', None) is None:
        shown = tuple(getattr(meta, 'list_columns', ()) or ()) or tuple(
            n for n in meta.sorted_field_names if n not in ('id',) + Register.AUDIT_FIELDS)
        meta.declared = {'list_columns': shown,
                         'filters': tuple(getattr(meta, 'filters', ()) or ()),
                         'search': tuple(getattr(meta, 'search', ()) or ()),
                         'natural_key': tuple(getattr(meta, 'natural_key', ()) or ())}
    return meta.declared


def _signature(defn):
    return (defn.id, defn.column, defn.name, defn.kind, defn.options, bool(defn.required),
            bool(defn.in_list), bool(defn.searchable), defn.help, defn.position,
            bool(defn.deleted_at))


def _apply_fields(model, defs):
    """Give `model` exactly the custom fields `defs`; True when something changed."""
    meta = model._meta
    columns = None
    wanted = []
    for defn in defs:
        if columns is None:
            columns = {c.name for c in db.get_columns(meta.table_name)}
        if defn.column in columns:        # a definition whose column is not built yet waits
            wanted.append(defn)
    signature = tuple(_signature(d) for d in wanted)
    if getattr(meta, 'custom_signature', ()) == signature and not getattr(meta, 'custom_dirty', False):
        return False
    declared = _declared_meta(model)
    for name in list(getattr(meta, 'custom_names', ())):
        meta.remove_field(name)
        if name in model.__dict__:
            delattr(model, name)
    names, hidden = [], []
    for defn in wanted:
        removed = bool(defn.deleted_at)
        meta.add_field(defn.column, field_for(defn, removed))
        names.append(defn.column)
        if removed:
            hidden.append(defn.column)
    live = [d for d in wanted if not d.deleted_at]
    meta.custom_names = tuple(names)
    meta.custom_hidden = tuple(hidden)
    meta.list_columns = tuple(declared['list_columns']) + tuple(d.column for d in live if d.in_list)
    by_id = sorted(wanted, key=lambda d: d.id)   # filters keep their numbers as fields come and go
    meta.filters = tuple(declared['filters']) + tuple(
        d.column for d in by_id if d.kind in rules.FILTER_KINDS)
    meta.search = tuple(declared['search']) + tuple(d.column for d in live if d.searchable)
    meta.natural_key = declared['natural_key']
    meta.custom_signature = signature
    meta.custom_dirty = False
    return True


def apply(definitions):
    """Make the process's models say what the definitions say; the models that changed."""
    registers, fields = definitions
    changed = []
    with _lock:
        seen = set()
        for defn in registers:
            before = (_classes.get(defn.table_name) is None,
                      getattr(_classes.get(defn.table_name), '_meta', None) and
                      dict(getattr(_classes[defn.table_name]._meta, 'register_definition', {})),
                      getattr(getattr(_classes.get(defn.table_name), '_meta', None), 'retired', None))
            model = register_class(defn)
            seen.add(defn.table_name)
            after = (False, dict(model._meta.register_definition), model._meta.retired)
            if before != after:
                model._meta.custom_dirty = True
                changed.append(model)
        for table, model in _classes.items():
            if table not in seen and not model._meta.retired:
                set_retired(model, True)         # another database, or its definition is gone
                changed.append(model)
        by_table = {}
        for defn in fields:
            by_table.setdefault(defn.register, []).append(defn)
        for table, model in extensible_registers(include_retired=True).items():
            if getattr(model._meta, 'retired', False) and table not in seen:
                continue
            if _apply_fields(model, by_table.get(table, [])) and model not in changed:
                changed.append(model)
        for model in changed:
            if getattr(model._meta, 'custom_register', False) and not model._meta.retired:
                _finish_register(model)
            _touch(model)
        _offer_registers(changed)
    if changed:
        from models import search
        search.forget()
        for cached in (getattr(search, '_household_models', None), getattr(search, 'household_links', None)):
            if hasattr(cached, 'cache_clear'):
                cached.cache_clear()
    return changed


def _offer_registers(changed):
    """A custom field's register is chosen among the registers there are now (by Chinese name;
    the stored value is the table): its choices follow new and retired custom registers."""
    field = CustomField._meta.fields['register']
    options = register_options()
    if field.choices != options:
        field.choices = options
        _touch(CustomField)
        if CustomField not in changed:
            changed.append(CustomField)


def current_token():
    row = DefinitionState.select(DefinitionState.token).where(DefinitionState.id == 1).first()
    return row.token if row else None


def sync(force=False):
    """Apply the definitions when another process (or this one) changed them; the changed models."""
    key = _db_key()
    try:
        token = current_token()
    except Exception:
        if not is_sqlite():
            db.rollback()
        if 'custom_definition_state' in db.get_tables():
            return []      # a passing error (locked, connection lost): keep what is applied
        token = None       # before init-db made the table: nothing defined yet
    if not force and key in _applied and _applied[key] == token:
        return []
    with _lock:
        changed = apply(load_definitions()) if token is not None or force else apply(([], []))
        _applied[key] = token
    return changed


def ensure_schema():
    """init-db's hook: every definition's table and column exist, with their indexes."""
    if 'custom_field' not in db.get_tables():
        return
    registers, fields = load_definitions()
    for defn in registers:
        model = register_class(defn)
        db.create_tables([model], safe=True)
    for defn in fields:
        if defn.register in extensible_registers(include_retired=True) and not defn.deleted_at:
            add_column(defn.register, defn.column, defn.kind)
    _forget_applied()
    changed = apply((registers, fields))
    touched = {d.register for d in fields} | {d.table_name for d in registers}
    models = [m for t, m in extensible_registers().items() if t in touched]
    if models:      # nothing defined: the declared registers' hooks build everything
        build_indexes(list(dict.fromkeys(models + [m for m in changed if m in models])))


def create_tables():
    """Migration 7: the tables of the definitions (their columns and tables come later, each
    with its definition)."""
    db.create_tables([DefinitionState, CustomRegister, CustomField], safe=True)


def drop_undefined():
    """Drop custom tables and columns no definition claims (a test database emptied by TRUNCATE
    keeps them); generated names only."""
    registers, fields = load_definitions() if 'custom_field' in db.get_tables() else ([], [])
    tables = {d.table_name for d in registers}
    columns = {(d.register, d.column) for d in fields}
    for table in db.get_tables():
        if rules.is_table_name(table) and table not in tables:
            db.execute_sql('DROP TABLE IF EXISTS %s CASCADE' % _q(table) if not is_sqlite()
                           else 'DROP TABLE IF EXISTS %s' % _q(table))
            continue
        for column in db.get_columns(table):
            if rules.is_column_name(column.name) and (table, column.name) not in columns:
                for index in db.get_indexes(table):
                    if column.name in index.columns:
                        db.execute_sql('DROP INDEX IF EXISTS %s' % _q(index.name))
                db.execute_sql('ALTER TABLE %s DROP COLUMN %s' % (_q(table), _q(column.name)))


def _register_schema_hook():
    from models import schema
    if ensure_schema not in schema.SCHEMA_HOOKS:
        schema.SCHEMA_HOOKS.append(ensure_schema)


_register_schema_hook()

EXTRA_MODELS = [DefinitionState]


# --------------------------------------------------------------------------- travelling definitions

EXPORT_FORMAT = 'kefu-ledger/custom-definitions'
REGISTER_KEYS = ('name', 'stage', 'project_scoped', 'unit_link', 'title_field', 'sort_field',
                 'sort_desc', 'deadline_field', 'status_field', 'done_values', 'deadline_clause')
FIELD_KEYS = ('name', 'kind', 'options', 'required', 'in_list', 'searchable', 'help', 'position')


MAX_IMPORTED_DEFINITIONS = 500
_TEXT = (str, type(None))
REGISTER_TYPES = dict({k: _TEXT for k in REGISTER_KEYS},
                      project_scoped=(bool,), unit_link=(bool,), sort_desc=(bool,))
FIELD_TYPES = dict({k: _TEXT for k in FIELD_KEYS}, register=(str,), custom_register=(bool,),
                   required=(bool,), in_list=(bool,), searchable=(bool,), position=(int,))
REQUIRED_KEYS = ('name', 'register', 'kind')


def _well_formed(entries, types, what, problems):
    """The entries whose keys hold values of their kind (text, yes/no, a whole number of at most
    four digits) and that name what they define; a message for each other one."""
    kept = []
    for index, entry in enumerate(entries, 1):
        wrong = [] if isinstance(entry, dict) else ['整项']
        for key, allowed in (types.items() if not wrong else ()):
            if key not in entry:
                if key in REQUIRED_KEYS:
                    wrong.append(key)
                continue
            value = entry[key]
            if key in REQUIRED_KEYS and not isinstance(value, str) or \
                    isinstance(value, bool) and bool not in allowed or \
                    not isinstance(value, allowed) or \
                    isinstance(value, int) and not isinstance(value, bool) and abs(value) > 9999:
                wrong.append(key)
        if wrong:
            problems.append((None, '第 %d 个%s定义格式不正确（%s）。' % (
                index, what, '、'.join(wrong))))
            continue
        kept.append(entry)
    return kept


def export_definitions():
    """The live definitions as a JSON-ready dict: registers by name, fields by register and label
    (a custom register's fields name their register by its name: table names differ per site)."""
    registers = list(CustomRegister.live().order_by(CustomRegister.id))
    names = {r.table_name: r.name for r in registers}
    fields = list(CustomField.live().order_by(CustomField.register, CustomField.position,
                                               CustomField.id))
    return {
        'format': EXPORT_FORMAT, 'version': 1, 'exported_at': now().isoformat(),
        'registers': [{k: getattr(r, k) for k in REGISTER_KEYS} for r in registers],
        'fields': [dict({k: getattr(f, k) for k in FIELD_KEYS},
                        register=names.get(f.register) if f.register in names else f.register,
                        custom_register=f.register in names) for f in fields],
    }


def import_definitions(data, actor):
    """Create or update the definitions of an exported file, in one transaction: (created,
    updated, unchanged); a RuleError names every refused entry and nothing is written."""
    if not isinstance(data, dict) or data.get('format') != EXPORT_FORMAT:
        raise RuleError([(None, '文件不是本系统导出的自定义定义（JSON）。')])
    problems, counts = [], {'created': 0, 'updated': 0, 'unchanged': 0}
    registers = data.get('registers') or []
    fields = data.get('fields') or []
    if not isinstance(registers, list) or not isinstance(fields, list):
        raise RuleError([(None, '文件格式不正确：registers 与 fields 应为列表。')])
    if len(registers) + len(fields) > MAX_IMPORTED_DEFINITIONS:
        raise RuleError([(None, '一个文件最多导入 %d 项定义。' % MAX_IMPORTED_DEFINITIONS)])
    registers = _well_formed(registers, REGISTER_TYPES, '台账', problems)
    fields = _well_formed(fields, FIELD_TYPES, '字段', problems)
    if problems:
        raise RuleError(problems)
    from models.base import write_tx
    try:
        return _import_entries(registers, fields, actor, problems, counts, write_tx)
    except RuleError:
        sync(force=True)         # back to what is committed
        raise


def _import_entries(registers, fields, actor, problems, counts, write_tx):
    with write_tx():
        later = {}
        for entry in registers:
            values = {k: entry.get(k) for k in REGISTER_KEYS if k in entry}
            # Fields named by these come after the fields exist.
            later[values.get('name')] = {k: values.pop(k, None) for k in
                                         ('title_field', 'sort_field', 'deadline_field',
                                          'status_field', 'done_values')}
            row = CustomRegister.live().where(CustomRegister.name == values.get('name')).first()
            _put(CustomRegister, row, values, actor, problems, counts,
                 '台账「%s」' % values.get('name'))
        # The fields name the registers just defined: this process knows them now (the file
        # is all or nothing; `import_definitions` goes back to the committed state on refusal).
        apply(load_definitions())
        tables = {r.name: r.table_name for r in CustomRegister.live()}
        for entry in fields:
            values = {k: entry.get(k) for k in FIELD_KEYS if k in entry}
            register = entry.get('register')
            if entry.get('custom_register'):
                register = tables.get(register, '')
            values['register'] = register
            row = CustomField.live().where((CustomField.register == register) &
                                           (CustomField.name == values.get('name'))).first()
            _put(CustomField, row, values, actor, problems, counts,
                 '字段「%s」' % values.get('name'))
        for name, values in later.items():
            row = CustomRegister.live().where(CustomRegister.name == name).first()
            if row is not None and any(values.values()):
                before = counts['unchanged']
                _put(CustomRegister, row, values, actor, problems, counts, '台账「%s」' % name)
                if counts['unchanged'] == before + 1:
                    counts['unchanged'] -= 1
                else:
                    counts['updated'] -= 1
        if problems:
            raise RuleError(problems)
    return counts['created'], counts['updated'], counts['unchanged']


def _put(model, row, values, actor, problems, counts, what):
    try:
        if row is None:
            model.create_logged(actor, **values)
            counts['created'] += 1
            return
        if all(row.__data__.get(k) == v for k, v in values.items()):
            counts['unchanged'] += 1
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.save_logged(actor)
        counts['updated'] += 1
    except RuleError as exc:
        problems.extend((None, '%s：%s' % (what, m)) for _, m in exc.problems)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        problems.append((None, '%s：值的格式不正确（%s）。' % (what, exc)))


def definitions_json():
    return json.dumps(export_definitions(), ensure_ascii=False, indent=2, default=str)

