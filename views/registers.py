"""Builds the admin: one RegisterView per register, derived from its declaration, plus the
change log, the recycle bin and user management."""
import importlib
import os
import pkgutil

from flask import abort, current_app, flash, has_request_context, redirect, request, url_for
from flask_admin import Admin, AdminIndexView, BaseView, expose
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee import filters as pf
from flask_admin.menu import MenuLink
from flask_admin.theme import Bootstrap4Theme
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import ForeignKeyField, IntegrityError
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from models.base import (ROLE_LABELS, ChangeLog, ExportLog, Register, RuleError, User,
                         all_registers, now)
from markupsafe import Markup

from views import changes
from views.base import TYPE_FORMATTERS, PortalAccess, RegisterView, SafeListArgs
from views.params import to_id, to_int


class HomeIndexView(AdminIndexView):
    """/admin/ itself leads to the dashboard."""

    @expose('/')
    def index(self):
        return redirect(url_for('home.index'))


class ReadOnlyLogView(PortalAccess, SafeListArgs, ModelView):
    """Shared base of the log lists: nobody edits or deletes through the portal."""
    form_base_class = FlaskForm
    can_create = can_edit = can_delete = False
    can_view_details = True
    can_set_page_size = True
    page_size = 50
    export_types = ['xlsx']
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    list_template = 'register/log_list.html'

    @property
    def can_export(self):
        return current_user.is_authenticated and current_user.can('export')

    def is_accessible(self):
        return current_user.is_authenticated and current_user.can('history')

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        if request.method == 'POST':
            abort(403)

    def get_query(self):
        query = self.model.select()
        ids = current_user.project_ids
        if ids is not None:
            query = query.where(self.model.project_id.in_(ids or [0]))
        return query

    def get_count_query(self):
        return self.get_query()

    def get_one(self, id):
        pk = to_id(id)
        if pk is None:
            abort(404)
        row = self.get_query().where(self.model.id == pk).first()
        if row is None:
            abort(404)
        return row

    @expose('/export/<export_type>/')
    def export(self, export_type):
        from views import excel
        return excel.export_log(self)


def _table_options():
    return [(m._meta.table_name, getattr(m._meta, 'verbose_name', m._meta.table_name))
            for m in all_registers()] + [('app_user', '用户'), ('audit_workbook', '项目审计工作簿'),
                                         ('change_log', '变更记录'), ('export_log', '导出记录')]


class ChangeLogView(ReadOnlyLogView):
    """变更记录: auditors and admins read every project; supervisors and clerks their own.

    Read like a register (views/changes.py): the person's name, the time to the second, the
    register and the row by their names, one line per changed field with its label and values.
    A page's entries are resolved together (a few queries per page, not per line)."""
    column_list = ('at', 'user_id', 'table_name', 'row_id', 'action', 'changes')
    column_labels = {'at': '时间', 'user_id': '操作人', 'username': '登录名', 'table_name': '台账',
                     'row_id': '记录', 'action': '操作', 'changes': '变更内容', 'note': '说明',
                     'project_id': '项目ID'}
    column_default_sort = [('at', True), ('id', True)]
    column_sortable_list = ('at', 'table_name', 'row_id', 'action')
    column_details_list = ('at', 'user_id', 'username', 'table_name', 'row_id', 'action', 'changes',
                           'note')
    column_searchable_list = ()

    def __init__(self, **kwargs):
        self.column_filters = [
            pf.FilterEqual(ChangeLog.table_name, '台账', options=_table_options),
            pf.FilterEqual(ChangeLog.action, '操作', options=ChangeLog.ACTIONS),
            pf.FilterEqual(ChangeLog.user_id, '操作人', options=_user_options),
            pf.FilterLike(ChangeLog.username, '登录名'),
            pf.DateTimeBetweenFilter(ChangeLog.at, '时间'),
            pf.IntEqualFilter(ChangeLog.row_id, '记录ID'),
            pf.IntEqualFilter(ChangeLog.project_id, '项目ID'),
        ]
        self.column_formatters = {
            'at': lambda v, c, m, n: _readable(m).at,
            'user_id': lambda v, c, m, n: _readable(m).person,
            'table_name': lambda v, c, m, n: _readable(m).register,
            'row_id': _row_link,
            'action': lambda v, c, m, n: _readable(m).action,
            'changes': lambda v, c, m, n: _change_lines(_readable(m)),
        }
        self.column_formatters_detail = self.column_formatters
        super().__init__(ChangeLog, name='变更记录', category='审计', endpoint='change_log',
                         url='/admin/change_log', **kwargs)

    # ---- search: people by name or login, registers by their Chinese name, rows by id
    def init_search(self):
        return True

    def search_placeholder(self):
        return '搜索操作人、台账、操作、记录ID或说明'

    def get_query(self):
        query = super().get_query()
        search = (request.args.get('search') or '').strip() if has_request_context() else ''
        for word in search.split():
            query = query.where(_search_condition(word))
        return query

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        # the search is applied by get_query (the export goes through it too)
        count, rows = super().get_list(page, sort_column, sort_desc, None, filters,
                                       execute=execute, page_size=page_size)
        if execute:
            rows = list(rows)
            for entry, change in zip(rows, changes.readable(rows)):
                entry._readable = change
        return count, rows

    @expose('/export/<export_type>/')
    def export(self, export_type):
        return changes.export(self)


