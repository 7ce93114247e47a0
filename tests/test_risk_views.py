"""The risk-control registers through HTTP: lists, filters, search, refused saves, scoping,
the floor-plan coverage panel and the untold high-risk design changes."""
import datetime
import io
import re

import openpyxl
import pytest

from models.risk import (DesignChange, FloorPlanCheck, RiskFinding, RiskInspection, SalesScript,
                         SalesDocumentReview)

TODAY = datetime.date.today()
D = datetime.timedelta

TABLES = ['drawing_review_point', 'design_defect', 'risk_inspection', 'risk_finding',
          'sales_script', 'risk_disclosure', 'sales_document_review', 'sales_promise',
          'floor_plan_check', 'design_change']


def admin_view(app, endpoint):
    return next(v for v in app.extensions['admin'][0]._views
                if getattr(v, 'endpoint', None) == endpoint)


def filter_arg(app, endpoint, label, kind):
    """The URL argument of a list filter, e.g. ('状态', 'FilterEqual') → 'flt0_12'."""
    view = admin_view(app, endpoint)
    for index, flt in enumerate(view._filters):
        if flt.name == label and type(flt).__name__ == kind:
            return 'flt0_%d' % index
    raise AssertionError('no filter %s/%s on %s' % (label, kind, endpoint))


def inspection(project, kind='开盘及上市前检查', **values):
    return RiskInspection.create_logged(None, project=project, kind=kind, **values)


def finding(project, insp, description, **values):
    return RiskFinding.create_logged(None, project=project, inspection=insp, category='销售现场',
                                     description=description, **values)


def change(project, change_no, **values):
    data = dict(project=project, change_no=change_no, issued_on=TODAY - D(30),
                content='主卧飘窗取消', complaint_risk='高')
    data.update(values)
    return DesignChange.create_logged(None, **data)


# ------------------------------------------------------------------ lists

@pytest.mark.parametrize('table', TABLES)
def test_every_risk_register_lists_for_a_clerk(client_as, table):
    response = client_as('clerk').get('/admin/%s/' % table)
    assert response.status_code == 200


@pytest.mark.parametrize('table', TABLES)
def test_every_risk_register_exports_for_an_auditor(client_as, table):
    response = client_as('auditor').get('/admin/%s/export/xlsx/' % table)
    assert response.status_code == 200
    openpyxl.load_workbook(io.BytesIO(response.data))


def test_inspection_list_shows_due_date_timing_and_rule(projects, client_as):
    inspection(projects['mine'], '交付联合验收')
    page = client_as('clerk').get('/admin/risk_inspection/').get_data(as_text=True)
    due = projects['mine'].contract_delivery_date - D(7)
    assert due.isoformat() in page
    assert '最迟于交付前7日完成联合验收' in page and '未到期' in page


def test_inspection_details_quote_the_manual(projects, client_as):
    row = inspection(projects['mine'], '交付前风险检查')
    page = client_as('clerk').get('/admin/risk_inspection/details/?id=%d' % row.id) \
        .get_data(as_text=True)
    assert '完毕时间:交付前三个月内完毕。' in page and '客服工作手册-风险控制模块' in page


def test_search_finds_findings_by_description(app, projects, client_as):
    insp = inspection(projects['mine'])
    finding(projects['mine'], insp, '沙盘绿化比例夸大')
    finding(projects['mine'], insp, '海报使用违禁用语')
    page = client_as('clerk').get('/admin/risk_finding/?search=沙盘').get_data(as_text=True)
    assert '沙盘绿化比例夸大' in page and '海报使用违禁用语' not in page


def test_filter_findings_by_status(app, projects, client_as):
    insp = inspection(projects['mine'])
    finding(projects['mine'], insp, '预售许可证未公示')
    finding(projects['mine'], insp, '认购书缺车位条款', status='已关闭', verified_by='陈静',
            closed_on=TODAY)
    arg = filter_arg(app, 'risk_finding', '状态', 'FilterEqual')
    page = client_as('clerk').get('/admin/risk_finding/?%s=已关闭' % arg).get_data(as_text=True)
    assert '认购书缺车位条款' in page and '预售许可证未公示' not in page


