"""The bell: a clerk records a 重大 punch-list issue, and the supervisor sees the bell ring at
once, opens it, and it goes quiet."""
from playwright.sync_api import expect

from .portal_ui import stamp


def bell_count(page):
    badge = page.locator('#bell-count')
    return int(badge.inner_text()) if badge.count() else 0


def test_a_major_issue_rings_the_supervisors_bell(browser, portal, login, page, shot):
    supervisor = browser.new_context(base_url=portal.base_url)
    boss = supervisor.new_page()
    login(boss, 'supervisor')
    boss.goto('/')
    before = bell_count(boss)

    login(page, 'clerk')
    mark = stamp()
    page.goto('/admin/inspection_issue/new/')
    page.get_by_label('部位/位置').fill('3栋大堂')
    page.get_by_label('问题类别').select_option('交楼标准')
    page.get_by_label('问题描述').fill('%s 大堂吊顶开裂' % mark)
    page.get_by_label('严重程度').select_option('重大')
    page.get_by_label('整改措施').fill('拆除重做')
    page.get_by_label('责任人').fill('张工')
    page.get_by_label('处罚措施').fill('按合同扣款')
    page.get_by_label('整改期限').fill('2030-01-15')
    page.get_by_role('button', name='保存', exact=True).click()
    page.wait_for_load_state()
    assert '/new/' not in page.url, page.url

    boss.goto('/')
    assert bell_count(boss) == before + 1
    expect(boss.locator('#bell')).to_have_attribute('aria-label', '通知：%d 条未读' % (before + 1))
    shot(boss, 'bell')
    boss.locator('#bell').click()
    expect(boss.locator('.notification-list')).to_contain_text('重大验收问题')
    expect(boss.locator('.notification-list li').first).to_contain_text(mark)
    boss.goto('/')
    assert bell_count(boss) == 0
    supervisor.close()


def test_a_big_import_shows_its_progress_and_then_its_report(page, login, tmp_path, shot):
    """A file whose check takes longer than a moment: the page shows the job's progress bar
    (rows read / total) and, when the job ends, its report — the clerk could have left."""
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(['项目', '楼栋', '单元', '房号', '楼层', '户型', '特殊户型', '合同面积(㎡)', '状态'])
    for n in range(12000):
        sheet.append(['杭州·云栖雅苑', '进度%d栋' % (n // 1000 + 1), '1', str(n % 1000 + 101), 5, 'A1',
                      '标准层', 89.5, '未售'])
    path = tmp_path / '大批房源.xlsx'
    book.save(path)
    login(page, 'clerk')
    page.goto('/admin/unit/import/')
    page.get_by_label('Excel 文件（.xlsx）').set_input_files(str(path))
    page.get_by_role('button', name='上传并检查').click()
    page.wait_for_load_state()
    panel = page.locator('#import-job')
    expect(panel).to_be_visible()
    expect(panel.locator('.progress-bar')).to_be_visible()
    assert 'job=' in page.url
    shot(page, 'import-progress')
    expect(page.locator('#import-report')).to_be_visible(timeout=120000)     # reloaded by itself
    expect(page.locator('#count-create')).to_have_text('12000')
    page.goto('/jobs/')
    expect(page.locator('.jobs-table')).to_contain_text('大批房源.xlsx')
