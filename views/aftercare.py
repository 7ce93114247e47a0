"""交付后 — what the derived register views cannot show: the owner-notice list of the warranty
register, complaint/compensation/repair figures per project, survey results and the projects due
for their owner callback. Every page reads through `scope_query`, so a clerk sees their projects only.
"""
import datetime

from flask import Blueprint, abort, flash, request
from flask_admin.actions import action
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required
from markupsafe import Markup

from models.aftercare import (CallbackSurvey, callback_obligation, Compensation, Complaint, ComplaintFollowUp, RepairOrder,
                              SurveyResponse, WarrantyItem, WorkContactForm)
from models.base import RuleError
from models.master import Project, Unit
from rules import aftercare as rules
from views.base import RegisterView, badge, scope_query
from views.delivery import parse_day
from views.params import to_id
from views.pages import render_page

bp = Blueprint('aftercare', __name__, url_prefix='/aftercare')

ADMIN_LINKS = [
    MenuLink(name='保修到期待告知业主', url='/aftercare/warranty-notice', category='交付后'),
    MenuLink(name='投诉统计（按项目、类别）', url='/aftercare/complaints', category='交付后'),
    MenuLink(name='赔付汇总', url='/aftercare/compensation', category='交付后'),
    MenuLink(name='维修整改率与满意度', url='/aftercare/repairs', category='交付后'),
    MenuLink(name='回访结果', url='/aftercare/surveys', category='交付后'),
    MenuLink(name='应开展顾客回访的项目', url='/aftercare/callbacks-due', category='交付后'),
]


def today():
    return datetime.date.today()


def _scoped(model, query=None):
    return scope_query(model, model.select() if query is None else query, current_user)


def _projects():
    """The projects the user may see, by id, in code order."""
    return {p.id: p for p in _scoped(Project).order_by(Project.code)}


def _require_list():
    if not current_user.can('list'):
        abort(403)


# ---------------------------------------------------------------------------------- register views

def _notice_due(view, context, row, name):
    value = row.notice_due_on
    if value is None:
        return ''
    text = value.strftime('%Y-%m-%d')
    if rules.owner_notice_due(value, row.owners_notified_on, today()):
        return Markup('%s ') % text + badge('待告知业主', 'warning')
    return text


class WarrantyItemView(RegisterView):
    model_class = WarrantyItem
    column_formatters = {'notice_due_on': _notice_due}
    _action_powers = dict(RegisterView._action_powers, mark_notified='edit')

    @action('mark_notified', '登记已告知业主（今天）',
            '将选中项目的“已告知业主日期”登记为今天？')
    def action_mark_notified(self, ids):
        done, refused = 0, []
        for row in self.scoped_rows(ids):
            if row.owners_notified_on:
                continue
            row.owners_notified_on = today()
            try:
                row.save_logged(current_user._get_current_object())
                done += 1
            except RuleError as exc:
                refused.append('%s：%s' % (row, '；'.join(m for _, m in exc.problems)))
        flash('已登记 %d 项保修项目的业主告知日期。' % done, 'success' if done else 'warning')
        for message in refused:
            flash(message, 'error')


def _overdue_deadline(view, context, row, name):
    value = row.deadline
    if value is None:
        return ''
    text = value.strftime('%Y-%m-%d')
    if row.is_overdue(today()):
        return Markup('%s ') % text + badge('逾期', 'danger')
    return text


class ComplaintView(RegisterView):
    model_class = Complaint
    details_template = 'aftercare/complaint_details.html'
    column_formatters = {'deadline': _overdue_deadline}

    def follow_ups(self, row):
        return list(ComplaintFollowUp.live().where(ComplaintFollowUp.complaint == row.id)
                    .order_by(ComplaintFollowUp.followed_on, ComplaintFollowUp.id))


