"""Pages outside the register lists (dashboard, reports, login) in the same chrome and menu."""
from flask import current_app


def render_page(template, **context):
    """Render `template` (extending admin/master.html) as if from the admin's home view."""
    admin = current_app.extensions['admin'][0]
    return admin.index_view.render(template, **context)
