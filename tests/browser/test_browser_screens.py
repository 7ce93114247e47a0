"""The main screens at the office (1366×768) and on a tablet in portrait on a site walk (768×1024),
kept as screenshots in docs/screenshots/; saved views; and nothing fetched from outside."""
import re

from playwright.sync_api import expect

from .harness import TABLET, new_context
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


def test_register_list_on_a_tablet(login, shot, browser, portal):
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
        shot(tab, 'register-list-tablet')
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
