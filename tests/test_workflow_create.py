"""A workflow is a workflow from the first keystroke (issue 19 §3), walked over the registry:

- every register with a status workflow declares it (Meta.workflow) and the register base applies
  it on create and import as if the row had walked from the initial status: created in a later
  status without what that status requires it is refused with the reason, with it accepted;
- a closed row is locked for a clerk on every entry point (edit form, bulk action, import, list
  edit); a supervisor reopens it with a reason, kept in the change log;
- shared master data (every register without a project) is kept by supervisors and admins only.
"""
import datetime
import re

import pytest
from peewee import DateField, ForeignKeyField

from models.base import ChangeLog, RuleError, all_registers
from rules import communication as c
from tests.test_risk_views import _xlsx

TODAY = datetime.date.today()
EARLY = TODAY - datetime.timedelta(days=10)
DONE = TODAY - datetime.timedelta(days=1)


def workflow_registers():
    return [m for m in all_registers() if m.workflow() is not None]


def table(name):
    return next(m for m in all_registers() if m._meta.table_name == name)


def base_values(name, project, make):
    """A valid new row of each workflow register in its initial status (what the form asks)."""
    from models.risk import RiskInspection
    if name == 'inspection_issue':
        return dict(project=project, category='水电', description='次卧插座不通电',
                    location='1栋电梯厅', found_on=EARLY)
    if name == 'risk_finding':
        inspection = RiskInspection.create_logged(None, project=project, kind='交付后客户体验评估')
        return dict(project=project, inspection=inspection.id, category='销售现场',
                    description='沙盘未标注高压线走廊')
    if name == 'sales_promise':
        return dict(project=project, source='广告', content='小区绿化率35%')
    if name == 'handover_entry':
        contract = make.contract(project)
        return dict(project=project, unit=contract.unit_id, contract=contract.id)
    if name == 'repair_order':
        return dict(project=project, reported_on=EARLY, description='入户门锁松动', category='门窗')
    if name == 'work_contact_form':
        return dict(project=project, to_department=make.department().id, subject='外墙渗水',
                    content='请限期整改', issued_on=EARLY, deadline=TODAY + datetime.timedelta(days=5))
    if name == 'complaint':
        return dict(project=project, received_on=EARLY, channel='来电', category='工程质量',
                    content='卫生间渗水至楼下')
    if name == 'supervision_group':
        return dict(project=project, kind=c.QUALITY_GROUP, name='一期监理小组')
    raise AssertionError('新的流程台账 %s：请在此给出一条有效的新记录' % name)


# Statuses no row can be born in, whatever it carries: a complaint is checked only after a
# follow-up entry, and a new complaint has none yet (rules/aftercare.complaint_problems).
NEEDS_CHILD_ROWS = {('complaint', '核查'): '跟进记录', ('complaint', '关闭'): '跟进记录'}


def filling(model, name, make):
    """A value for a field a status requires, as a clerk would type it."""
    fld = model._meta.fields[name]
    if isinstance(fld, ForeignKeyField):
        return {'contractor': make.contractor, 'department': make.department}[
            fld.rel_model._meta.table_name]().id
    if isinstance(fld, DateField):
        return DONE
    return '已核实'


def later_statuses(flow):
    return [s for s in flow.statuses() if s != flow.initial and flow.path(s) is not None]


def cases():
    return [(m._meta.table_name, s) for m in workflow_registers()
            for s in later_statuses(m.workflow())]


# ------------------------------------------------------------------ the registry

def test_every_register_with_a_status_declares_its_workflow():
    """A register whose rows have a status people set (not derived, not master data) is a workflow."""
    for model in all_registers():
        status = model._meta.fields.get('status')
        if status is None or not status.choices or getattr(model._meta, 'stage', '') == '基础数据' or \
                'status' in getattr(model._meta, 'readonly', ()):
            continue
        assert model.workflow() is not None, model._meta.table_name
    names = {m._meta.table_name for m in workflow_registers()}
    assert {'inspection_issue', 'complaint', 'repair_order', 'work_contact_form'} <= names


def test_every_workflow_names_statuses_of_its_field():
    for model in workflow_registers():
        flow = model.workflow()
        fld = model._meta.fields[flow.field]
        allowed = [c[0] for c in fld.choices] if fld.choices else [False, True]
        assert set(flow.statuses()) <= set(allowed), model._meta.table_name
        assert set(flow.required(flow.statuses())) <= set(model._meta.fields), model._meta.table_name
        assert flow.final and flow.reopen_to not in flow.final, model._meta.table_name


