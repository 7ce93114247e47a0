"""现场验收 — walking the building with a tablet (手册001 内部模拟验收, three rounds).

The page (`/inspect/`) is an installable web app: a manifest and a service worker (served here,
scope /inspect/) keep it working without a connection. What it shows comes from the JSON API
below and is kept on the tablet; what the inspector records (issues, verifications, units walked)
is queued on the tablet and sent item by item to `POST /inspect/api/items`, each with an id made
on the tablet, so a repeat is answered with the first answer (models/site_walk.py).

Every item is written through the registers' `create_logged` / `save_logged`: the same powers
(ROLE_PERMISSIONS: create for new issues and units walked, edit for verifications), project
scope, rules, version guard and change log as the forms and the import. An auditor reads.

The API answers JSON only (never a login page or an HTML error): 401 when the session has ended
(the tablet asks for the password, `POST /inspect/api/login`, and sends on), 400 bad input,
403 no power or another project, 409 a conflict with a change made at the desk, 422 a refusal by
the register's rules — the message always in Chinese.
"""
import datetime
import json
import os

from flask import Blueprint, current_app, jsonify, request, send_from_directory, url_for
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError, ValidationError, generate_csrf, validate_csrf

from models.base import RuleError, User, now
from models.delivery import ROUND_LABELS, AcceptanceRound, InspectionIssue
from models.master import Contractor, Project, Unit
from models import site_walk as walk
from rules import delivery as issue_rules
from rules import site_walk as rules
from views import params
from views.base import scope_query
from views.pages import render_page

bp = Blueprint('inspect', __name__)

ADMIN_LINKS = [MenuLink(name='现场验收（平板）', url='/inspect/', category='交付前'),
               MenuLink(name='验收日报（小结会数据）', url='/inspect/day', category='交付前')]

STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'static', 'inspect')
ISSUE_FIELDS = ('location', 'category', 'severity', 'description', 'rectification_plan',
                'responsible_person', 'penalty', 'remarks')


class ItemProblem(Exception):
    """An item answered with `status` and a Chinese message (nothing stored)."""

    def __init__(self, status, message, state='refused', problems=(), **extra):
        super().__init__(message)
        self.status, self.message, self.state = status, message, state
        self.problems, self.extra = list(problems), extra

    def response(self, client_id=None):
        body = dict(ok=False, state=self.state, message=self.message, client_id=client_id,
                    problems=[{'field': f, 'message': m} for f, m in self.problems], **self.extra)
        return jsonify(body), self.status


@bp.record_once
def _api_checks_its_own_token(state):
    """The API checks the CSRF token itself (views `_guard`), so a stale token is answered with
    JSON the tablet understands, not the form pages' redirect."""
    csrf = state.app.extensions.get('csrf')
    if csrf is not None:
        csrf.exempt(api_items)
        csrf.exempt(api_login)


# --------------------------------------------------------------------------- the app's files

@bp.route('/inspect/')
@login_required
def page():
    """The walk's shell: no personal data in it (it is kept by the service worker); the user,
    projects and units come from the API."""
    return render_template_plain('inspect/walk.html')


def render_template_plain(name, **context):
    from flask import render_template
    return render_template(name, idle_seconds=int(
        current_app.permanent_session_lifetime.total_seconds()), **context)


@bp.route('/inspect/sw.js')
def service_worker():
    response = send_from_directory(STATIC, 'sw.js', mimetype='text/javascript', max_age=0)
    response.headers['Service-Worker-Allowed'] = '/inspect/'
    return response


@bp.route('/inspect/manifest.webmanifest')
def manifest():
    body = {
        'name': '客服台账 · 现场验收', 'short_name': '现场验收', 'lang': 'zh-CN',
        'start_url': '/inspect/', 'scope': '/inspect/', 'display': 'standalone',
        'orientation': 'portrait', 'background_color': '#ffffff', 'theme_color': '#1f5f8b',
        'description': '内部模拟验收：逐户录入验收问题、拍照、复验，无网络时暂存在平板上。',
        'icons': [{'src': url_for('static', filename='inspect/icon-192.png'), 'sizes': '192x192',
                   'type': 'image/png', 'purpose': 'any maskable'},
                  {'src': url_for('static', filename='inspect/icon-512.png'), 'sizes': '512x512',
                   'type': 'image/png', 'purpose': 'any maskable'}],
    }
    response = current_app.response_class(json.dumps(body, ensure_ascii=False),
                                           mimetype='application/manifest+json')
    return response


