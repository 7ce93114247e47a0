"""Find a household in one step, in every register: one address parser (rules/address.py) for the
unit file, the list searches and filters, the pickers and the imports; pickers sort naturally."""
import datetime
import io
import json
import re

import openpyxl
import pytest
from peewee import SQL

from models.aftercare import Complaint, ComplaintFollowUp, RepairOrder
from models.base import all_registers
from models.delivery import AcceptanceRound, InspectionIssue
from models.handover import HandoverEntry
from tests.test_big_tables import ids_on
from models.master import Contract, Owner, Unit
from models import search
from rules.address import Address, natural_key, parse_address, unit_key

D = datetime.date
TARGET = Address('3', '1', '1602')


# ------------------------------------------------------------------ the parser

@pytest.mark.parametrize('text', ['3栋1单元1602', '3#1-1602', '3-1-1602', '3栋-1-1602',
                                  '3幢1单元1602室', '3号楼1单元1602', '3栋 1单元 1602',
                                  '３－１－１６０２', '3栋1-1602'])
def test_every_written_form_of_a_home_is_the_same_address(text):
    assert parse_address(text) == TARGET


def test_partial_addresses_and_what_is_not_an_address():
    assert parse_address('1602') == Address(room='1602')
    assert parse_address('1602室').room_only
    assert parse_address('7栋 2302') == Address('7', None, '2302')
    assert parse_address('A1栋2单元801') == Address('A1', '2', '801')
    assert parse_address('8号楼') == Address(building='8')
    for text in ('王五', '13912345678', 'HT-2026', '2026-01-05', '00731', '31', '3-1', ''):
        assert parse_address(text) is None, text


def test_a_stored_unit_has_one_key_however_it_was_written():
    assert unit_key('3栋', '1', '1602') == unit_key('3', '1单元', '1602室') == ('3', '1', '1602')
    assert unit_key('8号楼', '01', '101') == ('8', '1', '101')


def test_natural_order_counts_numbers_and_chinese_numerals():
    assert sorted(['1001', '101', '11'], key=natural_key) == ['11', '101', '1001']
    assert sorted(['10栋', '2栋', '1栋'], key=natural_key) == ['1栋', '2栋', '10栋']
    assert sorted(['第三轮', '第十一轮', '第一轮', '第二轮', '第十轮'], key=natural_key) == \
        ['第一轮', '第二轮', '第三轮', '第十轮', '第十一轮']


# ------------------------------------------------------------------ a handover-day project

