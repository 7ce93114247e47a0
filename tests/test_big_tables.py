"""Big tables: Chinese search through the search indexes, counts, deep pages, queries per page.

The same tests run on SQLite (FTS5 trigram + bigram tables) and PostgreSQL (pg_trgm + gram GIN)."""
import datetime
import re
from decimal import Decimal

import pytest
from playhouse.test_utils import count_queries

from models.base import db, is_sqlite
from models.master import Contract, Owner, Unit
from views import listing

ROW_ID = re.compile(r'/details/\?id=(\d+)')
ADDRESSES = ('浙江省杭州市西湖区文三路香樟公寓', '上海市浦东新区世纪大道滨江花园', '北京市朝阳区望京街道星河湾')


def ids_on(page):
    """Ids of the rows listed, in order (each row links to its details page)."""
    found = []
    for value in ROW_ID.findall(page):
        if int(value) not in found:
            found.append(int(value))
    return found


def list_page(client, table, **args):
    response = client.get('/admin/%s/' % table, query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return response.get_data(as_text=True)


def add_owners(project, count, start=0, address=None):
    """Bulk owners, as a register grows (no change log: volume only)."""
    rows = [dict(project=project.id, name='业主%05d' % n, phone='1390000%04d' % (n % 10000),
                 mailing_address=address or ADDRESSES[n % len(ADDRESSES)] + '%d号' % n,
                 version=1) for n in range(start, start + count)]
    with db.atomic():
        for chunk in range(0, len(rows), 200):
            Owner.insert_many(rows[chunk:chunk + 200]).execute()


def live_ids(model, **where):
    query = model.select(model.id).where(model.deleted_at.is_null())
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return sorted(r.id for r in query)


# ------------------------------------------------------------------ search

@pytest.mark.parametrize('phrase', ['西湖', '文三路', '香樟公寓', '杭州市西湖'])
def test_search_finds_owners_by_two_three_five_character_phrase(client_as, projects, make, phrase):
    hit = make.owner(projects['mine'], mailing_address='浙江省杭州市西湖区文三路香樟公寓3幢')
    miss = make.owner(projects['mine'], mailing_address='上海市浦东新区世纪大道')
    found = ids_on(list_page(client_as('admin'), 'owner', search=phrase))
    assert found == [hit.id] and miss.id not in found


def test_search_by_one_character_finds_every_row_holding_it(client_as, projects, make):
    a = make.owner(projects['mine'], mailing_address='杭州')
    b = make.owner(projects['mine'], mailing_address='州府路')
    make.owner(projects['mine'], mailing_address='上海')
    assert sorted(ids_on(list_page(client_as('admin'), 'owner', search='州'))) == sorted([a.id, b.id])


def test_search_finds_contract_by_number_fragment(client_as, projects, make):
    wanted = make.contract(projects['mine'], contract_no='HT-2026-00731')
    other = make.contract(projects['mine'], contract_no='HT-2025-11888')
    admin = client_as('admin')
    assert ids_on(list_page(admin, 'contract', search='00731')) == [wanted.id]
    assert ids_on(list_page(admin, 'contract', search='ht-2026')) == [wanted.id]
    assert ids_on(list_page(admin, 'contract', search='31')) == [wanted.id]
    assert other.id in ids_on(list_page(admin, 'contract', search='88'))


def test_search_of_a_word_in_no_row_shows_nothing(client_as, projects, make):
    make.owner(projects['mine'], mailing_address='浙江省杭州市西湖区')
    assert ids_on(list_page(client_as('admin'), 'owner', search='西溪湿地')) == []


def test_search_respects_project_scope(client_as, projects, make):
    mine = make.owner(projects['mine'], mailing_address='滨江区闻涛路')
    theirs = make.owner(projects['other'], mailing_address='滨江区闻涛路')
    for phrase in ('滨江', '闻涛路'):
        assert ids_on(list_page(client_as('clerk'), 'owner', search=phrase)) == [mine.id]
        assert sorted(ids_on(list_page(client_as('auditor'), 'owner', search=phrase))) == \
            sorted([mine.id, theirs.id])


def test_search_follows_edits_deletes_and_purges(client_as, projects, make, users):
    owner = make.owner(projects['mine'], mailing_address='杭州市拱墅区运河边')
    admin = client_as('admin')
    assert ids_on(list_page(admin, 'owner', search='运河边')) == [owner.id]

    owner.mailing_address = '宁波市鄞州区东钱湖'
    owner.save_logged(users['admin'])
    assert ids_on(list_page(admin, 'owner', search='运河边')) == []
    assert ids_on(list_page(admin, 'owner', search='运河')) == []
    assert ids_on(list_page(admin, 'owner', search='东钱湖')) == [owner.id]
    assert ids_on(list_page(admin, 'owner', search='钱湖')) == [owner.id]

    owner.delete_logged(users['admin'])
    assert ids_on(list_page(admin, 'owner', search='东钱湖')) == []
    owner = Owner.get_by_id(owner.id)
    owner.restore_logged(users['admin'])
    assert ids_on(list_page(admin, 'owner', search='钱湖')) == [owner.id]
    owner.purge_logged(users['admin'])
    assert ids_on(list_page(admin, 'owner', search='东钱湖')) == []


def test_search_index_agrees_with_like_after_many_changes(app, projects, users):
    """The index is in step: every term finds exactly what a plain LIKE finds."""
    from models import search
    from views.base import RegisterView
    add_owners(projects['mine'], 120)
    for owner in [o for o in Owner.select() if o.id % 7 == 0]:
        owner.mailing_address = '宁波市海曙区%d号' % owner.id
        owner.save_logged(users['admin'])
    for owner in [o for o in Owner.select() if o.id % 11 == 0]:
        owner.delete_logged(users['admin'])
    fields = [Owner.name, Owner.phone, Owner.mailing_address]
    assert search.search_ready(Owner)
    for word in ('海曙', '宁', '西湖区', '文三路香樟', '滨江', '业主0001', '13900', '0'):
        like = Owner.select(Owner.id).where(Owner.deleted_at.is_null())
        cond = None
        for fld in fields:
            cond = fld.contains(word) if cond is None else cond | fld.contains(word)
        expected = sorted(r.id for r in like.where(cond))
        indexed = Owner.select(Owner.id).where(Owner.deleted_at.is_null()).where(
            search.search_condition(Owner, fields, word))
        assert sorted(r.id for r in indexed) == expected, word
        assert expected, word


# ------------------------------------------------------------------ counts

def test_count_shown_is_exact_for_small_tables(client_as, projects):
    add_owners(projects['mine'], 37)
    page = list_page(client_as('admin'), 'owner')
    assert '共 37 条' in page and '(37)' in page and '约' not in page.split('list-count')[1][:200]


def test_count_of_a_filtered_search_is_exact(client_as, projects):
    add_owners(projects['mine'], 30)
    page = list_page(client_as('admin'), 'owner', search='西湖')
    assert '共 10 条' in page


def test_big_count_is_an_estimate_with_exact_count_on_demand(app, client_as, projects):
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 50
    add_owners(projects['mine'], 240)
    admin = client_as('admin')
    page = list_page(admin, 'owner')
    assert re.search(r'约 2\d\d 条', page) and '精确统计' in page
    page = list_page(admin, 'owner', exact='1')
    assert '共 240 条' in page
    # Within a short while the exact count is remembered for the same list.
    assert '共 240 条' in list_page(admin, 'owner')


def test_an_estimate_holds_when_a_filter_value_equals_its_window_stand_in(app, projects):
    """The sample's SQL is rendered once with stand-in window bounds; a filter value equal to
    one of them must not be taken for a bound (nor fail the page)."""
    add_owners(projects['mine'], 240)
    low, high = listing._id_range(Owner)
    plain = Owner.select().where(Owner.deleted_at.is_null())
    odd = plain.where(Owner.id != listing._WINDOW_STAND_IN[0])
    assert listing.estimate_rows(odd, Owner, low, high) == listing.estimate_rows(plain, Owner, low, high) == 240


# ------------------------------------------------------------------ pages

def walk_keyset(client, table, first_page):
    """Ids of every page, following the 下一页 links."""
    seen, page = [], first_page
    while True:
        seen.extend(ids_on(page))
        nxt = re.search(r'<a class="page-link" href="([^"]+)">下一页', page)
        if not nxt:
            return seen
        page = client.get(nxt.group(1).replace('&amp;', '&')).get_data(as_text=True)


def test_keyset_pages_cover_every_row_once_in_order(app, client_as, projects):
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 30
    add_owners(projects['mine'], 130)
    admin = client_as('admin')
    expected = [o.id for o in Owner.select().order_by(Owner.name.asc(), Owner.id.asc())]
    seen = walk_keyset(admin, 'owner', list_page(admin, 'owner', page_size=20))
    assert seen == expected


def test_last_page_and_back_are_correct(app, client_as, projects):
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 30
    add_owners(projects['mine'], 130)
    admin = client_as('admin')
    expected = [o.id for o in Owner.select().order_by(Owner.name.asc(), Owner.id.asc())]
    first = list_page(admin, 'owner', page_size=20)
    last_url = re.search(r'<a class="page-link" href="([^"]+)">末页', first).group(1)
    last = admin.get(last_url.replace('&amp;', '&')).get_data(as_text=True)
    assert ids_on(last) == expected[-20:]
    prev_url = re.search(r'<a class="page-link" href="([^"]+)">‹ 上一页', last).group(1)
    before = admin.get(prev_url.replace('&amp;', '&')).get_data(as_text=True)
    assert ids_on(before) == expected[-40:-20]


def test_numbered_last_page_of_an_exact_list(client_as, projects):
    add_owners(projects['mine'], 75)
    admin = client_as('admin')
    expected = [o.id for o in Owner.select().order_by(Owner.name.asc(), Owner.id.asc())]
    assert ids_on(list_page(admin, 'owner', page_size=20, page=3)) == expected[60:]
    assert ids_on(list_page(admin, 'owner', page_size=20, page=2)) == expected[40:60]
    assert ids_on(list_page(admin, 'owner', page_size=20, page=1)) == expected[20:40]


def test_keyset_pages_with_a_nullable_sort_column(app, client_as, projects, make):
    """Contracts sort by sign date; pages stay whole when sorting by a column with empty cells."""
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 10
    contracts = [make.contract(projects['mine'], mortgage_bank=None if n % 3 else '工商银行',
                               sign_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=n % 4))
                 for n in range(23)]
    admin = client_as('admin')
    from views.registers import build_admin  # noqa: F401  (the view's column index below)
    column = app.extensions['admin'][0]._views
    view = next(v for v in column if getattr(v, 'endpoint', '') == 'contract')
    sort = [c for c, _ in view._list_columns].index('sign_date')
    seen = walk_keyset(admin, 'contract', list_page(admin, 'contract', page_size=20, sort=sort))
    assert sorted(seen) == sorted(c.id for c in contracts) and len(seen) == len(set(seen))


