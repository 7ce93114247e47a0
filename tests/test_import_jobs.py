"""Imports run as jobs of the job runner: the person sees them in 我的任务 and on the import page
(?job=<id>), a commit writes in batches and never leaves the register half-imported — neither
when a row fails nor when the server dies in the middle (the restart undoes what was written)."""
from models import jobs
from models.base import ChangeLog
from models.jobs import DONE, FAILED, RUNNING, Job
from models.master import Unit
from tests.test_excel_import import commit, count_of, unit_rows, upload, xlsx


def test_the_check_and_the_commit_are_jobs_the_person_can_come_back_to(projects, client_as):
    clerk = client_as('clerk')
    page = upload(clerk, 'unit', xlsx(unit_rows(n=3)), filename='三户.xlsx').get_data(as_text=True)
    assert count_of(page, 'create') == 3
    check = Job.get(Job.kind == 'import_check')
    assert check.state == DONE and '将新增 3 条' in check.result
    again = clerk.get('/admin/unit/import/?job=%d' % check.id).get_data(as_text=True)
    assert count_of(again, 'create') == 3 and 'commit-form' in again
    result = commit(clerk, 'unit', page)
    assert result.status_code == 302
    done = Job.get(Job.kind == 'import_commit')
    assert done.state == DONE and '新增 3 条' in done.result and done.user_id is not None
    assert '导入：三户.xlsx（房源台账）' in clerk.get('/jobs/').get_data(as_text=True) or \
        '导入：三户.xlsx' in clerk.get('/jobs/').get_data(as_text=True)
    notes = {e.note for e in ChangeLog.select().where((ChangeLog.table_name == 'unit') &
                                                      (ChangeLog.action == 'create'))}
    assert notes == {'导入任务 #%d：三户.xlsx' % done.id}
    # another person's import job is nobody else's business
    assert client_as('supervisor').get('/admin/unit/import/?job=%d' % check.id).status_code == 404


def test_a_failing_row_undoes_the_batches_already_written(app, projects, client_as, make):
    from models.master import Contract, Owner
    mine = projects['mine']
    units = [make.unit(mine, building='8栋', room=str(n)) for n in range(35)]
    owners = [Owner.create_logged(None, project=mine, name='买受人%02d' % n) for n in range(35)]
    rows = [['项目', '合同编号', '房源', '业主', '签约日期', '总价(元)', '付款方式']]
    rows += [['云栖雅苑', 'HT-B%02d' % n, '8栋-1-%d' % n, '买受人%02d' % n, '2026-01-05', 1000000,
              '一次性'] for n in range(35)]
    app.config['KEFU_IMPORT_BATCH_ROWS'] = 10
    try:
        supervisor = client_as('supervisor')
        page = upload(supervisor, 'contract', xlsx(rows)).get_data(as_text=True)
        assert count_of(page, 'create') == 35
        # Between check and commit a colleague sells the unit of the 31st row: its batch (rows
        # 31–35) fails and is rolled back; the three batches written before it are undone.
        Contract.create_logged(None, project=mine, contract_no='HT-DESK', unit=units[30],
                               owner=owners[0], sign_date=units[30].created_at.date(),
                               total_price=900000, payment_method='一次性')
        before = ChangeLog.select().order_by(ChangeLog.id.desc()).first().id
        result = commit(supervisor, 'contract', page).get_data(as_text=True)
    finally:
        app.config.pop('KEFU_IMPORT_BATCH_ROWS', None)
    assert '所有数据均未改动' in result and '已撤销' in result
    assert [c.contract_no for c in Contract.select()] == ['HT-DESK']
    entries = list(ChangeLog.select().where((ChangeLog.id > before) &
                                            (ChangeLog.table_name == 'contract')))
    created = {e.row_id for e in entries if e.action == 'create'}
    assert len(created) == 30          # three batches of ten were written…
    assert {e.row_id for e in entries if e.action == 'purge'} == created     # …and undone
    assert all(e.note.startswith('撤销导入') for e in entries if e.action in ('delete', 'purge'))


def test_a_commit_cut_off_by_a_restart_is_undone(app, projects, users):
    """The server died after two batches: at the restart the job is failed with the reason and
    what it wrote is undone."""
    with app.app_context():
        job = Job.create(kind='import_commit', title='导入：大文件.xlsx（房源台账）', user=users['clerk'].id,
                         state=RUNNING, attempts=1,
                         params='{"table": "unit", "token": "%s", "filename": "大文件.xlsx"}' % ('0' * 32))
        note = '导入任务 #%d：大文件.xlsx' % job.id
        for n in range(12):
            Unit(project=projects['mine'], building='9栋', entrance='1', room=str(900 + n), floor=9,
                 special_kind='标准层', status='未售').save_logged(users['clerk'], note=note)
        other = Unit.create_logged(users['clerk'], project=projects['mine'], building='9栋',
                                   entrance='2', room='901', floor=9, special_kind='标准层',
                                   status='未售')
        jobs.recover()
    job = Job.get_by_id(job.id)
    assert job.state == FAILED and '服务器在任务运行中重启' in job.error and '已撤销' in job.error
    assert '12 条' in job.error
    assert [u.id for u in Unit.select().where(Unit.building == '9栋')] == [other.id]


def test_a_big_export_is_a_job_whose_file_only_its_owner_downloads(app, projects, make, client_as):
    import io
    import openpyxl
    from models.base import ExportLog
    for n in range(3):
        make.unit(projects['mine'], building='6栋', room=str(600 + n))
    make.unit(projects['other'], building='6栋', room='699')
    app.config['KEFU_EXPORT_JOB_ROWS'] = 2
    try:
        clerk = client_as('clerk')
        response = clerk.get('/admin/unit/export/xlsx/?search=6栋')
        assert response.status_code == 302 and response.headers['Location'].endswith('/jobs/')
        job = Job.get(Job.kind == 'export')
        assert job.state == DONE and '已导出 3 行' in job.result
        download = clerk.get('/jobs/%d/download' % job.id)
        assert download.status_code == 200 and 'no-store' in download.headers['Cache-Control']
        sheet = openpyxl.load_workbook(io.BytesIO(download.data)).worksheets[0]
        rooms = sorted(str(r[3]) for r in sheet.iter_rows(min_row=2, values_only=True)
                       if r and r[0] is not None and str(r[3]).startswith('6'))
        assert rooms == ['600', '601', '602']      # the clerk's project only, as in the list
        assert ExportLog.get(ExportLog.table_name == 'unit').username == 'clerk'
        assert client_as('supervisor').get('/jobs/%d/download' % job.id).status_code == 404
        small = clerk.get('/admin/unit/export/xlsx/?search=600')
        assert small.status_code == 200 and small.data[:2] == b'PK'      # immediate as before
    finally:
        app.config.pop('KEFU_EXPORT_JOB_ROWS', None)