def test_timing_filter_lists_overdue_inspections(app, make, client_as, projects):
    overdue = inspection(projects['mine'], '审图评估', anchor_on=TODAY - D(30),
                         report_title='一期审图逾期')
    inspection(projects['mine'], '审图评估', anchor_on=TODAY - D(3), report_title='二期审图未到期')
    assert overdue.timing == '已逾期'
    arg = filter_arg(app, 'risk_inspection', '时效', 'TimingFilter')
    page = client_as('clerk').get('/admin/risk_inspection/?%s=已逾期' % arg).get_data(as_text=True)
    assert '一期审图逾期' in page and '二期审图未到期' not in page


# ------------------------------------------------------------------ derived through the form

def test_pre_launch_check_due_date_derived_from_launch(projects, client_as):
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/risk_inspection/new/', {
        'project': projects['mine'].id, 'kind': '开盘及上市前检查', 'report_title': '首开检查'})
    assert response.status_code == 302
    row = RiskInspection.get(RiskInspection.report_title == '首开检查')
    launch = projects['mine'].launch_date
    assert (row.window_start_on, row.due_on) == (None, launch - D(7))     # done by launch − 7 days


def test_check_completed_after_its_window_is_flagged(projects, client_as):
    launch = projects['mine'].launch_date
    clerk = client_as('clerk')
    clerk.post_form('/admin/risk_inspection/new/', {
        'project': projects['mine'].id, 'kind': '开盘及上市前检查', 'report_title': '首开检查',
        'completed_on': (launch + D(2)).isoformat(), 'legal_joined': 'y'})   # 法务参与首开检查
    row = RiskInspection.get(RiskInspection.report_title == '首开检查')
    assert row.out_of_window and row.timing == '逾期完成'


def test_countersign_nineteen_days_before_launch_is_late(projects, client_as):
    launch = projects['mine'].launch_date
    clerk = client_as('clerk')
    response = clerk.post_form('/admin/sales_document_review/new/', {
        'project': projects['mine'].id, 'doc_kind': '买卖合同', 'title': '商品房买卖合同',
        'applies_to': '全部户型', 'legal_reviewed_on': (launch - D(25)).isoformat(),
        'cs_reviewed_on': (launch - D(24)).isoformat(),
        'countersigned_on': (launch - D(19)).isoformat(), 'oa_no': 'OA-2026-001'})
    assert response.status_code == 302
    row = SalesDocumentReview.get(SalesDocumentReview.title == '商品房买卖合同')
    assert row.late and row.countersign_due_on == launch - D(20)


# ------------------------------------------------------------------ refusals

def test_closing_unfixable_finding_without_script_is_refused(projects, client_as):
    insp = inspection(projects['mine'])
    supervisor = client_as('supervisor')
    response = supervisor.post_form('/admin/risk_finding/new/', {
        'project': projects['mine'].id, 'inspection': insp.id, 'category': '销售现场',
        'description': '沙盘绿化比例与规划不符', 'status': '已关闭', 'verified_by': '陈静',
        'closed_on': TODAY.isoformat()})           # 'fixable' left unticked: not fixable
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '须先关联一份「不整改问题统一说辞」类的统一说辞才能关闭' in page
    assert not RiskFinding.select().exists()


def test_unfixable_finding_closes_with_a_unified_script(projects, client_as):
    insp = inspection(projects['mine'])
    script = SalesScript.create_logged(None, project=projects['mine'], kind='不整改问题统一说辞',
                                       specialty='景观', topic='绿化比例', content='以规划批复为准。')
    supervisor = client_as('supervisor')
    response = supervisor.post_form('/admin/risk_finding/new/', {
        'project': projects['mine'].id, 'inspection': insp.id, 'category': '销售现场',
        'description': '沙盘绿化比例与规划不符', 'status': '已关闭', 'verified_by': '陈静',
        'closed_on': TODAY.isoformat(), 'unified_script': script.id})
    assert response.status_code == 302
    assert RiskFinding.get().status == '已关闭'


