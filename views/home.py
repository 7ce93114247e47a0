"""首页 (project cards) and the health check."""
import datetime

from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from models.base import db
from models.master import Project
from views.base import scope_query
from views.pages import render_page

bp = Blueprint('home', __name__)


@bp.route('/')
@login_required
def index():
    today = datetime.date.today()
    projects = scope_query(Project, Project.select(), current_user).order_by(Project.code)
    cards = []
    for project in projects:
        delivery_on = project.delivery_date
        cards.append({'project': project, 'delivery_on': delivery_on,
                      'countdown': (delivery_on - today).days if delivery_on else None})
    return render_page('home.html', cards=cards, title='首页')


@bp.route('/healthz')
def healthz():
    try:
        db.execute_sql('SELECT 1')
    except Exception:  # the database is not reachable: say so, do not crash
        return jsonify(status='error', database='unreachable'), 503
    return jsonify(status='ok', database='ok')
