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

from views.params import INT_MAX, to_id, to_int
from views.uploads import UploadField

from models.base import AttachmentField, Register, RuleError, StaleError
from rules.master import MASKS

# Which power each Flask-Admin endpoint needs. Anything not named here needs 'list'.
ENDPOINT_POWER = {
    'create_view': 'create', 'edit_view': 'edit', 'delete_view': 'delete',
    'ajax_update': 'edit', 'export': 'export', 'import_view': 'import',
    'import_template': 'list', 'details_view': 'view', 'history_view': 'history',
    'reopen_view': 'edit',
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
        pk = to_id(pk)
        if pk is None:
            return None
        return self._query().where(self.model._meta.primary_key == pk).first()

    def get_list(self, term, offset=0, limit=20):
        query = self._query()
        project = request.args.get('project')
        if to_id(project) and 'project' in self.model._meta.fields:
            query = query.where(self.model.project == to_id(project))
        from models import search as search_index
        query = search_index.picker_search(query, self.model, self._cached_fields, term or '')
        offset = min(max(offset or 0, 0), INT_MAX // 2)    # PostgreSQL refuses a negative one
        return search_index.natural_page(query, self._cached_fields, offset,
                                         min(max(limit or 20, 1), 100))


class HouseholdFilter(pf.BasePeeweeFilter):
    """List filter of a register about households: 房号/地址 (as people write it, rules.address)
    or 业主姓名/电话 (a fragment), through the list search's own conditions (models.search)."""
    LABELS = {'address': ('房号/地址', '是（如 3栋1单元1602）'), 'owner': ('业主姓名/电话', '包含')}
    takes_text = True

    def __init__(self, model, kind):
        self.kind = kind
        super().__init__(model._meta.primary_key, self.LABELS[kind][0])

    def apply(self, query, value):
        from models import search as search_index
        return query.where(search_index.household_filter(self.column.model, self.kind, value))

    def operation(self):
        return self.LABELS[self.kind][1]


def _fmt_date(view, value, name=None):
    return value.strftime('%Y-%m-%d') if value else ''


def _fmt_datetime(view, value, name=None):
    return value.strftime('%Y-%m-%d %H:%M') if value else ''


def _fmt_bool(view, value, name=None):
    return '是' if value else '否'


def decimal_text(value, fld=None):
    """Amounts and areas as people read them: 1,500,000.00 (the field's decimal places)."""
    if value is None:
        return ''
    places = getattr(fld, 'decimal_places', None)
    if places is not None:
        value = decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-places))
    return format(value, ',f')


def _fmt_decimal(view, value, name=None):
    model = getattr(view, 'model', None)
    return decimal_text(value, model._meta.fields.get(name) if model is not None and name else None)


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


