"""自定义字段与自定义台账 — their admin pages, and following definition changes in this process.

The definitions are registers themselves (models/custom.py), so their lists, forms, change log and
recycle bin are the derived ones; this module adds what is theirs: the register picker, the link
to a new register, the definitions' export and import, and `follow()`, which re-derives the views
of registers whose declaration changed and adds the views of new registers, before every request
and every job.
"""
import json
import threading

from flask import abort, current_app, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectMultipleField

from models import custom
from models.base import RuleError, all_registers
from rules import custom as rules
from views.base import RegisterView

MAX_DEFINITION_BYTES = 2 * 1024 * 1024


# --------------------------------------------------------------------------- form fields

class MultiChoiceFormField(SelectMultipleField):
    """A 多选 field: ticks among the options; stored as the picked options joined by 、."""

    def __init__(self, label=None, validators=None, options=(), **kwargs):
        kwargs.pop('coerce', None)
        kwargs.pop('allow_blank', None)
        super().__init__(label, validators, choices=[(o, o) for o in options], **kwargs)

    def process_data(self, value):
        self.data = rules.split_values(value)

    def pre_validate(self, form):
        # An option removed since keeps a stored value; the model checks new values.
        known = {c[0] for c in self.choices}
        self.choices = list(self.choices) + [(v, v) for v in (self.data or []) if v not in known]

    def populate_obj(self, obj, name):
        setattr(obj, name, rules.join_values(self.data or []))


def form_overrides(model):
    """{field: form field class} the department's own fields need (what wtf-peewee cannot guess)."""
    found = {}
    for name, fld in model._meta.fields.items():
        spec = getattr(fld, 'custom', None)
        if spec and spec['kind'] == '多选':
            found[name] = _multi(spec['options'])
    return found


def _multi(options):
    class Bound(MultiChoiceFormField):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault('options', options)
            super().__init__(*args, **kwargs)
    return Bound


# --------------------------------------------------------------------------- definition views

def _register_name(view, context, row, name):
    return custom.register_label(row.register)


class CustomFieldView(RegisterView):
    """自定义字段 (administrators change, auditors read)."""
    model_class = custom.CustomField
    column_formatters = {'register': _register_name}

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if request.method == 'GET' and 'register' in form and not form.register.data:
            form.register.data = request.args.get('register') or None
        return form

    def after_model_change(self, form, model, is_created):
        follow(current_app)
        if is_created:
            flash('字段「%s」已添加到「%s」：表单、列表筛选、导出和导入中立即可用。' % (
                model.name, custom.register_label(model.register)), 'success')

    # ---- definitions travel (the test site to the live site)
    @expose('/definitions/', methods=('GET', 'POST'))
    def definitions_view(self):
        if not current_user.can('read_definitions'):
            abort(403)
        form = FlaskForm()
        outcome, problems = None, []
        if request.method == 'POST':
            if not current_user.can('manage_definitions'):
                abort(403)
            if form.validate_on_submit():
                outcome, problems = _import_upload(request.files.get('file'))
                if outcome:
                    follow(current_app)
        return self.render('custom/definitions.html', form=form, outcome=outcome,
                           problems=problems, summary=_summary())

    @expose('/definitions/export.json')
    def definitions_export(self):
        if not current_user.can('read_definitions'):
            abort(403)
        body = custom.definitions_json()
        response = current_app.response_class(body, mimetype='application/json')
        response.headers['Content-Disposition'] = \
            "attachment; filename=custom-definitions.json; filename*=UTF-8''%s" % (
                '%E8%87%AA%E5%AE%9A%E4%B9%89%E5%AE%9A%E4%B9%89.json')
        return response


def _summary():
    registers = list(custom.CustomRegister.live().order_by(custom.CustomRegister.id))
    fields = list(custom.CustomField.live())
    return {'registers': registers, 'field_count': len(fields)}


