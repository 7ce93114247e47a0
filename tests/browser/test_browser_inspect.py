"""现场验收 on a tablet (820×1180): walking a floor and adding issues with photos; the connection
cut while adding issues, the page closed and reopened, the connection back — every queued issue
stored exactly once; the same item sent twice stored once; a verification that met a change
made at the desk reported in Chinese."""
import base64
import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from .harness import new_context
from .portal_ui import stamp

TABLET = {'width': 820, 'height': 1180}
PHONE = {'width': 390, 'height': 844}


@pytest.fixture
def tablet(browser, portal, login, request):
    """A tab of a tablet-sized context signed in as the clerk (项目 杭州·云栖雅苑)."""
    context = new_context(browser, portal, viewport=TABLET, has_touch=True)
    tab = context.new_page()
    tab.console_errors = []
    tab.on('pageerror', lambda exc: tab.console_errors.append(str(exc)))
    login(tab, 'clerk')
    yield tab
    outside = context.traffic.outside()
    context.close()
    assert not outside, 'requests left this machine: %s' % outside


def rows(portal, sql, *args):
    with sqlite3.connect(portal.database_path, timeout=30) as db:
        return db.execute(sql, args).fetchall()


def photo(page, width=1600, height=1200):
    """A JPEG made by the browser itself (a real photo's size and entropy, no imaging library)."""
    data = page.evaluate('''([w, h]) => {
        const c = document.createElement('canvas'); c.width = w; c.height = h;
        const g = c.getContext('2d');
        const grad = g.createLinearGradient(0, 0, w, h);
        grad.addColorStop(0, '#d9c7a3'); grad.addColorStop(1, '#7d8a99');
        g.fillStyle = grad; g.fillRect(0, 0, w, h);
        const img = g.getImageData(0, 0, w, h);
        for (let i = 0; i < img.data.length; i += 4) {
            const n = (Math.random() - 0.5) * 60;
            img.data[i] += n; img.data[i + 1] += n; img.data[i + 2] += n;
        }
        g.putImageData(img, 0, 0);
        g.fillStyle = '#3a2f25'; g.fillRect(w * 0.3, h * 0.4, w * 0.4, h * 0.05);
        return c.toDataURL('image/jpeg', 0.92).split(',')[1];
    }''', [width, height])
    return base64.b64decode(data)


def open_walk(page, building='3栋'):
    page.goto('/inspect/')
    expect(page.locator('body')).to_have_attribute('data-ready', '1')
    if page.locator('#building').input_value() != building:
        page.locator('#building').select_option(building)
    expect(page.locator('#grid .cell').first).to_be_visible()


def open_unit(page, label):
    """Tap a unit of the grid by its room label (entrance-room)."""
    page.locator('#grid .cell', has=page.locator('.room', has_text=label)).first.click()
    expect(page.locator('#unit-view')).to_be_visible()


def add_issue(page, description, room='客厅', category='观感色差卫生', picture=None, major=False):
    page.get_by_role('button', name='＋ 新增问题').click()
    expect(page.locator('#add-view')).to_be_visible()
    page.locator('#rooms').get_by_role('button', name=room, exact=True).click()
    page.locator('#categories').get_by_role('button', name=category, exact=True).click()
    if major:
        page.locator('#severities').get_by_role('button', name='重大').click()
        page.locator('#rectification_plan').fill('总包返工处理，监理复验')
        page.locator('#deadline').fill('2030-06-30')
        page.locator('#responsible_person').fill('陈建国')
        page.locator('#penalty').fill('按合同扣款2000元')
    page.locator('#description').fill(description)
    if picture is not None:
        page.locator('#photo').set_input_files({'name': 'IMG_2001.jpg', 'mimeType': 'image/jpeg',
                                                'buffer': picture})
        expect(page.locator('#photo-preview')).to_be_visible()
        expect(page.locator('#photo-size')).to_contain_text('KB →')
    page.locator('#save-issue').click()
    expect(page.locator('#unit-view')).to_be_visible()


def wait_sent(page):
    expect(page.locator('#queue-count')).to_have_text('0', timeout=20000)


