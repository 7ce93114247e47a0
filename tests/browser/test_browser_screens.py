"""The main screens at the office (1366×768) and on a tablet in portrait on a site walk (768×1024,
820×1180), kept as screenshots in docs/screenshots/ when asked; saved views; 待办与预警; no
console errors; and nothing fetched from outside."""
import re

import pytest
from playwright.sync_api import expect

from .harness import TABLET, new_context

TABLET_820 = {'width': 820, 'height': 1180}
from .portal_ui import add_filter, expect_flash, list_rows, menu_bar


def fits_the_width(page):
    """No sideways scrolling of the page itself (wide tables scroll inside their own box)."""
    return page.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1')


def test_login_page(page, shot):
    page.goto('/login')
    expect(page.get_by_label('用户名')).to_be_focused()
    shot(page, 'login')
    assert fits_the_width(page)


def test_dashboard_at_the_office_and_on_a_tablet(page, login, shot, browser, portal):
    login(page, 'clerk')
    page.goto('/')
    expect(page.locator('body')).to_contain_text('杭州·云栖雅苑')
    expect(page.locator('body')).not_to_contain_text('合肥·滨湖印象')
    shot(page, 'dashboard')
    assert fits_the_width(page)

    tablet = new_context(browser, portal, viewport=TABLET, has_touch=True, is_mobile=True)
    try:
        tab = login(tablet.new_page(), 'clerk')
        tab.goto('/')
        assert fits_the_width(tab)
        shot(tab, 'dashboard-tablet')
        # The menu folds behind its button on a tablet, and opens from it.
        toggler = tab.locator('.navbar-toggler')
        expect(toggler).to_be_visible()
        expect(tab.locator('#admin-navbar-collapse')).to_be_hidden()
        toggler.click()
        expect(tab.get_by_role('link', name='待办与预警').first).to_be_visible()
    finally:
        tablet.close()


def test_register_list_with_filters(page, login, shot):
    login(page, 'clerk')
    page.goto('/admin/inspection_issue/?page_size=20')
    add_filter(page, '状态', '等于', '整改中')
    statuses = {t.strip() for t in list_rows(page).locator('td.col-status').all_inner_texts()}
    assert statuses == {'整改中'}, statuses
    shot(page, 'register-list-filters')
    assert fits_the_width(page)


def test_register_list_on_a_tablet(login, browser, portal):
    tablet = new_context(browser, portal, viewport=TABLET, has_touch=True, is_mobile=True)
    try:
        tab = login(tablet.new_page(), 'clerk')
        tab.goto('/admin/inspection_issue/?page_size=20')
        assert fits_the_width(tab)
        expect(list_rows(tab).first).to_be_visible()
        expect(menu_bar(tab).get_by_role('link', name='创建')).to_be_visible()
        # The table scrolls inside its box; the status column can be reached.
        tab.locator('th.col-status').scroll_into_view_if_needed()
        expect(tab.locator('th.col-status')).to_be_in_viewport()
    finally:
        tablet.close()


def test_daily_handover_report(page, login, shot):
    login(page, 'supervisor')
    page.goto('/admin/handover_entry/daily/')
    figures = page.locator('#daily-figures')
    expect(figures).to_contain_text('当日交付户数')
    expect(figures).to_contain_text('完成交付比例')
    shot(page, 'handover-daily', full_page=True)
    assert fits_the_width(page)


def test_due_list(page, login, shot):
    login(page, 'clerk')
    page.goto('/due')
    expect(page.locator('body')).to_contain_text('验收问题整改期限')
    shot(page, 'due')
    assert fits_the_width(page)


def test_clerk_saves_a_named_view_comes_back_to_it_and_deletes_it_after_confirming(page, login, shot):
    login(page, 'clerk')
    page.goto('/admin/inspection_issue/?page_size=20')
    add_filter(page, '逾期', '等于', '是')
    filtered = page.url
    assert 'flt' in filtered
    menu = menu_bar(page)
    menu.locator('#saved-views-toggle').click()
    menu.get_by_label('保存当前视图（筛选、搜索、排序）').fill('我的逾期问题')
    menu.get_by_role('button', name='保存当前视图').click()
    page.wait_for_load_state()
    expect_flash(page, '已保存视图「我的逾期问题」')

    # Another day: the plain list, then the saved view from the menu.
    page.goto('/admin/inspection_issue/?page_size=20')
    menu.locator('#saved-views-toggle').click()
    expect(menu.locator('.saved-views-menu')).to_be_visible()
    shot(page, 'saved-views')
    menu.get_by_role('link', name='我的逾期问题').click()
    page.wait_for_load_state()
    overdue_filter = re.search(r'flt\d+_\d+=[^&]+', filtered).group(0)
    assert overdue_filter in page.url, (page.url, filtered)
    deadlines = list_rows(page).locator('td.col-deadline')
    expect(deadlines.first).to_be_visible()
    assert all('逾期' in t for t in deadlines.all_inner_texts())

    # Deleting asks first; "cancel" keeps the view.
    asked = []
    page.once('dialog', lambda d: (asked.append(d.message), d.dismiss()))
    menu.locator('#saved-views-toggle').click()
    menu.get_by_role('button', name='删除视图「我的逾期问题」').click()
    page.wait_for_timeout(300)
    assert asked and '确定删除视图「我的逾期问题」' in asked[0], asked
    expect(menu.locator('#saved-views-toggle')).to_contain_text('（1）')
    page.once('dialog', lambda d: d.accept())
    menu.get_by_role('button', name='删除视图「我的逾期问题」').click()
    page.wait_for_load_state()
    expect_flash(page, '已删除视图「我的逾期问题」')
    expect(menu.locator('#saved-views-toggle')).not_to_contain_text('（1）')