# --------------------------------------------------------------------------- API plumbing

def _expired():
    return jsonify(ok=False, state='login', message='登录已过期，请输入密码后继续发送。',
                   csrf=generate_csrf()), 401


def _guard(write=False):
    """None when the request may go on, else the JSON answer: signed in, and for writes a valid
    CSRF token in X-CSRFToken."""
    if not current_user.is_authenticated:
        return _expired()
    if write:
        try:
            validate_csrf(request.headers.get('X-CSRFToken') or '')
        except (ValidationError, CSRFError):
            return jsonify(ok=False, state='token', message='安全令牌已失效，正在重新获取。',
                           csrf=generate_csrf()), 403
    return None


def _project_arg(value=None):
    """The project asked for, within the user's scope; None when it is not theirs."""
    project_id = params.to_id(request.args.get('project') if value is None else value)
    if project_id is None:
        return None
    return scope_query(Project, Project.select(), current_user).where(Project.id == project_id).first()


def _actor():
    return current_user._get_current_object()


# --------------------------------------------------------------------------- reading

@bp.route('/inspect/api/me')
def api_me():
    refused = _guard()
    if refused:
        return refused
    projects = scope_query(Project, Project.select(Project.id, Project.code, Project.name),
                           current_user).order_by(Project.code)
    return jsonify(
        ok=True, csrf=generate_csrf(), today=datetime.date.today().isoformat(),
        user={'username': current_user.username, 'name': current_user.display_name,
              'role': current_user.role, 'can_create': current_user.can('create'),
              'can_edit': current_user.can('edit'), 'can_approve': current_user.can('approve')},
        projects=[{'id': p.id, 'code': p.code, 'name': p.name} for p in projects],
        categories=list(issue_rules.ISSUE_CATEGORIES), severities=list(issue_rules.SEVERITIES),
        results=list(rules.CHECK_RESULTS), settled=list(issue_rules.SETTLED_STATUSES),
        major_clause=issue_rules.MAJOR_ISSUE_CLAUSE)


def _asked_project():
    """(the project asked for, None), or (None, the JSON answer) when the request may not go on:
    not signed in, no power, or a project that is not the user's."""
    refused = _guard()
    if refused:
        return None, refused
    project = _project_arg()
    if project is None:
        return None, (jsonify(ok=False, message='项目不存在，或不属于您负责的项目。'), 404)
    return project, None


@bp.route('/inspect/api/project')
def api_project():
    project, refused = _asked_project()
    if refused:
        return refused
    rounds = walk.project_rounds(project.id)
    contractors = sorted(Contractor.live(Contractor.id, Contractor.name, Contractor.kind),
                         key=lambda c: (c.kind not in ('总包', '分包'), c.name))
    return jsonify(
        ok=True, project={'id': project.id, 'code': project.code, 'name': project.name},
        rounds=[{'id': r.id, 'round_no': r.round_no, 'number': ROUND_LABELS.get(r.round_no),
                 'started_on': r.started_on.isoformat() if r.started_on else None,
                 'cleared_on': r.cleared_on.isoformat() if r.cleared_on else None} for r in rounds],
        buildings=[{'name': b, 'units': n} for b, n in walk.buildings(project.id)],
        contractors=[{'id': c.id, 'name': c.name, 'kind': c.kind} for c in contractors],
        phrases=walk.common_phrases(project.id),
        contractor_by_category=walk.contractor_by_category(project.id))


@bp.route('/inspect/api/building')
def api_building():
    """The building's units floor by floor and their open issues: what the tablet keeps."""
    project, refused = _asked_project()
    if refused:
        return refused
    building = (request.args.get('building') or '').strip()
    if not building or len(building) > 16 or '\x00' in building:
        return jsonify(ok=False, message='请选择楼栋。'), 404
    units = walk.building_units(project.id, building)
    if not units:
        return jsonify(ok=False, message='本项目没有楼栋「%s」。' % building), 404
    rounds = {r.id: r.round_no for r in walk.project_rounds(project.id)}
    contractors = walk.contractor_names()
    issues = walk.open_issues_of_units(project.id, [u.id for u in units])
    return jsonify(
        ok=True, project=project.id, building=building, fetched_at=now().isoformat(),
        units=[{'id': u.id, 'entrance': u.entrance, 'room': u.room, 'floor': u.floor,
                'label': str(u), 'layout': u.layout or '', 'rooms': rules.rooms_for_layout(u.layout)}
               for u in units],
        issues=[walk.issue_json(i, rounds, contractors) for i in issues])