def test_walking_a_floor_and_adding_issues_with_photos(tablet, portal, shot):
    page, mark = tablet, stamp()
    open_walk(page, '3栋')
    cells = page.locator('#grid .floor').first.locator('.cell')
    expect(cells).to_have_count(5)                     # a floor: 1-1801 … 2-1803
    assert page.locator('#grid .cell.major, #grid .cell.some, #grid .cell.none').count() == 90
    shot(page, 'inspect-grid-tablet')
    open_unit(page, '1-1801')
    expect(page.locator('#unit-title')).to_have_text('3栋-1-1801')
    picture = photo(page)
    add_issue(page, '%s 客厅墙面乳胶漆色差' % mark, picture=picture)
    wait_sent(page)
    expect(page.locator('#open-issues')).to_contain_text('%s 客厅墙面乳胶漆色差' % mark)
    shot(page, 'inspect-unit-tablet')
    # Along the floor without going back to the grid.
    page.get_by_role('button', name='下一户 ›').click()
    expect(page.locator('#unit-title')).to_have_text('3栋-1-1802')
    page.get_by_role('button', name='＋ 新增问题').click()
    page.locator('#rooms').get_by_role('button', name='厨房', exact=True).click()
    page.locator('#categories').get_by_role('button', name='水电', exact=True).click()
    phrases = page.locator('#phrases button')
    expect(phrases.first).to_be_visible()              # the project's most used descriptions
    phrases.first.click()
    suggested = page.locator('#description').input_value()
    assert suggested
    page.locator('#description').fill('%s %s' % (mark, suggested))
    assert page.locator('#contractor').input_value() != ''      # proposed from the category
    page.locator('#photo').set_input_files({'name': 'IMG_2002.jpg', 'mimeType': 'image/jpeg',
                                            'buffer': picture})
    expect(page.locator('#photo-preview')).to_be_visible()
    shot(page, 'inspect-add-tablet', full_page=True)
    page.locator('#save-issue').click()
    wait_sent(page)
    page.get_by_role('button', name='本户已查 ›').click()
    expect(page.locator('#unit-title')).to_have_text('3栋-2-1801')
    page.get_by_role('button', name='‹ 上一户').click()
    expect(page.locator('#unit-title')).to_have_text('3栋-1-1802')
    wait_sent(page)
    stored = rows(portal, "SELECT u.room, i.location, i.found_by, i.photo, i.status, r.round_no "
                          "FROM inspection_issue i JOIN unit u ON u.id = i.unit_id "
                          "LEFT JOIN acceptance_round r ON r.id = i.round_id "
                          "WHERE i.description LIKE ? ORDER BY u.room", mark + '%')
    assert [(s[0], s[1], s[2], s[4], s[5]) for s in stored] == [
        ('1801', '客厅', '李专员', '待整改', '第三轮'), ('1802', '厨房', '李专员', '待整改', '第三轮')]
    assert all(s[3] and s[3].endswith('.jpg') for s in stored)
    assert rows(portal, "SELECT count(*) FROM inspect_unit_visit v JOIN unit u ON u.id = v.unit "
                        "WHERE u.building = '3栋' AND u.room = '1802'")[0][0] >= 1
    page.get_by_role('button', name='‹ 楼栋').click()
    cell = page.locator('#grid .cell', has=page.locator('.room', has_text='1-1802'))
    expect(cell.locator('.walked')).to_be_visible()
    assert not page.console_errors, page.console_errors


def test_offline_issues_survive_closing_the_page_and_are_stored_once(tablet, portal, shot):
    page, mark = tablet, stamp()
    context = page.context
    open_walk(page, '5栋')
    page.evaluate('navigator.serviceWorker.ready.then(() => true)')
    page.reload()                                      # the worker now controls the page
    expect(page.locator('body')).to_have_attribute('data-ready', '1')
    page.wait_for_function('() => navigator.serviceWorker.controller !== null')
    open_unit(page, '1-1701')
    context.set_offline(True)
    expect(page.locator('#net')).to_have_text('离线')
    picture = photo(page, 1200, 900)
    add_issue(page, '%s 离线1 地砖勾缝污染' % mark, picture=picture)
    add_issue(page, '%s 离线2 窗台石材有水渍' % mark, room='主卧')
    page.get_by_role('button', name='下一户 ›').click()
    add_issue(page, '%s 离线3 外窗窗框周边渗水' % mark, category='重大质量问题', major=True,
              picture=picture)
    expect(page.locator('#queue-count')).to_have_text('3')
    shot(page, 'inspect-offline-queue-tablet')
    page.close()                                       # the tablet closed, still offline

    page = context.new_page()
    page.goto('/inspect/')                             # from the service worker's copy
    expect(page.locator('body')).to_have_attribute('data-ready', '1')
    expect(page.locator('#net')).to_have_text('离线')
    expect(page.locator('#queue-count')).to_have_text('3')
    assert rows(portal, "SELECT count(*) FROM inspection_issue WHERE description LIKE ?",
                mark + '%')[0][0] == 0
    context.set_offline(False)
    wait_sent(page)
    stored = rows(portal, "SELECT description, severity, photo IS NOT NULL FROM inspection_issue "
                          "WHERE description LIKE ? ORDER BY description", mark + '%')
    assert [(d.split(' ')[1], s, p) for d, s, p in stored] == [
        ('离线1', '一般', 1), ('离线2', '一般', 0), ('离线3', '重大', 1)]
    page.close()


