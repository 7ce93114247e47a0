"""What every screen shares, derived from the registers' declarations: which list columns stay on
a narrow screen, whether the current user may open a link (so no page offers what answers 403),
and the portal's favicon."""
import os
import re

from flask import Blueprint, current_app, request, send_from_directory
from flask_login import current_user
from jinja2 import BaseLoader
from peewee import DateField, ForeignKeyField
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

bp = Blueprint('screens', __name__)


class NoInlineHandlers(BaseLoader):
    """Flask-Admin's templates carry inline handlers (onclick="…") that the portal's
    Content-Security-Policy refuses, and the browser reports each one as an error while parsing.
    They are served as data-onclick="…", which static/portal.js binds."""
    HANDLER = re.compile(r'(\s)on(click|change|submit)="')

    def __init__(self, inner):
        self.inner = inner

    def get_source(self, environment, template):
        source, filename, uptodate = self.inner.get_source(environment, template)
        if filename and '%sflask_admin%s' % (os.sep, os.sep) in filename:
            source = self.HANDLER.sub(r'\1data-on\2="', source)
        return source, filename, uptodate

    def list_templates(self):
        return self.inner.list_templates()


@bp.record_once
def _serve_templates_without_inline_handlers(state):
    env = state.app.jinja_env
    if not isinstance(env.loader, NoInlineHandlers):
        env.loader = NoInlineHandlers(env.loader)


# How many list columns a screen narrower than each width (px) shows: the key columns always,
# then the others in list order while the budget lasts (a tablet in portrait: 820 px → 5).
COLUMN_BUDGETS = ((1200, 7), (900, 5), (600, 3))
STATUS_NAMES = ('status', 'state')
SHORT_TEXT = 32


def _naming_fields(meta):
    """The plain fields that name a row as people do: Meta.lookup, else its name or title, else
    the natural key's own fields (not links, not dates), else the first searched field."""
    def plain(names):
        return [n for n in names or () if n in meta.fields and
                not isinstance(meta.fields[n], (ForeignKeyField, DateField))]
    return (plain(getattr(meta, 'lookup', ())) or plain(('name',)) or plain(('title',))
            or plain(getattr(meta, 'natural_key', ())) or plain(getattr(meta, 'search', ()))[:1])


def key_columns(model):
    """The columns a list keeps on any screen: the unit (房号), the status (or the field its
    workflow moves, such as 销单), every deadline's date and what names the row (its first
    naming field, and the other short ones such as 楼栋/房号)."""
    from models.master import Unit
    meta = model._meta
    naming = _naming_fields(meta)
    key = set(naming[:1]) | {n for n in naming[1:]
                             if 0 < (getattr(meta.fields[n], 'max_length', None) or 0) <= SHORT_TEXT}
    workflow = getattr(meta, 'workflow', None)
    key |= {n for n in STATUS_NAMES + (getattr(workflow, 'field', None),) if n in meta.fields}
    key |= {d.due_field for d in getattr(meta, 'deadlines', ()) or ()}
    key |= {n for n, f in meta.fields.items()
            if isinstance(f, ForeignKeyField) and f.rel_model is Unit}
    return key


def hidden_below(model, columns):
    """{column: width in px below which it is hidden} for the list's columns not key to it."""
    key = [c for c in columns if c in key_columns(model)]
    others = [c for c in columns if c not in key and c != 'project'] + \
        [c for c in columns if c == 'project']
    hidden = {}
    for width, budget in COLUMN_BUDGETS:
        for column in others[max(0, budget - len(key)):]:
            hidden.setdefault(column, width)
    return hidden


def list_column_css(view, columns):
    """The CSS that hides a list's less important columns on narrow screens and keeps its key
    columns on one line (never one character per line)."""
    model = getattr(view, 'model', None)
    if model is None or not hasattr(model, '_meta'):
        return ''
    key = [c for c in columns if c in key_columns(model)]
    naming = [c for c in _naming_fields(model._meta)[:1] if c in key]
    rules = []
    if key:
        rules.append('%s { white-space: nowrap; }' % ', '.join('.model-list td.col-%s' % c for c in key))
    if naming:
        rules.append('.model-list td.col-%s { white-space: normal; min-width: 9em; }' % naming[0])
    hidden = hidden_below(model, columns)
    for width, _ in COLUMN_BUDGETS:
        gone = [c for c, w in hidden.items() if w >= width]
        if gone:
            rules.append('@media (max-width: %dpx) { %s { display: none; } }' % (
                width - 1, ', '.join('.model-list .col-%s' % c for c in gone)))
    return '\n'.join(rules)


def _admin_view(endpoint):
    admin = current_app.extensions['admin'][0]
    name = endpoint.split('.', 1)[0]
    return next((v for v in admin._views if v.endpoint == name), None)


VIEW_POWERS = {'create_view': 'can_create', 'edit_view': 'can_edit', 'import_view': 'can_import',
               'details_view': 'can_view_details', 'export': 'can_export'}


def may_open(url):
    """Whether the current user gets the page at `url` (a path of this portal) rather than a
    403: admin views are asked for their own powers; other pages are open to every signed-in
    user (they scope their content). Links a page offers go through this."""
    if not current_user.is_authenticated:
        return False
    path = url.split('?', 1)[0].split('#', 1)[0]
    try:
        endpoint, _ = current_app.url_map.bind(request.host).match(path, method='GET')
    except RequestRedirect:
        return True
    except HTTPException:
        return False
    view = _admin_view(endpoint)
    if view is None:
        return True
    if not view.is_accessible():
        return False
    allowed = getattr(view, VIEW_POWERS.get(endpoint.split('.', 1)[-1], ''), True)
    return bool(allowed)


@bp.app_context_processor
def _helpers():
    return {'may_open': may_open, 'list_column_css': list_column_css}


@bp.route('/favicon.ico')
def favicon():
    return send_from_directory(current_app.static_folder, 'favicon.svg',
                               mimetype='image/svg+xml', max_age=86400)
