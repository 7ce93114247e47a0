"""交付前 views: only what the derived register views cannot do.

- 验收问题: overdue rows stand out, an 逾期 filter, bulk actions (assign contractor and deadline,
  move to 待验证, close verified ones — each row through the same rules and change log), and the
  per-round / per-contractor summary.
- 内部模拟验收: rows outside their window flagged.
- 钥匙移交: after a save the form says whether the transfer was on time, quoting the rule.
- 交付计划节点: the button that generates a project's countdown, and done/overdue states.
"""
import datetime

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee import filters as pf
from flask_login import current_user
from markupsafe import Markup

from models.base import RuleError
from models.delivery import AcceptanceRound, DeliveryMilestone, InspectionIssue, KeyTransfer
from models.master import Contractor, Project
from rules import delivery as rules
from views import params
from views.base import RegisterView, badge, scope_query

STATUS_LEVELS = {'待整改': 'warning', '整改中': 'info', '待验证': 'primary', '已关闭': 'success',
                 '让步接收': 'secondary', '不整改': 'dark'}
MILESTONE_LEVELS = {'已完成': 'success', '逾期完成': 'warning', '逾期': 'danger', '今日到期': 'warning',
                    '未到期': 'light', '未排期': 'secondary', '待定': 'secondary'}


def parse_day(text, default=None):
    return params.parse_day(text) or default


def scoped_projects():
    return list(scope_query(Project, Project.select(), current_user).order_by(Project.code))


def chosen_project(value=None, prefer=None):
    """The project picked on a report page, within the user's scope (404 otherwise).

    Without a choice: the first project `prefer(projects)` returns, else the first by code.
    """
    projects = scoped_projects()
    raw = value if value is not None else request.values.get('project')
    if raw in (None, ''):
        preferred = prefer(projects) if prefer and projects else None
        return (preferred or (projects[0] if projects else None)), projects
    try:
        pid = int(raw)
    except (TypeError, ValueError):
        abort(404)
    for project in projects:
        if project.id == pid:
            return project, projects
    abort(404)


def require(power):
    if not current_user.can(power):
        abort(403)


def apply_each(rows, change):
    """Apply `change(row)` to each row and save it through its rules; (done, refused messages)."""
    actor = current_user._get_current_object()
    done, refused = 0, []
    for row in rows:
        if change(row) is False:
            continue
        try:
            row.save_logged(actor)
            done += 1
        except RuleError as exc:
            refused.append('#%s：%s' % (row.get_id(), '；'.join(m for _, m in exc.problems)))
    return done, refused


def flash_outcome(verb, done, refused, skipped=0):
    message = '%s %d 条。' % (verb, done)
    if skipped:
        message += '另有 %d 条不符合条件（状态不符、已登记或不属于您的项目），未处理。' % skipped
    flash(message, 'success' if done else 'warning')
    for text in refused[:10]:
        flash('未保存 %s' % text, 'error')
    if len(refused) > 10:
        flash('……另有 %d 条未保存。' % (len(refused) - 10), 'error')


# --------------------------------------------------------------------------- inspection_issue

class OverdueFilter(pf.BasePeeweeFilter):
    """逾期 是/否: `overdue(today)` is the peewee condition of an overdue row."""

    def __init__(self, column, name, overdue):
        self.overdue = overdue
        super().__init__(column, name, options=(('1', '是'), ('0', '否')))

    def apply(self, query, value):
        condition = self.overdue(datetime.date.today())
        # NOT over a condition with NULLs would drop rows without a deadline: select the rest.
        if value == '1':
            return query.where(condition)
        return query.where(self.column.model.id.not_in(
            self.column.model.select(self.column.model.id).where(condition)))

    def operation(self):
        return '等于'


def issue_overdue(today):
    return (InspectionIssue.deadline < today) & InspectionIssue.status.not_in(rules.SETTLED_STATUSES)


def milestone_overdue(today):
    return (DeliveryMilestone.due_on < today) & DeliveryMilestone.done_on.is_null()


def _issue_status(view, context, row, name):
    return badge(row.status, STATUS_LEVELS.get(row.status, 'secondary'))