class SafeListArgs:
    """The arguments of every list (registers and logs), made safe once for the list, its
    export and its provenance line: a sort on a column that cannot be sorted is no sort, a page
    is one a database can still address, and a filter value its column cannot hold (beyond a
    64-bit integer, text on a number or a key, an infinite number) is dropped with a message —
    PostgreSQL refuses such comparisons where SQLite finds nothing."""

    def _get_list_extra_args(self):
        args = super()._get_list_extra_args()
        column = self._get_column_by_idx(args.sort)
        if column is None or column[0] not in self._sortable_columns:
            args.sort = None
        size = self.get_safe_page_size(args.page_size) or 1
        args.page = min(max(args.page or 0, 0), INT_MAX // (4 * size))
        return args

    def _get_list_filter_args(self):
        found = super()._get_list_filter_args()
        kept = []
        for index, name, value in found or ():
            if filter_value_fits(self._filters[index], value):
                kept.append((index, name, value))
            else:
                flash('筛选条件「%s」的值「%s」无效，已忽略。' % (name, value), 'warning')
        return kept if found is not None else None


def filter_value_fits(flt, value):
    """Whether a list filter's value can be compared with its column on every database."""
    try:
        cleaned = flt.clean(value)
    except (ArithmeticError, TypeError, ValueError):
        return False
    numeric = isinstance(flt.column, (IntegerField, ForeignKeyField)) and \
        not getattr(flt, 'takes_text', False)     # e.g. HouseholdFilter: an address on the id
    for item in cleaned if isinstance(cleaned, (list, tuple)) else [cleaned]:
        if numeric and to_int(item) is None:
            return False
        if isinstance(item, float) and not abs(item) < float('inf'):
            return False
    return True


class RegisterView(PortalAccess, SafeListArgs, ModelView):
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
        self._derive(model)
        kwargs.setdefault('name', self.name_cn)
        kwargs.setdefault('category', getattr(meta, 'stage', None))
        kwargs.setdefault('endpoint', meta.table_name)
        kwargs.setdefault('url', '/admin/%s' % meta.table_name)
        super().__init__(model, **kwargs)

    def rederive(self):
        """Derive the view again from its model's declaration, which changed at run time (the
        department's own fields and registers, models/custom.py): forms, list, filters, search."""
        self._derive(self.model)
        self.name = self.name_cn
        self._search_fields = []        # init_search appends to it
        self._refresh_cache()

    def _derive(self, model):
        meta = model._meta
        self.name_cn = getattr(meta, 'verbose_name', meta.table_name)
        # Fields an administrator removed keep their data (the export has them), nothing else.
        hidden = set(getattr(meta, 'custom_hidden', ()))
        # Everything below is derived from the model's declaration (STYLE.md: one declaration).
        list_columns = tuple(getattr(meta, 'list_columns', ())) or tuple(
            n for n in meta.sorted_field_names if n not in ('id',) + Register.AUDIT_FIELDS)
        declared = getattr(type(self), 'column_list', None)
        declared = declared if isinstance(declared, (list, tuple)) else None
        self.column_list = [c for c in (declared or list_columns) if c not in hidden]
        self.column_labels = dict(self._labels(model), **_declared(self, 'column_labels'))
        self.column_descriptions = {n: f.help_text for n, f in meta.fields.items() if f.help_text}
        self.column_sortable_list = [c for c in self.column_list if c in meta.fields]
        self.column_searchable_list = [n for n in getattr(meta, 'search', ()) if n not in hidden]
        self.column_default_sort = list(getattr(meta, 'default_sort', ())) or [('id', True)]
        self.column_filters = self._derive_filters(model)
        readonly = set(getattr(meta, 'readonly', ()))
        # Inherited fields sort first; the project leads, remarks close the form.
        names = [n for n in meta.sorted_field_names
                 if n not in ('id', 'remarks') + Register.AUDIT_FIELDS and n not in readonly
                 and n not in hidden]
        self.form_columns = names + (['remarks'] if 'remarks' in meta.fields else [])
        self.form_ajax_refs = self._derive_ajax_refs(model)
        self.column_formatters = dict(self._fk_formatters(model),
                                      **_declared(self, 'column_formatters'))
        from views.excel import register_columns
        self.column_export_list = register_columns(model, self.column_list)   # the whole register
        self.form_args = dict(self._form_args(model), **_declared(self, 'form_args'))
        self.form_widget_args = dict({n: {'data-placeholder': '输入楼栋、房号或名称查找…'}
                                      for n in self.form_ajax_refs},
                                     **_declared(self, 'form_widget_args'))
        self.column_details_list = [n for n in meta.sorted_field_names
                                    if n not in ('deleted_at', 'deleted_by') and n not in hidden] + \
            [c for c in self.column_list if c not in meta.fields]
        self.attachment_fields = [n for n, f in meta.fields.items() if isinstance(f, AttachmentField)]
        from views.custom import form_overrides
        self.form_overrides = dict({n: UploadField for n in self.attachment_fields},
                                   **form_overrides(model), **_declared(self, 'form_overrides'))

    def scaffold_form(self):
        """The form in the declared order (`form_columns`: the project first, 备注 last), not in
        the order wtf-peewee happens to build its fields."""
        from wtforms.fields.core import UnboundField
        form_class = super().scaffold_form()
        rank = {name: i for i, name in enumerate(self.form_columns or ())}
        unbound = [(name, value) for name, value in vars(form_class).items()
                   if isinstance(value, UnboundField)]
        if unbound:
            first = min(value.creation_counter for _, value in unbound)
            ordered = sorted(unbound, key=lambda item: (rank.get(item[0], len(rank)),
                                                         item[1].creation_counter))
            for offset, (_, value) in enumerate(ordered):
                value.creation_counter = first + offset
        return form_class

    def get_list_row_actions(self):
        from views.listing import PageRowAction
        return [PageRowAction(a) if type(a) in PageRowAction.SAME_FOR_EVERY_ROW else a
                for a in super().get_list_row_actions()]

    def search_placeholder(self):
        names = [self.column_labels.get(n, n) for n in self.column_searchable_list]
        from models import search as search_index
        if search_index.is_household_register(self.model):
            names += ['房号（如 3-1-1602）', '业主姓名或电话']
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
            elif getattr(fld, 'options', None) is not None and not fld.choices:   # 多选
                found += [pf.FilterLike(fld, label, options=[(o, o) for o in fld.options]),
                          pf.FilterEmpty(fld, label)]
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
        from models import search as search_index
        custom = [f for f in found if getattr(f.column, 'custom', None)]
        found = [f for f in found if f not in custom]
        if search_index.is_household_register(model):    # last: the others keep their numbers
            found += [HouseholdFilter(model, 'address'), HouseholdFilter(model, 'owner')]
        return found + custom     # the department's own fields after every declared filter

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
        groups = super()._get_filter_groups()
        hidden = {str(self.model._meta.fields[n].verbose_name)
                  for n in getattr(self.model._meta, 'custom_hidden', ())}
        if hidden and groups:    # a removed field keeps its filter's number, not its menu entry
            groups = type(groups)((k, v) for k, v in groups.items() if str(k) not in hidden)
        return groups

    # ------------------------------------------------------------------ powers
    def is_accessible(self):
        return (current_user.is_authenticated and current_user.is_active
                and current_user.can(self.power_for('list')))

    def is_visible(self):
        return not getattr(self.model._meta, 'retired', False)

    def _handle_view(self, name, **kwargs):
        if getattr(self.model._meta, 'retired', False):    # a custom register deleted (or of
            abort(404)                                      # another database): not here
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        power = self.power_for(ENDPOINT_POWER.get(name, 'list'))
        if not current_user.can(power):
            abort(403)
        if request.method == 'POST' and name in ('action_view', 'import_view') and \
                not current_user.can('edit'):
            abort(403)
        if name == 'edit_view':
            return self._refuse_locked()
        return None

    def power_for(self, action):
        """The power an action needs on this register: a register may ask more (Meta.create_power,
        Meta.edit_power, Meta.delete_power), e.g. only admins create projects."""
        if action in ('create', 'edit', 'delete'):
            return getattr(self.model._meta, '%s_power' % action, None) or action
        if action in ('list', 'view', 'history'):   # e.g. definitions: admins and auditors only
            return getattr(self.model._meta, 'list_power', None) or action
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
        """Import creates and changes rows: it is offered to whom the form would let do either."""
        return current_user.is_authenticated and current_user.can('import') and (
            current_user.can(self.power_for('create')) or current_user.can(self.power_for('edit')))

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
        clean = [to_id(value) for value in ids if to_id(value) is not None]
        if not clean:
            return []
        return list(self.get_query().where(self.model._meta.primary_key.in_(clean)))

    def get_one(self, id):
        pk = to_id(id)
        if pk is None:
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
        self._drop_unpowered(form)

    def _drop_unpowered(self, form):
        """Fields only a power may set (Meta.field_powers) are not offered to others; the model
        refuses them on every other path (Register.problems)."""
        for name, power in getattr(self.model._meta, 'field_powers', {}).items():
            if not current_user.can(power) and name in form:
                del form[name]

    def validate_form(self, form):
        ok = super().validate_form(form)
        if not ok:
            _explain_unparsed(form)
        return _refuse_unseen_links(self.model, form) and ok

    def create_form(self, obj=None):
        form = super().create_form(obj)
        self._restrict_choices(form)
        self._drop_unpowered(form)
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
        from views import uploads
        replaced = uploads.stored_names(row)
        try:
            self._populate(form, row)
            self.before_save(form, row)
            row.save_logged(current_user._get_current_object(), expected_version)
            uploads.discard(set(replaced) - set(uploads.stored_names(row)))
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
            from views.uploads import is_image
            if is_image(stored):     # a photo: its thumbnail, opening the full picture
                return Markup('<a href="%s" title="查看原图"><img src="%s" alt="%s" '
                              'class="attachment-thumb" loading="lazy"></a>') % (
                    url, url, self.column_labels.get(name, name))
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
        from views import excel, export_jobs
        if export_jobs.too_big(self):       # a big export is a job: no web thread held for it
            return export_jobs.submit(self)
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

    # ------------------------------------------------------------------ closed rows (Meta.workflow)
    def _row_of_request(self):
        try:
            return self.get_one(request.args.get('id'))
        except Exception:     # get_one answers 404 for a bad or foreign id
            return None

    def _refuse_locked(self):
        """The edit page of a closed row, for someone who may not change it: the details, saying why."""
        flow = self.model.workflow()
        if flow is None:
            return None
        row = self._row_of_request()
        if row is None or not row.locked_for(current_user):
            return None
        flash(flow.locked_message(self.name_cn, row.__data__.get(flow.field)), 'error')
        return redirect(url_for('.details_view', id=row.get_id()))

    def can_reopen(self, row):
        flow = self.model.workflow()
        return flow is not None and row.is_closed() and current_user.can(flow.unlock_power)

    @expose('/reopen/', methods=('GET', 'POST'))
    def reopen_view(self):
        """A supervisor reopens a closed row with a reason (kept in the change log)."""
        row = self.get_one(request.args.get('id'))
        flow = self.model.workflow()
        if flow is None or not current_user.can(flow.unlock_power):
            abort(403)
        details = url_for('.details_view', id=row.get_id())
        if not row.is_closed():
            flash('该记录未关闭，无需重新打开。', 'warning')
            return redirect(details)
        form = FlaskForm()
        errors = []
        if request.method == 'POST' and form.validate_on_submit():
            try:
                row.reopen_logged(current_user._get_current_object(), request.form.get('reason'),
                                  request.form.get('row_version') or None)
            except RuleError as exc:
                errors = [m for _, m in exc.problems]
            else:
                flash('已重新打开，状态改为「%s」；原因已记入变更记录。' % flow.label(flow.reopen_to),
                      'success')
                return redirect(details)
        return self.render('register/reopen.html', row=row, form=form, errors=errors,
                           status=flow.label(row.__data__.get(flow.field)),
                           reopen_to=flow.label(flow.reopen_to), details_url=details,
                           reason=request.form.get('reason', ''))


def _guard_fk_lookup():
    """wtf-peewee looks a picked row up with whatever the browser sent ('', 'abc', a 20-digit
    number); PostgreSQL refuses such an id with an error (a 500) where SQLite finds nothing.
    Anything that is not a plausible id is "not a valid choice" instead."""
    from wtfpeewee.fields import SelectQueryField
    from wtforms.validators import ValidationError
    original = SelectQueryField.get_model
    if getattr(original, 'guarded', False):
        return

    def get_model(self, pk):
        pk = to_int(pk, 0, 999999999)
        return None if pk is None else original(self, pk)
    get_model.guarded = True
    SelectQueryField.get_model = get_model
    checked = SelectQueryField.pre_validate

    def pre_validate(self, form):     # its check of a value it did not look up goes as far
        data = self.data
        if data is not None and not isinstance(data, self.model) and \
                to_int(data, 0, 999999999) is None:
            raise ValidationError(self.gettext('Not a valid choice.'))
        return checked(self, form)
    SelectQueryField.pre_validate = pre_validate


_guard_fk_lookup()


def _refuse_unseen_links(model, form):
    """A link (unit, round, complaint …) whose picked row the user may not see is refused on its
    field: the pickers look rows up through the user's scope, and a row they cannot find would
    otherwise be saved as an empty link without a word. False when one was refused."""
    ok = True
    for field in form:
        fld = model._meta.fields.get(field.name)
        if not isinstance(fld, ForeignKeyField):
            continue
        sent = [v for v in (getattr(field, 'raw_data', None) or [])
                if isinstance(v, str) and v.strip() not in ('', '__None')]
        if sent and field.data is None:
            field.errors = ['所选的%s不存在或不属于您负责的项目，不能保存（原有内容未改动），请重新选择。'
                            % (fld.verbose_name or field.name)]
            ok = False
    return ok


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