class ParentPrefill:
    """A child register's create form opened from its parent's page (?complaint=7, ?group=3)
    starts with that parent picked — if the user may see it."""

    def create_form(self, obj=None):
        form = super().create_form(obj)
        name = self.model.parent_field
        wanted = to_id(request.args.get(name))
        if request.method == 'GET' and wanted and name in form:
            parent_model = self.model._meta.fields[name].rel_model
            form[name].data = _scoped(parent_model).where(parent_model._meta.primary_key == wanted).first()
        return form


class ComplaintFollowUpView(ParentPrefill, RegisterView):
    model_class = ComplaintFollowUp


class SurveyResponseView(ParentPrefill, RegisterView):
    model_class = SurveyResponse


class WorkContactFormView(RegisterView):
    model_class = WorkContactForm

    def _status(view, context, row, name):
        if row.status == '待回复' and row.is_overdue(today()):
            return badge('逾期未回复', 'danger')
        level = {'已验证关闭': 'success', '已回复待验证': 'info'}.get(row.status, 'secondary')
        return badge(row.status, level)

    column_formatters = {'status': _status, 'deadline': _overdue_deadline}


class CallbackSurveyView(RegisterView):
    model_class = CallbackSurvey
    details_template = 'aftercare/survey_details.html'

    def result(self, survey):
        """Response rate, validity and dimension averages shown on the survey itself."""
        return {'rate': rules.percent(rules.response_rate(survey.issued, survey.returned)),
                'valid': rules.survey_is_valid(survey.issued, survey.returned),
                'responses': SurveyResponse.live().where(SurveyResponse.survey == survey.id).count(),
                'averages': survey.averages()}

    def _valid(view, context, row, name):
        return badge('有效', 'success') if row.valid else badge('无效（回收≤25%）', 'warning')

    column_formatters = {'valid': _valid}


# ---------------------------------------------------------------------------------- pages

@bp.route('/warranty-notice')
@login_required
def warranty_notice():
    """Items whose owner-notice date has come and whose owners are not told yet (手册002 六)."""
    _require_list()
    day = today()
    projects = _projects()
    due = list(_scoped(WarrantyItem).where(
        WarrantyItem.owners_notified_on.is_null() & (WarrantyItem.notice_due_on <= day))
        .order_by(WarrantyItem.notice_due_on, WarrantyItem.id))
    horizon = rules.add_months(day, 2)
    coming = list(_scoped(WarrantyItem).where(
        WarrantyItem.owners_notified_on.is_null() & (WarrantyItem.notice_due_on > day) &
        (WarrantyItem.notice_due_on <= horizon))
        .order_by(WarrantyItem.notice_due_on, WarrantyItem.id))
    return render_page('aftercare/warranty_notice.html', title='保修到期待告知业主', due=due, coming=coming,
                       projects=projects, today=day, horizon=horizon, clause=rules.NOTICE_CLAUSE)


@bp.route('/complaints')
@login_required
def complaints():
    """Open and overdue complaints per project and category."""
    _require_list()
    day = today()
    projects = _projects()
    rows = _scoped(Complaint, Complaint.select(Complaint.project, Complaint.category, Complaint.deadline,
                                               Complaint.closed_on)).tuples()
    summary = rules.complaint_summary(((projects[p].name if p in projects else p, c, d, cl)
                                       for p, c, d, cl in rows), day)
    overdue = list(_scoped(Complaint).where(Complaint.closed_on.is_null() & (Complaint.deadline < day))
                   .order_by(Complaint.deadline))
    return render_page('aftercare/complaints.html', title='投诉统计（按项目、类别）', summary=summary,
                       overdue=overdue, projects=projects, today=day)


@bp.route('/compensation')
@login_required
def compensation():
    """Compensation totals per project (paid / awaiting payment)."""
    _require_list()
    projects = _projects()
    rows = _scoped(Compensation, Compensation.select(Compensation.project, Compensation.amount,
                                                     Compensation.paid_on)).tuples()
    totals = rules.compensation_totals((projects[p].name if p in projects else p, a, paid)
                                       for p, a, paid in rows)
    unapproved = list(_scoped(Compensation).where(Compensation.paid_on.is_null() &
                                                  Compensation.oa_approval_no.is_null()))
    return render_page('aftercare/compensation.html', title='赔付汇总', totals=totals,
                       unapproved=unapproved, projects=projects, clause=rules.COMPENSATION_CLAUSE)


