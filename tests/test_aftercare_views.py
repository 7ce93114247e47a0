"""After handover through HTTP: the register lists, the report pages, the 重大 complaint gate,
refused input with a Chinese message, and project scoping."""
import datetime
import io
import re
from decimal import Decimal

import openpyxl
import pytest

from models.aftercare import (CallbackSurvey, Compensation, Complaint, ComplaintFollowUp, RepairOrder,
                              SurveyResponse, WarrantyItem, WorkContactForm)
from rules import aftercare as rules

TODAY = datetime.date.today()
DAY = datetime.timedelta(days=1)

REGISTERS = ('repair_order', 'complaint', 'complaint_follow_up', 'work_contact_form', 'compensation',
             'warranty_item', 'callback_survey', 'survey_response')
PAGES = ('/aftercare/warranty-notice', '/aftercare/complaints', '/aftercare/compensation',
         '/aftercare/repairs', '/aftercare/surveys', '/aftercare/callbacks-due')


def text(response):
    return response.get_data(as_text=True)


def version_of(page):
    match = re.search(r'name="row_version"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="row_version"', page)
    return (match.group(1) or match.group(2)) if match else ''


def iso(day):
    return day.isoformat() if day else ''


@pytest.fixture
def supervisor_user(users):
    return users['supervisor']


def complaint_at(status, project, users, department, severity='重大'):
    """A complaint walked through the workflow up to `status` (as the clerk)."""
    clerk = users['clerk']
    row = Complaint.create_logged(clerk, project=project, received_on=TODAY - DAY * 10, channel='来电',
                                  category='工程质量', content='卫生间渗水至楼下', severity=severity,
                                  deadline=TODAY - DAY * 3)
    for step in rules.COMPLAINT_STATES[1:rules.COMPLAINT_STATES.index(status) + 1]:
        if step == '转办':
            row.responsible_department = department
        if step == '核查':
            ComplaintFollowUp.create_logged(clerk, complaint=row, followed_on=TODAY - DAY * 5, method='电话',
                                            content='已约定上门维修')
            row.resolution = '防水层已重做，闭水试验合格'
        row.status = step
        row.save_logged(clerk)
    return Complaint.get_by_id(row.id)


def complaint_form(row, **changes):
    values = {'project': str(row.project_id), 'unit': '', 'owner': '', 'received_on': iso(row.received_on),
              'channel': row.channel, 'category': row.category, 'content': row.content,
              'severity': row.severity, 'status': row.status,
              'responsible_department': str(row.responsible_department_id or '__None'),
              'work_contact_form': '', 'deadline': iso(row.deadline), 'analysis': row.analysis or '',
              'resolution': row.resolution or '', 'closed_on': iso(row.closed_on),
              'satisfaction': str(row.satisfaction or '__None'), 'decided_by': row.decided_by or '',
              'remarks': '', 'row_version': str(row.version)}
    values.update(changes)
    return values


# ------------------------------------------------------------------ lists and pages

@pytest.mark.parametrize('table', REGISTERS)
def test_register_list_opens(client_as, table):
    assert client_as('clerk').get('/admin/%s/' % table).status_code == 200


@pytest.mark.parametrize('url', PAGES)
def test_report_page_opens_for_every_role(client_as, url):
    for role in ('clerk', 'supervisor', 'auditor', 'admin'):
        assert client_as(role).get(url).status_code == 200


def test_report_pages_need_login(app, users):
    response = app.test_client().get('/aftercare/complaints')
    assert response.status_code == 302 and '/login' in response.headers['Location']


def test_register_exports_to_excel(client_as, projects, users, make):
    complaint_at('登记', projects['mine'], users, make.department('工程管理部'))
    response = client_as('auditor').get('/admin/complaint/export/xlsx/')
    assert response.status_code == 200
    assert response.data[:2] == b'PK'


# ------------------------------------------------------------------ 重大 complaints

def test_clerk_refused_closing_a_major_complaint(client_as, projects, users, make):
    row = complaint_at('核查', projects['mine'], users, make.department('工程管理部'))
    clerk = client_as('clerk')
    page = text(clerk.get('/admin/complaint/edit/?id=%d' % row.id))
    response = clerk.post_form('/admin/complaint/edit/?id=%d' % row.id, complaint_form(
        row, status='关闭', closed_on=iso(TODAY), decided_by='分管副总 张某', row_version=version_of(page)))
    assert response.status_code == 200
    assert '重大投诉只能由授权的客户服务分管领导' in text(response)
    stored = Complaint.get_by_id(row.id)
    assert (stored.status, stored.closed_on, stored.version) == ('核查', None, row.version)