def test_pages_of_a_frequent_term_are_the_rows_like_finds(app, client_as, projects):
    """A term in many rows is paged by walking the list's order: same rows, same order."""
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 30
    add_owners(projects['mine'], 150)
    admin = client_as('admin')
    for term in ('西湖', '香樟公寓', '业主'):
        expected = [o.id for o in Owner.select().where(Owner.mailing_address.contains(term) |
                                                       Owner.name.contains(term))
                    .order_by(Owner.name.asc(), Owner.id.asc())]
        seen = walk_keyset(admin, 'owner', list_page(admin, 'owner', page_size=20, search=term))
        assert seen == expected, term


def test_a_descending_sort_is_the_reverse_of_the_ascending_one(app, client_as, projects):
    """Ties of a chosen column keep the declared order; descending reverses the whole list."""
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 30
    add_owners(projects['mine'], 40)
    add_owners(projects['other'], 40, start=40)
    admin = client_as('admin')
    view = next(v for v in app.extensions['admin'][0]._views if getattr(v, 'endpoint', '') == 'owner')
    sort = [c for c, _ in view._list_columns].index('project')
    up = walk_keyset(admin, 'owner', list_page(admin, 'owner', page_size=20, sort=sort))
    down = walk_keyset(admin, 'owner', list_page(admin, 'owner', page_size=20, sort=sort, desc=1))
    expected = [o.id for o in Owner.select().order_by(Owner.project.asc(), Owner.name.asc(),
                                                      Owner.id.asc())]
    assert up == expected and down == expected[::-1]