# ------------------------------------------------------------------ created in a later status

@pytest.mark.parametrize('name, status', cases())
def test_created_in_a_later_status_needs_what_the_walk_requires(name, status, projects, users, make):
    model, actor = table(name), users['supervisor']
    flow = model.workflow()
    values = dict(base_values(name, projects['mine'], make), **{flow.field: status})
    required = flow.required(flow.path(status)[1:])
    if required and flow.field in getattr(model._meta, 'readonly', ()):
        # a status that follows the row's own facts: without them the row is not in it
        row = model.create_logged(actor, **values)
        assert model.get_by_id(row.id).__data__[flow.field] != status
        row.delete_logged(None)
    elif required:
        with pytest.raises(RuleError) as refused:
            model.create_logged(actor, **values)
        fields = [f for f, _ in refused.value.problems]
        assert set(required) <= set(fields), (name, status, fields)
        assert all('须填写' in m for f, m in refused.value.problems if f in required)
    values.update({f: filling(model, f, make) for f in required})
    if (name, status) in NEEDS_CHILD_ROWS:
        with pytest.raises(RuleError) as refused:
            model.create_logged(actor, **values)
        assert NEEDS_CHILD_ROWS[(name, status)] in str(refused.value)
        return
    row = model.create_logged(actor, **values)
    assert model.get_by_id(row.id).__data__[flow.field] == status


def test_new_issue_created_closed_is_refused_and_its_creator_never_becomes_verifier(
        projects, users, client_as):
    from models.delivery import InspectionIssue
    clerk = client_as('clerk')
    form = {'project': projects['mine'].id, 'category': '水电', 'description': '插座不通电',
            'location': '1栋电梯厅', 'severity': '一般', 'found_on': str(EARLY), 'status': '已关闭'}
    page = clerk.post_form('/admin/inspection_issue/new/', form).get_data(as_text=True)
    assert not InspectionIssue.select().exists()
    for label in ('责任单位', '整改期限', '整改完成日期', '验证人', '验证日期'):
        assert '须填写「%s」' % label in page, label
    # the same row with the rectification on record but nobody named as verifier
    from models.master import Contractor
    contractor = Contractor.create_logged(None, name='宏远建设', kind='总包')
    form.update(contractor=contractor.id, deadline=str(DONE), rectified_on=str(DONE),
                verified_on=str(DONE))
    page = clerk.post_form('/admin/inspection_issue/new/', form).get_data(as_text=True)
    assert not InspectionIssue.select().exists()
    assert '须填写「验证人」' in page
    form['verified_by'] = '李工'
    clerk.post_form('/admin/inspection_issue/new/', form)
    row = InspectionIssue.get()
    assert row.status == '已关闭' and row.verified_by == '李工'


def import_file(headers, rows):
    return _xlsx([headers] + list(rows))


def import_commit(portal, table_name, headers, rows):
    """Check then commit an import as the page does; the text of the last page."""
    url = '/admin/%s/import/' % table_name
    page = portal.post_form(url, {'file': (import_file(headers, rows), 'rows.xlsx'), 'step': 'check'},
                            content_type='multipart/form-data').get_data(as_text=True)
    token = re.search(r'name="token"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="token"',
                      page)
    if token is None:
        return page
    return portal.post_form(url, {'step': 'commit', 'token': token.group(1) or token.group(2)},
                            follow_redirects=True).get_data(as_text=True)


@pytest.mark.parametrize('name', ['inspection_issue', 'complaint', 'repair_order'])
def test_import_in_a_later_status_is_refused_without_what_it_requires(name, projects, client_as, make):
    model = table(name)
    flow = model.workflow()
    status = flow.final[0]
    required = flow.required(flow.path(status)[1:])
    values = dict(base_values(name, projects['mine'], make), **{flow.field: status})
    values.pop('project')
    if name == 'complaint':
        status = '转办'                       # 关闭 needs a follow-up entry first
        values['status'] = status
        required = flow.required(flow.path(status)[1:])
    headers = ['项目'] + [model.label(n) for n in values]
    cells = [projects['mine'].name] + [('是' if v else '否') if isinstance(v, bool) else v
                                       for v in values.values()]
    clerk = client_as('supervisor')
    page = import_commit(clerk, name, headers, [cells])
    assert not model.select().exists(), name
    for field_name in required:
        assert '须填写「%s」' % model.label(field_name) in page, (name, field_name, re.findall(
            r'class="message">([^<]*)|alert-[a-z]+[^>]*>\s*([^<]*)', page))
    filled = {f: filling(model, f, make) for f in required}
    names = {fld.rel_model._meta.table_name: fld.rel_model for fld in model._meta.fields.values()
             if isinstance(fld, ForeignKeyField)}
    for f, v in filled.items():
        fld = model._meta.fields[f]
        if isinstance(fld, ForeignKeyField):     # a link is written by its name, as in the list
            v = str(names[fld.rel_model._meta.table_name].get_by_id(v))
        headers.append(model.label(f))
        cells.append(v)
    import_commit(clerk, name, headers, [cells])
    assert model.select().count() == 1, name
    assert model.get().__data__[flow.field] == values[flow.field]


