"""我的任务 and the bell: what the job runner did for a person, and what the portal told them.

- /jobs/ — the jobs this user started (what, started, progress, result, error); administrators
  see every job, the nightly backup and the daily routine included. A job's progress is polled
  from /jobs/<id>.json by static/jobs.js; a finished job's file is downloaded from
  /jobs/<id>/download by the person who started it (or an administrator).
- /notifications/ — the bell: this user's notifications, newest first; opening the page marks
  them read. Administrators also see 通知记录 (every message by every channel, with its status).
"""
import os

from flask import Blueprint, abort, current_app, jsonify, request, send_file, url_for
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required

from models.base import User, now
from models.jobs import DONE, Job
from models.notify import IN_PORTAL, Notification, unread_count
from views.pages import render_page
from views.params import to_int

bp = Blueprint('jobs', __name__)

ADMIN_LINKS = [MenuLink(name='我的任务', url='/jobs/', category='账户'),
               MenuLink(name='通知', url='/notifications/', category='账户')]
PAGE = 50


def _page():
    text = request.args.get('page', '1')
    return max(1, min(to_int(text) or 1, 10000))


def visible_jobs():
    query = Job.select()
    if not current_user.can('manage_users') or request.args.get('mine'):
        query = query.where(Job.user == current_user.id)
    return query


def _own_job(job_id):
    job = visible_jobs().where(Job.id == job_id).first()
    if job is None:
        abort(404)
    return job


def job_json(job):
    return {'id': job.id, 'title': job.title, 'state': job.state, 'done': job.done,
            'total': job.total, 'percent': job.percent, 'result': job.result, 'error': job.error,
            'download': url_for('jobs.download', job_id=job.id)
            if job.state == DONE and job.file_name else None}


@bp.route('/jobs/')
@login_required
def index():
    page = _page()
    jobs = list(visible_jobs().order_by(Job.created_at.desc(), Job.id.desc())
                .offset((page - 1) * PAGE).limit(PAGE + 1))
    names = {u.id: u.display_name for u in
             User.select(User.id, User.display_name).where(User.id.in_(
                 [j.user_id for j in jobs if j.user_id] or [0]))}
    return render_page('jobs/list.html', title='我的任务' if not current_user.can('manage_users')
                       else '后台任务', jobs=jobs[:PAGE], more=len(jobs) > PAGE, page=page,
                       names=names)


@bp.route('/jobs/<int:job_id>.json')
@login_required
def status(job_id):
    return jsonify(job_json(_own_job(job_id)))


@bp.route('/jobs/<int:job_id>/download')
@login_required
def download(job_id):
    job = _own_job(job_id)
    path = job.result_path(current_app.instance_path)
    if job.state != DONE or not path or not os.path.isfile(path):
        abort(404)
    return send_file(path, as_attachment=True, download_name=job.download_name or job.file_name)


@bp.route('/notifications/')
@login_required
def notifications():
    page = _page()
    if request.args.get('all') and current_user.can('manage_users'):
        rows = list(Notification.select().order_by(Notification.id.desc())
                    .offset((page - 1) * PAGE).limit(PAGE + 1))
        names = {u.id: u.display_name for u in User.select(User.id, User.display_name)}
        return render_page('jobs/notification_log.html', title='通知记录', rows=rows[:PAGE],
                           more=len(rows) > PAGE, page=page, names=names)
    mine = Notification.select().where((Notification.user == current_user.id) &
                                       (Notification.channel == IN_PORTAL))
    rows = list(mine.order_by(Notification.id.desc()).offset((page - 1) * PAGE).limit(PAGE + 1))
    unread = {r.id for r in rows if r.read_at is None}
    if unread:     # seen now: the bell goes quiet
        Notification.update(read_at=now()).where(Notification.id.in_(list(unread))).execute()
    return render_page('jobs/notifications.html', title='通知', rows=rows[:PAGE], unread=unread,
                       more=len(rows) > PAGE, page=page)


@bp.route('/notifications/count.json')
@login_required
def notification_count():
    return jsonify({'unread': unread_count(current_user)})


@bp.app_context_processor
def _bell():
    """The bell in every page's menu bar: the number of unread notifications."""
    if not current_user or not current_user.is_authenticated:
        return {}
    return {'unread_notifications': lambda: unread_count(current_user)}
