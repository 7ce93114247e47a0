"""与业主沟通 — the supervision-group overview: projects past 30% sold without an owner quality group,
and for each group its active members (5–10), the construction phases still without a meeting and
the accepted suggestions still waiting for written feedback. Scoped like every register.
"""
import datetime

from flask import Blueprint, abort
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required

from models.communication import GroupMeeting, GroupMember, SupervisionGroup
from models.master import Project
from rules import communication as rules
from views.aftercare import ParentPrefill
from views.base import RegisterView, badge, scope_query
from views.pages import render_page

bp = Blueprint('communication', __name__, url_prefix='/communication')

ADMIN_LINKS = [
    MenuLink(name='监理小组成立与运行情况', url='/communication/groups', category='业主沟通'),
]


def today():
    return datetime.date.today()


def _scoped(model, query=None):
    return scope_query(model, model.select() if query is None else query, current_user)


class SupervisionGroupView(RegisterView):
    model_class = SupervisionGroup
    details_template = 'aftercare/group_details.html'

    def health(self, group):
        """Active members (5–10), construction phases without a meeting, feedback still owed."""
        day = today()
        active = group.active_member_count(day)
        return {'active': active,
                'warning': rules.group_size_warning(active) if group.status != '已解散' else None,
                'missing': group.missing_phases(),
                'pending': group.pending_feedback()}


class GroupMemberView(ParentPrefill, RegisterView):
    model_class = GroupMember


class GroupMeetingView(ParentPrefill, RegisterView):
    model_class = GroupMeeting

    def _feedback(view, context, row, name):
        if row.feedback_pending:
            return badge('待书面反馈', 'warning')
        return row.feedback_sent_on.strftime('%Y-%m-%d') if row.feedback_sent_on else ''

    column_formatters = {'feedback_sent_on': _feedback}


def group_overview(day):
    """Rows for the page: due projects without a group, and the health of every group."""
    projects = {p.id: p for p in _scoped(Project).order_by(Project.code)}
    groups = list(_scoped(SupervisionGroup).order_by(SupervisionGroup.project, SupervisionGroup.formed_on))
    with_quality_group = {g.project_id for g in groups if g.kind == rules.QUALITY_GROUP}
    due = [{'project': p, 'sold': p.sold_units, 'total': p.total_units,
            'share': round(100 * p.sold_units / p.total_units, 1) if p.total_units else None}
           for p in rules.group_due_projects((p, p.stage, p.sold_units, p.total_units, pid in with_quality_group)
                                             for pid, p in projects.items())]

    ids = [g.id for g in groups] or [0]
    active = {}
    for member in _scoped(GroupMember).where(GroupMember.group.in_(ids)):
        if rules.member_is_active(member.joined_on, member.left_on, day):
            active[member.group_id] = active.get(member.group_id, 0) + 1
    held, pending = {}, {}
    for meeting in _scoped(GroupMeeting).where(GroupMeeting.group.in_(ids)):
        held.setdefault(meeting.group_id, []).append(meeting.phase)
        if meeting.feedback_pending:
            pending.setdefault(meeting.group_id, []).append(meeting)
    health = []
    for group in groups:
        quality = group.kind == rules.QUALITY_GROUP
        health.append({
            'group': group, 'project': projects.get(group.project_id),
            'active': active.get(group.id, 0),
            'warning': rules.group_size_warning(active.get(group.id, 0)) if group.status != '已解散' else None,
            'missing': rules.missing_phases(held.get(group.id, [])) if quality else [],
            'pending': pending.get(group.id, []),
        })
    return due, health


@bp.route('/groups')
@login_required
def groups():
    if not current_user.can('list'):
        abort(403)
    day = today()
    due, health = group_overview(day)
    return render_page('aftercare/groups.html', title='监理小组成立与运行情况', due=due, health=health,
                       today=day, due_clause=rules.GROUP_DUE_CLAUSE, size_clause=rules.GROUP_SIZE_CLAUSE,
                       phase_clause=rules.PHASE_CLAUSE, feedback_clause=rules.FEEDBACK_CLAUSE)