def _user_options():
    if not has_request_context() or not current_user.is_authenticated:
        return []       # computed per request
    return [(u.id, u.display_name) for u in User.select(User.id, User.display_name)
            .order_by(User.display_name)]


def _search_condition(word):
    """Entries where `word` names the person, the register, the action, the row id or the note."""
    like = '%%%s%%' % word
    people = User.select(User.id).where(User.display_name.contains(word) |
                                        User.username.contains(word))
    tables = [t for t, label in _table_options() if word in label or word.lower() in t]
    actions = [a for a, label in ChangeLog.ACTIONS if word in label]
    cond = ChangeLog.username ** like | ChangeLog.user_id.in_(people) | ChangeLog.note ** like
    if tables:
        cond |= ChangeLog.table_name.in_(tables)
    if actions:
        cond |= ChangeLog.action.in_(actions)
    if to_int(word, 0, 999999999) is not None:
        cond |= ChangeLog.row_id == int(word)
    return cond


def _readable(entry):
    found = getattr(entry, '_readable', None)
    if found is None:       # a page resolves its entries together; a lone entry resolves itself
        found = entry._readable = changes.readable([entry])[0]
    return found


def _row_link(view, context, entry, name):
    change = _readable(entry)
    if change.row_url:
        return Markup('<a href="%s">%s</a>') % (change.row_url, change.row)
    return change.row


def _change_lines(change):
    """One line per changed field: 「标签：旧 → 新」 (a create: 「标签：值」)."""
    lines = [(Markup('%s：%s') % (label, new)) if change.entry.action == 'create'
             else Markup('%s：%s → %s') % (label, old, new) for label, old, new in change.lines]
    if change.note:
        lines.append(Markup('<em>%s</em>') % change.note)
    return Markup('<br>').join(lines) if lines else change.action


def describe_change(entry):
    """One change in one line (history tables, the unit file)."""
    return _readable(entry).text(limit=300)


class ExportLogView(ReadOnlyLogView):
    column_list = ('at', 'username', 'table_name', 'row_count', 'filters', 'unmasked_personal_data')
    column_labels = {'at': '时间', 'username': '导出人', 'table_name': '台账', 'row_count': '行数',
                     'filters': '筛选条件', 'unmasked_personal_data': '含未遮蔽个人信息'}
    column_default_sort = [('at', True)]
    column_sortable_list = ('at', 'username', 'table_name', 'row_count')

    def __init__(self, **kwargs):
        self.column_filters = [pf.FilterLike(ExportLog.username, '导出人'),
                               pf.FilterEqual(ExportLog.table_name, '台账', options=_table_options),
                               pf.DateTimeBetweenFilter(ExportLog.at, '时间'),
                               pf.BooleanEqualFilter(ExportLog.unmasked_personal_data, '含未遮蔽个人信息')]
        super().__init__(ExportLog, name='导出记录', category='审计', endpoint='export_log',
                         url='/admin/export_log', **kwargs)

    def get_query(self):
        if not current_user.can('all_projects'):
            return self.model.select().where(self.model.user_id == current_user.id)
        return self.model.select()


