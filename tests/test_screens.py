"""Screens a newcomer meets (issue 19 §7, §8): the test commands on a machine without chromium,
the menu as each role sees it, 待办与预警 with hundreds of items, key transfers, and the wording
and numbers of lists and details. Browser-side checks: tests/browser/test_browser_screens.py."""
import datetime
import io
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from models import due as engine
from models.aftercare import Complaint
from models.base import RuleError, all_registers
from models.delivery import InspectionIssue, KeyTransfer
from models.handover import HandoverEntry

ROOT = Path(__file__).resolve().parents[1]
TODAY = datetime.date.today()
DD = datetime.timedelta
HREF = re.compile(r'href="(/[^"#]*)"')


def menu_links(client):
    """Every link of the main menu (the navbar) of the dashboard."""
    page = client.get('/').get_data(as_text=True)
    nav = page[page.index('<nav'):page.index('</nav>')]
    return sorted({h.replace('&amp;', '&') for h in HREF.findall(nav)} - {'/logout'})


def page_links(html):
    return {h.replace('&amp;', '&') for h in HREF.findall(html)
            if not h.startswith(('/static/', '/admin/static/', '/logout'))}


# --------------------------------------------------------------------------- §7 the newcomer's path

def run_browser_tests(**env):
    environment = {k: v for k, v in os.environ.items() if k not in ('CI', 'KEFU_BROWSER_BASE_URL')}
    environment.update(env)
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider',
                           '-p', 'no:randomly', 'tests/browser'], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_without_chromium_the_browser_tests_are_skipped_with_the_reason_not_errors():
    run = run_browser_tests(KEFU_CHROMIUM='/nonexistent/chromium')
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert 'skipped' in summary and 'error' not in summary and 'failed' not in summary, summary
    assert 'chromium not found' in run.stdout and 'apt-get install -y chromium' in run.stdout


def test_in_ci_a_missing_chromium_is_a_failure():
    run = run_browser_tests(KEFU_CHROMIUM='/nonexistent/chromium', CI='true')
    assert run.returncode != 0
    assert 'chromium not found' in run.stdout


class FakePage:
    """What take_screenshot asks of a Playwright page."""
    def __init__(self):
        self.paths = []

    def wait_for_load_state(self):
        pass

    def evaluate(self, script):
        return True

    def screenshot(self, path=None, full_page=False):
        self.paths.append(path)
        if path:
            Path(path).write_bytes(b'png')
        return b'png'


def test_screenshots_are_written_only_when_asked(tmp_path, monkeypatch):
    from tests.browser.harness import take_screenshot
    monkeypatch.delenv('KEFU_SCREENSHOTS', raising=False)
    page = FakePage()
    assert take_screenshot(page, 'due', folder=tmp_path) == b'png'
    assert page.paths == [None] and list(tmp_path.iterdir()) == []
    monkeypatch.setenv('KEFU_SCREENSHOTS', '1')
    assert take_screenshot(page, 'due', folder=tmp_path) == tmp_path / 'due.png'
    assert (tmp_path / 'due.png').exists()


def test_test_artefacts_are_ignored_by_git():
    for path in ('tests/browser/failures/x.png', 'tests/browser/vendor/node_modules/axe-core/axe.js'):
        run = subprocess.run(['git', 'check-ignore', '-q', path], cwd=ROOT)
        assert run.returncode == 0, '%s would dirty the work tree' % path


def test_readme_names_what_the_tests_and_screenshots_need():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    for needed in ('chromium', 'fonts-wqy-microhei', 'postgresql', 'npm', 'KEFU_SCREENSHOTS=1',
                   'Ctrl+C'):
        assert needed in readme, needed


# --------------------------------------------------------------------------- the menu

def test_home_appears_once_in_the_menu(client_as):
    page = client_as('clerk').get('/').get_data(as_text=True)
    nav = page[page.index('<nav'):page.index('</nav>')]
    assert len(re.findall(r'>\s*首页\s*<', nav)) == 1