def test_supervisor_closes_a_major_complaint_with_decided_by(client_as, projects, users, make):
    row = complaint_at('核查', projects['mine'], users, make.department('工程管理部'))
    supervisor = client_as('supervisor')
    page = text(supervisor.get('/admin/complaint/edit/?id=%d' % row.id))
    response = supervisor.post_form('/admin/complaint/edit/?id=%d' % row.id, complaint_form(
        row, status='关闭', closed_on=iso(TODAY), decided_by='分管副总 张某', row_version=version_of(page)))
    assert response.status_code == 302, text(response)[-2000:]
    stored = Complaint.get_by_id(row.id)
    assert (stored.status, stored.decided_by) == ('关闭', '分管副总 张某')


def test_supervisor_must_name_who_decided(client_as, projects, users, make):
    row = complaint_at('核查', projects['mine'], users, make.department('工程管理部'))
    supervisor = client_as('supervisor')
    response = supervisor.post_form('/admin/complaint/edit/?id=%d' % row.id, complaint_form(
        row, status='关闭', closed_on=iso(TODAY), decided_by=''))
    assert '重大投诉关闭须填写作出决定的授权领导' in text(response)
    assert Complaint.get_by_id(row.id).status == '核查'


def test_complaint_cannot_jump_to_close(client_as, projects, users, make):
    row = complaint_at('登记', projects['mine'], users, make.department(), severity='一般')
    response = client_as('clerk').post_form('/admin/complaint/edit/?id=%d' % row.id, complaint_form(
        row, status='关闭', closed_on=iso(TODAY), resolution='已处理'))
    assert '状态不能从「登记」直接改为「关闭」' in text(response)
    assert Complaint.get_by_id(row.id).status == '登记'


def test_follow_up_log_shows_on_the_complaint(client_as, projects, users, make):
    row = complaint_at('核查', projects['mine'], users, make.department('工程管理部'))
    page = text(client_as('clerk').get('/admin/complaint/details/?id=%d' % row.id))
    assert '跟进记录（1 条）' in page and '已约定上门维修' in page


def test_follow_up_added_over_http_takes_the_complaints_project(client_as, projects, users, make):
    row = complaint_at('跟进', projects['mine'], users, make.department('工程管理部'))
    clerk = client_as('clerk')
    assert clerk.get('/admin/complaint_follow_up/new/?complaint=%d' % row.id).status_code == 200
    response = clerk.post_form('/admin/complaint_follow_up/new/', {
        'complaint': str(row.id), 'followed_on': iso(TODAY), 'method': '上门', 'content': '现场查看渗水点'})
    assert response.status_code == 302, text(response)[-2000:]
    entry = ComplaintFollowUp.get(ComplaintFollowUp.content == '现场查看渗水点')
    assert entry.project_id == projects['mine'].id


def test_complaint_summary_counts_overdue_per_category(client_as, projects, users, make):
    complaint_at('转办', projects['mine'], users, make.department('工程管理部'))
    page = text(client_as('clerk').get('/aftercare/complaints'))
    assert '逾期未关闭的投诉（1 件）' in page
    assert re.search(r'<td>云栖雅苑</td><td>工程质量</td><td>1</td><td>1</td>\s*<td><span class="badge badge-danger">1</span>', page)


# ------------------------------------------------------------------ bad input: Chinese message, nothing saved

def warranty_form(project, **changes):
    values = {'project': str(project.id), 'building': '1栋', 'kind': rules.KIND_WATERPROOFING,
              'item': '屋面防水', 'contractor': '__None', 'contract_no': 'SG-01',
              'starts_on': iso(TODAY - DAY * 30), 'period_months': '12', 'period_seasons': '',
              'design_life_years': '', 'owners_notified_on': '', 'issues_reported': '0',
              'rectification_deadline': '', 'rectification_status': '__None', 'retention_amount': '',
              'settled_on': '', 'remarks': ''}
    values.update(changes)
    return values


def test_one_year_waterproofing_refused_with_article_40(client_as, projects):
    response = client_as('clerk').post_form('/admin/warranty_item/new/', warranty_form(projects['mine']))
    assert response.status_code == 200
    page = text(response)
    assert '第四十条' in page and '最低保修期限为5年' in page
    assert WarrantyItem.select().count() == 0


def test_five_year_waterproofing_saved_with_derived_dates(client_as, projects):
    starts = datetime.date(2024, 4, 30)
    response = client_as('clerk').post_form('/admin/warranty_item/new/', warranty_form(
        projects['mine'], period_months='60', starts_on=iso(starts)))
    assert response.status_code == 302, text(response)[-2000:]
    item = WarrantyItem.get()
    assert (item.expires_on, item.notice_due_on) == (datetime.date(2029, 4, 30), datetime.date(2029, 2, 28))


