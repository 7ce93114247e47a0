"""RegisterView: the one view every register list, form, export and import goes through.

Scoping and powers are applied here once, at every entry point:
- the list, counts, details/edit/delete (`get_one` goes through the scoped `get_query`, so a row
  of another project is 404), bulk actions (`scoped_rows`), ajax lookups and updates, exports
  and imports;
- `_handle_view` refuses every changing request of a role that lacks the power (403), before
  Flask-Admin looks at it;
- saves go through the model's `save_logged` (rules, version guard, change log).
"""
import datetime
import decimal

from flask import abort, current_app, flash, has_request_context, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.peewee import ModelView
from flask_admin.contrib.peewee import filters as pf
from flask_admin.contrib.peewee.ajax import QueryAjaxModelLoader
from flask_login import current_user
from flask_wtf import FlaskForm
from jinja2 import pass_context
from markupsafe import Markup, escape
from peewee import (BooleanField, DateField, DateTimeField, DecimalField, FloatField,
                    ForeignKeyField, IntegerField)
from wtforms import HiddenField

from views.uploads import UploadField

from models.base import AttachmentField, Register, RuleError, StaleError
from rules.master import MASKS

# Which power each Flask-Admin endpoint needs. Anything not named here needs 'list'.
ENDPOINT_POWER = {
    'create_view': 'create', 'edit_view': 'edit', 'delete_view': 'delete',
    'ajax_update': 'edit', 'export': 'export', 'import_view': 'import',
    'import_template': 'list', 'details_view': 'view', 'history_view': 'history',
}


def badge(text, level='secondary'):
    """A coloured label for a status or a flag in a list (Bootstrap 4 badge)."""
    if text in (None, ''):
        return ''
    return Markup('<span class="badge badge-%s">%s</span>') % (level, text)