# --------------------------------------------------------------------------- writing

def _read_item():
    """(item dict, uploaded photo or None) from a multipart form (`item` JSON + `photo`) or a
    JSON body; ItemProblem 400 for anything else."""
    photo = None
    if request.mimetype == 'multipart/form-data' or request.mimetype == \
            'application/x-www-form-urlencoded':
        text = request.form.get('item')
        photo = request.files.get('photo')
        if photo is not None and not photo.filename:
            photo = None
        try:
            item = json.loads(text) if text else None
        except ValueError:
            item = None
    else:
        item = request.get_json(silent=True)
    if not isinstance(item, dict):
        raise ItemProblem(400, '请求格式不正确：应为一个条目（JSON 对象）。')
    return item, photo


def _text(item, name, limit=20000):
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemProblem(422, '「%s」格式不正确。' % InspectionIssue.label(name),
                          problems=[(name, '格式不正确。')])
    value = value.replace('\x00', '').strip()
    return value[:limit] or None


def _day(item, name, what, required=False):
    day, problem = rules.parse_day(item.get(name), what=what, today=datetime.date.today())
    if problem:
        raise ItemProblem(422, problem, problems=[(name, problem)])
    if required and day is None:
        day = datetime.date.today()
    return day


def _future_day(item, name, what):
    """A date that may lie ahead (a deadline)."""
    value = item.get(name)
    if value in (None, ''):
        return None
    day = params.parse_day(value if isinstance(value, str) else '')
    if day is None:
        message = '「%s」格式不正确（应为 YYYY-MM-DD）。' % what
        raise ItemProblem(422, message, problems=[(name, message)])
    return day


def _scoped_project(item):
    project_id = rules.parse_id(item.get('project'))
    if project_id is None:
        raise ItemProblem(422, '请选择项目。', problems=[('project', '请选择项目。')])
    project = _project_arg(project_id)
    if project is None:
        raise ItemProblem(403, '该项目不属于您负责的项目，不能在此登记。', state='forbidden')
    return project


def _round_of(item, project):
    round_id = item.get('round')
    if round_id in (None, ''):
        return None
    round_id = rules.parse_id(round_id)
    row = round_id and AcceptanceRound.live().where(
        (AcceptanceRound.id == round_id) & (AcceptanceRound.project == project.id)).first()
    if not row:
        raise ItemProblem(422, '验收轮次不属于本项目。', problems=[('round', '验收轮次不属于本项目。')])
    return row


def _unit_of(item, project, required=False):
    unit_id = item.get('unit')
    if unit_id in (None, ''):
        if required:
            raise ItemProblem(422, '请选择房号。', problems=[('unit', '请选择房号。')])
        return None
    unit_id = rules.parse_id(unit_id)
    unit = unit_id and Unit.live().where((Unit.id == unit_id) & (Unit.project == project.id)).first()
    if not unit:
        raise ItemProblem(422, '房号不属于本项目（或已删除）。', problems=[('unit', '房号不属于本项目。')])
    return unit


def _store_photo(photo, model_field):
    """The stored name of the uploaded photo (views/uploads.take_upload's checks), or None."""
    if photo is None:
        return None
    from views.uploads import take_upload

    class Sent:
        data, errors = photo, []
    name = take_upload(Sent, model_field)
    if name is False:
        raise ItemProblem(422, Sent.errors[0] if Sent.errors else '照片未能保存。',
                          problems=[('photo', Sent.errors[0] if Sent.errors else '照片未能保存。')])
    return name


def _require(power, what):
    if not current_user.can(power):
        raise ItemProblem(403, '您的角色（%s）不能%s。' % (
            {'auditor': '审计'}.get(current_user.role, current_user.role), what), state='forbidden')


def _refusal(exc):
    messages = [m for _, m in exc.problems]
    return ItemProblem(422, '；'.join(messages) or '未保存。', problems=exc.problems)