def test_heating_item_from_may_expires_after_second_season_over_http(client_as, projects):
    response = client_as('clerk').post_form('/admin/warranty_item/new/', warranty_form(
        projects['mine'], kind=rules.KIND_HEATING, item='地暖', starts_on='2026-05-20', period_months=''))
    assert response.status_code == 302, text(response)[-2000:]
    assert WarrantyItem.get().expires_on == datetime.date(2028, 3, 15)


def test_compensation_paid_without_oa_refused(client_as, projects):
    response = client_as('clerk').post_form('/admin/compensation/new/', {
        'project': str(projects['mine'].id), 'complaint': '', 'unit': '', 'owner': '', 'kind': '现金赔付',
        'reason': '地板泡水', 'amount': '2300', 'oa_approval_no': '', 'approved_on': '',
        'paid_on': iso(TODAY), 'remarks': ''})
    assert response.status_code == 200
    assert '赔付须经OA审批' in text(response)
    assert Compensation.select().count() == 0


def test_bad_date_gets_a_message_and_nothing_saved(client_as, projects):
    response = client_as('clerk').post_form('/admin/repair_order/new/', {
        'project': str(projects['mine'].id), 'unit': '', 'owner': '', 'source': '__None',
        'reported_on': '2026-02-27', 'description': '门锁坏', 'category': '门窗', 'contractor': '__None',
        'deadline': '2026-02-30', 'completed_on': '', 'satisfaction': '__None', 'revisited_on': '', 'remarks': ''})
    assert response.status_code == 200
    assert '日期格式不正确' in text(response)
    assert RepairOrder.select().count() == 0


def test_contact_forms_numbered_per_project_and_year(client_as, projects, make):
    clerk = client_as('clerk')
    department = make.department('物业公司')
    for subject in ('车库照明', '电梯异响'):
        response = clerk.post_form('/admin/work_contact_form/new/', {
            'project': str(projects['mine'].id), 'no': '', 'to_department': str(department.id),
            'subject': subject, 'content': '请限期整改', 'issued_on': '2026-03-02', 'deadline': '2026-03-09',
            'reply': '', 'replied_on': '', 'verified_on': '', 'remarks': ''})
        assert response.status_code == 302, text(response)[-2000:]
    assert [f.no for f in WorkContactForm.select().order_by(WorkContactForm.id)] == ['GZ-2026-001', 'GZ-2026-002']


def test_verification_without_reply_refused(client_as, projects, make):
    response = client_as('clerk').post_form('/admin/work_contact_form/new/', {
        'project': str(projects['mine'].id), 'no': '', 'to_department': str(make.department('物业公司').id),
        'subject': '车库照明', 'content': '请限期整改', 'issued_on': '2026-03-02', 'deadline': '2026-03-09',
        'reply': '', 'replied_on': '', 'verified_on': '2026-03-10', 'remarks': ''})
    assert '责任部门尚未回复，不能验证关闭' in text(response)
    assert WorkContactForm.select().count() == 0


# ------------------------------------------------------------------ warranty owner notice

def test_warranty_notice_lists_due_items_and_bulk_marks_them(client_as, projects, users):
    clerk_user = users['clerk']
    due = WarrantyItem.create_logged(clerk_user, project=projects['mine'], building='会所',
                                     kind=rules.KIND_DECORATION, item='会所精装修',
                                     starts_on=rules.add_months(TODAY, -23))
    later = WarrantyItem.create_logged(clerk_user, project=projects['mine'], building='1栋',
                                       kind=rules.KIND_DECORATION, item='入户门', starts_on=TODAY - DAY * 30)
    clerk = client_as('clerk')
    page = text(clerk.get('/aftercare/warranty-notice'))
    assert '会所精装修' in page and '入户门' not in page
    response = clerk.post_form('/admin/warranty_item/action/', {'action': 'mark_notified',
                                                                'rowid': [str(due.id), str(later.id)]})
    assert response.status_code == 302
    assert WarrantyItem.get_by_id(due.id).owners_notified_on == TODAY
    assert '会所精装修' not in text(clerk.get('/aftercare/warranty-notice'))


def test_warranty_notice_is_scoped(client_as, projects, users):
    WarrantyItem.create_logged(users['admin'], project=projects['other'], building='会所',
                               kind=rules.KIND_DECORATION, item='别家会所', starts_on=rules.add_months(TODAY, -23))
    assert '别家会所' not in text(client_as('clerk').get('/aftercare/warranty-notice'))
    assert '别家会所' in text(client_as('auditor').get('/aftercare/warranty-notice'))


