"""Every authenticated answer — pages and downloads alike — is `private, no-store`: a shared proxy
or the browser cache of a shared office PC must not keep owners' personal data. Only the portal's
own static files may be cached.

The routes are walked from the app's URL map and the admin's registered views, not listed here."""
import pytest

from tests.test_security import PNG, defect, post_defect
from views.security import is_public_asset


def no_store(response):
    cache = response.headers.get('Cache-Control', '')
    return 'no-store' in cache and 'private' in cache and 'public' not in cache \
        and 'max-age' not in cache


def parameterless_get_routes(app):
    for rule in app.url_map.iter_rules():
        if 'GET' in rule.methods and not rule.arguments and 'static' not in rule.endpoint:
            yield rule.rule


def test_every_page_and_download_is_private_no_store(app, client_as, projects, make):
    make.unit(projects['mine'])
    admin = client_as('admin')
    paths = set(parameterless_get_routes(app))
    for view in app.extensions['admin'][0]._views:
        register = getattr(view, 'register', None)
        if register is None:
            continue
        table = register._meta.table_name
        paths |= {'/admin/%s/' % table, '/admin/%s/export/xlsx/' % table,
                  '/admin/%s/import/template' % table}
    paths.discard('/logout')
    paths = {p for p in paths if not is_public_asset(p)}      # the favicon may be cached
    checked = 0
    for path in sorted(paths):
        response = admin.get(path)
        if response.status_code >= 400:
            continue
        assert no_store(response), (path, response.headers.get('Cache-Control'))
        checked += 1
    assert checked > 100      # the registers' lists, exports and templates at least


def test_an_uploaded_photo_is_not_cached(app, client_as):
    post_defect(client_as('supervisor'), 'a.png', PNG)
    response = client_as('auditor').get('/files/design_defect/%d/photo' % defect('墙面空鼓未在图纸标注').id)
    assert response.status_code == 200 and response.data == PNG
    assert no_store(response), response.headers.get('Cache-Control')


@pytest.mark.parametrize('path', ['/unit/%d', '/admin/unit/details/?id=%d'])
def test_the_unit_file_is_not_cached(client_as, projects, make, path):
    unit = make.unit(projects['mine'])
    response = client_as('clerk').get(path % unit.id)
    assert response.status_code == 200 and no_store(response)


def test_the_portals_own_styles_may_be_cached(client_as, app):
    response = client_as('clerk').get('/static/portal.css')
    assert response.status_code == 200
    assert 'no-store' not in response.headers.get('Cache-Control', '')