@pytest.mark.parametrize('role', ['auditor', 'clerk'])
def test_no_page_offers_a_link_its_reader_is_refused(client_as, role):
    """Walk the menu and every link of every page it leads to: none answers 403."""
    client = client_as(role)
    refused, seen = [], set()
    for link in menu_links(client):
        response = client.get(link, follow_redirects=True)
        if response.status_code == 403:
            refused.append(('menu', link))
            continue
        for found in page_links(response.get_data(as_text=True)) - seen:
            seen.add(found)
            if '/export' in found or found.endswith('.xlsx'):
                continue
            if client.get(found).status_code == 403:
                refused.append((link, found))
    assert refused == [], refused


def test_lists_read_in_chinese_and_carry_no_inline_handlers(client_as):
    page = client_as('clerk').get('/admin/inspection_issue/').get_data(as_text=True)
    assert '50 条/页' in page and '批量操作' in page
    assert '项目</a>' not in page.split('条/页')[0][-40:]
    # The Content-Security-Policy refuses inline handlers: none is served (portal.js binds them).
    assert not re.search(r'\son(click|change|submit)=', page)
    assert 'data-onclick="return modelActions.execute(' in page


def test_the_portal_serves_a_favicon(client_as):
    response = client_as('clerk').get('/favicon.ico')
    assert response.status_code == 200 and response.mimetype == 'image/svg+xml'
    assert b'<svg' in response.get_data()
    page = client_as('clerk').get('/').get_data(as_text=True)
    assert 'rel="icon"' in page


# --------------------------------------------------------------------------- no internal references

SPEC_REFERENCE = re.compile(r'REGISTERS|§')


def test_no_spec_reference_in_what_the_registers_declare():
    from rules.delivery import COUNTDOWN
    found = []
    for model in all_registers():
        meta = model._meta
        for fld in meta.fields.values():
            for text in (fld.verbose_name, fld.help_text):
                if text and SPEC_REFERENCE.search(text):
                    found.append((meta.table_name, fld.name, text))
        for deadline in getattr(meta, 'deadlines', ()) or ():
            for text in (deadline.what, deadline.clause, deadline.manual, deadline.owner):
                if text and SPEC_REFERENCE.search(text):
                    found.append((meta.table_name, deadline.what, text))
    for spec in COUNTDOWN:
        for text in vars(spec).values():
            if isinstance(text, str) and SPEC_REFERENCE.search(text):
                found.append(('countdown', spec.code, text))
    assert found == []


def test_no_spec_reference_on_any_page(client_as, projects, make):
    """Every page the menu reaches, every register's form and the due list, as an admin."""
    make.unit(projects['mine'])
    admin = client_as('admin')
    pages = menu_links(admin) + ['/due?days=366'] + \
        ['/admin/%s/new/' % m._meta.table_name for m in all_registers()]
    found = []
    for path in pages:
        text = re.sub(r'<script.*?</script>', '', admin.get(path, follow_redirects=True)
                      .get_data(as_text=True), flags=re.S)
        found += [(path, m.group(0)) for m in SPEC_REFERENCE.finditer(text)]
    assert found == []


# --------------------------------------------------------------------------- 待办与预警

def roster_entry(make, project, **values):
    contract = make.contract(project, unit=make.unit(project, status='已售'))
    return HandoverEntry.create_logged(None, project=project, unit=contract.unit_id,
                                       contract=contract.id, **values)


def test_a_unit_handed_over_owes_no_phone_call_or_notice(make, projects):
    project = projects['mine']
    waiting = roster_entry(make, project)
    handed = roster_entry(make, project, status='已交付', keys_handed_on=TODAY)
    after = project.delivery_date + DD(5)        # both calls' deadline long past
    report = engine.collect(after, engine.DueFilter(register='handover_entry', days=0))
    rows = {(i.what, i.row_id) for i in report.items}
    assert ('交付前电话通知', waiting.id) in rows and ('交付通知书寄出', waiting.id) in rows
    assert not any(row_id == handed.id for _, row_id in rows), rows