def _issue_deadline(view, context, row, name):
    if not row.deadline:
        return ''
    text = row.deadline.strftime('%Y-%m-%d')
    if rules.is_issue_overdue(row.deadline, row.status, datetime.date.today()):
        days = (datetime.date.today() - row.deadline).days
        return Markup('<span class="badge badge-danger overdue" title="已超过整改期限">%s 逾期%d天</span>') % (
            text, days)
    return text


def _severity(view, context, row, name):
    return badge(row.severity, 'danger') if row.severity == '重大' else row.severity


class InspectionIssueView(RegisterView):
    model_class = InspectionIssue
    list_template = 'delivery/issue_list.html'
    column_formatters = {'status': _issue_status, 'deadline': _issue_deadline, 'severity': _severity}
    _action_powers = {'soft_delete': 'delete', 'assign': 'edit', 'to_verify': 'edit',
                      'close_verified': 'edit'}

    def _derive_filters(self, model):
        return super()._derive_filters(model) + [
            OverdueFilter(InspectionIssue.deadline, '逾期', issue_overdue)]

    @action('assign', '指派责任单位和整改期限')
    def action_assign(self, ids):
        return redirect(url_for('.assign_view', ids=','.join(str(i) for i in ids)))

    @action('to_verify', '转为待验证', '确定将选中问题改为“待验证”（整改完成，等待验证）吗？')
    def action_to_verify(self, ids):
        rows = self.scoped_rows(ids)
        movable = [r for r in rows if r.status in (rules.STATUS_OPEN, rules.STATUS_IN_PROGRESS)]
        today = datetime.date.today()

        def change(row):
            row.status = rules.STATUS_TO_VERIFY
            row.rectified_on = row.rectified_on or today      # reported fixed: completed today
        done, refused = apply_each(movable, change)
        flash_outcome('已转为待验证', done, refused, skipped=len(rows) - len(movable))

    @action('close_verified', '验证通过并关闭', '确定以本人名义验证通过并关闭选中的“待验证”问题吗？')
    def action_close_verified(self, ids):
        rows = self.scoped_rows(ids)
        closable = [r for r in rows if r.status == rules.STATUS_TO_VERIFY]
        today = datetime.date.today()

        def change(row):
            row.status = rules.STATUS_CLOSED
            row.verified_by = current_user.display_name
            row.verified_on = today
        done, refused = apply_each(closable, change)
        flash_outcome('已验证关闭', done, refused, skipped=len(rows) - len(closable))

    @expose('/assign/', methods=('GET', 'POST'))
    def assign_view(self):
        require('edit')
        raw = request.values.get('ids', '')
        rows = self.scoped_rows(raw.split(','))
        contractors = list(Contractor.live().order_by(Contractor.name))
        errors = []
        if request.method == 'POST':
            contractor_id = request.form.get('contractor', '')
            deadline = parse_day(request.form.get('deadline'))
            person = (request.form.get('responsible_person') or '').strip()
            contractor = next((c for c in contractors if str(c.id) == contractor_id), None)
            if contractor is None:
                errors.append('请选择责任单位。')
            if deadline is None:
                errors.append('请填写整改期限（格式 YYYY-MM-DD）。')
            if not rows:
                errors.append('没有可处理的问题（可能不属于您的项目）。')
            if not errors:
                def change(row):
                    row.contractor = contractor.id
                    row.deadline = deadline
                    if person:
                        row.responsible_person = person
                done, refused = apply_each(rows, change)
                flash_outcome('已指派', done, refused)
                return redirect(url_for('.index_view'))
            for message in errors:
                flash(message, 'error')
        return self.render('delivery/assign.html', rows=rows[:200], count=len(rows), ids=raw,
                           contractors=contractors, form_values=request.form)

    @expose('/summary/')
    def summary_view(self):
        project, projects = chosen_project()
        today = datetime.date.today()
        by_round, by_contractor = [], []
        if project is not None:
            base = InspectionIssue.live().where(InspectionIssue.project == project.id)
            names = {r.id: r.round_no for r in AcceptanceRound.live().where(
                AcceptanceRound.project == project.id)}
            for group, found, closed, decided, overdue in InspectionIssue.summary(
                    base, InspectionIssue.round, today):
                by_round.append(_summary_row(names.get(group, '未指定轮次'), found, closed, decided, overdue))
            contractor_names = {c.id: c.name for c in Contractor.select(Contractor.id, Contractor.name)}
            for group, found, closed, decided, overdue in InspectionIssue.summary(
                    base, InspectionIssue.contractor, today):
                by_contractor.append(_summary_row(contractor_names.get(group, '未指派'),
                                                  found, closed, decided, overdue))
            by_round.sort(key=lambda r: r['name'])
        return self.render('delivery/issue_summary.html', project=project, projects=projects,
                           by_round=by_round, by_contractor=by_contractor,
                           total=_total(by_round), today=today)