# ------------------------------------------------------------------ closed rows

@pytest.fixture
def closed_issue(projects, users, make):
    from models.delivery import InspectionIssue
    return InspectionIssue.create_logged(
        users['supervisor'], project=projects['mine'], category='水电', description='插座不通电',
        location='1栋电梯厅', found_on=EARLY, status='已关闭', contractor=make.contractor().id,
        deadline=DONE, rectified_on=DONE, verified_on=DONE, verified_by='李工')


def closed_row(name, projects, users, make):
    """A row of register `name` in its first final status (as walked by the system)."""
    model = table(name)
    flow = model.workflow()
    status = flow.final[0]
    values = dict(base_values(name, projects['mine'], make))
    if (name, status) in NEEDS_CHILD_ROWS:       # walk it there: a follow-up first
        from models.aftercare import ComplaintFollowUp
        row = model.create_logged(None, **values)
        for step in flow.path(status)[1:]:
            if step == '核查':
                ComplaintFollowUp.create_logged(None, complaint=row.id, followed_on=DONE,
                                                method='电话', content='已回访')
            setattr(row, flow.field, step)
            for f in flow.required([step]):
                if row.__data__.get(f) in (None, ''):
                    setattr(row, f, filling(model, f, make))
            row.save_logged(None)
        return row
    values[flow.field] = status
    values.update({f: filling(model, f, make) for f in flow.required(flow.path(status)[1:])})
    return model.create_logged(None, **values)


