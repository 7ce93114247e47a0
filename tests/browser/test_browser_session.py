"""A clerk interrupted at the handover desk: the session ends while she types, yet nothing typed
is lost; a form refused with a photo keeps the photo (or says it must be chosen again); the page
warns before the idle timeout and keeps her signed in; 退出登录 signs out by POST only."""
import re

from playwright.sync_api import expect

from .harness import new_context, sign_in
from .portal_ui import expect_flash, menu_bar, row_with, save_form, stamp


def open_new_issue(page, mark):
    page.goto('/admin/inspection_issue/?search=' + mark)
    menu_bar(page).get_by_role('link', name='创建').click()
    expect(page.locator('#project')).to_have_value(re.compile(r'\d+'))
    return page.url


def refused_issue_with_photo(page, login, filename):
    """A clerk's new issue with a photo chosen, refused (让步接收 is a supervisor's decision):
    the form comes back. Returns the mark of its description."""
    login(page, 'clerk')
    mark = stamp()
    open_new_issue(page, mark)
    page.get_by_label('部位/位置').fill('客厅')
    page.get_by_label('问题类别').select_option('交楼标准')
    page.get_by_label('问题描述').fill('%s 墙面开裂' % mark)
    page.get_by_label('状态').select_option('让步接收')
    page.get_by_label('照片').set_input_files({'name': filename, 'mimeType': 'image/png',
                                               'buffer': page.screenshot()})
    save_form(page)
    return mark


def fresh_clerk(browser, portal):
    """A tab of its own, signed in apart from the shared sessions (its cookies are dropped)."""
    context = new_context(browser, portal)
    page = context.new_page()
    page.console_errors = []
    page.on('console', lambda msg: msg.type == 'error' and page.console_errors.append(msg.text))
    sign_in(page, 'clerk', portal.password)
    return context, page


def test_typed_text_survives_the_end_of_the_session(browser, portal):
    context, page = fresh_clerk(browser, portal)
    try:
        mark = stamp()
        form_url = open_new_issue(page, mark)
        page.get_by_label('部位/位置').fill('主卧飘窗')
        page.get_by_label('问题类别').select_option('交楼标准')
        page.get_by_label('问题描述').fill('%s 窗台渗水，业主现场要求三日内回复' % mark)
        page.wait_for_timeout(500)                   # the draft is kept as she types
        context.clear_cookies()                      # 30 idle minutes: the browser drops the cookie
        save_form(page)
        assert '/login' in page.url, page.url        # asked to sign in again, not a 400 page
        expect_flash(page, '登录已过期')
        page.get_by_label('用户名').fill('clerk')
        page.get_by_label('密码').fill(portal.password)
        page.get_by_role('button', name='登录').click()
        page.wait_for_load_state()
        assert page.url == form_url, page.url        # back at the same form …
        expect(page.locator('[data-draft-notice]')).to_contain_text('已填回您未保存的内容')
        expect(page.get_by_label('问题描述')).to_have_value('%s 窗台渗水，业主现场要求三日内回复' % mark)
        expect(page.get_by_label('部位/位置')).to_have_value('主卧飘窗')
        expect(page.get_by_label('问题类别')).to_have_value('交楼标准')
        save_form(page)                              # … and the save goes through
        expect(row_with(page, mark)).to_have_count(1)
        page.goto(form_url)                          # a saved draft is not offered again
        expect(page.get_by_label('问题描述')).to_have_value('')
        expect(page.locator('[data-draft-notice]')).to_have_count(0)
        assert page.console_errors == []
    finally:
        context.close()


def test_a_refused_form_keeps_the_chosen_photo(page, login):
    mark = refused_issue_with_photo(page, login, 'IMG_0001.png')
    assert '/new/' in page.url, page.url
    expect(page.locator('[data-file-kept]')).to_contain_text('已保留您选择的文件「IMG_0001.png」')
    assert page.get_by_label('照片').evaluate('e => [...e.files].map(f => f.name)') == ['IMG_0001.png']
    expect(page.get_by_label('部位/位置')).to_have_value('客厅')    # the rest came back as typed
    page.get_by_label('状态').select_option('待整改')
    save_form(page)                                  # saved with the photo, not chosen again
    row = row_with(page, mark)
    expect(row).to_have_count(1)
    row.locator('a[title="查看记录"]').click()
    page.wait_for_load_state()
    photo = page.locator('a[href*="/files/inspection_issue/"]').first.get_attribute('href')
    stored = page.request.get(photo)
    assert stored.status == 200 and stored.headers['content-type'].startswith('image/png')
    assert page.console_errors == []


def test_where_the_photo_cannot_be_kept_the_form_says_so(page, login):
    page.add_init_script('delete window.DataTransfer')      # a browser that cannot put it back
    refused_issue_with_photo(page, login, 'IMG_0002.png')
    hint = page.locator('[data-reattach]')
    expect(hint).to_contain_text('IMG_0002.png')
    expect(hint).to_contain_text('请重新选择')


def test_the_page_warns_before_the_idle_timeout_and_keeps_her_signed_in(page, login):
    page.clock.install()
    login(page, 'clerk')
    page.goto('/admin/inspection_issue/')
    page.clock.fast_forward('27:00')
    expect(page.locator('#session-bar')).to_have_count(0)          # not yet
    page.clock.fast_forward('01:30')
    bar = page.locator('#session-bar')
    expect(bar).to_contain_text('登录将在约 2 分钟后过期')
    with page.expect_response('**/session/keepalive') as answer:
        bar.get_by_role('button', name='继续保持登录').click()
    assert answer.value.status == 200
    expect(bar).to_have_count(0)
    page.clock.fast_forward('31:00')
    expect(page.locator('#session-bar')).to_contain_text('登录已过期')
    expect(page.locator('#session-bar').get_by_role('link', name='重新登录')).to_have_attribute(
        'href', '/login?next=%2Fadmin%2Finspection_issue%2F')


def test_sign_out_in_the_menu_posts_with_the_token(page, login):
    login(page, 'clerk')
    page.goto('/')
    seen = []

    def answer(route):               # not passed on: the shared clerk session stays signed in
        seen.append((route.request.method, route.request.post_data or ''))
        route.fulfill(status=200, content_type='text/html', body='<p>ok</p>')
    page.route('**/logout', answer)
    page.locator('a.dropdown-toggle', has_text='账户').click()
    page.get_by_role('link', name='退出登录').click()
    page.wait_for_load_state()
    assert len(seen) == 1 and seen[0][0] == 'POST' and 'csrf_token=' in seen[0][1], seen