def test_clerk_cannot_mark_a_finding_not_fixable(projects, client_as):
    insp = inspection(projects['mine'])
    row = finding(projects['mine'], insp, '次卧开间偏小')
    edit = client_as('clerk')
    page = edit.get('/admin/risk_finding/edit/?id=%d' % row.id).get_data(as_text=True)
    version = re.search(r'name="row_version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="row_version"',
                        page)
    response = edit.post_form('/admin/risk_finding/edit/?id=%d' % row.id, {
        'project': projects['mine'].id, 'inspection': insp.id, 'category': '销售现场',
        'description': '次卧开间偏小', 'status': '待整改',
        'row_version': version.group(1) or version.group(2)})      # 可整改 unticked
    assert response.status_code == 200
    assert '须由客服经理审批' in response.get_data(as_text=True)
    assert RiskFinding.get_by_id(row.id).fixable is True


def test_drawing_review_without_issue_date_is_refused(projects, client_as):
    response = client_as('clerk').post_form('/admin/risk_inspection/new/', {
        'project': projects['mine'].id, 'kind': '审图评估', 'report_title': '一期审图'})
    assert response.status_code == 200
    assert '「审图评估」须填写设计出图日期' in response.get_data(as_text=True)
    assert not RiskInspection.select().exists()


def test_script_cannot_take_effect_without_reviews(projects, client_as):
    response = client_as('clerk').post_form('/admin/sales_script/new/', {
        'project': projects['mine'].id, 'kind': '销售说辞', 'specialty': '车位',
        'topic': '车位配比', 'content': '1:1.2', 'script_version': '1',
        'effective_on': TODAY.isoformat()})
    assert response.status_code == 200
    assert '说辞生效前须填写专业负责人签字日期、法务审核日期、客服审核日期' in \
        response.get_data(as_text=True)
    assert not SalesScript.select().exists()


def test_more_owners_told_than_affected_is_refused(projects, client_as):
    response = client_as('clerk').post_form('/admin/design_change/new/', {
        'project': projects['mine'].id, 'change_no': 'BG-01', 'issued_on': (TODAY - D(20)).isoformat(),
        'content': '入户门品牌调整', 'complaint_risk': '中', 'customer_notice_required': 'y',
        'notice_basis': '合同约定', 'notice_method': '函件',
        'letters_sent_on': (TODAY - D(5)).isoformat(), 'owners_to_notify': '10',
        'owners_notified': '12'})
    assert response.status_code == 200
    assert '已告知业主数（12）不能多于应告知业主数（10）' in response.get_data(as_text=True)
    assert not DesignChange.select().exists()


def test_bad_date_gets_a_message_not_a_500(projects, client_as):
    response = client_as('clerk').post_form('/admin/floor_plan_check/new/', {
        'project': projects['mine'].id, 'checked_on': '2025-02-30', 'checker': '陈静'})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'class="form-control is-invalid"[^>]*id="checked_on"', page)
    assert not FloorPlanCheck.select().exists()


# ------------------------------------------------------------------ versions of scripts

def test_new_script_version_supersedes_the_old_one(projects, client_as):
    old = SalesScript.create_logged(None, project=projects['mine'], kind='销售说辞',
                                    specialty='车位', topic='车位配比', content='1:1.0')
    response = client_as('clerk').post_form('/admin/sales_script/new/', {
        'project': projects['mine'].id, 'kind': '销售说辞', 'specialty': '车位',
        'topic': '车位配比', 'content': '1:1.2', 'replaces': old.id, 'script_version': '1'})
    assert response.status_code == 302
    new = SalesScript.get(SalesScript.content == '1:1.2')
    old = SalesScript.get_by_id(old.id)
    assert new.script_version == 2 and old.superseded_by_id == new.id and old.state == '已被替代'
    page = client_as('clerk').get('/admin/sales_script/details/?id=%d' % old.id)
    assert page.status_code == 200 and '1:1.0' in page.get_data(as_text=True)


# ------------------------------------------------------------------ scoping

def test_clerk_cannot_see_another_projects_finding(projects, client_as):
    insp = inspection(projects['other'])
    row = finding(projects['other'], insp, '外地项目的问题')
    clerk = client_as('clerk')
    assert '外地项目的问题' not in clerk.get('/admin/risk_finding/').get_data(as_text=True)
    assert clerk.get('/admin/risk_finding/details/?id=%d' % row.id).status_code == 404
    assert clerk.get('/admin/risk_finding/edit/?id=%d' % row.id).status_code == 404


