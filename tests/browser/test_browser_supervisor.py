"""客服经理 (supervisor): approves a 让步接收 the clerk may not grant, and brings back a row deleted
by mistake from the recycle bin."""
import re

from playwright.sync_api import expect

from .portal_ui import (edit_row, expect_flash, new_issue, row_with, save_form, stamp)


def test_supervisor_approves_a_concession_and_is_named_as_approver(page, login):
    login(page, 'supervisor')
    mark = stamp()
    edit_row(page, new_issue(page, mark, location='5栋地下车库'))
    page.get_by_label('状态').select_option('让步接收')
    save_form(page)
    assert '/edit/' not in page.url, page.url
    row = row_with(page, mark)
    expect(row.locator('td.col-status')).to_contain_text('让步接收')
    row.locator('a[title="查看记录"]').click()
    details = page.locator('table').filter(has_text='决策审批人').first    # not the change log
    expect(details.locator('tr', has_text='决策审批人').first).to_contain_text('王经理')
    expect(details.locator('tr', has_text='决策审批日期').first).to_contain_text(re.compile(r'\d{4}-\d{2}-\d{2}'))


def test_supervisor_deletes_after_confirming_and_restores_from_the_recycle_bin(page, login):
    login(page, 'supervisor')
    mark = stamp()
    row = new_issue(page, mark, location='2栋电梯厅')
    delete = row.locator('form button, form input[type=submit]').filter(
        has=page.locator('.fa-trash, .glyphicon-trash')).or_(row.locator('button[title="删除记录"]'))

    # The first time the supervisor thinks again: nothing is deleted.
    asked = []
    page.once('dialog', lambda d: (asked.append(d.message), d.dismiss()))
    delete.first.click()
    page.wait_for_timeout(300)
    assert asked and '确定' in asked[0], asked
    page.reload()
    expect(row_with(page, mark)).to_have_count(1)

    # Then confirms.
    page.once('dialog', lambda d: d.accept())
    row_with(page, mark).locator('button[title="删除记录"]').first.click()
    page.wait_for_load_state()
    expect(row_with(page, mark)).to_have_count(0)
    assert 'search=' in page.url

    # 回收站 → 恢复.
    page.goto('/admin/recycle/')
    bin_row = page.locator('tr', has_text=mark)
    expect(bin_row).to_have_count(1)
    bin_row.get_by_role('button', name='恢复').click()
    page.wait_for_load_state()
    expect_flash(page, '已恢复')
    page.goto('/admin/inspection_issue/?search=' + mark)
    expect(row_with(page, mark)).to_have_count(1)
