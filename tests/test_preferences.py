"""我的视图: a user names a list view, comes back to it, and nobody else sees it."""
import pytest

from models.preferences import QUERY_MAX, SavedView, clean_query, saved_view_problems

OVERDUE = 'flt0_status_equals=%E5%BE%85%E6%95%B4%E6%94%B9&sort=3&desc=1'


def save(client, name, query=OVERDUE, table='unit', **kwargs):
    data = {'table_name': table, 'name': name, 'query': query}
    return client.post_form('/preferences/views', data, **kwargs)


# ------------------------------------------------------------------ the query kept

def test_page_number_and_return_address_are_not_kept():
    assert clean_query('search=101&page=3&url=%2Fadmin%2F&sort=2') == 'search=101&sort=2'


def test_chinese_filter_values_survive_the_round_trip():
    kept = clean_query('flt1_status_equals=待验证')
    assert kept == 'flt1_status_equals=%E5%BE%85%E9%AA%8C%E8%AF%81'


@pytest.mark.parametrize('name,query,table,message', [
    ('', '', 'unit', '请为视图起一个名称'),
    ('   ', '', 'unit', '请为视图起一个名称'),
    ('视' * 41, '', 'unit', '不能超过 40 个字符'),
    ('我的', '', 'no_such_table', '没有这个台账'),
    ('我的', 'x' * (QUERY_MAX + 1), 'unit', '筛选条件过长'),
])
def test_a_view_that_cannot_be_kept_says_why(name, query, table, message):
    found = list(saved_view_problems(name, query, table, {'unit'}))
    assert any(message in text for _, text in found)


def test_exactly_40_characters_is_a_valid_name():
    assert list(saved_view_problems('视' * 40, '', 'unit', {'unit'})) == []


# ------------------------------------------------------------------ through the portal

def test_clerk_saves_current_view_and_finds_it_on_the_list(client_as, users):
    clerk = client_as('clerk')
    response = save(clerk, '一号楼逾期')
    assert response.status_code == 302
    assert response.headers['Location'].endswith('/admin/unit/?' + OVERDUE)
    page = clerk.get('/admin/unit/').get_data(as_text=True)
    assert '一号楼逾期' in page and '已保存视图「一号楼逾期」' in page
    row = SavedView.get(SavedView.name == '一号楼逾期')
    assert (row.user_id, row.table_name, row.query) == (users['clerk'].id, 'unit', OVERDUE)


def test_opening_a_saved_view_returns_to_the_list_with_its_filters(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期')
    row = SavedView.get(SavedView.name == '一号楼逾期')
    response = clerk.get('/preferences/views/%d' % row.id)
    assert response.status_code == 302
    assert response.headers['Location'].endswith('/admin/unit/?' + OVERDUE)


def test_saving_under_the_same_name_replaces_the_filters(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期')
    save(clerk, '一号楼逾期', query='search=101')
    rows = list(SavedView.select().where(SavedView.name == '一号楼逾期'))
    assert len(rows) == 1 and rows[0].query == 'search=101'


def test_a_view_without_a_name_is_refused_in_chinese(client_as):
    clerk = client_as('clerk')
    response = save(clerk, '', follow_redirects=True)
    assert '请为视图起一个名称' in response.get_data(as_text=True)
    assert SavedView.select().count() == 0


def test_a_view_of_an_unknown_register_is_refused(client_as):
    clerk = client_as('clerk')
    response = save(clerk, '乱填', table='app_user', follow_redirects=True)
    assert '没有这个台账' in response.get_data(as_text=True)
    assert SavedView.select().count() == 0


def test_saving_without_csrf_token_is_refused(client_as):
    clerk = client_as('clerk')
    response = clerk.client.post('/preferences/views', data={
        'table_name': 'unit', 'name': '一号楼逾期', 'query': OVERDUE})
    assert response.status_code == 303 and '#kefu-restore' in response.headers['Location']
    assert SavedView.select().count() == 0


def test_another_users_view_is_not_found(client_as):
    save(client_as('clerk'), '一号楼逾期')
    row = SavedView.get(SavedView.name == '一号楼逾期')
    supervisor = client_as('supervisor')
    assert supervisor.get('/preferences/views/%d' % row.id).status_code == 404
    assert supervisor.post_form('/preferences/views/%d/delete' % row.id).status_code == 404
    assert '一号楼逾期' not in supervisor.get('/admin/unit/').get_data(as_text=True)
    assert '一号楼逾期' not in supervisor.get('/preferences/views').get_data(as_text=True)
    assert SavedView.select().count() == 1


def test_views_of_one_register_are_not_offered_on_another(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期', table='unit', follow_redirects=True)
    assert '一号楼逾期' not in clerk.get('/admin/owner/').get_data(as_text=True)


def test_user_deletes_own_view_and_returns_to_the_list(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期')
    row = SavedView.get(SavedView.name == '一号楼逾期')
    response = clerk.post_form('/preferences/views/%d/delete' % row.id,
                               {'next': '/admin/unit/?search=101'})
    assert response.status_code == 302 and response.headers['Location'].endswith('/admin/unit/?search=101')
    assert SavedView.select().count() == 0


def test_delete_does_not_follow_an_outside_address(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期')
    row = SavedView.get(SavedView.name == '一号楼逾期')
    response = clerk.post_form('/preferences/views/%d/delete' % row.id,
                               {'next': '//evil.example/steal'})
    assert response.headers['Location'].endswith('/preferences/views')


def test_delete_asks_for_confirmation_first(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期')
    page = clerk.get('/admin/unit/').get_data(as_text=True)
    assert 'data-confirm="确定删除视图「一号楼逾期」吗？' in page


def test_a_saved_view_never_shows_another_projects_rows(make, projects, client_as):
    make.unit(projects['other'], building='8栋', room='808')
    clerk = client_as('clerk')
    save(clerk, '别人的项目', query='flt0_project_equals=%d' % projects['other'].id)
    row = SavedView.get(SavedView.name == '别人的项目')
    page = clerk.get('/preferences/views/%d' % row.id, follow_redirects=True).get_data(as_text=True)
    assert '808' not in page


def test_manage_page_lists_own_views_with_their_register(client_as):
    clerk = client_as('clerk')
    save(clerk, '一号楼逾期', table='unit')
    page = clerk.get('/preferences/views').get_data(as_text=True)
    assert '一号楼逾期' in page and '房源' in page

