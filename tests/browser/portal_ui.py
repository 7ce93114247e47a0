"""What a person does on the portal's pages, in a few words each (list menus, filters, pickers)."""
import io
import re

from playwright.sync_api import expect


def flashes(page):
    """The texts of the flash messages on the page."""
    return [t.strip() for t in page.locator('.alert').all_inner_texts()]


def expect_flash(page, text):
    expect(page.locator('.alert').filter(has_text=text).first).to_be_visible()


def menu_bar(page):
    """The menu bar above a register list (新建, 导出, 添加筛选器, 批量操作, 搜索, 我的视图)."""
    return page.locator('ul.nav-tabs').first


def search_list(page, words):
    box = menu_bar(page).locator('input[name=search]')
    box.fill(words)
    box.press('Enter')
    page.wait_for_load_state()


def add_filter(page, column, operation=None, value=None):
    """添加筛选器 → column; pick the operation and value, then 应用."""
    bar = menu_bar(page)
    bar.get_by_role('link', name='添加筛选器').click()
    bar.locator('.field-filters a.filter', has_text=re.compile('^%s$' % re.escape(column))).click()
    row = page.locator('#filter_form table.filters tr').last
    # Flask-Admin dresses the operation and option dropdowns with select2 (the <select> is hidden).
    if operation is not None:
        row.locator('select.filter-op').select_option(label=operation, force=True)
    if value is not None:
        field = row.locator('select.filter-val, input.filter-val').first
        if field.evaluate('e => e.tagName') == 'SELECT':
            field.select_option(label=value, force=True)
        else:
            field.fill(value)
    page.locator('#filter_form button[type=submit]').click()
    page.wait_for_load_state()


def list_rows(page):
    return page.locator('table.model-list > tbody > tr, table.model-list > tr').filter(
        has=page.locator('td.list-buttons-column'))


def row_with(page, text):
    return list_rows(page).filter(has_text=text)


def bulk_action(page, label, accept=True):
    """批量操作 → label, answering the confirmation the action asks."""
    bar = menu_bar(page)
    page.once('dialog', lambda dialog: dialog.accept() if accept else dialog.dismiss())
    bar.get_by_role('button', name='批量操作').or_(bar.get_by_role('link', name='批量操作')).click()
    bar.get_by_role('link', name=label).click()
    page.wait_for_load_state()


def pick_typed(page, field_id, typed, choice):
    """A foreign key picked by typing (Flask-Admin's select2 ajax field)."""
    page.locator('#s2id_%s a.select2-choice, #s2id_%s .select2-choices' % (field_id, field_id)).first.click()
    search = page.locator('#select2-drop.select2-drop-active input.select2-input')
    search.fill(typed)
    page.locator('#select2-drop .select2-result-selectable',
                 has_text=re.compile('^%s$' % re.escape(choice))).click()
    expect(page.locator('#s2id_%s' % field_id)).to_contain_text(choice)


def open_workbook(download):
    """The downloaded Excel file, opened with openpyxl."""
    from openpyxl import load_workbook
    with open(download.path(), 'rb') as fh:
        return load_workbook(io.BytesIO(fh.read()), read_only=False)


def sheet_rows(sheet):
    return [[('' if c is None else str(c)) for c in row] for row in sheet.iter_rows(values_only=True)]


def header_index(rows, title):
    """Index of the header row (the first row naming `title`) and of the column `title`."""
    for index, row in enumerate(rows):
        if title in row:
            return index, row.index(title)
    raise AssertionError('no column %s in %r' % (title, rows[:5]))


def changing_controls(page):
    """Buttons, links and forms on the page that would change something (for read-only roles)."""
    found = []
    for form in page.locator('form').all():
        method = (form.get_attribute('method') or 'get').lower()
        action = form.get_attribute('action') or ''
        if method == 'post' and not action.startswith('/preferences/'):   # one's own saved views
            found.append('form → %s' % form.get_attribute('action'))
    for link in page.locator('a').all():
        href = link.get_attribute('href') or ''
        if re.search(r'/(new|edit|delete|import|restore|purge)/?(\?|$)', href):
            found.append('link → %s' % href)
    for item in page.locator('[onclick*="modelActions"], a.dropdown-item').all():
        text = (item.inner_text() or '').strip()
        if text in ('删除', '转为待验证', '验证通过并关闭', '指派责任单位和整改期限'):
            found.append('action → %s' % text)
    return found


def stamp():
    """A mark that makes a row this test created easy to find (and unique across runs)."""
    import datetime
    return datetime.datetime.now().strftime('T%H%M%S%f')


def new_issue(page, mark, unit=None, photo=False, location='主卧', severity=None):
    """创建 an inspection issue (the unit picked by typing when given) from the list searched for
    `mark`, so that saving returns to that list showing the new row; returns the row."""
    page.goto('/admin/inspection_issue/?search=' + mark)
    menu_bar(page).get_by_role('link', name='创建').click()
    expect(page.locator('#project')).to_have_value(re.compile(r'\d+'))
    if unit is not None:
        pick_typed(page, 'unit', *unit)
    page.get_by_label('部位/位置').fill(location)
    page.get_by_label('问题类别').select_option('交楼标准')
    page.get_by_label('问题描述').fill('%s 窗台渗水，墙面起皮' % mark)
    if severity:
        page.get_by_label('严重程度').select_option(severity)
    if photo:
        picture = page.screenshot()               # a real PNG, as a phone photo would be
        page.get_by_label('照片').set_input_files({'name': 'IMG_0001.png', 'mimeType': 'image/png',
                                                   'buffer': picture})
    page.get_by_role('button', name='保存', exact=True).click()
    page.wait_for_load_state()
    assert '/admin/inspection_issue/' in page.url and '/new/' not in page.url, page.url
    row = row_with(page, mark)
    expect(row).to_have_count(1)
    return row


def edit_row(page, row):
    row.locator('a[title="编辑记录"]').click()
    page.wait_for_load_state()
    assert '/edit/' in page.url, page.url


def save_form(page):
    page.get_by_role('button', name='保存', exact=True).click()
    page.wait_for_load_state()


def error_page_text(page):
    return page.locator('.alert').first.inner_text()


def assign(page, row, contractor_index=1, deadline='2030-06-30'):
    """批量操作 → 指派责任单位和整改期限 for the checked `row` (what 整改中 and later need)."""
    row.locator('input.action-checkbox').check()
    bar = menu_bar(page)               # this action asks no confirmation
    bar.get_by_role('button', name='批量操作').or_(bar.get_by_role('link', name='批量操作')).click()
    bar.get_by_role('link', name='指派责任单位和整改期限').click()
    page.wait_for_load_state()
    page.locator('#contractor').select_option(index=contractor_index)
    page.locator('#deadline').fill(deadline)
    page.get_by_role('button', name='指派').click()
    page.wait_for_load_state()
    expect_flash(page, '已指派')
