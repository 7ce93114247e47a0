"""风险控制 — what the derived register views cannot show by themselves.

- Labels and badges for the computed columns (timing of an inspection, open findings and promises).
- A 时效 filter on the inspections (overdue / due soon / done outside the window), computed
  against today rather than stored, so it never goes stale.
- Pages (Blueprint `bp`, under /risk/): an overview per project (overdue inspections, open
  findings and promises, owners still to be told), the per-project floor-plan coverage panel, and
  the pre-delivery list of after-launch high-risk design changes not yet told to owners.
Every page is scoped through `scope_query` like the register lists: a project the user may not
see is "not found".
"""
import datetime

from flask import Blueprint, abort, request, url_for
from flask_admin.contrib.peewee import filters as pf
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required
from markupsafe import Markup

from models.master import Project
from models import risk as risk_models
from rules import risk as rules
from views.base import RegisterView, badge, scope_query
from views.pages import render_page
from views.params import to_id

TIMING_LEVELS = {rules.NOT_DUE: 'secondary', rules.DUE_SOON: 'warning', rules.OVERDUE: 'danger',
                 rules.DONE_ON_TIME: 'success', rules.DONE_LATE: 'danger',
                 rules.DONE_EARLY: 'warning', rules.NO_DATE: 'light'}


def _timing_badge(view, context, row, name):
    value = row.timing
    return badge(value, TIMING_LEVELS.get(value, 'secondary'))


def _flag_badge(level):
    def show(view, context, row, name):
        return badge(getattr(row, name) or None, level)
    return show


class TimingFilter(pf.BasePeeweeFilter):
    """时效: selects by where the inspection stands today (rules.timing), in SQL."""

    def __init__(self, column, name):
        super().__init__(column, name, options=[(t, t) for t in (
            rules.OVERDUE, rules.DUE_SOON, rules.NOT_DUE, '超出时限完成', rules.DONE_ON_TIME,
            rules.NO_DATE)])

    def apply(self, query, value):
        m = risk_models.RiskInspection
        today = datetime.date.today()
        soon = today + datetime.timedelta(days=rules.DUE_SOON_DAYS)
        open_ = m.completed_on.is_null()
        conditions = {
            rules.OVERDUE: open_ & (m.due_on < today),
            rules.DUE_SOON: open_ & (m.due_on >= today) & (m.due_on <= soon),
            rules.NOT_DUE: open_ & (m.due_on > soon),
            '超出时限完成': m.completed_on.is_null(False) & (m.out_of_window == True),  # noqa: E712
            rules.DONE_ON_TIME: m.completed_on.is_null(False) & (m.out_of_window == False) &  # noqa
            m.due_on.is_null(False),
            rules.NO_DATE: m.due_on.is_null(),
        }
        condition = conditions.get(value)
        return query if condition is None else query.where(condition)

    def operation(self):
        return '为'


def _review_aids(view, context, row, name):
    """A drawing review works from the two knowledge bases (manual 000, 一、审图阶段风险控制)."""
    if row.kind != '审图评估':
        return ''
    return Markup('根据<a href="%s">《客户风险审图评估要点明细》</a>和<a href="%s">《产品设计缺陷集》</a>'
                  '进行设计图纸评估') % (url_for('drawing_review_point.index_view'),
                                    url_for('design_defect.index_view'))


class RiskInspectionView(RegisterView):
    model_class = risk_models.RiskInspection
    column_labels = {'timing': '时效', 'deadline_rule': '期限规则', 'rule_quote': '手册依据'}
    column_formatters = {'timing': _timing_badge, 'review_aids': _review_aids}

    def get_details_columns(self):
        # The manual's words next to the derived date: why the due date is what it is.
        return list(super().get_details_columns()) + [('rule_quote', '手册依据'),
                                                      ('review_aids', '评估依据')]

    def _derive_filters(self, model):
        return [TimingFilter(model.due_on, '时效')] + super()._derive_filters(model)


class SalesScriptView(RegisterView):
    model_class = risk_models.SalesScript
    column_labels = {'state': '状态', 'flags': '时效提示'}
    column_formatters = {'flags': _flag_badge('warning')}


class RiskFindingView(RegisterView):
    model_class = risk_models.RiskFinding
    column_labels = {'overdue': '逾期'}
    column_formatters = {'overdue': _flag_badge('danger')}


class RiskDisclosureView(RegisterView):
    model_class = risk_models.RiskDisclosure
    column_labels = {'flags': '提示'}
    column_formatters = {'flags': _flag_badge('warning')}


class SalesPromiseView(RegisterView):
    model_class = risk_models.SalesPromise
    column_labels = {'open_before_delivery': '交付前未闭合'}
    column_formatters = {'open_before_delivery': _flag_badge('danger')}


RISK_LEVELS = {'高': 'danger', '中': 'warning', '低': 'secondary'}
CHANGE_LEVELS = {'待告知部门': 'danger', '待告知业主': 'danger', '告知中': 'warning',
                 '已告知业主': 'success', '无需告知业主': 'secondary', '开盘前变更': 'light'}


def _level_badge(levels):
    def show(view, context, row, name):
        value = getattr(row, name)
        return badge(value, levels.get(value, 'secondary'))
    return show