@pytest.mark.parametrize('name', [m._meta.table_name for m in workflow_registers()])
def test_a_closed_row_is_locked_for_a_clerk_and_reopened_by_a_supervisor_with_a_reason(
        name, projects, users, make, client_as):
    model = table(name)
    flow = model.workflow()
    row = closed_row(name, projects, users, make)
    version = model.get_by_id(row.id).version
    # the model: every entry point saves through it
    fresh = model.get_by_id(row.id)
    fresh.remarks = '专员补充'
    with pytest.raises(RuleError) as refused:
        fresh.save_logged(users['clerk'])
    assert '已锁定' in str(refused.value)
    # the edit page: the details instead, saying why
    clerk = client_as('clerk')
    response = clerk.get('/admin/%s/edit/?id=%d' % (name, row.id), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert '已锁定' in page and '重新打开…' not in page
    # a clerk cannot reopen
    assert clerk.post_form('/admin/%s/reopen/?id=%d' % (name, row.id),
                           {'reason': '想改'}).status_code == 403
    assert model.get_by_id(row.id).version == version
    # a supervisor reopens: a reason is required, and kept in the change log
    supervisor = client_as('supervisor')
    details = supervisor.get('/admin/%s/details/?id=%d' % (name, row.id)).get_data(as_text=True)
    assert '重新打开…' in details
    page = supervisor.post_form('/admin/%s/reopen/?id=%d' % (name, row.id),
                                {'reason': '  '}).get_data(as_text=True)
    assert '请填写重新打开的原因' in page and model.get_by_id(row.id).is_closed()
    supervisor.post_form('/admin/%s/reopen/?id=%d' % (name, row.id), {'reason': '复查发现问题复发'})
    reopened = model.get_by_id(row.id)
    assert not reopened.is_closed()
    assert reopened.__data__[flow.field] == flow.reopen_to
    entry = row.history().first()
    assert entry.note == '重新打开：复查发现问题复发' and entry.username == 'supervisor'
    # open again, the clerk edits it
    reopened.remarks = '专员补充'
    reopened.save_logged(users['clerk'])


def test_a_closed_issue_is_locked_on_every_entry_point(closed_issue, client_as, projects):
    from models.delivery import InspectionIssue
    clerk = client_as('clerk')
    url = '/admin/inspection_issue/edit/?id=%d' % closed_issue.id
    # the edit form, posted anyway
    page = clerk.post_form(url, {'project': projects['mine'].id, 'category': '水电',
                                 'description': '改掉描述', 'location': '1栋电梯厅', 'severity': '一般',
                                 'found_on': str(EARLY), 'status': '已关闭', 'row_version': '1'},
                           follow_redirects=True).get_data(as_text=True)
    assert '已锁定' in page
    # a bulk action
    page = clerk.post_form('/admin/inspection_issue/action/',
                           {'action': 'assign', 'rowid': [str(closed_issue.id)]},
                           follow_redirects=True)
    clerk.post_form('/admin/inspection_issue/assign/', {
        'ids': str(closed_issue.id), 'contractor': str(closed_issue.contractor_id),
        'deadline': str(TODAY + datetime.timedelta(days=9))}, follow_redirects=True)
    # the list's single-cell edit
    response = clerk.post_form('/admin/inspection_issue/ajax/update/',
                               {'list_form_pk': str(closed_issue.id), 'description': '改掉描述'})
    assert response.status_code != 200 or '已锁定' in response.get_data(as_text=True)
    # an import update of the same row
    page = import_commit(clerk, 'inspection_issue',
                         [InspectionIssue.label(n) for n in ('project', 'round', 'unit', 'location',
                                                             'description', 'category', 'deadline')],
                         [[projects['mine'].name, None, None, '1栋电梯厅', '插座不通电', '水电',
                           TODAY + datetime.timedelta(days=9)]])
    assert '已锁定' in page
    fresh = InspectionIssue.get_by_id(closed_issue.id)
    assert fresh.version == 1 and fresh.description == '插座不通电' and fresh.deadline == DONE
    assert ChangeLog.select().where(ChangeLog.table_name == 'inspection_issue').count() == 1


def test_reopening_needs_the_supervisor_and_leaving_closed_by_the_form_is_refused(
        closed_issue, users, client_as):
    from models.delivery import InspectionIssue
    with pytest.raises(RuleError):
        closed_issue.reopen_logged(users['clerk'], '想改')
    row = InspectionIssue.get_by_id(closed_issue.id)
    row.status = '整改中'
    with pytest.raises(RuleError) as refused:
        row.save_logged(users['supervisor'])
    assert '重新打开' in str(refused.value)
    row = InspectionIssue.get_by_id(closed_issue.id)
    row.reopen_logged(users['supervisor'], '业主反映复发')
    fresh = InspectionIssue.get_by_id(closed_issue.id)
    assert fresh.status == '整改中' and fresh.verified_by is None and fresh.rectified_on is None


# ------------------------------------------------------------------ shared master data

def shared_registers():
    return [m for m in all_registers() if not m.is_project_scoped()]


def test_shared_registers_are_kept_by_supervisors_and_admins_only():
    from models.base import role_can
    assert {'contractor', 'department', 'drawing_review_point', 'design_defect'} <= {
        m._meta.table_name for m in shared_registers()}
    for model in shared_registers():
        for action in ('create', 'edit', 'delete'):
            power = getattr(model._meta, '%s_power' % action, None) or action
            assert not role_can('clerk', power), (model._meta.table_name, action)
            assert role_can('admin', power), (model._meta.table_name, action)


@pytest.mark.parametrize('name', [m._meta.table_name for m in all_registers()
                                  if not m.is_project_scoped()])
def test_a_clerk_cannot_create_or_edit_shared_master_data(name, client_as, make, projects):
    model = table(name)
    clerk = client_as('clerk')
    assert clerk.get('/admin/%s/new/' % name).status_code == 403
    assert clerk.post_form('/admin/%s/new/' % name, {}).status_code == 403
    row = model.select().first()
    if row is None:
        row = make.contractor() if name == 'contractor' else make.department()
        model = type(row)
        name = model._meta.table_name
    assert clerk.get('/admin/%s/edit/?id=%d' % (name, row.id)).status_code == 403
    assert clerk.post_form('/admin/%s/edit/?id=%d' % (name, row.id), {}).status_code == 403
    page = clerk.get('/admin/%s/' % name).get_data(as_text=True)
    assert '/admin/%s/new/' % name not in page
