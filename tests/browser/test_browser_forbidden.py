"""What a user may not do, tried in the browser the way a curious user would: typed addresses,
edited form values, rows of another project slipped into a bulk action. All refused."""
import re

from playwright.sync_api import expect

from .portal_ui import bulk_action, expect_flash, list_rows

OTHER = '合肥·滨湖印象'          # a demo project the clerk and the supervisor do not serve


def first_id_in_other_project(page, login, table):
    """As the auditor (who reads every project): the id of a row of 合肥·滨湖印象."""
    login(page, 'auditor')
    page.goto('/admin/%s/?flt1_0=2&page_size=20' % table)
    row = list_rows(page).filter(has_text=OTHER).first
    href = row.locator('a[title="查看记录"]').get_attribute('href')
    return int(re.search(r'id=(\d+)', href).group(1))


def test_clerk_typing_the_address_of_another_projects_unit_is_told_not_found(page, login):
    unit_id = first_id_in_other_project(page, login, 'unit')
    page.context.clear_cookies()
    login(page, 'clerk')
    for path in ('/admin/unit/details/?id=%d', '/admin/unit/edit/?id=%d'):
        response = page.goto(path % unit_id)
        assert response.status == 404, (path, response.status)
        expect(page.locator('.alert')).to_contain_text('记录不存在，或您无权查看')


def test_clerk_slipping_another_projects_issue_into_a_bulk_action_changes_nothing(page, login):
    issue_id = first_id_in_other_project(page, login, 'inspection_issue')
    page.context.clear_cookies()
    login(page, 'clerk')
    page.goto('/admin/inspection_issue/?page_size=20')
    box = list_rows(page).first.locator('input.action-checkbox')
    box.evaluate('(el, id) => { el.value = String(id); }', issue_id)   # an edited form value
    box.check()
    bulk_action(page, '转为待验证')
    expect_flash(page, '已转为待验证 0 条')


def test_clerk_editing_the_project_of_a_new_row_is_refused(page, login):
    login(page, 'clerk')
    page.goto('/admin/inspection_issue/new/')
    # The only project offered is the clerk's own; put another project's id in its place.
    page.locator('#project option').first.evaluate('el => { el.value = "2"; }')
    page.get_by_label('部位/位置').fill('大堂')
    page.get_by_label('问题类别').select_option('交楼标准')
    page.get_by_label('问题描述').fill('改过的项目编号')
    page.get_by_role('button', name='保存', exact=True).click()
    page.wait_for_load_state()
    assert '/new/' in page.url, page.url                       # not saved, the form again
    expect(page.locator('.form-group').filter(has=page.locator('#project'))).to_contain_text(
        re.compile('[\u4e00-\u9fff]'))


def test_pages_beyond_a_role_are_refused(page, login):
    login(page, 'clerk')
    for path in ('/admin/recycle/', '/admin/users/', '/admin/users/new'):
        response = page.goto(path)
        assert response.status == 403, (path, response.status)
        expect(page.locator('.alert')).to_contain_text('您没有权限执行此操作')
    page.context.clear_cookies()
    login(page, 'auditor')
    for path in ('/admin/inspection_issue/new/', '/admin/inspection_issue/edit/?id=1',
                 '/admin/unit/import/', '/admin/recycle/'):
        response = page.goto(path)
        assert response.status == 403, (path, response.status)
