"""系统管理员 (admin): creates a clerk for one project; the new clerk changes the first password and
then sees that project only."""
import re

from playwright.sync_api import expect

from .harness import new_context, sign_in
from .portal_ui import expect_flash, stamp

FIRST_PASSWORD = 'Kefu-Start-2026!q'
OWN_PASSWORD = 'Kefu-Mine-2026!zx'


def test_admin_creates_a_user_for_one_project_who_then_sees_only_that_project(
        page, login, browser, portal):
    login(page, 'admin')
    username = 'shanghai.%s' % stamp()[-6:]
    page.goto('/admin/users/')
    page.get_by_role('link', name='新建用户').click()
    page.get_by_label('用户名').fill(username)
    page.get_by_label('姓名').fill('陈专员')
    page.get_by_label('角色').select_option(label='客服专员')
    page.get_by_label('负责项目').select_option(label='上海·静安臻园')
    page.get_by_label('初始密码').fill(FIRST_PASSWORD)
    page.get_by_role('button', name='保存').click()
    page.wait_for_load_state()
    expect_flash(page, '用户「%s」已保存' % username)
    expect(page.locator('tr', has_text=username)).to_contain_text('上海·静安臻园')

    # The new clerk, on another computer.
    context = new_context(browser, portal)
    try:
        tab = context.new_page()
        sign_in(tab, username, FIRST_PASSWORD)
        assert '/account/password' in tab.url, tab.url          # first login: a password of one's own
        tab.get_by_label('当前密码').fill(FIRST_PASSWORD)
        tab.get_by_label('新密码', exact=True).fill(OWN_PASSWORD)
        tab.get_by_label('再次输入新密码').fill(OWN_PASSWORD)
        tab.get_by_role('button', name='修改密码').click()
        tab.wait_for_load_state()
        tab.goto('/')
        cards = tab.locator('.project-card')
        expect(cards).to_have_count(1)
        expect(cards).to_contain_text('上海·静安臻园')
        tab.goto('/admin/unit/')
        projects = {t.strip() for t in tab.locator('td.col-project').all_inner_texts()}
        assert projects == {'上海·静安臻园'}, projects
        # A unit of 杭州·云栖雅苑 typed into the address bar: not found.
        tab.goto('/admin/unit/details/?id=1')
        expect(tab.locator('.alert')).to_contain_text('记录不存在，或您无权查看')
    finally:
        context.close()
