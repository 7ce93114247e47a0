"""The project audit workbook: one download per project (or every project, for auditors) with
one sheet per register and the change log of a chosen period, for the auditors who live in Excel.

Every sheet is the register's own list (its columns, labels, masks and scope, rows in the list's
default order), streamed like the list export; the download is recorded in export_log.
"""
import datetime

from flask import Blueprint, abort, current_app, flash, request
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import InputRequired, Optional

from models.base import ChangeLog, db, now
from models.master import Project
from views import excel
from views.base import RegisterView, scope_query
from views.pages import render_page

bp = Blueprint('audit_workbook', __name__, url_prefix='/audit')
ADMIN_LINKS = [MenuLink(name='项目审计工作簿', url='/audit/workbook', category='审计')]

ALL = 'all'
DEFAULT_DAYS = 30
CHANGE_COLUMNS = ('at', 'username', 'table_name', 'row_id', 'action', 'fields', 'before', 'after')
CHANGE_LABELS = {'at': '时间', 'username': '操作人', 'table_name': '台账', 'row_id': '记录ID',
                 'action': '操作', 'fields': '变更字段', 'before': '修改前', 'after': '修改后'}


class WorkbookForm(FlaskForm):
    class Meta:
        csrf = False     # a read-only download by GET, like the list exports

    project = SelectField('项目', validators=[InputRequired(message='请选择项目。')])
    start_on = DateField('变更记录起始日', validators=[Optional()], format='%Y-%m-%d')
    end_on = DateField('变更记录截止日', validators=[Optional()], format='%Y-%m-%d')


def project_choices(user):
    projects = scope_query(Project, Project.select(Project.id, Project.code, Project.name),
                           user).order_by(Project.code)
    found = [(str(p.id), '%s（%s）' % (p.name, p.code)) for p in projects]
    if user.can('all_projects'):
        found.insert(0, (ALL, '全部项目'))
    return found


def register_views():
    """The register views in menu order: each sheet is exactly that register's list."""
    admin = current_app.extensions['admin'][0]
    return [v for v in admin._views if isinstance(v, RegisterView)]


def register_query(view, project_id):
    from views import listing
    query = listing.build_query(view, None, None, None, None)   # scope + default order
    model = view.model
    if project_id is not None:
        if model._meta.table_name == 'project':
            query = query.where(model.id == project_id)
        elif 'project' in model._meta.fields:
            query = query.where(model.project == project_id)
    return query


def change_query(user, project_id, start_on, end_on):
    query = ChangeLog.select().where(
        (ChangeLog.at >= datetime.datetime.combine(start_on, datetime.time())) &
        (ChangeLog.at < datetime.datetime.combine(end_on + datetime.timedelta(days=1),
                                                  datetime.time())))
    if project_id is not None:
        query = query.where(ChangeLog.project_id == project_id)
    elif user.project_ids is not None:
        query = query.where(ChangeLog.project_id.in_(user.project_ids or [0]))
    return query.order_by(ChangeLog.at, ChangeLog.id)


def change_value_of(table_names):
    actions = dict(ChangeLog.ACTIONS)

    def value_of(entry, name):
        if name == 'table_name':
            return table_names.get(entry.table_name, entry.table_name)
        if name == 'action':
            return actions.get(entry.action, entry.action)
        if name == 'fields':
            return '、'.join(entry.changed_fields)
        return entry.__data__.get(name)
    return value_of


def build_workbook(user, project, start_on, end_on):
    """Write the workbook; returns (path, filters text, total rows, unmasked personal data)."""
    project_id = project.id if project is not None else None
    title = '项目审计工作簿：%s' % (project.name if project else '全部项目')
    filters_text = '项目：%s；变更记录期间：%s 至 %s' % (
        project.name if project else '全部项目', start_on.isoformat(), end_on.isoformat())
    path, workbook = excel.new_workbook()
    counts, unmasked = [], False
    try:
        about = workbook.add_worksheet('说明')
        taken = ['说明', '变更记录']
        with db.atomic():     # one snapshot for every sheet
            for view in register_views():
                model = view.model
                name = excel.sheet_name(view.name_cn, taken)
                taken.append(name)
                count = excel.write_query(workbook, name, model, register_query(view, project_id),
                                          view.column_export_list, view.column_labels,
                                          excel.hidden_masked_fields(model))
                counts.append((view.name_cn, count))
                unmasked = unmasked or bool(view.unmasked_fields())
            table_names = {v.model._meta.table_name: v.name_cn for v in register_views()}
            changes = excel.write_query(workbook, '变更记录', ChangeLog,
                                        change_query(user, project_id, start_on, end_on),
                                        CHANGE_COLUMNS, CHANGE_LABELS,
                                        value_of=change_value_of(table_names), related=False)
        total = sum(c for _, c in counts) + changes
        extra = [('变更记录期间', '%s 至 %s（%d 条）' % (start_on, end_on, changes)),
                 ('说明', '各台账工作表为导出时的全部有效记录（不含回收站），列与列表一致；'
                        '无权查看的个人信息已遮蔽。')]
        extra += [('工作表「%s」' % name, '%d 行' % count) for name, count in counts]
        excel.write_provenance(workbook, title, filters_text, total, extra, ws=about)
    finally:
        workbook.close()
    return path, filters_text, total, unmasked


@bp.route('/workbook')
@login_required
def workbook():
    user = current_user._get_current_object()
    if not user.can('export'):
        abort(403)
    form = WorkbookForm(request.args)
    form.project.choices = project_choices(user)
    today = datetime.date.today()
    if not request.args:
        form.start_on.data = today - datetime.timedelta(days=DEFAULT_DAYS)
        form.end_on.data = today
    if request.args.get('project') is not None:
        allowed = {value for value, _ in form.project.choices}
        if request.args.get('project') not in allowed:
            # WTForms would only say "not a valid choice": a clerk asking for another
            # project (or for all of them) is told what the matter is.
            flash('您只能下载自己负责的项目的审计工作簿。', 'error')
        elif form.validate():
            start_on = form.start_on.data or today - datetime.timedelta(days=DEFAULT_DAYS)
            end_on = form.end_on.data or today
            if start_on > end_on:
                flash('起始日不能晚于截止日。', 'error')
            else:
                project = None if form.project.data == ALL else \
                    scope_query(Project, Project.select(), user).where(
                        Project.id == int(form.project.data)).first()
                if form.project.data != ALL and project is None:
                    abort(404)
                path, filters_text, total, unmasked = build_workbook(user, project, start_on,
                                                                     end_on)
                excel.record_export('audit_workbook', filters_text, total, unmasked=unmasked)
                name = project.name if project else '全部项目'
                return excel.send_workbook(path, '审计工作簿_%s_%s.xlsx' % (
                    name, now().strftime('%Y%m%d_%H%M')))
        else:
            for errors in form.errors.values():
                for message in errors:
                    flash(message, 'error')
    return render_page('excel/audit_workbook.html', form=form, title='项目审计工作簿',
                       days=DEFAULT_DAYS)