def complaint(project, **values):
    data = dict(project=project, received_on=TODAY - DD(3), channel='来电', category='服务',
                content='物业前台无人接听')
    data.update(values)
    return Complaint.create_logged(None, **data)


def test_items_without_a_deadline_or_an_owner_are_listed_to_be_chased(projects, make, client_as):
    mine = projects['mine']
    undated = InspectionIssue.create_logged(None, project=mine, location='1栋大堂',
                                            category='交楼标准', description='地漏反坡未定期限',
                                            found_on=TODAY)
    orphan = complaint(mine, deadline=TODAY - DD(1))
    assigned = complaint(mine, deadline=TODAY - DD(1), content='电梯异响',
                         responsible_department=make.department('工程管理部'))

    unscheduled = engine.collect_unscheduled(engine.DueFilter(project_ids=[mine.id]))
    assert [(i.row_id, i.status) for i in unscheduled.items if i.register == 'inspection_issue'] \
        == [(undated.id, '未定期限')]
    report = engine.collect(TODAY, engine.DueFilter(project_ids=[mine.id], register='complaint'))
    owners = {i.row_id: i.owner for i in report.items}
    assert owners == {orphan.id: '未指派', assigned.id: '工程管理部'}
    chased = engine.collect(TODAY, engine.DueFilter(project_ids=[mine.id], department='未指派'))
    assert [i.row_id for i in chased.items] == [orphan.id]

    page = client_as('clerk').get('/due').get_data(as_text=True)
    assert 'id="due-unscheduled"' in page and '地漏反坡未定期限' in page
    assert '未定期限 %d' % unscheduled.total in page and '未指派 1' in page
    only = client_as('clerk').get('/due?status=未定期限').get_data(as_text=True)
    assert '地漏反坡未定期限' in only and 'class="due-group card' in only
    assert 'due-row row-overdue' not in only


def test_the_due_list_is_grouped_by_register_with_the_clause_on_demand(projects, client_as):
    mine = projects['mine']
    for n in range(30):
        InspectionIssue.create_logged(None, project=mine, location='%d栋大堂' % (n % 3 + 1),
                                      category='交楼标准', description='问题%d' % n,
                                      found_on=TODAY - DD(5), deadline=TODAY - DD(n % 4))
    complaint(mine, deadline=TODAY + DD(2))
    page = client_as('clerk').get('/due').get_data(as_text=True)
    groups = re.findall(r'<details class="due-group card mb-2" data-register="([a-z_]+)"', page)
    assert groups[:1] == ['inspection_issue'] and 'complaint' in groups     # most urgent first
    assert len(groups) == len(set(groups))
    # The clause of each row sits behind its manual's name, not spelled out in the row.
    rows = re.findall(r'<tr class="due-row.*?</tr>', page, flags=re.S)
    assert len(rows) >= 31
    assert all('<details class="due-clause small"><summary>' in row for row in rows)