def scope_query(model, query, user):
    """Limit a query of `model` to what `user` may see (REGISTERS.md §8)."""
    if 'deleted_at' in model._meta.fields:
        query = query.where(model.deleted_at.is_null())
    ids = user.project_ids if user and user.is_authenticated else []
    if ids is None:
        return query
    if model._meta.table_name == 'project':
        return query.where(model.id.in_(ids or [0]))
    if 'project' in model._meta.fields:
        return query.where(model.project.in_(ids or [0]))
    return query


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Pick a row by typing (unit by 楼栋/房号 …) among the rows the user may see only."""

    def __init__(self, name, model, fields, project_field=None):
        super().__init__(name, model, fields=fields, page_size=20)

    def _query(self):
        return scope_query(self.model, self.model.select(), current_user)

    def get_one(self, pk):
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        return self._query().where(self.model._meta.primary_key == pk).first()

    def get_list(self, term, offset=0, limit=20):
        query = self._query()
        project = request.args.get('project')
        if project and project.isdigit() and 'project' in self.model._meta.fields:
            query = query.where(self.model.project == int(project))
        for word in (term or '').replace('-', ' ').split():
            cond = None
            for fld in self._cached_fields:
                clause = fld.contains(word)
                cond = clause if cond is None else (cond | clause)
            query = query.where(cond)
        order = [getattr(self.model, f) for f in self.fields if isinstance(f, str)]
        return list(query.order_by(*order).offset(offset or 0).limit(limit))


def _fmt_date(view, value, name=None):
    return value.strftime('%Y-%m-%d') if value else ''


def _fmt_datetime(view, value, name=None):
    return value.strftime('%Y-%m-%d %H:%M') if value else ''


def _fmt_bool(view, value, name=None):
    return '是' if value else '否'


def _fmt_decimal(view, value, name=None):
    return '' if value is None else format(value, 'f')


TYPE_FORMATTERS = {
    datetime.date: _fmt_date, datetime.datetime: _fmt_datetime, bool: _fmt_bool,
    decimal.Decimal: _fmt_decimal, type(None): lambda view, value, name=None: '',
}


class PortalAccess:
    """Every admin page: the anonymous go to the login page, the logged-in without the power get
    403 (never a silent redirect that looks like success)."""

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for('auth.login', next=request.url))
        abort(403)


class RegisterView(PortalAccess, ModelView):
    """The derived admin view of a register. Subclass it (with `model_class`) to add actions."""
    model_class = None      # set on a subclass to replace the derived view of that model

    form_base_class = FlaskForm
    list_template = 'register/list.html'
    details_template = 'register/details.html'
    edit_template = 'register/edit.html'
    create_template = 'register/create.html'
    can_view_details = True
    can_set_page_size = True
    page_size = 50
    page_size_options = (20, 50, 100, 200)
    export_types = ['xlsx']
    column_display_actions = True
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    action_disallowed_list = ['delete']        # replaced by our soft-delete action
    form_extra_fields = {'row_version': HiddenField()}
    column_details_exclude_list = ('deleted_at', 'deleted_by')
    column_extra_row_actions = None

    def __init__(self, model, **kwargs):
        meta = model._meta
        self.register = model
        self.name_cn = getattr(meta, 'verbose_name', meta.table_name)
        # Everything below is derived from the model's declaration (STYLE.md: one declaration).
        list_columns = tuple(getattr(meta, 'list_columns', ())) or tuple(
            n for n in meta.sorted_field_names if n not in ('id',) + Register.AUDIT_FIELDS)
        self.column_list = getattr(self, 'column_list', None) or list_columns
        self.column_labels = dict(self._labels(model), **_declared(self, 'column_labels'))
        self.column_descriptions = {n: f.help_text for n, f in meta.fields.items() if f.help_text}
        self.column_sortable_list = [c for c in self.column_list if c in meta.fields]
        self.column_searchable_list = list(getattr(meta, 'search', ()))
        self.column_default_sort = list(getattr(meta, 'default_sort', ())) or [('id', True)]
        self.column_filters = self._derive_filters(model)
        readonly = set(getattr(meta, 'readonly', ()))
        # Inherited fields sort first; the project leads, remarks close the form.
        names = [n for n in meta.sorted_field_names
                 if n not in ('id', 'remarks') + Register.AUDIT_FIELDS and n not in readonly]
        self.form_columns = names + (['remarks'] if 'remarks' in meta.fields else [])
        self.form_ajax_refs = self._derive_ajax_refs(model)
        self.column_formatters = dict(self._fk_formatters(model),
                                      **_declared(self, 'column_formatters'))
        self.column_export_list = self.column_list
        self.form_args = dict(self._form_args(model), **_declared(self, 'form_args'))
        self.form_widget_args = dict({n: {'data-placeholder': '输入楼栋、房号或名称查找…'}
                                      for n in self.form_ajax_refs},
                                     **_declared(self, 'form_widget_args'))
        self.column_details_list = [n for n in meta.sorted_field_names
                                    if n not in ('deleted_at', 'deleted_by')] + \
            [c for c in self.column_list if c not in meta.fields]
        self.attachment_fields = [n for n, f in meta.fields.items() if isinstance(f, AttachmentField)]
        self.form_overrides = dict({n: UploadField for n in self.attachment_fields},
                                   **_declared(self, 'form_overrides'))
        kwargs.setdefault('name', self.name_cn)
        kwargs.setdefault('category', getattr(meta, 'stage', None))
        kwargs.setdefault('endpoint', meta.table_name)
        kwargs.setdefault('url', '/admin/%s' % meta.table_name)
        super().__init__(model, **kwargs)

    def get_list_row_actions(self):
        from views.listing import PageRowAction
        return [PageRowAction(a) if type(a) in PageRowAction.SAME_FOR_EVERY_ROW else a
                for a in super().get_list_row_actions()]

    def search_placeholder(self):
        names = [self.column_labels.get(n, n) for n in self.column_searchable_list]
        return ('搜索' + '、'.join(names)) if names else None

    # ------------------------------------------------------------------ derivation
    @staticmethod
    def _labels(model):
        labels = {n: (f.verbose_name or n) for n, f in model._meta.fields.items()}
        labels['id'] = '编号'
        return labels

    @staticmethod
    def _form_args(model):
        args = {}
        for name, fld in model._meta.fields.items():
            entry = {'label': fld.verbose_name or name}
            if fld.help_text:
                entry['description'] = fld.help_text
            args[name] = entry
        return args

    @staticmethod
    def _fk_formatters(model):
        def fk(view, context, row, name):
            target = getattr(row, name)
            return '' if target is None else str(target)
        return {n: fk for n, f in model._meta.fields.items()
                if isinstance(f, ForeignKeyField) and n not in Register.AUDIT_FIELDS}

    @staticmethod
    def _project_options():
        from models.master import Project
        if not has_request_context() or not current_user.is_authenticated:
            return []       # options are the user's projects: computed per request
        query = scope_query(Project, Project.select(Project.id, Project.name), current_user)
        return [(p.id, p.name) for p in query.order_by(Project.code)]

    def _derive_filters(self, model):
        found = []
        for name in getattr(model._meta, 'filters', ()):
            fld = model._meta.fields[name]
            label = fld.verbose_name or name
            if isinstance(fld, ForeignKeyField):
                target = fld.rel_model
                if target._meta.table_name == 'project':
                    found.append(pf.FilterEqual(fld, label, options=self._project_options))
                else:
                    found.append(pf.FilterEqual(fld, label, options=self._fk_options(target)))
                found.append(pf.FilterEmpty(fld, label))
            elif fld.choices:
                opts = [(c[0], c[1]) for c in fld.choices]
                found += [pf.FilterEqual(fld, label, options=opts),
                          pf.FilterNotEqual(fld, label, options=opts),
                          pf.FilterEmpty(fld, label)]
            elif isinstance(fld, BooleanField):
                found.append(pf.BooleanEqualFilter(fld, label))
            elif isinstance(fld, DateTimeField):
                found += [pf.DateTimeBetweenFilter(fld, label), pf.FilterEmpty(fld, label)]
            elif isinstance(fld, DateField):
                found += [pf.DateBetweenFilter(fld, label), pf.DateGreaterFilter(fld, label),
                          pf.DateSmallerFilter(fld, label), pf.FilterEmpty(fld, label)]
            elif isinstance(fld, IntegerField):
                found += [pf.IntEqualFilter(fld, label), pf.IntGreaterFilter(fld, label),
                          pf.IntSmallerFilter(fld, label)]
            elif isinstance(fld, (DecimalField, FloatField)):
                found += [pf.FloatGreaterFilter(fld, label), pf.FloatSmallerFilter(fld, label)]
            else:
                found += [pf.FilterLike(fld, label), pf.FilterEqual(fld, label),
                          pf.FilterEmpty(fld, label)]
        return found

    @staticmethod
    def _fk_options(target):
        def options():
            if not has_request_context() or not current_user.is_authenticated:
                return []
            query = scope_query(target, target.select(), current_user).limit(500)
            return [(r.get_id(), str(r)) for r in query]
        return options

    @staticmethod
    def lookup_fields(target):
        return tuple(getattr(target._meta, 'lookup', None) or getattr(target._meta, 'search', ())
                     or ('id',))

    def _derive_ajax_refs(self, model):
        refs = {}
        for name, fld in model._meta.fields.items():
            if not isinstance(fld, ForeignKeyField) or name in Register.AUDIT_FIELDS:
                continue
            target = fld.rel_model
            # Projects, departments and contractors are few: a dropdown. Everything else
            # (units, owners, contracts, rows of other registers) grows without bound: typed.
            if target._meta.table_name in ('project', 'department', 'contractor', 'app_user'):
                continue
            refs[name] = ScopedAjaxLoader(name, target, fields=self.lookup_fields(target))
        return refs

    def _get_filter_groups(self):
        # Filter dropdowns (projects, contractors) depend on who asks: rebuilt per request.
        self._refresh_filters_cache()
        return super()._get_filter_groups()

    # ------------------------------------------------------------------ powers
    def is_accessible(self):
        return (current_user.is_authenticated and current_user.is_active
                and current_user.can('list'))

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        power = self.power_for(ENDPOINT_POWER.get(name, 'list'))
        if not current_user.can(power):
            abort(403)
        if request.method == 'POST' and name in ('action_view', 'import_view') and \
                not current_user.can('edit'):
            abort(403)
        return None

    def power_for(self, action):
        """The power an action needs on this register: a register may ask more (Meta.create_power,
        Meta.edit_power, Meta.delete_power), e.g. only admins create projects."""
        if action in ('create', 'edit', 'delete'):
            return getattr(self.model._meta, '%s_power' % action, None) or action
        return action

    @property
    def can_create(self):
        return current_user.is_authenticated and current_user.can(self.power_for('create'))

    @property
    def can_edit(self):
        return current_user.is_authenticated and current_user.can(self.power_for('edit'))

    @property
    def can_delete(self):
        return current_user.is_authenticated and current_user.can(self.power_for('delete'))

    @property
    def can_export(self):
        return current_user.is_authenticated and current_user.can('export')

    @property
    def can_import(self):
        return current_user.is_authenticated and current_user.can('import')

    def is_action_allowed(self, name):
        needed = self.power_for(getattr(self, '_action_powers', {}).get(name, 'edit'))
        return current_user.can(needed) and super().is_action_allowed(name)

    # ------------------------------------------------------------------ scoping
    def get_query(self):
        return scope_query(self.model, self.model.select(), current_user)

    def get_count_query(self):
        return self.get_query()

    def scoped_rows(self, ids):
        """The rows of `ids` the user may touch (bulk actions re-select through the scope)."""
        clean = []
        for value in ids:
            try:
                clean.append(int(value))
            except (TypeError, ValueError):
                continue
        if not clean:
            return []
        return list(self.get_query().where(self.model._meta.primary_key.in_(clean)))

    def get_one(self, id):
        try:
            pk = int(id)
        except (TypeError, ValueError):
            abort(404)
        row = self.get_query().where(self.model._meta.primary_key == pk).first()
        if row is None:
            abort(404)
        return row

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        from views import listing
        return listing.get_list(self, page, sort_column, sort_desc, search, filters,
                                execute=execute, page_size=page_size)

    # ------------------------------------------------------------------ forms
    def _restrict_choices(self, form):
        """Dropdown FK fields offer only rows of the user's projects."""
        from models.master import Project
        for name, fld in self.model._meta.fields.items():
            if not isinstance(fld, ForeignKeyField) or name not in form:
                continue
            form_field = form[name]
            if hasattr(form_field, 'query'):
                target = fld.rel_model
                query = scope_query(target, target.select(), current_user)
                if target is Project:
                    query = query.order_by(Project.code)
                form_field.query = query

    def _mask_form(self, form):
        for name, power in getattr(self.model._meta, 'masked', {}).items():
            if not current_user.can(power) and name in form:
                del form[name]

    def validate_form(self, form):
        ok = super().validate_form(form)
        if not ok:
            _explain_unparsed(form)
        return ok

    def create_form(self, obj=None):
        form = super().create_form(obj)
        self._restrict_choices(form)
        if request.method == 'GET' and 'project' in form and not form.project.data:
            ids = current_user.project_ids
            if ids and len(ids) == 1:
                from models.master import Project
                form.project.data = Project.get_or_none(Project.id == ids[0])
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        self._restrict_choices(form)
        self._mask_form(form)
        if request.method == 'GET' and obj is not None:
            form.row_version.data = obj.version
        return form

    def _attach_problems(self, form, problems):
        for field, message in problems:
            if field and field in form and hasattr(form[field], 'errors'):
                errors = form[field].errors
                if isinstance(errors, tuple):
                    form[field].errors = errors = list(errors)
                errors.append(message)
                flash('%s：%s' % (self.column_labels.get(field, field), message), 'error')
            else:
                flash(message, 'error')

    def _populate(self, form, row):
        from views import uploads
        for name in self.attachment_fields:
            if name in form:
                stored = uploads.take_upload(form[name], self.model._meta.fields[name])
                if stored is False:
                    raise RuleError([(name, form[name].errors[-1])])
                delattr_safe = stored or row.__data__.get(name)
                form[name].data = delattr_safe
        form.populate_obj(row)

    def _save(self, form, row, expected_version=None):
        try:
            self._populate(form, row)
            self.before_save(form, row)
            row.save_logged(current_user._get_current_object(), expected_version)
        except StaleError as exc:
            self._attach_problems(form, exc.problems)
            return False
        except RuleError as exc:
            self._attach_problems(form, exc.problems)
            return False
        except Exception as exc:  # database constraints the rules did not foresee
            from peewee import IntegrityError, DataError, OperationalError
            if isinstance(exc, OperationalError) and 'locked' in str(exc):
                flash('系统繁忙，保存未完成，请稍后重试。', 'error')
                return False
            if isinstance(exc, (IntegrityError, DataError)):
                current_app.logger.warning('refused save on %s: %s', self.model._meta.table_name, exc)
                flash('保存失败：数据与已有记录冲突或格式不符（%s）。' % _short(exc), 'error')
                return False
            raise
        self.after_model_change(form, row, expected_version is None)
        return row

    def before_save(self, form, row):
        """A derived view may set values the form does not carry (e.g. the approving user)."""

    def create_model(self, form):
        return self._save(form, self.model())

    def update_model(self, form, model):
        version = form.row_version.data if 'row_version' in form else None
        return bool(self._save(form, model, expected_version=version or None))

    def delete_model(self, model):
        try:
            model.delete_logged(current_user._get_current_object())
        except RuleError as exc:
            for _, message in exc.problems:
                flash(message, 'error')
            return False
        return True

    @action('soft_delete', '删除', '确定要删除选中的记录吗？删除后可由客服经理在回收站恢复。')
    def action_soft_delete(self, ids):
        if not current_user.can(self.power_for('delete')):
            abort(403)
        done = 0
        for row in self.scoped_rows(ids):
            if self.delete_model(row):
                done += 1
        flash('已删除 %d 条记录（可在回收站恢复）。' % done, 'success' if done else 'warning')

    _action_powers = {'soft_delete': 'delete'}

    def ajax_update(self):
        # Single-cell edits from the list: same scope (404), same rules and change log.
        if not current_user.can(self.power_for('edit')):
            abort(403)
        return super().ajax_update()

    # ------------------------------------------------------------------ values shown
    def _masked(self, name, value):
        power = getattr(self.model._meta, 'masked', {}).get(name)
        if power and value and not current_user.can(power):
            return MASKS.get(name, lambda v: '****')(value)
        return value

    @pass_context
    def get_list_value(self, context, model, name):
        value = super().get_list_value(context, model, name)
        return self._masked(name, value)

    @pass_context
    def get_detail_value(self, context, model, name):
        if name in self.attachment_fields:
            stored = model.__data__.get(name)
            if not stored:
                return ''
            url = url_for('uploads.serve', table=self.model._meta.table_name,
                          row_id=model.get_id(), field=name)
            return Markup('<a href="%s">查看附件</a>') % url
        value = super().get_detail_value(context, model, name)
        return self._masked(name, value)

    def get_export_value(self, model, name):
        return self._masked(name, super().get_export_value(model, name))

    def unmasked_fields(self):
        """Personal-data fields this user sees (and exports) unmasked."""
        return [n for n, power in getattr(self.model._meta, 'masked', {}).items()
                if current_user.can(power)]

    # ------------------------------------------------------------------ pages
    def render(self, template, **kwargs):
        kwargs.setdefault('register', self.model)
        kwargs.setdefault('view', self)
        return super().render(template, **kwargs)

    @expose('/export/<export_type>/')
    def export(self, export_type):
        if export_type != 'xlsx':
            abort(404)
        from views import excel
        return excel.export_list(self)

    @expose('/import/', methods=('GET', 'POST'))
    def import_view(self):
        from views import importer
        return importer.import_page(self)

    @expose('/import/template')
    def import_template(self):
        from views import importer
        return importer.template_download(self)

    def history_rows(self, row):
        if not current_user.can('history'):
            return []
        return list(row.history().limit(200))


