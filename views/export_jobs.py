"""Big exports run as jobs of the job runner (models/jobs.py) and offer the file when ready.

An export of more than KEFU_EXPORT_JOB_ROWS rows (default 20,000) is not written inside the
request: the job writes it exactly as the request would have (same filters, search, sort, columns,
masking and 导出记录 entry, as the person who asked), and 我的任务 offers the file when it is ready.
Smaller exports stay immediate.
"""
import os
import shutil

from flask import current_app, flash, g, redirect, request, url_for
from flask_login import current_user

from models import jobs
from models.base import User

DEFAULT_ROWS = 20000


def job_rows():
    try:
        return max(1, int(current_app.config.get('KEFU_EXPORT_JOB_ROWS') or DEFAULT_ROWS))
    except (TypeError, ValueError):
        return DEFAULT_ROWS


def too_big(view):
    """More rows than an immediate export writes (counted up to the threshold only)."""
    from views.excel import list_query
    limit = job_rows()
    return list_query(view).limit(limit + 1).count() > limit


def submit(view):
    job = jobs.submit('export', current_user._get_current_object(),
                      title='导出%s' % view.name_cn, table=view.endpoint,
                      query=request.query_string.decode('utf-8', 'replace'))
    if job.state == jobs.DONE:
        flash('导出已完成：%s' % job.result, 'success')
    else:
        flash('数据超过 %d 行，导出已转为后台任务；完成后可在“我的任务”下载，期间可以离开此页。' %
              job_rows(), 'info')
    return redirect(url_for('jobs.index'))


@jobs.job_task('export', '导出台账', resumable=True)
def export_job(job, table, query):
    """Write the export as the person who asked, in a request like theirs."""
    from views import excel
    app = current_app._get_current_object()
    view = next((v for v in app.extensions['admin'][0]._views
                 if getattr(v, 'endpoint', None) == table and hasattr(v, 'register')), None)
    user = User.get_or_none(User.id == job.user_id)
    if view is None or user is None or not user.is_active:
        raise jobs.JobError('无法导出：台账或用户已不存在。')
    with app.app_context(), app.test_request_context(
            '/admin/%s/export/xlsx/' % table, query_string=query):
        g._login_user = user
        if not user.can('export'):
            raise jobs.JobError('您没有导出权限。')
        path, filename, count = excel.write_export(view)
    job.file_name = 'export-%d.xlsx' % job.id
    job.download_name = filename
    shutil.move(path, os.path.join(jobs.jobs_folder(app.instance_path), job.file_name))
    job.progress(count, count, force=True)
    return '已导出 %d 行。' % count
