"""客服专员 (clerk) on a site walk: finds the unit, records the problem with a photo, moves it on
when the contractor says it is fixed, and exports the list for the morning meeting."""
import re

from playwright.sync_api import expect

from .portal_ui import (add_filter, assign, bulk_action, edit_row, expect_flash, header_index, list_rows,
                       menu_bar, new_issue, open_workbook, row_with, save_form, sheet_rows, stamp)


def test_clerk_finds_a_unit_by_room_number_and_opens_its_file(page, login, shot):
    login(page, 'clerk')
    page.goto('/')
    page.locator('a.dropdown-toggle', has_text='基础数据').click()
    page.get_by_role('link', name='一户一档').click()
    page.get_by_label('房号或业主').fill('2栋 1502')
    page.get_by_role('button', name='查找').click()
    results = page.locator('#unit-results tbody tr')
    expect(results).to_have_count(2)                 # entrances 1 and 2
    results.get_by_role('link', name='2栋-1-1502').click()
    page.wait_for_load_state()
    assert re.search(r'/unit/\d+$', page.url), page.url
    expect(page.locator('h4').first).to_contain_text('杭州·云栖雅苑 2栋-1-1502')
    for section in ('房源', '业主', '合同台账', '变更记录'):
        expect(page.locator('h5, h4, h3', has_text=section).first).to_be_visible()
    shot(page, 'unit-file', full_page=True)


def test_clerk_records_an_issue_with_a_photo_that_opens_from_its_details(page, login):
    login(page, 'clerk')
    mark = stamp()
    row = new_issue(page, mark, unit=('2栋 1502', '2栋-1-1502'), photo=True)
    with page.expect_response(re.compile(r'/files/inspection_issue/')) as thumbnail:
        row.locator('a[title="查看记录"]').click()
    assert thumbnail.value.status == 200          # the details show the photo's thumbnail
    photo = page.get_by_role('img', name='照片')
    expect(photo).to_be_visible()
    assert photo.evaluate('img => img.naturalWidth') > 0
    with page.expect_response(re.compile(r'/files/inspection_issue/')) as info:
        page.locator('a[title="查看原图"]').click()
    response = info.value
    assert response.status == 200
    assert response.headers['content-type'].startswith('image/')


def test_clerk_records_an_issue_moves_it_to_verify_and_exports_the_list(page, login):
    login(page, 'clerk')
    mark = stamp()
    row = new_issue(page, mark, unit=('2栋 1502', '2栋-1-1502'))
    expect(row.locator('td.col-status')).to_contain_text('待整改')
    expect(row.locator('td.col-unit')).to_contain_text('2栋-1-1502')

    # Assigned to a contractor with a deadline; the contractor reports it fixed: select the row,
    # 批量操作 → 转为待验证 (with confirmation).
    assign(page, row)
    row = row_with(page, mark)
    row.locator('input.action-checkbox').check()
    bulk_action(page, '转为待验证')
    expect_flash(page, '已转为待验证 1 条')
    expect(row_with(page, mark).locator('td.col-status')).to_contain_text('待验证')

    # The morning list: every issue waiting for verification, exported and opened.
    page.goto('/admin/inspection_issue/?page_size=20')
    add_filter(page, '状态', '等于', '待验证')
    assert 'flt' in page.url
    expect(list_rows(page).first).to_be_visible()
    with page.expect_download() as info:
        menu_bar(page).get_by_role('link', name='导出', exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith('.xlsx')
    rows = sheet_rows(open_workbook(download).worksheets[0])
    head, status_col = header_index(rows, '状态')
    _, description_col = header_index(rows, '问题描述')
    data = [r for r in rows[head + 1:] if any(r)]
    assert any(mark in r[description_col] for r in data)
    statuses = {r[status_col] for r in data if r[description_col]}
    assert statuses == {'待验证'}, statuses
    assert not any('滨湖' in cell or '合肥' in cell for r in data for cell in r)   # own project only


def test_clerk_cannot_grant_a_concession_and_is_told_why_in_chinese(page, login, shot):
    login(page, 'clerk')
    mark = stamp()
    edit_row(page, new_issue(page, mark, location='3栋大堂'))
    page.get_by_label('状态').select_option('让步接收')
    save_form(page)
    assert '/edit/' in page.url                      # nothing saved: the form is shown again
    message = page.locator('.form-group').filter(has=page.locator('#status')).locator(
        '.invalid-feedback, .help-block, .form-text.text-danger, .error')
    expect(message.first).to_contain_text('只有客服经理可以审批「让步接收」或「不整改」')
    expect(page.locator('.alert-danger, .alert-error').first).to_contain_text('只有客服经理可以审批')
    page.locator('#status').scroll_into_view_if_needed()
    shot(page, 'form-validation-message')
    page.goto('/admin/inspection_issue/?search=' + mark)
    expect(row_with(page, mark).locator('td.col-status')).to_contain_text('待整改')