def _summary_row(name, found, closed, decided, overdue):
    return {'name': name, 'found': found, 'closed': closed, 'decided': decided,
            'overdue': overdue, 'rate': rules.closure_rate(found, closed + decided)}


def _total(rows):
    found = sum(r['found'] for r in rows)
    closed = sum(r['closed'] for r in rows)
    decided = sum(r['decided'] for r in rows)
    overdue = sum(r['overdue'] for r in rows)
    return _summary_row('合计', found, closed, decided, overdue)


# --------------------------------------------------------------------------- acceptance_round

def _window_flag(view, context, row, name):
    today = datetime.date.today()
    late = bool(row.round_number) and rules.round_out_of_window(
        row.round_number, _delivery(row), row.started_on, row.cleared_on, today)
    if row.out_of_window or late:
        return badge('超出窗口', 'danger')
    return badge('正常', 'success')


def _delivery(row):
    project = Project.get_or_none(Project.id == row.__data__.get('project'))
    return project.delivery_date if project else None


class AcceptanceRoundView(RegisterView):
    model_class = AcceptanceRound
    column_formatters = {'out_of_window': _window_flag}


# --------------------------------------------------------------------------- key_transfer

def _late_days(view, context, row, name):
    return badge('逾期%d天' % row.late_days, 'danger') if row.late_days else '0'


class KeyTransferView(RegisterView):
    model_class = KeyTransfer
    column_formatters = {'late_days': _late_days}

    def after_model_change(self, form, model, is_created):
        if model.timing_note:
            flash(model.timing_note, 'warning' if model.late_days else 'info')


# --------------------------------------------------------------------------- delivery_milestone

def _milestone_state(view, context, row, name):
    state = row.state
    return badge(state, MILESTONE_LEVELS.get(state, 'secondary'))


class DeliveryMilestoneView(RegisterView):
    model_class = DeliveryMilestone
    list_template = 'delivery/milestone_list.html'
    column_formatters = {'state': _milestone_state}
    column_labels = {'state': '状态', 'offset_label': '节点时间'}

    def _derive_filters(self, model):
        return super()._derive_filters(model) + [
            OverdueFilter(DeliveryMilestone.due_on, '逾期未完成', milestone_overdue)]

    @expose('/generate/', methods=('GET', 'POST'))
    def generate_view(self):
        project, projects = chosen_project()
        if request.method == 'POST':
            require('create')
            if project is None:
                abort(404)
            try:
                created = DeliveryMilestone.generate_plan(project, current_user._get_current_object())
            except RuleError as exc:
                for _, message in exc.problems:
                    flash(message, 'error')
            else:
                if created:
                    flash('已为「%s」生成 %d 个交付计划节点（交付日 %s）。' % (
                        project.name, len(created), project.delivery_date), 'success')
                else:
                    flash('「%s」的交付计划节点已齐全，未新增；已修改的日期保持不变。' % project.name, 'info')
                return redirect(url_for('.index_view'))
        counts = {}
        for p in projects:
            counts[p.id] = DeliveryMilestone.live().where(DeliveryMilestone.project == p.id).count()
        return self.render('delivery/milestone_generate.html', project=project, projects=projects,
                           counts=counts, total=len(rules.COUNTDOWN))