def _issue_item(item, photo):
    _require('create', '登记验收问题')
    project = _scoped_project(item)
    round_row = _round_of(item, project)
    unit = _unit_of(item, project)
    contractor_id = item.get('contractor')
    if contractor_id not in (None, ''):
        contractor_id = rules.parse_id(contractor_id)
        if not contractor_id or not Contractor.live().where(Contractor.id == contractor_id).exists():
            raise ItemProblem(422, '责任单位不存在。', problems=[('contractor', '责任单位不存在。')])
    else:
        contractor_id = None
    values = {name: _text(item, name) for name in ISSUE_FIELDS}
    values.update(project=project.id, round=round_row.id if round_row else None,
                  unit=unit.id if unit else None, contractor=contractor_id,
                  found_on=_day(item, 'found_on', '发现日期', required=True),
                  deadline=_future_day(item, 'deadline', '整改期限'),
                  found_by=(current_user.display_name or current_user.username)[:32],
                  status=issue_rules.STATUS_OPEN)
    if not values['severity']:
        values['severity'] = '一般'
    actor = _actor()

    def apply(stored):
        issue = InspectionIssue(**values)
        issue.photo = stored
        issue.save_logged(actor)
        rounds = {r.id: r.round_no for r in walk.project_rounds(project.id)}
        answer = dict(state='stored', kind='issue', message='已保存验收问题 #%d。' % issue.id,
                      issue=walk.issue_json(issue, rounds, walk.contractor_names()))
        return answer, project.id, issue.id
    return _write(item, 'issue', photo, InspectionIssue.photo, apply)


def _check_item(item, photo):
    _require('edit', '复验验收问题')
    issue_id = rules.parse_id(item.get('issue'))
    if issue_id is None:
        raise ItemProblem(422, '缺少要复验的问题。', problems=[('issue', '缺少要复验的问题。')])
    result = item.get('result')
    if result not in rules.CHECK_RESULTS:
        raise ItemProblem(422, '复验结果只能是「通过」或「不通过」。', problems=[('result', '复验结果无效。')])
    seen_version = rules.parse_id(item.get('version'))
    seen_status = item.get('seen_status') if isinstance(item.get('seen_status'), str) else None
    note = _text(item, 'note')
    checked_on = _day(item, 'checked_on', '复验日期', required=True)
    actor = _actor()
    round_hint = item.get('round')

    def apply(stored):
        issue = scope_query(InspectionIssue, InspectionIssue.select(), actor).where(
            InspectionIssue.id == issue_id).first()
        if issue is None:
            raise ItemProblem(404, '该问题不存在（可能已被删除），或不属于您负责的项目。')
        conflict = rules.check_conflict(seen_status, seen_version, issue.status, issue.version,
                                        walk.user_name(issue.__data__.get('updated_by')),
                                        issue.updated_at)
        if conflict is not None:
            raise ItemProblem(409, conflict.message, state='conflict',
                              issue_id=issue.id, current_status=issue.status)
        project = Project.get_by_id(issue.__data__['project'])
        round_row = _round_of({'round': round_hint}, project) if round_hint not in (None, '') else None
        check = walk.IssueCheck(issue=issue.id, round=round_row.id if round_row else None,
                                result=result, checked_on=checked_on, note=note, photo=stored,
                                checked_by=(actor.display_name or actor.username)[:32])
        check._issue_version = issue.version
        check.save_logged(actor)
        after = getattr(check, '_issue_after', issue)
        rounds = {r.id: r.round_no for r in walk.project_rounds(project.id)}
        verb = '复验通过，问题已关闭' if result == rules.PASSED else '复验不通过，问题已退回整改'
        answer = dict(state='stored', kind='check', check_id=check.id,
                      message='%s（#%d）。' % (verb, issue.id),
                      issue=walk.issue_json(after, rounds, walk.contractor_names()))
        return answer, project.id, check.id
    return _write(item, 'check', photo, walk.IssueCheck.photo, apply)


def _visit_item(item, photo):
    _require('create', '登记查验记录')
    project = _scoped_project(item)
    round_row = _round_of(item, project)
    unit = _unit_of(item, project, required=True)
    visited_on = _day(item, 'visited_on', '查验日期', required=True)
    actor = _actor()

    def apply(_):
        visit = walk.UnitVisit.create(client_id=item['client_id'], project=project.id,
                                      round=round_row.id if round_row else None, unit=unit.id,
                                      visited_on=visited_on, user_id=actor.id, at=now())
        answer = dict(state='stored', kind='visit', message='已记录 %s 本户已查。' % unit,
                      unit=unit.id)
        return answer, project.id, visit.id
    return _write(item, 'visit', None, None, apply)