class RecycleBinView(PortalAccess, BaseView):
    """回收站: deleted rows of every register; supervisors restore, admins purge."""

    def is_accessible(self):
        return current_user.is_authenticated and current_user.can('restore')

    def _models(self):
        return {m._meta.table_name: m for m in all_registers()}

    def _deleted(self, model):
        query = model.select().where(model.deleted_at.is_null(False))
        ids = current_user.project_ids
        if ids is not None:
            if model._meta.table_name == 'project':
                query = query.where(model.id.in_(ids or [0]))
            elif 'project' in model._meta.fields:
                query = query.where(model.project.in_(ids or [0]))
            else:
                return query.where(model.deleted_by == current_user.id)
        return query

    @expose('/')
    def index(self):
        groups = []
        for table, model in self._models().items():
            rows = list(self._deleted(model).order_by(model.deleted_at.desc()).limit(200))
            if rows:
                groups.append((table, getattr(model._meta, 'verbose_name', table), rows))
        users = {u.id: u.display_name for u in User.select(User.id, User.display_name)}
        return self.render('register/recycle.html', groups=groups, users=users)

    def _row(self, table, row_id):
        model = self._models().get(table)
        if model is None:
            abort(404)
        row = self._deleted(model).where(model.id == row_id).first()
        if row is None:
            abort(404)
        return row

    @expose('/restore/<table>/<int:row_id>', methods=('POST',))
    def restore(self, table, row_id):
        row = self._row(table, row_id)
        problems = deleted_parents(row)
        if problems:
            for message in problems:
                flash(message, 'error')
            return redirect(url_for('.index'))
        try:
            row.restore_logged(current_user._get_current_object())
        except RuleError as exc:           # e.g. a definition whose name was taken meanwhile
            for _, message in exc.problems:
                flash(message, 'error')
            return redirect(url_for('.index'))
        except IntegrityError as exc:      # e.g. a live row has since taken its unique key
            current_app.logger.warning('refused restore of %s %s: %s', table, row_id, exc)
            flash('无法恢复：已有一条相同的有效记录（如相同编号或房号），请先处理那条记录。', 'error')
            return redirect(url_for('.index'))
        flash('已恢复。', 'success')
        return redirect(url_for('.index'))

    @expose('/purge/<table>/<int:row_id>', methods=('POST',))
    def purge(self, table, row_id):
        if not current_user.can('purge'):
            abort(403)
        row = self._row(table, row_id)
        binned = binned_references(row)
        if binned:
            flash('该记录仍被回收站中的记录引用（%s），不能彻底删除。请先彻底删除那些记录。' %
                  '、'.join('%s %d 条' % r for r in binned), 'error')
            return redirect(url_for('.index'))
        try:
            row.purge_logged(current_user._get_current_object())
            from views.uploads import discard, stored_names
            discard(stored_names(row))
            flash('已彻底删除；其变更记录仍保留。', 'success')
        except RuleError as exc:
            for _, message in exc.problems:
                flash(message, 'error')
        except IntegrityError as exc:     # a reference the checks above did not know of
            current_app.logger.warning('refused purge of %s %s: %s', table, row_id, exc)
            flash('该记录仍被其他记录引用，不能彻底删除。', 'error')
        return redirect(url_for('.index'))


def _foreign_keys(model):
    return [(n, f) for n, f in model._meta.fields.items()
            if isinstance(f, ForeignKeyField) and n not in Register.AUDIT_FIELDS]


def deleted_parents(row):
    """Messages for rows this one points at that are themselves in the recycle bin: restoring
    it alone would bring back a row pointing at a deleted one."""
    found = []
    for name, fld in _foreign_keys(type(row)):
        target, value = fld.rel_model, row.__data__.get(name)
        if value is None or 'deleted_at' not in target._meta.fields:
            continue
        parent = target.select(target.deleted_at).where(target._meta.primary_key == value).first()
        if parent is not None and parent.deleted_at is not None:
            found.append('「%s」所指的%s也在回收站中，请先恢复它。' % (
                fld.verbose_name or name, getattr(target._meta, 'verbose_name', target._meta.table_name)))
    return found