def test_the_same_item_sent_twice_is_stored_once(tablet, portal):
    page, mark = tablet, stamp()
    open_walk(page, '2栋')
    unit = rows(portal, "SELECT u.id, u.project_id FROM unit u JOIN project p ON p.id = u.project_id "
                        "WHERE p.code = 'HZ-YQ' AND u.building = '2栋' AND u.room = '1201' "
                        "AND u.entrance = '1'")[0]
    item = {'client_id': str(uuid.uuid4()), 'kind': 'issue', 'project': unit[1], 'unit': unit[0],
            'location': '阳台', 'category': '完整性', 'severity': '一般',
            'description': '%s 阳台灯具缺失' % mark}
    answers = page.evaluate('''async (item) => {
        const me = await (await fetch('/inspect/api/me')).json();
        const post = () => { const body = new FormData(); body.append('item', JSON.stringify(item));
            return fetch('/inspect/api/items', {method: 'POST', body: body,
                headers: {'X-CSRFToken': me.csrf}}).then(r => r.json()); };
        const both = await Promise.all([post(), post()]);    // a double tap, two tabs
        const late = await post();                            // the answer lost, sent again
        return both.concat([late]);
    }''', item)
    assert all(a['ok'] for a in answers), answers
    assert len({a['issue']['id'] for a in answers}) == 1
    assert sorted(a['repeat'] for a in answers) == [False, True, True]
    assert rows(portal, "SELECT count(*) FROM inspection_issue WHERE description LIKE ?",
                mark + '%')[0][0] == 1


def test_a_verification_meeting_a_closure_at_the_desk_is_reported(tablet, portal, browser, login,
                                                                   shot):
    page = tablet
    issue_id, building, entrance, room = rows(portal, """
        SELECT i.id, u.building, u.entrance, u.room FROM inspection_issue i
        JOIN unit u ON u.id = i.unit_id JOIN project p ON p.id = i.project_id
        WHERE p.code = 'HZ-YQ' AND i.status = '待验证' AND i.deleted_at IS NULL
        AND i.contractor_id IS NOT NULL AND i.deadline IS NOT NULL AND i.rectified_on IS NOT NULL
        AND i.severity = '一般' ORDER BY i.id LIMIT 1""")[0]
    open_walk(page, building)
    open_unit(page, '%s-%s' % (entrance, room))
    line = page.locator('#to-verify li[data-issue="%d"]' % issue_id)
    expect(line).to_be_visible()
    shot(page, 'inspect-verify-tablet')
    page.context.set_offline(True)
    line.get_by_role('button', name='不通过').click()
    page.locator('#verify-note').fill('窗框仍渗水')
    page.locator('#verify-photo').set_input_files({'name': 'IMG_3001.jpg', 'mimeType': 'image/jpeg',
                                                   'buffer': photo(page, 800, 600)})
    expect(page.locator('#verify-preview')).to_be_visible()
    page.locator('#verify-fail').click()
    expect(page.locator('#queue-count')).to_have_text('1')

    # Meanwhile at the desk: the supervisor closes the issue in the register.
    desk_context = new_context(browser, portal)
    desk = desk_context.new_page()
    login(desk, 'supervisor')
    desk.goto('/admin/inspection_issue/edit/?id=%d' % issue_id)
    desk.get_by_label('状态').select_option('已关闭')
    desk.get_by_role('button', name='保存', exact=True).click()
    desk.wait_for_load_state()
    desk_context.close()
    assert rows(portal, "SELECT status FROM inspection_issue WHERE id = ?", issue_id)[0][0] == '已关闭'

    page.context.set_offline(False)
    expect(page.locator('#queue-count')).to_have_text('0', timeout=20000)
    expect(page.locator('#problem-count')).to_have_text('需处理 1')
    page.locator('#queue-button').click()
    conflict = page.locator('#queue-list li.conflict')
    expect(conflict).to_contain_text('在台账中改为「已关闭」')
    expect(conflict).to_contain_text('您的复验结果未保存')
    shot(page, 'inspect-conflict-tablet')
    assert rows(portal, "SELECT status FROM inspection_issue WHERE id = ?", issue_id)[0][0] == '已关闭'
    assert rows(portal, "SELECT count(*) FROM inspection_check WHERE issue_id = ?", issue_id)[0][0] == 0
    conflict.get_by_role('button', name='知道了，删除此条').click()
    expect(page.locator('#problem-count')).to_be_hidden()


def test_an_auditor_sees_the_walk_without_the_means_to_change_it(browser, portal, login):
    context = new_context(browser, portal, viewport=PHONE, has_touch=True)
    page = context.new_page()
    login(page, 'auditor')
    page.goto('/inspect/')
    expect(page.locator('body')).to_have_attribute('data-ready', '1')
    expect(page.locator('#banner')).to_contain_text('只能查看')
    page.locator('#grid .cell').first.click()
    expect(page.get_by_role('button', name='＋ 新增问题')).to_be_hidden()
    expect(page.locator('#to-verify button')).to_have_count(0)
    context.close()