def test_finding_cannot_point_at_another_projects_inspection(projects, client_as):
    other = inspection(projects['other'])
    response = client_as('supervisor').post_form('/admin/risk_finding/new/', {
        'project': projects['mine'].id, 'inspection': other.id, 'category': '销售现场',
        'description': '串项目', 'status': '待整改', 'fixable': 'y'})
    assert response.status_code == 200
    assert not RiskFinding.select().exists()


def test_knowledge_base_is_shared_by_all(client_as):
    from models.risk import DrawingReviewPoint
    DrawingReviewPoint.create_logged(None, category='给排水', point='阳台须设洗衣机地漏',
                                     added_quarter='2025q1')
    assert DrawingReviewPoint.get().added_quarter == '2025Q1'
    page = client_as('clerk').get('/admin/drawing_review_point/').get_data(as_text=True)
    assert '阳台须设洗衣机地漏' in page


# ------------------------------------------------------------------ open counts

def test_open_findings_counted_on_the_inspection(projects):
    insp = inspection(projects['mine'])
    first = finding(projects['mine'], insp, '问题一')
    finding(projects['mine'], insp, '问题二')
    assert RiskInspection.get_by_id(insp.id).open_findings == 2
    first.status, first.verified_by, first.closed_on = '已关闭', '陈静', TODAY
    first.save_logged(None)
    assert RiskInspection.get_by_id(insp.id).open_findings == 1


# ------------------------------------------------------------------ coverage panel

def _coverage_cells(page, category):
    row = re.search(r'<tr data-category="%s">(.*?)</tr>' % category, page, re.S).group(1)
    checked = re.search(r'class="checked">(\d+)<', row).group(1)
    required = re.search(r'class="required">(\d+)<', row).group(1)
    return int(checked), int(required), '满足' in row and '差' not in row


def test_coverage_panel_on_a_small_project(make, projects, client_as):
    project = projects['mine']
    standard = [make.unit(project, special_kind='标准层') for _ in range(9)]
    ground = make.unit(project, special_kind='首层')
    edge = make.unit(project, special_kind='边户')
    for unit in standard[:2] + [ground]:
        FloorPlanCheck.create_logged(None, project=project, unit=unit, checked_on=TODAY,
                                     checker='陈静', structure_progress=30)
    clerk = client_as('clerk')
    page = clerk.get('/risk/coverage?project=%d' % project.id).get_data(as_text=True)
    assert _coverage_cells(page, '标准层') == (2, 3, False)      # 9 units: 25% rounds up to 3
    assert _coverage_cells(page, '首层') == (1, 1, True)
    assert _coverage_cells(page, '边户') == (0, 1, False)
    assert '未满足复查要求' in page
    assert 'id="late-checks"' not in page

    for unit in (standard[2], edge):
        FloorPlanCheck.create_logged(None, project=project, unit=unit, checked_on=TODAY,
                                     checker='陈静', matches_dm=unit is not edge,
                                     structure_progress=55 if unit is edge else None,
                                     discrepancy=None if unit is not edge else '客厅开间少15cm')
    page = clerk.get('/risk/coverage?project=%d' % project.id).get_data(as_text=True)
    assert _coverage_cells(page, '标准层') == (3, 3, True)
    assert '满足复查要求' in page and '未满足复查要求' not in page
    assert '客厅开间少15cm' in page
    assert re.search(r'有 1 户的复查在标准层主体完成超过50%之后', page)


def test_coverage_of_another_project_is_not_found(projects, client_as):
    response = client_as('clerk').get('/risk/coverage?project=%d' % projects['other'].id)
    assert response.status_code == 404


# ------------------------------------------------------------------ design changes

def test_after_launch_change_shows_pending_notices(projects, client_as):
    row = change(projects['mine'], 'BG-07', cs_notified_on=TODAY - D(29),
                 customer_notice_required=True, notice_basis='影响使用功能',
                 owners_to_notify=120, owners_notified=80, notice_method='函件',
                 letters_sent_on=TODAY - D(10))
    assert row.after_launch and row.pending_departments == '销售部、法务'
    assert row.owners_left == 40 and row.status == '待告知部门'
    page = client_as('clerk').get('/admin/design_change/').get_data(as_text=True)
    assert '销售部、法务' in page
    assert re.search(r'class="col-owners_left">\s*40\s*<', page)