# ------------------------------------------------------------------ scoping

def test_clerk_cannot_open_another_projects_complaint(client_as, projects, users, make):
    row = complaint_at('登记', projects['other'], users, make.department())
    assert client_as('clerk').get('/admin/complaint/details/?id=%d' % row.id).status_code == 404


def test_compensation_totals_only_for_visible_projects(client_as, projects, users):
    for project, amount in ((projects['mine'], '1200.00'), (projects['other'], '9999.00')):
        Compensation.create_logged(users['admin'], project=project, kind='现金赔付', reason='测试',
                                   amount=Decimal(amount), oa_approval_no='OA-1', approved_on=TODAY,
                                   paid_on=TODAY)
    page = text(client_as('clerk').get('/aftercare/compensation'))
    assert '1200.00' in page and '9999.00' not in page


# ------------------------------------------------------------------ repairs and surveys

def test_repair_page_shows_rectification_rate_and_satisfaction(client_as, projects, users, make):
    project = projects['mine']
    project.delivery_start_date = TODAY - DAY * 20
    project.save_logged(users['admin'])
    clerk = users['clerk']
    for closed, score in ((True, 5), (True, 4), (False, None)):
        RepairOrder.create_logged(clerk, project=project, reported_on=TODAY - DAY * 10, description='门锁',
                                  category='门窗', completed_on=TODAY if closed else None, closed=closed,
                                  satisfaction=score)
    assert RepairOrder.select().where(RepairOrder.source == '集中维修').count() == 3
    page = text(client_as('clerk').get('/aftercare/repairs'))
    assert '66.7%' in page and '4.50' in page


def test_survey_page_exactly_25_percent_invalid(client_as, projects, users):
    clerk = users['clerk']
    CallbackSurvey.create_logged(clerk, project=projects['mine'], kind='年度回访', period='第一轮',
                                 surveyor='第三方', population=200, issued=200, returned=50)
    survey = CallbackSurvey.create_logged(clerk, project=projects['mine'], kind='年度回访', period='第二轮',
                                          surveyor='第三方', population=1000, issued=1000, returned=251)
    SurveyResponse.create_logged(clerk, survey=survey, answered_on=TODAY, product_planning=4,
                                 construction_quality=3)
    SurveyResponse.create_logged(clerk, survey=survey, answered_on=TODAY, product_planning=5)
    assert [s.valid for s in CallbackSurvey.select().order_by(CallbackSurvey.id)] == [False, True]
    page = text(client_as('clerk').get('/aftercare/surveys'))
    assert '25.0%' in page and '25.1%' in page and '4.50' in page and '3.00' in page


def test_survey_response_score_out_of_range_refused(client_as, projects, users):
    survey = CallbackSurvey.create_logged(users['clerk'], project=projects['mine'], kind='年度回访',
                                          period='第一轮', surveyor='第三方', issued=10, returned=5)
    response = client_as('clerk').post_form('/admin/survey_response/new/', {
        'survey': str(survey.id), 'unit': '', 'owner': '', 'answered_on': iso(TODAY),
        'product_planning': '__None', 'construction_quality': '__None', 'sales_service': '__None',
        'complaint_service': '__None', 'property_service': '__None', 'comments': '', 'remarks': ''})
    assert '问卷至少须有一项评分' in text(response)
    assert SurveyResponse.select().count() == 0


# ------------------------------------------------------------------ callback due list on hand-made projects

def delivered_project(make, users, name, delivered_on, total, delivered):
    project = make.project(name=name, delivery_start_date=delivered_on, stage='已交付')
    for n in range(total):
        make.unit(project, status='已交付' if n < delivered else '已售')
    return project


def due_names(page):
    table = page.split('id="callbacks-due"')[1].split('</table>')[0] if 'id="callbacks-due"' in page else ''
    return table


def test_callback_due_list_edges(client_as, make, users):
    a_year_ago = rules.add_months(TODAY, -12)
    delivered_project(make, users, '满一年项目', a_year_ago, 10, 6)
    delivered_project(make, users, '差一天项目', a_year_ago + DAY, 10, 6)
    delivered_project(make, users, '入住率恰好一半', a_year_ago, 10, 5)
    valid = delivered_project(make, users, '已有效回访', a_year_ago - DAY * 30, 10, 6)
    CallbackSurvey.create_logged(users['admin'], project=valid, kind='年度回访', period='一周年',
                                 surveyor='第三方', issued=10, returned=3, report_on=TODAY)
    invalid = delivered_project(make, users, '回访无效', a_year_ago - DAY * 30, 8, 6)
    CallbackSurvey.create_logged(users['admin'], project=invalid, kind='年度回访', period='一周年',
                                 surveyor='第三方', issued=8, returned=2, report_on=TODAY)
    due = due_names(text(client_as('auditor').get('/aftercare/callbacks-due')))
    assert '满一年项目' in due and '回访无效' in due
    assert '差一天项目' not in due and '入住率恰好一半' not in due and '已有效回访' not in due


