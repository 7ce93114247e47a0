"""我的视图: a user names the list he is looking at (filters, search, sort) and comes back to it.

The list menu of every register carries the user's saved views of that register and a small
"保存当前视图" form (templates/register/_list_extras.html); /preferences/views lists all of them.
A view belongs to its user only: another user's view is "not found". Opening one goes through
the register list itself, so scoping and powers apply as always.
"""
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_admin.menu import MenuLink
from flask_login import current_user, login_required

from models.preferences import SavedView, clean_query, saved_view_problems
from views.pages import render_page

bp = Blueprint('preferences', __name__, url_prefix='/preferences')

ADMIN_LINKS = [MenuLink(name='我的视图', url='/preferences/views', category='账户')]


def list_views():
    """{endpoint: admin view} of the lists a saved view may point at (registers and logs)."""
    admin = current_app.extensions['admin'][0]
    return {v.endpoint: v for v in admin._views
            if hasattr(v, 'index_view') and hasattr(v, 'model') and v.endpoint}


def accessible_tables():
    return {name: view for name, view in list_views().items() if view.is_accessible()}


def list_url(table_name, query=''):
    """The register list `table_name` with the saved query (the address is ours, never the user's)."""
    base = url_for('%s.index_view' % table_name)
    return base + ('?' + query if query else '')


def register_label(table_name):
    view = list_views().get(table_name)
    return view.name if view is not None else table_name


def _own(view_id):
    row = SavedView.get_or_none((SavedView.id == view_id) & (SavedView.user == current_user.id))
    if row is None:
        abort(404)
    return row


def _back(default):
    from views.auth import safe_url
    return safe_url(request.form.get('next')) or default


@bp.route('/views')
@login_required
def index():
    views = list(SavedView.of(current_user))
    tables = accessible_tables()
    rows = [{'view': v, 'register': register_label(v.table_name),
             'url': list_url(v.table_name, v.query) if v.table_name in tables else None}
            for v in views]
    return render_page('preferences/list.html', rows=rows, title='我的视图')


@bp.route('/views', methods=['POST'])
@login_required
def save():
    table_name = (request.form.get('table_name') or '').strip()
    name = (request.form.get('name') or '').strip()
    query = clean_query(request.form.get('query') or '')
    tables = accessible_tables()
    problems = list(saved_view_problems(name, query, table_name, tables))
    if problems:
        for _, message in problems:
            flash(message, 'error')
        if table_name in tables:
            return redirect(list_url(table_name, query))
        return redirect(url_for('.index'))
    _, created = SavedView.keep(current_user, table_name, name, query)
    flash(('已保存视图「%s」。' if created else '已更新视图「%s」。') % name, 'success')
    return redirect(list_url(table_name, query))


@bp.route('/views/<int:view_id>')
@login_required
def open_view(view_id):
    row = _own(view_id)
    if row.table_name not in accessible_tables():
        abort(403)
    return redirect(list_url(row.table_name, row.query))


@bp.route('/views/<int:view_id>/delete', methods=['POST'])
@login_required
def delete(view_id):
    row = _own(view_id)
    name = row.name
    row.delete_instance()
    flash('已删除视图「%s」。' % name, 'success')
    return redirect(_back(url_for('.index')))


def saved_views_for(table_name):
    """The current user's views of one register, for the list menu."""
    if not current_user.is_authenticated:
        return []
    return list(SavedView.of(current_user, table_name))


def current_query():
    return clean_query(request.query_string)


@bp.app_context_processor
def _saved_view_helpers():
    return {'saved_views_for': saved_views_for, 'saved_view_query': current_query,
            'saved_view_url': lambda v: url_for('preferences.open_view', view_id=v.id)}