def test_change_before_launch_needs_no_notices(projects):
    row = change(projects['mine'], 'BG-00', issued_on=projects['mine'].launch_date - D(1))
    assert not row.after_launch and row.pending_departments is None and row.status == '开盘前变更'


def test_untold_high_risk_changes_page(projects, client_as):
    change(projects['mine'], 'BG-11')                                # nothing told yet
    change(projects['mine'], 'BG-12', customer_notice_required=True, notice_basis='合同约定',
           notice_method='函件', letters_sent_on=TODAY - D(5), owners_to_notify=30,
           owners_notified=30)                                      # everyone told
    change(projects['mine'], 'BG-13', complaint_risk='低')            # low risk
    change(projects['other'], 'BG-99')                               # not the clerk's project
    page = client_as('clerk').get('/risk/untold-changes').get_data(as_text=True)
    assert 'BG-11' in page
    assert 'BG-12' not in page and 'BG-13' not in page and 'BG-99' not in page


def test_untold_changes_of_another_project_are_not_found(projects, client_as):
    response = client_as('clerk').get('/risk/untold-changes?project=%d' % projects['other'].id)
    assert response.status_code == 404


def test_launch_date_change_moves_derived_deadlines(projects):
    project = projects['mine']
    insp = inspection(project, '销售资料会签')
    late_change = change(project, 'BG-21', issued_on=project.launch_date - D(5))
    assert not late_change.after_launch
    new_launch = project.launch_date - D(10)
    project.launch_date = new_launch
    project.save_logged(None)                    # Project.after_save runs the date hooks
    assert RiskInspection.get_by_id(insp.id).due_on == new_launch - D(20)
    assert DesignChange.get_by_id(late_change.id).after_launch
    assert DesignChange.get_by_id(late_change.id).version == late_change.version

def test_inspection_export_carries_timing_and_rule(projects, client_as):
    inspection(projects['mine'], '交付联合验收')
    response = client_as('clerk').get('/admin/risk_inspection/export/xlsx/')
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert '时效' in header and '期限规则' in header
    assert rows[1][header.index('时效')] == '未到期'
    assert rows[1][header.index('期限规则')] == '最迟于交付前7日完成联合验收'


def test_overview_counts_open_findings_and_promises_of_own_projects_only(projects, client_as):
    from models.risk import SalesPromise
    insp = inspection(projects['mine'])
    finding(projects['mine'], insp, '问题一')
    finding(projects['other'], inspection(projects['other']), '别的项目的问题')
    SalesPromise.create_logged(None, project=projects['mine'], source='广告', content='绿化率35%')
    SalesPromise.create_logged(None, project=projects['mine'], source='合同', content='燃气开通',
                               status='已兑现', checked_on=TODAY)
    page = client_as('clerk').get('/risk/').get_data(as_text=True)
    row = re.search(r'<tr data-project="%d">(.*?)</tr>' % projects['mine'].id, page, re.S).group(1)
    assert re.search(r'class="open-findings">1<', row)
    assert re.search(r'class="open-promises">1<', row)
    assert 'data-project="%d"' % projects['other'].id not in page


# ------------------------------------------------------------------ Excel import