# ------------------------------------------------------------------ Excel import

def upload_rows(portal, table, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    data = io.BytesIO()
    book.save(data)
    return text(portal.post_form('/admin/%s/import/' % table, {
        'step': 'check', 'file': (io.BytesIO(data.getvalue()), 'data.xlsx')}, content_type='multipart/form-data'))


WARRANTY_HEADER = ['项目', '楼栋/范围', '保修项目类别', '保修项目', '保修起始日', '约定保修期(月)']


def test_warranty_items_import_from_excel_with_derived_dates(client_as, projects):
    clerk = client_as('clerk')
    page = upload_rows(clerk, 'warranty_item', [
        WARRANTY_HEADER, ['云栖雅苑', '1栋', rules.KIND_ELECTRICAL, '户内电气管线', '2024-02-29', 24]])
    token = re.search(r'name="token"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="token"', page)
    assert token, page[-3000:]
    clerk.post_form('/admin/warranty_item/import/', {'step': 'commit', 'token': token.group(1) or token.group(2)})
    item = WarrantyItem.get()
    assert (item.expires_on, item.notice_due_on) == (datetime.date(2026, 2, 28), datetime.date(2025, 12, 28))


def test_warranty_import_refuses_one_year_waterproofing(client_as, projects):
    page = upload_rows(client_as('clerk'), 'warranty_item', [
        WARRANTY_HEADER, ['云栖雅苑', '1栋', rules.KIND_WATERPROOFING, '屋面防水', '2026-05-01', 12]])
    assert '第四十条' in page and 'id="commit-form"' not in page
    assert WarrantyItem.select().count() == 0


# ------------------------------------------------------------------ demo data

def test_demo_data_exercises_every_rule(app):
    from models.communication import GroupMember, SupervisionGroup
    from models.master import Project
    from rules import communication as comm
    from seeds import seed_demo
    assert seed_demo('Demo-Passw0rd-2026')
    due_notice = WarrantyItem.select().where(WarrantyItem.owners_notified_on.is_null() &
                                             (WarrantyItem.notice_due_on <= TODAY))
    assert any(item.expires_on <= rules.add_months(TODAY, 2) for item in due_notice)
    assert WarrantyItem.select().where(WarrantyItem.owners_notified_on.is_null(False)).exists()
    assert Complaint.select().where((Complaint.severity == '重大') & (Complaint.status == '核查')).exists()
    assert any(form.is_overdue(TODAY) for form in WorkContactForm.select())
    assert Compensation.select().where(Compensation.oa_approval_no.is_null()).exists()
    assert RepairOrder.select().where(RepairOrder.source == rules.CENTRALIZED).exists()
    surveys = list(CallbackSurvey.select())
    assert any(s.issued and not s.valid for s in surveys) and any(s.valid for s in surveys)
    projects = list(Project.select())
    groups = {g.project_id for g in SupervisionGroup.select().where(SupervisionGroup.kind == comm.QUALITY_GROUP)}
    assert comm.group_due_projects((p, p.stage, p.sold_units, p.total_units, p.id in groups) for p in projects)
    warned = [g for g in SupervisionGroup.select() if g.status == '运行中' and g.size_warning(TODAY)]
    assert warned and warned[0].missing_phases() and warned[0].pending_feedback()
    assert GroupMember.select().count() >= 5


def test_survey_page_shows_its_rate_validity_and_averages(client_as, projects, users):
    survey = CallbackSurvey.create_logged(users['clerk'], project=projects['mine'], kind='年度回访',
                                          period='第一轮', surveyor='第三方', issued=40, returned=10)
    SurveyResponse.create_logged(users['clerk'], survey=survey, answered_on=TODAY, property_service=2)
    clerk = client_as('clerk')
    page = text(clerk.get('/admin/callback_survey/details/?id=%d' % survey.id))
    assert '回收率：25.0%' in page and '无效：回收数量须超过总调查量的25%' in page and '2.00' in page
    assert clerk.get('/admin/survey_response/new/?survey=%d' % survey.id).status_code == 200