def list_ids(client, table, **args):
    response = client.get('/admin/%s/' % table, query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return sorted(ids_on(response.get_data(as_text=True)))


@pytest.fixture
def households(make, projects):
    """3栋-1-1602 (韩梓萱) and look-alikes: another entrance's 1602, another building's 1602,
    2栋-1-1502 and 12栋-1-1502, each with a contract, a handover row, an issue, a repair and a
    complaint."""
    project = projects['mine']
    homes = {}
    for key, (building, entrance, room, name, phone) in {
            'target': ('3栋', '1', '1602', '韩梓萱', '13912345678'),
            'entrance2': ('3栋', '2', '1602', '王五', '13800001111'),
            'building13': ('13栋', '1', '1602', '李四', '13700002222'),
            'b2': ('2栋', '1', '1502', '赵六', '13600003333'),
            'b12': ('12栋', '1', '1502', '钱七', '13500004444')}.items():
        unit = make.unit(project, building=building, entrance=entrance, room=room)
        owner = make.owner(project, name=name, phone=phone)
        contract = make.contract(project, unit=unit, owner=owner)
        rows = {
            'unit': unit, 'owner': owner, 'contract': contract,
            'handover_entry': HandoverEntry.create_logged(None, project=project, unit=unit,
                                                          owner=owner, contract=contract),
            'inspection_issue': InspectionIssue.create_logged(
                None, project=project, unit=unit, category='使用功能', description='排风扇不工作',
                found_on=D(2026, 10, 13)),
            'repair_order': RepairOrder.create_logged(
                None, project=project, unit=unit, owner=owner, reported_on=D(2026, 11, 21),
                description='水槽下渗水', category='给排水'),
            'complaint': Complaint.create_logged(
                None, project=project, unit=unit, owner=owner, received_on=D(2026, 11, 22),
                channel='来电', category='服务', content='报修未上门')}
        homes[key] = rows
    return homes


REGISTERS = ('handover_entry', 'inspection_issue', 'repair_order', 'complaint', 'contract')


@pytest.mark.parametrize('text', ['3栋1单元1602', '3#1-1602', '3-1-1602', '3栋-1-1602',
                                  '3幢1单元1602室'])
def test_a_full_address_finds_exactly_that_home_in_every_register(households, client_as, text):
    clerk = client_as('clerk')
    for table in REGISTERS + ('unit',):
        assert list_ids(clerk, table, search=text) == [households['target'][table].id], table


def test_another_buildings_room_is_not_found_by_a_full_address(households, client_as):
    clerk = client_as('clerk')
    for table in REGISTERS:
        assert list_ids(clerk, table, search='2-1-1502') == [households['b2'][table].id], table


def test_a_room_alone_finds_that_room_in_every_building(households, client_as):
    wanted = sorted(households[k]['repair_order'].id for k in ('target', 'entrance2', 'building13'))
    assert list_ids(client_as('clerk'), 'repair_order', search='1602') == wanted


@pytest.mark.parametrize('text', ['韩梓萱', '梓萱', '13912345678', '912345', '5678'])
def test_an_owners_name_or_phone_finds_the_household(households, client_as, text):
    clerk = client_as('clerk')
    for table in REGISTERS + ('owner',):
        assert list_ids(clerk, table, search=text) == [households['target'][table].id], \
            (table, text)


def test_the_registers_own_text_is_still_searched(households, client_as):
    clerk = client_as('clerk')
    assert len(list_ids(clerk, 'repair_order', search='水槽')) == 5
    assert list_ids(clerk, 'repair_order', search='水槽 韩梓萱') == \
        [households['target']['repair_order'].id]


def test_a_row_about_a_row_of_a_household_is_found_too(households, client_as):
    complaint = households['target']['complaint']
    follow_up = ComplaintFollowUp.create_logged(None, complaint=complaint, followed_on=D(2026, 11, 23),
                                                method='电话', content='已致歉')
    ComplaintFollowUp.create_logged(None, complaint=households['entrance2']['complaint'],
                                    followed_on=D(2026, 11, 23), method='电话', content='已致歉')
    assert list_ids(client_as('clerk'), 'complaint_follow_up', search='3-1-1602') == [follow_up.id]


def test_every_register_about_a_household_can_be_searched_and_filtered_by_room_and_owner(app):
    admin = app.extensions['admin'][0]
    views = {getattr(v, 'model', None): v for v in admin._views}
    linked = [m for m in all_registers() if search.is_household_register(m)]
    for model in (Unit, Owner, Contract, HandoverEntry, InspectionIssue, RepairOrder, Complaint,
                  ComplaintFollowUp):
        assert model in linked, model
    assert AcceptanceRound not in linked
    for model in linked:
        view = views[model]
        assert view.column_searchable_list, model
        names = {str(f.name) for f in view._filters}
        assert {'房号/地址', '业主姓名/电话'} <= names, model
        assert '房号' in view.search_placeholder() and '业主' in view.search_placeholder()


def filter_key(app, table, label):
    admin = app.extensions['admin'][0]
    view = next(v for v in admin._views if getattr(v, 'endpoint', None) == table)
    for key, (_index, flt) in view._filter_args.items():
        if str(flt.name) == label:
            return 'flt0_%s' % key
    raise AssertionError(label)


def test_the_room_and_owner_filters(app, households, client_as):
    clerk = client_as('clerk')
    room, owner = filter_key(app, 'complaint', '房号/地址'), filter_key(app, 'complaint', '业主姓名/电话')
    assert list_ids(clerk, 'complaint', **{room: '3栋1单元1602'}) == \
        [households['target']['complaint'].id]
    assert list_ids(clerk, 'complaint', **{owner: '王五'}) == \
        [households['entrance2']['complaint'].id]
    assert list_ids(clerk, 'complaint', **{room: '不是地址'}) == []


def test_search_stays_in_the_users_projects(households, make, projects, client_as):
    other = make.unit(projects['other'], building='3栋', entrance='1', room='1602')
    RepairOrder.create_logged(None, project=projects['other'], unit=other,
                              reported_on=D(2026, 11, 21), description='别的项目', category='给排水')
    assert list_ids(client_as('clerk'), 'repair_order', search='3-1-1602') == \
        [households['target']['repair_order'].id]
    assert len(list_ids(client_as('admin'), 'repair_order', search='3-1-1602')) == 2


# ------------------------------------------------------------------ the unit file

@pytest.mark.parametrize('text', ['3栋1单元1602', '3-1-1602', '3#1-1602', '韩梓萱', '13912345678'])
def test_the_unit_file_finds_the_home(households, client_as, text):
    page = client_as('clerk').get('/unit/', query_string={'q': text}).get_data(as_text=True)
    found = set(int(i) for i in re.findall(r'/unit/(\d+)"', page))
    assert found == {households['target']['unit'].id}, text


def test_the_unit_file_finds_a_room_in_every_building(households, client_as):
    page = client_as('clerk').get('/unit/?q=1602').get_data(as_text=True)
    found = set(int(i) for i in re.findall(r'/unit/(\d+)"', page))
    assert found == {households[k]['unit'].id for k in ('target', 'entrance2', 'building13')}


# ------------------------------------------------------------------ pickers

def picker(client, table, field, term, **extra):
    response = client.get('/admin/%s/ajax/lookup/' % table,
                          query_string=dict(name=field, query=term, **extra))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize('text', ['3栋1单元1602', '3-1-1602', '3#1-1602', '3栋-1-1602'])
def test_the_unit_picker_understands_every_form(households, client_as, text):
    found = picker(client_as('clerk'), 'repair_order', 'unit', text)
    assert [row[0] for row in found] == [households['target']['unit'].id]


def test_the_owner_picker_finds_by_name_phone_and_address(households, client_as):
    clerk = client_as('clerk')
    target = households['target']['owner'].id
    for text in ('韩梓萱', '1391234', '3-1-1602'):
        assert [row[0] for row in picker(clerk, 'repair_order', 'owner', text)] == [target], text


def test_pickers_sort_naturally(make, projects, client_as):
    project = projects['mine']
    for room in ('1001', '101', '201', '11'):
        make.unit(project, building='9栋', room=room)
    for label in ('第三轮', '第一轮', '第二轮'):     # by the characters' codes: 一 三 二
        AcceptanceRound.create_logged(None, project=project, round_no=label)
    clerk = client_as('clerk')
    rooms = [row[1] for row in picker(clerk, 'repair_order', 'unit', '9栋')]
    assert rooms == ['9栋-1-11', '9栋-1-101', '9栋-1-201', '9栋-1-1001']
    rounds = [row[1] for row in picker(clerk, 'inspection_issue', 'round', '')]
    assert rounds == ['第一轮', '第二轮', '第三轮']


# ------------------------------------------------------------------ imports

def test_import_understands_the_forms_the_picker_accepts(households, client_as):
    from tests.test_excel_import import count_of, errors_of, upload
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(['项目', '房源', '报修日期', '报修内容', '问题类别'])
    for n, text in enumerate(['3栋1单元1602', '3#1-1602', '3-1-1602', '3栋-1-1602', '3幢1单元1602室',
                              '2-1-1502']):
        sheet.append(['云栖雅苑', text, '2026-11-%02d' % (n + 1), '导入的报修%d' % n, '给排水'])
    data = io.BytesIO()
    book.save(data)
    page = upload(client_as('clerk'), 'repair_order', data.getvalue()).get_data(as_text=True)
    assert count_of(page, 'errors') == 0, errors_of(page)
    assert count_of(page, 'create') == 6


def test_import_says_which_home_is_unclear_or_missing(households, make, projects, client_as):
    from tests.test_excel_import import errors_of, upload
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(['项目', '房源', '报修日期', '报修内容', '问题类别'])
    sheet.append(['云栖雅苑', '3栋1602', '2026-11-01', '有两个单元的1602', '给排水'])
    sheet.append(['云栖雅苑', '9栋1单元101', '2026-11-02', '没有这户', '给排水'])
    data = io.BytesIO()
    book.save(data)
    errors = errors_of(upload(client_as('clerk'), 'repair_order', data.getvalue())
                       .get_data(as_text=True))
    text = ' '.join(str(e) for e in errors)
    assert '3栋1602' in text and '9栋1单元101' in text


# ------------------------------------------------------------------ the address search is indexed

def _household_plan(query):
    """The database's plan of `query`, as one string (SQLite or PostgreSQL)."""
    from models.base import db, is_sqlite
    sql, params = query.sql()
    if is_sqlite():
        return ' '.join(str(row[3]) for row in db.execute_sql('EXPLAIN QUERY PLAN ' + sql, params))
    with db.atomic():
        # A test's few rows are read fastest by a sequential scan; ask which index serves.
        db.execute_sql('SET LOCAL enable_seqscan = off')
        return ' '.join(row[0] for row in db.execute_sql('EXPLAIN ' + sql, params))


def _address_page(text, size=51):
    fields = [InspectionIssue._meta.fields[n] for n in InspectionIssue._meta.search]
    query = InspectionIssue.select().where(InspectionIssue.deleted_at.is_null())
    query = search.apply_search(query, InspectionIssue, fields, text, mode='join')
    return query.order_by(InspectionIssue.found_on.desc(), InspectionIssue.id.desc()).limit(size)


def test_every_register_about_a_unit_has_a_unit_index_in_list_order(app):
    """Derived from the declaration: each link to a unit, an owner or a contract, then the list's
    sort, partial on live rows (deleted_at a column of it, so SQLite's planner prefers it)."""
    from models.base import db
    for model in all_registers():
        for fld in search.household_index_fields(model):
            names = [n for n, cols in search.derived_indexes(model)
                     if cols[:2] == [(fld.column_name, False), ('deleted_at', False)]]
            assert names, (model, fld.name)
            built = {i.name for i in db.get_indexes(model._meta.table_name)}
            assert names[0] in built, names[0]
    columns = dict(search.derived_indexes(InspectionIssue))
    assert [(c, d) for c, d in columns['kx_inspection_issue__unit_id_deleted_at_found_on_id']] == \
        [('unit_id', False), ('deleted_at', False), ('found_on', True), ('id', True)]


def test_an_address_is_resolved_to_unit_ids_before_the_register_is_read(households):
    """A full address names its units by id (a handful), so the register's rows are read from
    its (unit, sort) index: no subquery the planner cannot see into, no scan of the register."""
    query = _address_page('3栋1单元1602')
    sql, params = query.sql()
    assert households['target']['unit'].id in params
    assert 'FROM "unit"' not in sql
    assert [r.id for r in query] == [households['target']['inspection_issue'].id]
    plan = _household_plan(query)
    from models.base import is_sqlite
    if is_sqlite():
        assert 'kx_inspection_issue__unit_id_deleted_at_found_on_id (unit_id=? AND deleted_at=?)' \
            in plan, plan
        assert 'SCAN t1' not in plan, plan
    else:   # on a test's few rows PostgreSQL may as well walk the sort index: no scan either way
        assert 'Seq Scan on inspection_issue' not in plan and 'Index' in plan, plan


def test_the_count_of_an_address_search_reads_the_index_only(households):
    from models.base import is_sqlite
    if not is_sqlite():
        pytest.skip('covering-index plans are SQLite-specific')
    query = _address_page('3-1-1602').order_by().limit(None).select(InspectionIssue.id).limit(1001)
    plan = _household_plan(query)
    assert 'COVERING INDEX kx_inspection_issue__unit_id_deleted_at_found_on_id' in plan, plan


def test_an_address_naming_many_units_keeps_them_as_a_subquery(households, monkeypatch):
    monkeypatch.setattr(search, 'UNIT_IDS_CAP', 1)
    query = _address_page('1602')      # three units hold room 1602
    assert 'FROM "unit"' in query.sql()[0]
    wanted = sorted(households[k]['inspection_issue'].id for k in ('target', 'entrance2', 'building13'))
    assert sorted(r.id for r in query) == wanted


def test_an_address_naming_no_unit_finds_nothing(households, client_as):
    assert list_ids(client_as('clerk'), 'inspection_issue', search='9栋1单元909') == []


def test_a_page_of_an_address_search_reads_about_a_page_per_unit(households, projects):
    """Two homes with 200 issues each (and 1,800 newer issues of other homes): the first page
    (51 rows) is read from the (unit, sort) index unit by unit, leaving each unit's range once
    its rows cannot reach the page — neither all 400 rows read and sorted (the foreign key's
    index) nor the newer rows walked (the list's sort index); SQLite's ORDER BY LIMIT
    optimisation."""
    from models.base import db, is_sqlite
    if not is_sqlite():
        pytest.skip('rows read are counted with an SQLite function')
    project = projects['mine']
    rows = []
    for key in ('target', 'entrance2'):
        unit = households[key]['unit']
        rows += [dict(project=project.id, unit=unit.id, category='使用功能', description='批量%d' % n,
                      found_on=D(2025, 1, 1) + datetime.timedelta(days=n), version=1)
                 for n in range(200)]
    for key in ('building13', 'b2', 'b12'):     # newer rows of other homes: a walk of the list's
        unit = households[key]['unit']          # order would pass them all first
        rows += [dict(project=project.id, unit=unit.id, category='使用功能', description='别家%d' % n,
                      found_on=D(2026, 1, 1) + datetime.timedelta(days=n % 300), version=1)
                 for n in range(600)]
    for start in range(0, len(rows), 200):
        InspectionIssue.insert_many(rows[start:start + 200]).execute()
    read = []
    db.connection().create_function('kefu_tick', 1, lambda value: read.append(value) or 1)
    query = _address_page('3栋1602')    # both entrances: the two homes
    query = query.where(SQL('kefu_tick("t1"."id")'))
    found = list(query)
    assert len(found) == 51
    assert [r.found_on for r in found] == sorted((r.found_on for r in found), reverse=True)
    assert len(read) < 150, len(read)