def _xlsx(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    return data


def _import(client, table, rows):
    check = client.post('/admin/%s/import/' % table, data={
        'csrf_token': client.csrf(), 'step': 'check',
        'file': (_xlsx(rows), 'changes.xlsx')}, content_type='multipart/form-data')
    page = check.get_data(as_text=True)
    token = re.search(r'name="token"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="token"',
                      page)
    if token is None:
        return page
    return client.post('/admin/%s/import/' % table, data={
        'csrf_token': client.csrf(), 'step': 'commit',
        'token': token.group(1) or token.group(2)}, follow_redirects=True).get_data(as_text=True)


def test_design_changes_import_from_excel_with_derived_flags(projects, client_as):
    issued = (TODAY - D(10)).isoformat()
    _import(client_as('clerk'), 'design_change', [
        ['项目', '变更编号', '下发日期', '变更内容', '投诉风险', '告知客服日期'],
        ['云栖雅苑', 'BG-31', issued, '小区南侧景观水系取消', '高', issued]])
    row = DesignChange.get(DesignChange.change_no == 'BG-31')
    assert row.after_launch and row.pending_departments == '销售部、法务'


def test_import_row_breaking_a_rule_saves_nothing(projects, client_as):
    issued = (TODAY - D(10)).isoformat()
    page = _import(client_as('clerk'), 'design_change', [
        ['项目', '变更编号', '下发日期', '变更内容', '投诉风险', '需告知客户', '判断依据',
         '应告知业主数', '已告知业主数'],
        ['云栖雅苑', 'BG-32', issued, '入户门品牌调整', '中', '是', '合同约定', 10, 5],
        ['云栖雅苑', 'BG-33', issued, '飘窗取消', '高', '是', '合同约定', 10, 12]])
    assert '已告知业主数（12）不能多于应告知业主数（10）' in page
    assert not DesignChange.select().exists()


# ------------------------------------------------------------------ demo rows

def test_demo_rows_obey_the_registers_rules(app):
    import seeds.master
    import seeds.risk
    from models.base import write_tx
    from models.risk import DATE_DERIVED, DrawingReviewPoint, DesignDefect, SalesPromise
    from seeds import SeedContext
    ctx = SeedContext()
    with write_tx():
        seeds.master.seed(ctx)
        seeds.risk.seed(ctx)
    for model in (RiskInspection, RiskFinding, SalesScript, SalesDocumentReview, SalesPromise,
                  FloorPlanCheck, DesignChange, DrawingReviewPoint, DesignDefect):
        rows = list(model.select())
        assert rows, model._meta.table_name
        for row in rows:
            row._before_row = row
            assert list(row.problems(None)) == [], (model._meta.table_name, row.id)
    timings = {row.timing for row in RiskInspection.select()}
    assert {'已逾期', '按时完成', '逾期完成', '未到期'} <= timings
    # the stored derived values are what the portal derives
    for model, names in DATE_DERIVED:
        for row in model.select():
            stored = {n: row.__data__.get(n) for n in names}
            row.derive()
            assert stored == {n: row.__data__.get(n) for n in names}


def test_promises_are_due_for_review_two_months_before_delivery(projects, client_as):
    from models.risk import SalesPromise
    row = SalesPromise.create_logged(None, project=projects['mine'], source='广告',
                                     content='小区配建恒温泳池')
    delivery = projects['mine'].contract_delivery_date
    from rules.risk import add_months
    assert row.check_due_on == add_months(delivery, -2)
    page = client_as('clerk').get('/admin/sales_promise/').get_data(as_text=True)
    assert row.check_due_on.isoformat() in page and '未闭合' in page



def test_drawing_review_details_point_at_the_knowledge_bases(projects, client_as):
    row = inspection(projects['mine'], '审图评估', anchor_on=TODAY - D(3))
    page = client_as('clerk').get('/admin/risk_inspection/details/?id=%d' % row.id) \
        .get_data(as_text=True)
    assert '/admin/drawing_review_point/' in page and '/admin/design_defect/' in page


def test_boards_not_yet_shown_are_due_before_launch(projects):
    from models.risk import RiskDisclosure
    row = RiskDisclosure.create_logged(None, project=projects['mine'], scope='红线外',
                                       content='东侧规划110kV变电站')
    assert row.display_due_on == projects['mine'].launch_date - D(1)
    assert '展板未在开盘前公示' in row.flags


def test_saving_an_inspection_read_before_a_new_finding_keeps_the_count(projects):
    insp = inspection(projects['mine'])
    stale = RiskInspection.get_by_id(insp.id)
    finding(projects['mine'], insp, '问题一')
    stale.conclusion = '整体风险可控'
    stale.save_logged(None)
    assert RiskInspection.get_by_id(insp.id).open_findings == 1


def test_auditor_reads_the_risk_pages_of_every_project(projects, client_as):
    change(projects['other'], 'BG-77')
    auditor = client_as('auditor')
    overview = auditor.get('/risk/').get_data(as_text=True)
    assert 'data-project="%d"' % projects['mine'].id in overview
    assert 'data-project="%d"' % projects['other'].id in overview
    assert 'BG-77' in auditor.get('/risk/untold-changes').get_data(as_text=True)
    assert auditor.get('/risk/coverage?project=%d' % projects['other'].id).status_code == 200


def test_risk_pages_need_login(app, users):
    response = app.test_client().get('/risk/coverage')
    assert response.status_code == 302 and '/login' in response.headers['Location']
