"""审计 (auditor): reads every project, filters the change log, downloads the audit workbook, and
finds nothing on any page that would change a record."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from .harness import new_context
from .portal_ui import (add_filter, assign, bulk_action, changing_controls, expect_flash, list_rows,
                       menu_bar, new_issue, open_workbook, row_with, stamp)

READ_PAGES = ('/admin/inspection_issue/?page_size=20', '/admin/owner/?page_size=20',
              '/admin/change_log/?page_size=20', '/unit/1')
DUE_CREATE_LINKS = ('/due links project-level obligations (年度顾客回访, 质量监理小组, 阶段沟通会) to '
                    '/admin/<register>/new/, which the auditor may not open (403); the template '
                    'should link to the list for users without the create power (see the report).')


def test_auditor_filters_the_change_log_by_register_and_action(page, login, browser, portal):
    # Something to audit: on another computer the clerk records an issue and moves it on.
    context = new_context(browser, portal)
    try:
        clerk = login(context.new_page(), 'clerk')
        mark = stamp()
        assign(clerk, new_issue(clerk, mark, location='1栋屋面'))
        row_with(clerk, mark).locator('input.action-checkbox').check()
        bulk_action(clerk, '转为待验证')
        expect_flash(clerk, '已转为待验证 1 条')
    finally:
        context.close()

    login(page, 'auditor')
    page.goto('/admin/change_log/')
    add_filter(page, '台账', '等于', '验收问题')
    add_filter(page, '操作', '等于', '修改')
    rows = list_rows(page)
    expect(rows.first).to_be_visible()
    registers = {t.strip() for t in rows.locator('td.col-table_name').all_inner_texts()}
    actions = {t.strip() for t in rows.locator('td.col-action').all_inner_texts()}
    assert registers == {'验收问题'}, registers
    assert actions == {'修改'}, actions
    # Each entry says what changed, from → to.
    assert any('待整改 → 待验证' in t for t in rows.locator('td.col-changes').all_inner_texts())


def test_auditor_finds_no_button_that_changes_anything(page, login):
    login(page, 'auditor')
    found = {}
    for path in READ_PAGES:
        page.goto(path)
        assert page.locator('.alert-danger', has_text='403').count() == 0, path
        found[path] = changing_controls(page)
    page.goto('/admin/inspection_issue/?page_size=20')
    bar = menu_bar(page)
    expect(bar.get_by_role('link', name='导出', exact=True)).to_be_visible()   # reading and exporting, yes
    expect(bar.get_by_role('link', name='创建')).to_have_count(0)
    expect(bar.get_by_role('link', name='导入')).to_have_count(0)
    list_rows(page).first.locator('a[title="查看记录"]').click()
    page.wait_for_load_state()
    found['details'] = changing_controls(page)
    assert not any(found.values()), found


def test_auditor_due_list_offers_nothing_to_create(page, login):
    login(page, 'auditor')
    page.goto('/due')
    assert changing_controls(page) == []


def test_auditor_downloads_the_project_audit_workbook(page, login):
    login(page, 'auditor')
    page.goto('/')
    page.locator('a.dropdown-toggle', has_text='审计').click()
    page.get_by_role('link', name='项目审计工作簿').click()
    page.wait_for_load_state()
    page.get_by_label('项目').select_option(label='合肥·滨湖印象（HF-BH）')
    with page.expect_download() as info:
        page.get_by_role('button', name='下载审计工作簿').click()
    download = info.value
    assert download.suggested_filename.endswith('.xlsx')
    titles = [s.title for s in open_workbook(download).worksheets]
    assert {'说明', '变更记录', '验收问题', '房源'} <= set(titles), titles


def link_kind(href):
    """One link per kind: the path with its numbers as N, and the names of its parameters."""
    parts = urlsplit(href)
    return re.sub(r'\d+', 'N', parts.path) + '?' + ','.join(sorted(parse_qs(parts.query)))


def test_no_page_the_auditor_reaches_offers_a_page_she_is_refused(page, login):
    """Walk the menu as the auditor, and the links of every page it leads to (on the demo data,
    one link of each kind): none answers 403 — what she may not use is not offered."""
    login(page, 'auditor')
    page.goto('/')
    menu = set(page.locator('nav a[href^="/"]').evaluate_all(
        'links => links.map(a => a.getAttribute("href"))')) - {'/logout'}
    seen, refused = set(), []
    for link in sorted(menu):
        response = page.request.get(link)
        if response.status == 403:
            refused.append(('menu', link))
            continue
        for href in set(re.findall(r'href="(/[^"#]*)"', response.text())):
            href = html.unescape(href)
            if href.startswith(('/static/', '/admin/static/', '/logout')) or 'export' in href \
                    or href.endswith('.xlsx') or link_kind(href) in seen:
                continue
            seen.add(link_kind(href))
            if page.request.get(href, max_redirects=0).status == 403:
                refused.append((link, href))
    assert len(seen) > 50 and refused == [], refused