def binned_references(row):
    """(register name, count) of rows in the recycle bin that still point at `row` (the live
    ones are refused by `purge_logged` itself)."""
    found = []
    for backref in row._meta.backrefs:
        model = backref.model
        if backref.name in Register.AUDIT_FIELDS or 'deleted_at' not in model._meta.fields:
            continue
        count = model.select().where((backref == row.get_id()) &
                                     model.deleted_at.is_null(False)).count()
        if count:
            found.append((getattr(model._meta, 'verbose_name', model._meta.table_name), count))
    return found


class UserForm(FlaskForm):
    username = StringField('用户名', validators=[
        DataRequired(message='请输入用户名。'), Length(max=64),
        Regexp(r'^[A-Za-z0-9_.-]+$', message='用户名只能包含字母、数字、下划线、点和横线。')])
    display_name = StringField('姓名', validators=[DataRequired(message='请输入姓名。'),
                                                 Length(max=64)])
    email = StringField('电子邮箱', validators=[Optional(), Length(max=254), Regexp(
        r'^[^@\s]+@[^@\s]+\.[^@\s]+$', message='电子邮箱格式不正确，如 wang@example.com。')],
        description='晨报、重大事项提醒和交房日报发到这里；可留空。')
    role = SelectField('角色', choices=list(ROLE_LABELS.items()))
    projects = SelectMultipleField('负责项目', coerce=int)
    active = BooleanField('启用', default=True)
    password = PasswordField('新密码（留空不修改）', validators=[Optional()])


class UserAdminView(PortalAccess, BaseView):
    """用户管理 (admins only): create users, roles, projects, disable, reset passwords."""

    def is_accessible(self):
        return current_user.is_authenticated and current_user.can('manage_users')

    @expose('/')
    def index(self):
        from models.master import Project, UserProject
        names = {p.id: p.name for p in Project.select(Project.id, Project.name)}
        links = {}
        for link in UserProject.select():
            links.setdefault(link.user_id, []).append(names.get(link.project_id, '?'))
        users = list(User.select().order_by(User.username))
        return self.render('users/list.html', users=users, links=links, roles=ROLE_LABELS)

    def _form(self, user=None):
        from models.master import Project, UserProject
        form = UserForm(obj=user) if request.method == 'GET' else UserForm()
        form.projects.choices = [(p.id, p.name) for p in Project.live().order_by(Project.code)]
        if user is None:
            form.password.label.text = '初始密码'      # a new user has no password to change yet
        if request.method == 'GET' and user is not None:
            form.projects.data = [l.project_id for l in
                                  UserProject.select().where(UserProject.user == user.id)]
        return form

    @expose('/new', methods=('GET', 'POST'))
    def create(self):
        return self._edit(None)

    @expose('/<int:user_id>', methods=('GET', 'POST'))
    def edit(self, user_id):
        user = User.get_or_none(User.id == user_id)
        if user is None:
            abort(404)
        return self._edit(user)

    def _edit(self, user):
        from models.base import log_change, write_tx
        from models.master import UserProject
        from views.account import _public, password_problems, set_password
        from views.auth import hash_password, new_session_token
        form = self._form(user)
        if request.method == 'POST' and form.validate():
            problems = self._problems(form, user)
            if not problems:
                actor = current_user._get_current_object()
                password = form.password.data or ''
                project_ids = sorted(set(form.projects.data or []))
                with write_tx():
                    creating = user is None
                    before = None if creating else dict(_public(user), projects=sorted(
                        l.project_id for l in UserProject.select().where(UserProject.user == user.id)))
                    if creating:
                        # Created users must change the password an admin gave them.
                        user = User(password_hash=hash_password(password),
                                    must_change_password=True, session_token=new_session_token(),
                                    created_at=now())
                    was_active = user.active
                    user.username = form.username.data.strip()
                    user.display_name = form.display_name.data.strip()
                    user.email = (form.email.data or '').strip() or None
                    user.role = form.role.data
                    user.active = form.active.data
                    if not creating and was_active and not user.active:
                        user.session_token = new_session_token()    # a disabled user is out now
                    user.save()
                    UserProject.delete().where(UserProject.user == user.id).execute()
                    for pid in project_ids:
                        UserProject.create(user=user.id, project=pid)
                    after = dict(_public(user), projects=project_ids)
                    if before != after:
                        log_change('app_user', user.id, 'create' if creating else 'update', before,
                                   after, actor)
                    if password and not creating:
                        # A reset password is the admin's: the user changes it at next login,
                        # and every session of theirs ends now.
                        set_password(user, password, actor, must_change=True)
                flash('用户「%s」已保存。' % user.username, 'success')
                return redirect(url_for('.index'))
            for name, message in problems:
                form[name].errors = list(form[name].errors) + [message]
        return self.render('users/edit.html', form=form, user=user)

    @staticmethod
    def _problems(form, user):
        """(field, message) for every reason the form cannot be saved."""
        from views.account import password_problems
        found = []
        username = form.username.data.strip()
        clash = User.select().where(User.username == username)
        if user is not None:
            clash = clash.where(User.id != user.id)
        if clash.exists():
            found.append(('username', '该用户名已存在。'))
        password = form.password.data or ''
        if password or user is None:
            found += [('password', m) for m in password_problems(password, username)]
        if form.role.data in ('clerk', 'supervisor') and not form.projects.data:
            found.append(('projects', '客服专员和客服经理须至少负责一个项目。'))
        if user is not None and user.id == current_user.id:
            # An admin cannot lock themselves out (and leave nobody to manage users).
            if not form.active.data:
                found.append(('active', '不能停用自己的账号。'))
            if form.role.data != 'admin':
                found.append(('role', '不能取消自己的系统管理员角色。'))
        return found