def _import_upload(storage):
    """(counts or None, problems) of an uploaded definitions file."""
    if storage is None or not storage.filename:
        return None, ['请选择要导入的定义文件（.json）。']
    raw = storage.read(MAX_DEFINITION_BYTES + 1)
    if len(raw) > MAX_DEFINITION_BYTES:
        return None, ['文件过大（定义文件不超过 2 MB）。']
    try:
        data = json.loads(raw.decode('utf-8-sig'))
    except (UnicodeDecodeError, ValueError):
        return None, ['文件不是有效的 JSON（请上传本系统导出的定义文件）。']
    try:
        created, updated, unchanged = custom.import_definitions(
            data, current_user._get_current_object())
    except RuleError as exc:
        return None, [m for _, m in exc.problems] + ['未导入任何定义（整个文件一并取消）。']
    return {'created': created, 'updated': updated, 'unchanged': unchanged}, []


def _register_link(view, context, row, name):
    if not row.table_name:
        return ''
    return Markup('<a href="/admin/%s/">%s</a>') % (row.table_name, row.table_name)


class CustomRegisterView(RegisterView):
    """自定义台账 (administrators change, auditors read)."""
    model_class = custom.CustomRegister
    column_formatters = {'table_name': _register_link}

    def after_model_change(self, form, model, is_created):
        follow(current_app)
        if is_created:
            flash(Markup('台账「%s」已建立（<a href="/admin/%s/">打开</a>）。请接着'
                         '<a href="%s">为它添加字段</a>。') % (
                model.name, model.table_name,
                url_for('custom_field.create_view', register=model.table_name)), 'success')


# --------------------------------------------------------------------------- following changes

_follow_lock = threading.Lock()


def follow(app):
    """Bring this process up to the definitions: apply them to the models when another process
    changed them, re-derive every view whose register changed, add views for new registers."""
    custom.sync()
    state = app.extensions.setdefault('kefu_custom', {'generation': None})
    if state['generation'] == custom.generation():
        return
    with _follow_lock:
        admin = app.extensions['admin'][0]
        parked = state.setdefault('parked', {})     # views of retired registers: routes kept
        views = dict(parked)
        views.update({getattr(v, 'model', None): v for v in admin._views
                      if isinstance(v, RegisterView)})
        by_table = {v.endpoint: v for v in views.values()}
        for model in all_registers(include_retired=True):
            view = views.get(model)
            retired = getattr(model._meta, 'retired', False)
            stamp = getattr(model._meta, 'custom_stamp', 0)
            if view is None and model._meta.table_name in by_table:
                # Its table's routes exist (a register of that name defined otherwise before):
                # the view serves the new model.
                view = by_table[model._meta.table_name]
                parked.pop(view.model, None)
                if view in admin._views:
                    admin._views.remove(view)
                view.model = view.register = model
                view._custom_stamp = None
                parked[model] = view
            if view is None:
                if not retired:
                    _add_view(app, admin, RegisterView(model))
                continue
            if getattr(view, '_custom_stamp', 0) != stamp and not retired:
                view.rederive()
                view._custom_stamp = stamp
            # A retired register leaves the admin's views (what the menu and every walk over the
            # registers read); its routes answer 404 until its definition is back.
            if retired and view in admin._views:
                admin._views.remove(view)
                parked[model] = view
            elif not retired and model in parked:
                admin._views.append(parked.pop(model))
        state['generation'] = custom.generation()


def _add_view(app, admin, view):
    """Add a register's view to a running app. Flask refuses new routes once it has served a
    request (a guard against routes added by accident half-way); this one is deliberate, under
    a lock, and only adds the new register's own blueprint."""
    view._custom_stamp = getattr(view.model._meta, 'custom_stamp', 0)
    served = app._got_first_request
    app._got_first_request = False
    try:
        admin.add_view(view)
    finally:
        app._got_first_request = served


def install(app):
    """Follow definition changes before every request and every job."""
    from models import jobs

    @app.before_request
    def _follow_definitions():
        follow(app)

    jobs.BEFORE_RUN.append(lambda: follow(app))