class DesignChangeView(RegisterView):
    model_class = risk_models.DesignChange
    column_formatters = {'complaint_risk': _level_badge(RISK_LEVELS),
                         'status': _level_badge(CHANGE_LEVELS),
                         'pending_departments': _flag_badge('warning')}


class FloorPlanCheckView(RegisterView):
    model_class = risk_models.FloorPlanCheck
    column_labels = {'unit_kind': '户型类别'}


# --------------------------------------------------------------------------- pages

bp = Blueprint('risk', __name__, url_prefix='/risk')

ADMIN_LINKS = (
    MenuLink(name='风险控制概况', url='/risk/', category='风险控制'),
    MenuLink(name='户型图复查覆盖率', url='/risk/coverage', category='风险控制'),
    MenuLink(name='开盘后高风险变更未告知业主', url='/risk/untold-changes', category='风险控制'),
)


def _visible_projects():
    return list(scope_query(Project, Project.select(), current_user).order_by(Project.code))


def _chosen_project(projects):
    """The project named by ?project=, which must be one the user sees (else 404)."""
    wanted = request.args.get('project', '').strip()
    if not wanted:
        return projects[0] if projects else None
    for project in projects:
        if project.id == to_id(wanted):
            return project
    abort(404)


def _guard():
    if not current_user.can('list'):
        abort(403)


@bp.route('/')
@login_required
def overview():
    """Per project: overdue inspections, open findings and promises, owners still to be told."""
    _guard()
    today = datetime.date.today()
    cards = []
    for project in _visible_projects():
        figures = risk_models.project_risk_figures(project.id)
        inspections = risk_models.RiskInspection.select().where(
            (risk_models.RiskInspection.project == project.id) &
            risk_models.RiskInspection.deleted_at.is_null())
        figures['overdue_inspections'] = inspections.where(
            risk_models.RiskInspection.completed_on.is_null() &
            (risk_models.RiskInspection.due_on < today)).count()
        figures['late_documents'] = risk_models.SalesDocumentReview.select().where(
            (risk_models.SalesDocumentReview.project == project.id) &
            risk_models.SalesDocumentReview.deleted_at.is_null() &
            (risk_models.SalesDocumentReview.late == True)).count()  # noqa: E712
        cards.append((project, figures))
    return render_page('risk/overview.html', title='风险控制概况', cards=cards)


@bp.route('/coverage')
@login_required
def coverage():
    """户型图现场复查覆盖率: special units 100%, standard units ≥25%, per category."""
    _guard()
    projects = _visible_projects()
    project = _chosen_project(projects)
    rows, meets, mismatches, missing_standard, late_checks = [], None, [], False, 0
    if project is not None:
        rows, meets = risk_models.floor_plan_coverage(project.id)
        late_checks = risk_models.FloorPlanCheck.select().where(
            (risk_models.FloorPlanCheck.project == project.id) &
            risk_models.FloorPlanCheck.deleted_at.is_null() &
            (risk_models.FloorPlanCheck.late == True)).count()  # noqa: E712
        mismatches = list(
            risk_models.FloorPlanCheck.select()
            .where((risk_models.FloorPlanCheck.project == project.id) &
                   risk_models.FloorPlanCheck.deleted_at.is_null() &
                   (risk_models.FloorPlanCheck.matches_dm == False))  # noqa: E712
            .order_by(risk_models.FloorPlanCheck.checked_on.desc()))
        special_kinds_present = {r.category for r in rows if r.total and r.category in ('非标层',)}
        if special_kinds_present:
            missing_standard = not risk_models.SalesDocumentReview.select().where(
                (risk_models.SalesDocumentReview.project == project.id) &
                risk_models.SalesDocumentReview.deleted_at.is_null() &
                (risk_models.SalesDocumentReview.doc_kind == '交房标准') &
                (risk_models.SalesDocumentReview.applies_to == '非标层')).exists()
    return render_page('risk/coverage.html', title='户型图现场复查覆盖率', projects=projects,
                       project=project, rows=rows, meets=meets, mismatches=mismatches,
                       missing_standard=missing_standard, late_checks=late_checks,
                       clause='对首层、二层、边户型等特殊户型进行100%检查,对原则层进行不少于25%旳抽查。'
                              '完毕时间:原则层主体完毕50%内完毕。',
                       manual='《%s》房屋交付入住前风险控制 二、构造到原则层阶段旳DM单户型图现场复查'
                              % rules.MANUAL)


@bp.route('/untold-changes')
@login_required
def untold_changes():
    """开盘后下发、投诉风险高、尚未（全部）告知业主的设计变更 — the pre-delivery check's list."""
    _guard()
    projects = _visible_projects()
    chosen = request.args.get('project', '').strip()
    if chosen:
        projects = [_chosen_project(projects)]
    changes = risk_models.changes_untold_high_risk([p.id for p in projects])
    by_project = []
    for project in projects:
        own = [c for c in changes if c.__data__['project'] == project.id]
        if own:
            by_project.append((project, own))
    return render_page('risk/untold_changes.html', title='开盘后高风险设计变更未告知业主',
                       by_project=by_project, projects=_visible_projects(), chosen=chosen,
                       clause='设计变更类,重新核对设计部门及客户关系部门旳设计变更台账,'
                              '检查变更贯彻、客户反馈信息及漏掉状况',
                       manual='《%s》房屋交付入住前风险控制 三、交付前风险检查' % rules.MANUAL)