@bp.route('/repairs')
@login_required
def repairs():
    """Repair rectification rate and average owner satisfaction per project — all orders, and the
    centralized repair of the 3 months after delivery the handover is rated by."""
    _require_list()
    projects = _projects()
    rows = list(_scoped(RepairOrder, RepairOrder.select(RepairOrder.project, RepairOrder.source,
                                                        RepairOrder.closed, RepairOrder.satisfaction)).tuples())
    overall = {s['project']: s for s in rules.repair_summary(rows)}
    centralized = {s['project']: s for s in rules.repair_summary(
        r for r in rows if r[1] == rules.CENTRALIZED)}
    table = []
    for pid, project in projects.items():
        if pid in overall:
            table.append({'project': project, 'all': overall[pid], 'centralized': centralized.get(pid),
                          'window_ends_on': rules.centralized_repair_ends_on(project.delivery_date)})
    return render_page('aftercare/repairs.html', title='维修整改率与满意度', table=table,
                       clause=rules.CENTRALIZED_CLAUSE)


@bp.route('/surveys')
@login_required
def surveys():
    """Each callback survey: response rate, validity (> 25%), averages per dimension."""
    _require_list()
    projects = _projects()
    survey_rows = list(_scoped(CallbackSurvey).order_by(CallbackSurvey.project, CallbackSurvey.planned_on.desc()))
    dimension_fields = [f for f, _ in rules.SURVEY_DIMENSIONS]
    scores = {}
    counts = {}
    if survey_rows:
        query = _scoped(SurveyResponse).where(SurveyResponse.survey.in_([s.id for s in survey_rows]))
        for response in query:
            scores.setdefault(response.survey_id, []).append(
                {f: getattr(response, f) for f in dimension_fields})
            counts[response.survey_id] = counts.get(response.survey_id, 0) + 1
    results = []
    for survey in survey_rows:
        rate = rules.response_rate(survey.issued, survey.returned)
        results.append({'survey': survey, 'project': projects.get(survey.project_id),
                        'rate': rules.percent(rate), 'valid': rules.survey_is_valid(survey.issued, survey.returned),
                        'responses': counts.get(survey.id, 0),
                        'averages': rules.dimension_averages(scores.get(survey.id, []))})
    return render_page('aftercare/surveys.html', title='回访结果', results=results,
                       dimensions=[label for _, label in rules.SURVEY_DIMENSIONS],
                       clause=rules.VALIDITY_CLAUSE)


@bp.route('/callbacks-due')
@login_required
def callbacks_due():
    """Projects owing their owner callback (a year past handover, occupancy > 50%, no valid callback
    since the one-year mark) and the other handed-over projects: decided by the one function
    the deadline engine asks too (models.aftercare.callback_obligation). `?on=` sets the day."""
    _require_list()
    day = parse_day(request.args.get('on')) or today()
    due, watch = [], []
    for pid, project in _projects().items():
        delivered_on = project.delivery_start_date
        if delivered_on is None or delivered_on > day:
            continue
        obligation, delivered, total, valid = callback_obligation(project, day)
        entry = {'project': project, 'delivered_on': delivered_on, 'delivered_units': delivered,
                 'total_units': total, 'occupancy': rules.percent(rules.ratio(delivered, total)),
                 'due_from': obligation.due_from, 'due_on': obligation.due_on,
                 'satisfied_on': obligation.satisfied_on,
                 'last_valid_on': max(valid, default=None)}
        (due if obligation.due(day) else watch).append(entry)
    return render_page('aftercare/callbacks_due.html', title='应开展顾客回访的项目', due=due, watch=watch,
                       today=day, clause=rules.CALLBACK_CLAUSE, validity=rules.VALIDITY_CLAUSE)