def _write(item, kind, photo, photo_field, apply):
    """Store the photo, write the item once (walk.receive) with `apply(photo name)`; a refusal or
    a repeat removes the photo just stored."""
    from views.uploads import discard
    client_id = item['client_id']
    first = walk.receipt_answer(client_id, _actor())
    if first is not None:           # a repeat: not even the photo is stored again
        return first
    name = _store_photo(photo, photo_field) if photo_field is not None else None
    try:
        answer = walk.receive(_actor(), client_id, kind, lambda: apply(name))
    except RuleError as exc:
        discard([name])
        raise _refusal(exc)
    except ItemProblem:
        discard([name])
        raise
    if answer.get('repeat'):
        discard([name])
    return answer


@bp.route('/inspect/api/items', methods=['POST'])
def api_items():
    refused = _guard(write=True)
    if refused:
        return refused
    client_id = None
    try:
        item, photo = _read_item()
        client_id = item.get('client_id')
        problem = rules.client_id_problem(client_id)
        if problem:
            raise ItemProblem(400, problem)
        kind = item.get('kind')
        handler = {'issue': _issue_item, 'check': _check_item, 'visit': _visit_item}.get(kind)
        if handler is None:
            raise ItemProblem(400, '未知的条目类型：%s' % str(kind)[:20])
        answer = handler(item, photo)
    except ItemProblem as exc:
        return exc.response(client_id if isinstance(client_id, str) else None)
    status = answer.pop('status', 200) if not answer.get('ok') else 200
    return jsonify(answer), status


@bp.route('/inspect/api/login', methods=['POST'])
def api_login():
    """The session ended while items waited: the tablet asks for the password and signs in
    again here (the login page's throttling and checks), then sends what waited."""
    from views import security
    from views.auth import check_password, start_session
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(ok=False, message='请求格式不正确。'), 400
    try:
        validate_csrf(request.headers.get('X-CSRFToken') or '')
    except (ValidationError, CSRFError):
        return jsonify(ok=False, state='token', message='页面已过期，请重试。', csrf=generate_csrf()), 403
    username = data.get('username') if isinstance(data.get('username'), str) else ''
    password = data.get('password') if isinstance(data.get('password'), str) else ''
    username = username.strip()[:64]
    if not username or not password or len(password) > 256:
        return jsonify(ok=False, message='请输入密码。'), 422
    found = security.refusal(username, security.client_address())
    if found is not None:
        return jsonify(ok=False, message=found[0]), 429
    user = User.get_or_none(User.username == username)
    if user is None or not user.active or not check_password(user, password):
        security.record_login(username, False)
        return jsonify(ok=False, message='用户名或密码错误。', csrf=generate_csrf()), 422
    if user.must_change_password:
        security.record_login(user.username, True)
        return jsonify(ok=False, message='请先在门户中修改密码，再回到本页发送。'), 422
    start_session(user)
    return jsonify(ok=True, message='已重新登录。', csrf=generate_csrf())


# --------------------------------------------------------------------------- the day's figures

@bp.route('/inspect/day')
@login_required
def day_report():
    """验收日报: the figures the review meeting after each acceptance day asks for (手册001)."""
    from views.delivery import chosen_project
    project, projects = chosen_project()
    rounds = walk.project_rounds(project.id) if project else []
    round_id = params.to_id(request.args.get('round'))
    round_row = next((r for r in rounds if r.id == round_id), None)
    days = walk.acceptance_days(project.id, round_row.id if round_row else None) if project else []
    day = params.parse_day(request.args.get('day') or '') or (days[0] if days else datetime.date.today())
    figures = walk.day_figures(project.id, day, round_row.id if round_row else None) if project else None
    summary = rules.summary_text(day, round_row.round_no if round_row else '全部轮次', figures) \
        if figures else ''
    return render_page('inspect/day.html', title='验收日报（小结会数据）', project=project,
                       projects=projects, rounds=rounds, round_row=round_row, day=day, days=days,
                       figures=figures, summary=summary, clause=rules.DAILY_REVIEW_CLAUSE)