def test_due_export_links_are_absolute(projects, client_as):
    issue = InspectionIssue.create_logged(None, project=projects['mine'], location='1栋大堂',
                                          category='交楼标准', description='外链测试',
                                          found_on=TODAY - DD(2), deadline=TODAY - DD(1))
    response = client_as('clerk').get('/due/export.xlsx')
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    header = [c.value for c in sheet[1]]
    links = [row[header.index('链接')] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert 'http://localhost/admin/inspection_issue/details/?id=%d' % issue.id in links
    assert all(link is None or link.startswith('http://') for link in links), links


# --------------------------------------------------------------------------- key transfers

def test_a_supplementary_key_transfer_is_its_own_kind_and_never_late(make, projects, client_as):
    project = projects['mine']
    make.unit(project, building='1栋', room='101')
    first = KeyTransfer.create_logged(None, project=project, kind='施工钥匙', scope='全部',
                                      transferred_on=TODAY - DD(30))
    extra = KeyTransfer.create_logged(None, project=project, kind='补交/更换钥匙', scope='1栋',
                                      transferred_on=TODAY, missing_or_damaged='入户门钥匙丢失1把')
    assert (extra.due_on, extra.late_days) == (None, 0) and '不计逾期' in extra.timing_note
    from views.home import key_figures
    entries = key_figures([project.id], [project], {}, TODAY)[project.id]
    dates = {e['kind']: e['transferred_on'] for e in entries}
    assert dates['施工钥匙'] == first.transferred_on and '补交/更换钥匙' not in dates


def test_the_transfer_scope_names_real_buildings_and_rooms(make, projects, client_as):
    project = projects['mine']
    make.unit(project, building='3栋', entrance='1', room='1602')
    for scope in ('3栋', '3#', '3-1-1602', '3栋1单元1602', '全部'):
        KeyTransfer.create_logged(None, project=project, kind='补交/更换钥匙', scope=scope,
                                  transferred_on=TODAY)
    for scope, wrong in (('9栋', '9栋'), ('3-1-1702', '3-1-1702'), ('3栋、东区', '东区')):
        with pytest.raises(RuleError) as refused:
            KeyTransfer.create_logged(None, project=project, kind='补交/更换钥匙', scope=scope,
                                      transferred_on=TODAY)
        assert '「%s」不是本项目的楼栋或房号' % wrong in str(refused.value)
    response = client_as('clerk').post_form('/admin/key_transfer/new/', {
        'project': project.id, 'kind': '补交/更换钥匙', 'scope': '12栋', 'to_party': '物业公司',
        'transferred_on': TODAY.isoformat()})
    assert response.status_code == 200
    assert '「12栋」不是本项目的楼栋或房号' in response.get_data(as_text=True)


# --------------------------------------------------------------------------- numbers and photos

def test_amounts_have_thousands_separators_in_lists_and_details(make, projects, client_as):
    contract = make.contract(projects['mine'], total_price=Decimal('1234567.50'))
    clerk = client_as('clerk')
    assert '1,234,567.50' in clerk.get('/admin/contract/').get_data(as_text=True)
    details = clerk.get('/admin/contract/details/?id=%d' % contract.id).get_data(as_text=True)
    assert '1,234,567.50' in details


def test_photos_show_as_thumbnails_in_details(projects, client_as, app):
    from tests.test_security import PNG   # a real PNG's bytes
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/inspection_issue/new/', {
        'project': projects['mine'].id, 'location': '2栋大堂', 'category': '交楼标准',
        'description': '带照片的问题', 'found_on': TODAY.isoformat(), 'status': '待整改',
        'severity': '一般', 'photo': (io.BytesIO(PNG), 'wall.png')},
        content_type='multipart/form-data')
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    row = InspectionIssue.get(InspectionIssue.description == '带照片的问题')
    details = clerk.get('/admin/inspection_issue/details/?id=%d' % row.id).get_data(as_text=True)
    url = '/files/inspection_issue/%d/photo' % row.id
    assert '<img src="%s"' % url in details and 'class="attachment-thumb"' in details
    served = clerk.get(url)
    assert served.status_code == 200 and served.mimetype == 'image/png'
    assert client_as('clerk').get(url.replace(str(row.id), str(row.id + 999))).status_code == 404


# --------------------------------------------------------------------------- the daily report

def test_absent_owners_are_not_yet_absent_while_the_day_runs(make, projects, client_as):
    from rules import handover as rules
    assert rules.daily_figures([], TODAY, TODAY).absent_label == '尚未到场'
    assert rules.daily_figures([], TODAY - DD(1), TODAY).absent_label == '当日未到场'
    project = projects['mine']
    roster_entry(make, project, appointment_on=TODAY)
    clerk = client_as('clerk')
    today = clerk.get('/admin/handover_entry/daily/?project=%d&day=%s' % (project.id, TODAY)) \
        .get_data(as_text=True)
    assert '尚未到场户数' in today and '尚未到场（' in today and '当日未到场' not in today
    past = clerk.get('/admin/handover_entry/daily/?project=%d&day=%s' % (project.id, TODAY - DD(1))) \
        .get_data(as_text=True)
    assert '当日未到场户数' in past and '尚未到场' not in past