def test_a_token_of_another_search_is_ignored(app, client_as, projects):
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 30
    add_owners(projects['mine'], 90)
    admin = client_as('admin')
    first = list_page(admin, 'owner', page_size=20)
    nxt = re.search(r'<a class="page-link" href="([^"]+)">下一页', first).group(1)
    token = re.search(r'after=([^&"]+)', nxt).group(1)
    page = list_page(admin, 'owner', page_size=20, search='西湖', after=token)
    expected = [o.id for o in Owner.select().where(Owner.mailing_address.contains('西湖'))
                .order_by(Owner.name.asc(), Owner.id.asc())]
    assert ids_on(page) == expected[:20]


# ------------------------------------------------------------------ queries per page

def queries_for(client, url):
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def add_contracts(project, count, start=0):
    units = [Unit.create(project=project.id, building='B%d' % n, entrance='1', room=str(n), version=1)
             for n in range(start, start + 3)]
    add_owners(project, count, start=start)
    owner_ids = [o.id for o in Owner.select(Owner.id).order_by(Owner.id.desc()).limit(count)]
    rows = [dict(project=project.id, contract_no='BULK-%05d' % (start + n), unit=units[n % 3].id,
                 owner=owner_ids[n], sign_date=datetime.date(2026, 3, 1) + datetime.timedelta(days=n % 40),
                 total_price=Decimal('1'), payment_method='一次性', version=1) for n in range(count)]
    with db.atomic():
        for chunk in range(0, count, 100):
            Contract.insert_many(rows[chunk:chunk + 100]).execute()


