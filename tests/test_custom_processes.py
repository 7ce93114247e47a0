"""Two server processes on one database (two waitress processes behind one proxy, or the web
process and a separate one): a field and a register an administrator defines on one are part of
the other's forms, lists and menu at its next request, without a restart. On the database of the
run (SQLite, or a fresh database on the PostgreSQL server of KEFU_DATABASE_URL)."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'load'))

from harness import DEMO_PASSWORD, Browser, Server  # noqa: E402


@pytest.fixture(scope='module')
def two_servers():
    url = os.environ.get('KEFU_DATABASE_URL', '')
    first = Server(database_url=url if url.startswith('postgres') else None, threads=2)
    first.start()
    second = Server(threads=2)
    second.env['KEFU_DATABASE_URL'] = first.store.url
    second.env['KEFU_WORKER'] = 'external'
    try:
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()
        first.store.drop()


def test_a_second_process_sees_new_fields_and_registers_without_a_restart(two_servers):
    first, second = two_servers
    desk = Browser(second)
    desk.login('clerk', DEMO_PASSWORD)
    status, form, _, _ = desk.request('GET', '/admin/inspection_issue/new/')
    assert status == 200 and '交付批次' not in form       # the second process has served already

    admin = Browser(first)
    admin.login('admin', DEMO_PASSWORD)
    status, body, location, _, _ = admin.post_form('/admin/custom_field/new/', {
        'register': 'inspection_issue', 'name': '交付批次', 'kind': '单选',
        'options': '第一批\n第二批', 'in_list': 'y', 'position': '0'})
    assert status == 302, body[-2000:]
    status, body, location, _, _ = admin.post_form('/admin/custom_register/new/', {
        'name': '车位租售台账', 'stage': '交付后', 'project_scoped': 'y', 'position': '0'})
    assert status == 302, body[-2000:]
    status, page, _, _ = admin.request('GET', '/admin/custom_register/')
    table = re.search(r'/admin/(cr_\d+)/', page).group(1)
    status, body, _, _, _ = admin.post_form('/admin/custom_field/new/', {
        'register': table, 'name': '车位号', 'kind': '文本', 'in_list': 'y', 'position': '0'})
    assert status == 302, body[-2000:]

    status, form, _, _ = desk.request('GET', '/admin/inspection_issue/new/')
    assert status == 200 and '交付批次' in form and '第二批' in form
    status, listing, _, _ = desk.request('GET', '/admin/%s/' % table)
    assert status == 200 and '车位号' in listing
    status, home, _, _ = desk.request('GET', '/')
    assert '车位租售台账' in home                              # in the menu
    assert 'Traceback' not in second.log_text() and 'Traceback' not in first.log_text()
