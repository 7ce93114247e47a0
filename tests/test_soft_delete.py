"""Soft delete through HTTP: the recycle bin, restore by supervisors, purge by admins, and no row
that another row points at deleted silently."""
import pytest

from models.base import ChangeLog
from models.master import Contract, Unit


def delete(client, table, row):
    """Delete through the list's delete button; the page after it, with its messages."""
    response = client.post_form('/admin/%s/delete/' % table, {'id': row.id})
    assert response.status_code == 302
    return client.get('/account/password')


def recycle(client, what, table, row):
    return client.post_form('/admin/recycle/%s/%s/%d' % (what, table, row.id),
                            follow_redirects=True)


def actions(table, row):
    return [e.action for e in ChangeLog.select().where(
        (ChangeLog.table_name == table) & (ChangeLog.row_id == row.id)).order_by(ChangeLog.id)]


def test_deleted_row_leaves_the_list_and_enters_the_recycle_bin(make, projects, client_as):
    unit = make.unit(projects['mine'], room='3303')
    supervisor = client_as('supervisor')
    delete(supervisor, 'unit', unit)
    assert Unit.get_by_id(unit.id).deleted_at is not None
    assert '3303' not in supervisor.get('/admin/unit/').get_data(as_text=True)
    assert supervisor.get('/admin/unit/details/?id=%d' % unit.id).status_code == 404
    bin_page = supervisor.get('/admin/recycle/').get_data(as_text=True)
    assert '3303' in bin_page and '>恢复<' in bin_page and '>彻底删除<' not in bin_page


def test_row_pointed_at_is_not_deleted(make, projects, client_as):
    contract = make.contract(projects['mine'])
    page = delete(client_as('supervisor'), 'unit', contract.unit).get_data(as_text=True)
    assert '仍被其他记录引用' in page and '合同' in page
    assert Unit.get_by_id(contract.unit.id).deleted_at is None
    assert actions('unit', contract.unit) == ['create']


def test_bulk_delete_skips_rows_pointed_at_and_says_so(make, projects, client_as):
    contract = make.contract(projects['mine'])
    free = make.unit(projects['mine'])
    supervisor = client_as('supervisor')
    supervisor.post_form('/admin/unit/action/', {
        'action': 'soft_delete', 'rowid': [str(contract.unit.id), str(free.id)]})
    page = supervisor.get('/account/password').get_data(as_text=True)
    assert '仍被其他记录引用' in page and '已删除 1 条' in page
    assert Unit.get_by_id(contract.unit.id).deleted_at is None
    assert Unit.get_by_id(free.id).deleted_at is not None


def test_supervisor_restores_and_the_restore_is_logged(make, projects, client_as):
    unit = make.unit(projects['mine'], room='3304')
    supervisor = client_as('supervisor')
    delete(supervisor, 'unit', unit)
    page = recycle(supervisor, 'restore', 'unit', unit).get_data(as_text=True)
    assert '已恢复' in page
    assert Unit.get_by_id(unit.id).deleted_at is None
    assert '3304' in supervisor.get('/admin/unit/').get_data(as_text=True)
    assert actions('unit', unit) == ['create', 'delete', 'restore']


@pytest.mark.parametrize('role', ['clerk', 'auditor'])
def test_clerks_and_auditors_have_no_recycle_bin(make, projects, client_as, role):
    unit = make.unit(projects['mine'])
    unit.delete_logged(None)
    client = client_as(role)
    assert client.get('/admin/recycle/').status_code == 403
    assert client.post_form('/admin/recycle/restore/unit/%d' % unit.id).status_code == 403
    assert Unit.get_by_id(unit.id).deleted_at is not None


def test_supervisor_cannot_purge(make, projects, client_as):
    unit = make.unit(projects['mine'])
    unit.delete_logged(None)
    response = client_as('supervisor').post_form('/admin/recycle/purge/unit/%d' % unit.id)
    assert response.status_code == 403
    assert Unit.get_or_none(Unit.id == unit.id) is not None


def test_admin_purges_and_the_history_stays(make, projects, client_as):
    unit = make.unit(projects['mine'])
    admin = client_as('admin')
    delete(admin, 'unit', unit)
    page = recycle(admin, 'purge', 'unit', unit).get_data(as_text=True)
    assert '已彻底删除' in page
    assert Unit.get_or_none(Unit.id == unit.id) is None
    assert actions('unit', unit) == ['create', 'delete', 'purge']


def test_purge_is_refused_while_a_binned_row_points_at_it(make, projects, client_as):
    contract = make.contract(projects['mine'])
    admin = client_as('admin')
    delete(admin, 'contract', contract)
    delete(admin, 'unit', contract.unit)            # allowed: only a deleted contract points at it
    assert Unit.get_by_id(contract.unit.id).deleted_at is not None
    page = recycle(admin, 'purge', 'unit', contract.unit).get_data(as_text=True)
    assert '仍被回收站中的记录引用' in page and '合同台账 1 条' in page
    assert Unit.get_or_none(Unit.id == contract.unit.id) is not None
    recycle(admin, 'purge', 'contract', contract)
    recycle(admin, 'purge', 'unit', contract.unit)
    assert Contract.get_or_none(Contract.id == contract.id) is None
    assert Unit.get_or_none(Unit.id == contract.unit.id) is None


def test_restore_is_refused_while_the_row_it_points_at_is_binned(make, projects, client_as):
    contract = make.contract(projects['mine'])
    supervisor = client_as('supervisor')
    delete(supervisor, 'contract', contract)
    delete(supervisor, 'unit', contract.unit)
    page = recycle(supervisor, 'restore', 'contract', contract).get_data(as_text=True)
    assert '也在回收站中，请先恢复它' in page
    assert Contract.get_by_id(contract.id).deleted_at is not None
    recycle(supervisor, 'restore', 'unit', contract.unit)
    recycle(supervisor, 'restore', 'contract', contract)
    assert Contract.get_by_id(contract.id).deleted_at is None


def test_supervisor_sees_and_restores_only_own_project_rows(make, projects, client_as):
    other = make.unit(projects['other'], room='4404')
    other.delete_logged(None)
    supervisor = client_as('supervisor')
    assert '4404' not in supervisor.get('/admin/recycle/').get_data(as_text=True)
    assert supervisor.post_form('/admin/recycle/restore/unit/%d' % other.id).status_code == 404
    assert Unit.get_by_id(other.id).deleted_at is not None


def test_live_rows_cannot_be_purged_through_the_bin(make, projects, client_as):
    unit = make.unit(projects['mine'])
    assert client_as('admin').post_form('/admin/recycle/purge/unit/%d' % unit.id).status_code == 404
    assert Unit.get_or_none(Unit.id == unit.id) is not None


def test_unknown_register_in_the_bin_is_404(client_as):
    assert client_as('admin').post_form('/admin/recycle/purge/app_user/1').status_code == 404


def test_recycle_bin_post_needs_the_csrf_token(make, projects, client_as):
    unit = make.unit(projects['mine'])
    unit.delete_logged(None)
    response = client_as('supervisor').post('/admin/recycle/restore/unit/%d' % unit.id)
    assert response.status_code == 303 and '#kefu-restore' in response.headers['Location']
    assert Unit.get_by_id(unit.id).deleted_at is not None