def test_queries_per_page_stay_constant_as_rows_grow(app, client_as, projects):
    """A page costs the same queries for 150 rows as for 1,500 (and one more than an exactly
    counted list: the estimate)."""
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 20
    admin = client_as('admin')
    urls = ('/admin/contract/', '/admin/contract/?search=BULK', '/admin/owner/?search=业主',
            '/admin/owner/?search=西湖区')
    add_contracts(projects['mine'], 60)
    small = {u: queries_for(admin, u) for u in urls}
    add_contracts(projects['mine'], 90, start=60)
    medium = {u: queries_for(admin, u) for u in urls}
    add_contracts(projects['mine'], 1350, start=150)
    big = {u: queries_for(admin, u) for u in urls}
    assert medium == big, (medium, big)
    assert all(medium[u] <= small[u] + 1 for u in urls), (small, medium)
    first = admin.get('/admin/contract/').get_data(as_text=True)
    nxt = re.search(r'<a class="page-link" href="([^"]+)">下一页', first).group(1)
    assert queries_for(admin, nxt.replace('&amp;', '&')) == big['/admin/contract/']


# ------------------------------------------------------------------ row buttons

DELETE_FORM = re.compile(r'<form class="icon" method="POST" action="([^"]+)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input id="[^"]*" name="([^"]+)" type="hidden" value="([^"]*)">')


def test_each_rows_buttons_carry_its_own_id(client_as, projects, make):
    """The view, edit and delete buttons (rendered once per page) open and delete their own row."""
    rows = [make.owner(projects['mine'], name='按钮业主%d' % n) for n in range(3)]
    supervisor = client_as('supervisor')
    page = list_page(supervisor, 'owner', search='按钮业主')
    listed = ids_on(page)
    assert sorted(listed) == sorted(r.id for r in rows)
    for row_id in listed:
        assert page.count('/admin/owner/details/?id=%d&amp;url=' % row_id) == 1
        assert page.count('/admin/owner/edit/?id=%d&amp;url=' % row_id) == 1
    forms = [dict(HIDDEN.findall(body)) for action, body in DELETE_FORM.findall(page)
             if action == '/admin/owner/delete/']
    assert [int(f['id']) for f in forms] == listed
    target = forms[1]
    assert target['url'].startswith('/admin/owner/') and target['csrf_token']
    response = supervisor.post('/admin/owner/delete/', data=target)
    assert response.status_code == 302
    assert live_ids(Owner, project=projects['mine'].id) == sorted(set(listed) - {int(target['id'])})
    edit = supervisor.get('/admin/owner/edit/?id=%d' % listed[0])
    assert edit.status_code == 200 and '按钮业主' in edit.get_data(as_text=True)


def test_a_reader_gets_no_edit_or_delete_buttons(client_as, projects, make):
    make.owner(projects['mine'], name='只读业主')
    page = list_page(client_as('auditor'), 'owner')
    assert ids_on(page) and '/admin/owner/edit/?id=' not in page
    assert not DELETE_FORM.findall(page)


def test_export_uses_the_indexed_search(client_as, projects, make):
    import io
    from openpyxl import load_workbook
    make.owner(projects['mine'], name='张三', mailing_address='杭州市西湖区')
    make.owner(projects['mine'], name='李四', mailing_address='上海市')
    response = client_as('admin').get('/admin/owner/export/xlsx/', query_string={'search': '西湖'})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ['张三']
