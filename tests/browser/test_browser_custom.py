"""系统管理员 adds a field of the department's own to the punch list in the browser; a clerk then
fills it in on the form and finds the row by it in the list; the demo's own register
(业主生日关怀台账) is a register like any other for the clerk."""
from playwright.sync_api import expect

from .harness import take_screenshot
from .portal_ui import expect_flash, stamp


def test_admin_adds_a_field_and_a_clerk_uses_it(page, login, browser, portal):
    label = '交付批次%s' % stamp()[-4:]
    login(page, 'admin')
    page.goto('/admin/custom_field/new/')
    page.get_by_label('所属台账').select_option(label='验收问题')
    page.get_by_label('字段名称').fill(label)
    page.get_by_label('类型').select_option('单选')
    page.get_by_label('可选项').fill('第一批\n第二批\n第三批')
    page.get_by_label('在列表中显示').check()
    page.evaluate('window.scrollTo(0, 0)')
    take_screenshot(page, 'custom-field-admin')
    page.get_by_role('button', name='保存', exact=True).click()
    page.wait_for_load_state()
    expect_flash(page, '字段「%s」已添加到「验收问题」' % label)
    expect(page.locator('table.model-list')).to_contain_text(label)

    context = browser.new_context(base_url=portal.base_url, viewport={'width': 1366, 'height': 768},
                                  locale='zh-CN')
    try:
        tab = context.new_page()
        login(tab, 'clerk')
        tab.goto('/admin/inspection_issue/')
        tab.locator('tbody tr', has_text='待整改').first.locator('a[title="编辑记录"]').click()
        tab.wait_for_load_state()
        tab.get_by_label(label).select_option('第二批')
        tab.get_by_role('button', name='保存', exact=True).click()
        tab.wait_for_load_state()
        expect(tab.locator('.alert-danger')).to_have_count(0)
        tab.goto('/admin/inspection_issue/')
        expect(tab.locator('thead')).to_contain_text(label)
        expect(tab.locator('tbody')).to_contain_text('第二批')
        take_screenshot(tab, 'custom-field-clerk')
        # The demo's own register: listed, searchable, in the menu under 业主沟通.
        tab.goto('/')
        entry = tab.locator('a.dropdown-item', has_text='业主生日关怀台账').first
        href = entry.get_attribute('href')
        assert href and href.rstrip('/').endswith('/admin/cr_1'), href
        tab.goto(href)
        expect(tab.locator('tbody tr')).not_to_have_count(0)
        expect(tab.locator('thead')).to_contain_text('业主姓名')
    finally:
        context.close()