def _guard_fk_lookup():
    """wtf-peewee looks a picked row up with whatever the browser sent ('', 'abc', a 20-digit
    number); PostgreSQL refuses such an id with an error (a 500) where SQLite finds nothing.
    Anything that is not a plausible id is "not a valid choice" instead."""
    from wtfpeewee.fields import SelectQueryField
    original = SelectQueryField.get_model
    if getattr(original, 'guarded', False):
        return

    def get_model(self, pk):
        text = str(pk).strip() if pk is not None else ''
        if not (text.isdigit() and len(text) <= 9):
            return None
        return original(self, int(text))
    get_model.guarded = True
    SelectQueryField.get_model = get_model


_guard_fk_lookup()


def _explain_unparsed(form):
    """wtf-peewee's required check hides why a typed value was rejected (2024-13-45 becomes
    "required"): say what is wrong with the value instead."""
    from wtforms import fields as wf
    for field in form:
        raw = [v for v in (getattr(field, 'raw_data', None) or []) if isinstance(v, str) and v.strip()]
        if not raw or field.data not in (None, '') or not field.errors:
            continue
        if isinstance(field, (wf.DateField, wf.DateTimeField)):
            hint = '日期格式不正确：「%s」不是有效日期，应为 YYYY-MM-DD（如 2026-03-05）。' % raw[0]
        elif isinstance(field, wf.IntegerField):
            hint = '「%s」不是整数，请填写数字。' % raw[0]
        elif isinstance(field, (wf.DecimalField, wf.FloatField)):
            hint = '「%s」不是有效的数字。' % raw[0]
        else:
            continue
        field.errors = [hint]


def _declared(view, name):
    """A dict a derived view declared on its class (Flask-Admin keeps some as other objects)."""
    value = getattr(type(view), name, None)
    return dict(value) if isinstance(value, dict) else {}


def _short(exc):
    text = str(exc)
    return text if len(text) < 120 else text[:120] + '…'


def escape_text(value):
    return escape(value)