def test_every_asset_comes_from_the_portal_itself(page, login):
    """Offline use: CSS, scripts and fonts load, and no request leaves 127.0.0.1 (every other
    test checks the latter too, when its tab closes)."""
    login(page, 'clerk')
    for path in ('/admin/inspection_issue/new/', '/unit/?q=2栋 1502'):
        page.goto(path)
        page.wait_for_load_state('networkidle')
        empty = page.evaluate('''() => Array.from(document.styleSheets)
            .filter(s => s.href && s.cssRules.length === 0).map(s => s.href)''')
        assert empty == [], empty
        assert page.evaluate("typeof window.jQuery === 'function'")
        icon_font = page.evaluate("async () => (await document.fonts.load('14px FontAwesome')).length")
        assert icon_font, 'the icon font did not load'
    assert page.context.traffic.urls and page.context.traffic.outside() == []


# --------------------------------------------------------------------------- issue 19 §8

@pytest.fixture
def tablet_820(browser, portal):
    context = new_context(browser, portal, viewport=TABLET_820, has_touch=True, is_mobile=True)
    yield context
    context.close()


def test_every_register_list_keeps_its_key_columns_readable_on_an_820_px_tablet(tablet_820, login):
    """Walk every register: its key columns (房号, 状态, 期限, the row's name: views/screens.py)
    are on screen without scrolling sideways, and no visible cell is squeezed to one character
    per line."""
    from models.base import all_registers
    from views.screens import key_columns
    tab = login(tablet_820.new_page(), 'admin')
    problems = []
    for model in all_registers():
        table = model._meta.table_name
        tab.goto('/admin/%s/?page_size=20' % table)
        columns = tab.evaluate("""() => [...document.querySelectorAll('.model-list thead th')]
            .map(th => [...th.classList].find(c => c.startsWith('col-'))).filter(Boolean)
            .map(c => c.slice(4))""")
        if not columns:
            continue
        measured = tab.evaluate("""(key) => {
            const width = window.innerWidth, out = {offscreen: [], hidden: [], squeezed: []};
            for (const name of key) {
                const th = document.querySelector('.model-list thead th.col-' + name);
                if (!th || th.offsetParent === null) { out.hidden.push(name); continue; }
                if (th.getBoundingClientRect().right > width + 1) out.offscreen.push(name);
            }
            for (const cell of document.querySelectorAll('.model-list th, .model-list tbody tr:nth-child(-n+10) td')) {
                if (cell.offsetParent === null || !/col-/.test(cell.className)) continue;
                const style = getComputedStyle(cell);
                const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
                if (cell.innerText.trim().length > 1 && inner < 2 * parseFloat(style.fontSize))
                    out.squeezed.push(cell.className + ' ' + Math.round(inner) + 'px');
            }
            out.sideways = document.documentElement.scrollWidth > width + 1;
            return out; }""", [c for c in columns if c in key_columns(model)])
        if measured['hidden'] or measured['offscreen'] or measured['squeezed'] or measured['sideways']:
            problems.append((table, measured))
    assert problems == [], problems


def test_register_list_on_an_820_px_tablet(tablet_820, login, shot):
    tab = login(tablet_820.new_page(), 'clerk')
    tab.goto('/admin/inspection_issue/?page_size=20')
    for label in ('房号', '问题描述', '整改期限', '状态'):
        expect(tab.locator('.model-list thead th', has_text=label).first).to_be_in_viewport()
    expect(tab.locator('.model-list thead th.col-project')).to_be_hidden()
    shot(tab, 'register-list-tablet')


MAIN_PAGES = ('/', '/due', '/admin/inspection_issue/', '/admin/inspection_issue/new/',
              '/admin/handover_entry/', '/admin/handover_entry/daily/', '/admin/contract/',
              '/admin/complaint/', '/unit/1', '/admin/change_log/')


def test_main_pages_log_no_console_errors(page, login):
    """No Content-Security-Policy violation, no missing favicon, no script error."""
    page.goto('/login')
    page.wait_for_load_state('networkidle')
    login(page, 'supervisor')
    errors = {}
    for path in MAIN_PAGES:
        page.console_errors.clear()
        page.goto(path)
        page.wait_for_load_state('networkidle')
        if page.console_errors:
            errors[path] = list(page.console_errors)
    assert errors == {}, errors
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith('favicon.svg')


def test_due_list_is_grouped_with_the_clause_on_demand(page, login):
    login(page, 'clerk')
    page.goto('/due')
    groups = page.locator('details.due-group')
    assert groups.count() > 1
    first = groups.first
    expect(first.locator('tr.due-row').first).to_be_visible()
    expect(groups.nth(1).locator('tr.due-row').first).to_be_hidden()      # closed until opened
    clause = first.locator('details.due-clause').first
    expect(clause.locator('q')).to_be_hidden()
    clause.locator('summary').click()
    expect(clause.locator('q')).to_be_visible()
    expect(page.locator('body')).not_to_contain_text('REGISTERS')
    groups.nth(1).locator("> summary").click()
    expect(groups.nth(1).locator('tr.due-row').first).to_be_visible()