def discover_view_modules():
    """Import views/<stage>.py modules: their RegisterView subclasses and blueprints."""
    import views
    found = []
    for info in pkgutil.iter_modules(views.__path__):
        if info.name in ('base', 'registers'):
            continue
        found.append(importlib.import_module('views.%s' % info.name))
    return found


def _custom_views():
    found = {}

    def walk(cls):
        for sub in cls.__subclasses__():
            if getattr(sub, 'model_class', None) is not None:
                found[sub.model_class] = sub
            walk(sub)
    walk(RegisterView)
    return found


CATEGORY_ORDER = ('基础数据', '风险控制', '交付前', '交付', '交付后', '业主沟通')


def _add_portal_translations(path):
    """Chinese for the few Flask-Admin strings its catalogue lacks ("Failed to create record.").

    Flask-Admin adds `Admin(translations_path=…)` only while one of its views is current, and
    Flask-Babel caches the first catalogue it builds per locale, so the portal's catalogue is made
    part of Flask-Admin's domain for good."""
    from flask_admin import babel as admin_babel
    domain = admin_babel.domain
    base = type(domain)
    if getattr(base, 'portal_path', None) == path:
        return

    class PortalDomain(base):
        portal_path = path

        @property
        def translation_directories(self):
            # Catalogues merged later win: the portal's wording over Flask-Admin's.
            return [d for d in super().translation_directories if d != path] + [path]

    domain.__class__ = PortalDomain
    domain.cache.clear()


def build_admin(app):
    from views.security import csp_nonce
    modules = discover_view_modules()
    app.add_template_global(changes.readable, 'readable_changes')
    admin = Admin(app, name='客服台账', url='/admin', index_view=HomeIndexView(url='/admin'),
                  theme=Bootstrap4Theme(base_template='portal_master.html', fluid=True),
                  csp_nonce_generator=csp_nonce)
    _add_portal_translations(os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'translations'))
    custom = _custom_views()
    registers = sorted(all_registers(), key=lambda m: (
        CATEGORY_ORDER.index(getattr(m._meta, 'stage', '基础数据'))
        if getattr(m._meta, 'stage', None) in CATEGORY_ORDER else 99))
    for model in registers:
        view_class = custom.get(model, RegisterView)
        admin.add_view(view_class(model))
    admin.add_view(ChangeLogView())
    admin.add_view(ExportLogView())
    admin.add_view(RecycleBinView(name='回收站', category='审计', endpoint='recycle',
                                  url='/admin/recycle'))
    admin.add_view(UserAdminView(name='用户管理', category='系统', endpoint='users',
                                 url='/admin/users'))
    for module in modules:
        for extra in getattr(module, 'ADMIN_LINKS', ()):
            admin.add_link(extra)
    for module in modules:
        bp = getattr(module, 'bp', None)
        if bp is not None and bp.name not in app.blueprints:
            app.register_blueprint(bp)
    admin.add_link(MenuLink(name='修改密码', url='/account/password', category='账户'))
    admin.add_link(MenuLink(name='退出登录', url='/logout', category='账户'))
    return admin
