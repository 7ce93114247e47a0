"""Every route of the app (walked from app.url_map), as every role, given malformed input:
ids and page numbers beyond a 64-bit integer, text where a number or a date belongs, sorts on
every column (computed ones too), every list filter of every register with values it cannot
take, far-future and impossible dates, negative pages and offsets, NUL characters, and signed
paging tokens carrying values of the wrong type — GET, and POST (with a valid CSRF token) where
the route takes it. No request may answer 5xx: on SQLite and on PostgreSQL alike.

Each route gets every value of the battery once; the values are dealt out among the roles in
turn, and every role asks every route plainly, so the walk stays near ten thousand requests
(about two minutes on SQLite).
"""
import base64
import itertools
import json
import re
import traceback
from urllib.parse import parse_qsl, quote, urlencode

import pytest

from conftest import TOKEN_RE

ROLES = ('anonymous', 'admin', 'supervisor', 'clerk', 'auditor')
SIGNED_IN = ROLES[1:]
BIG = '99999999999999999999'
NUMBERS = (BIG, '-1', 'abc', '²')     # '²'.isdigit() is True, int('²') fails
DATES = ('9999-12-31', '0000-00-00')
SEARCHES = ('%_\\', 'x\x00y')     # LIKE's wildcards and escape; a NUL
FILTER_VALUES = NUMBERS[1:] + ('0', '1.5') + DATES + ('2026-02-30', '2026-01-01 to 9999-12-31')
# Names that pick the row or project a page is about: a bad one answers 404 before the page reads
# anything else, so the battery gives them its numbers, and leaves them out for the rest.
KEYS = ('id', 'project', 'unit', 'rowid', 'list_form_pk', 'user')
BATTERY = [(v, True) for v in NUMBERS] + [(v, False) for v in (BIG,) + DATES + SEARCHES]
# Names every page may read besides those its own links and forms carry (Flask-Admin's list and
# row arguments, the portal's ?on=, ?project= …).
COMMON_NAMES = ('id', 'page', 'page_size', 'sort', 'desc', 'search', 'exact', 'after', 'before',
                'last', 'on', 'day', 'as_of', 'project', 'days', 'status', 'register',
                'department', 'q', 'offset', 'limit', 'name', 'query', 'rowid', 'action',
                'list_form_pk', 'unit', 'year', 'month')
INT_PATH = (BIG, '0', '9223372036854775808')
TEXT_PATH = ('xlsx', 'csv', 'abc', '\x00', 'project', 'unit')
NAME_RE = re.compile(r'name="([A-Za-z_][\w-]*)"')
HREF_RE = re.compile(r'href="[^"]*\?([^"#]*)"')
# Wrong types a correctly signed token may carry, one per position of the sort.
WRONG_TYPES = ('abc', 10 ** 30, {'a': 1}, [1], 1.5, True, 'x\x00y', -1, '9999-99-99', 1e308,
               '1e999')


class Anonymous:
    """The not-signed-in visitor: its CSRF token comes from the login page."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def csrf(self):
        if self.token is None:
            match = TOKEN_RE.search(self.client.get('/login').get_data(as_text=True))
            self.token = match.group(1) or match.group(2)
        return self.token


class Walk:
    def __init__(self, app, client_as):
        self.app = app
        self.client_as = client_as
        self.clients = {'anonymous': Anonymous(app.test_client())}
        self.clients['anonymous'].client.environ_base['REMOTE_ADDR'] = '192.0.2.0'
        for role in SIGNED_IN:
            self.sign_in(role)
        self.requests = 0
        self.failures = []

    def sign_in(self, role):
        portal = self.clients[role] = self.client_as(role)
        # The walk's failed logins (its battery posted to /login) come from an address of their
        # own, so the throttle they earn does not refuse the walk's next sign-in.
        portal.client.environ_base['REMOTE_ADDR'] = '192.0.2.%d' % ROLES.index(role)

    def hit(self, role, method, url, data=None):
        """The status of one request (an exception the app let out counts as a 500), and the
        page's text when it is HTML."""
        portal = self.clients[role]
        self.requests += 1
        try:
            if method == 'POST':
                form = dict(data or {})
                form['csrf_token'] = portal.csrf()
                response = portal.client.post(url, data=form)
            else:
                response = portal.client.get(url)
            status = response.status_code
            text = response.get_data(as_text=True) if response.mimetype == 'text/html' else ''
        except Exception as exc:    # TESTING propagates the exception a user would see as 500
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if '-packages' not in f.filename]
            where = '%s:%d' % (frames[-1].filename, frames[-1].lineno) if frames else ''
            status, text = 500, '%s: %s (%s)' % (type(exc).__name__, exc, where)
        if status >= 500:
            self.failures.append((role, method, url, data, text[:300]))
        if role != 'anonymous' and method == 'POST' and '/logout' in url:
            self.sign_in(role)      # signed out by the walk: sign in again
        return status, text

    @staticmethod
    def page_names(text):
        """The parameter names a page's own links and forms carry."""
        names = set(NAME_RE.findall(text))
        for query in HREF_RE.findall(text):
            names.update(k for k, _ in parse_qsl(query.replace('&amp;', '&')))
        return {n for n in names if n != 'csrf_token'}


def path_values(rule):
    """Concrete paths for a rule: every argument given each of its malformed values in turn."""
    args = sorted(rule.arguments)
    pools = []
    for name in args:
        converter = type(rule._converters[name]).__name__
        pools.append(INT_PATH if converter == 'IntegerConverter' else TEXT_PATH)
    if not args:
        return [rule.rule]
    paths = []
    longest = max(len(p) for p in pools)
    for i in range(longest):
        text = rule.rule
        for name, pool in zip(args, pools):
            value = pool[i % len(pool)]
            text = re.sub(r'<(?:[^:<>]+:)?%s>' % name, quote(value, safe=''), text)
        paths.append(text)
    return paths


def with_query(path, params):
    return path + ('?' + urlencode(params, doseq=True) if params else '')


@pytest.fixture
def walk(app, client_as, make, projects):
    make.contract(projects['mine'])
    make.contract(projects['other'])
    return Walk(app, client_as)


def admin_views(app):
    return [v for v in app.extensions['admin'][0]._views if hasattr(v, '_list_columns')]


def test_every_route_as_every_role_answers_malformed_input_without_a_5xx(app, walk):
    turn = itertools.count()
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == 'auth.logout', r.rule))
    for rule in rules:
        methods = [m for m in ('GET', 'POST') if m in rule.methods]
        paths = path_values(rule)
        names = set(COMMON_NAMES)
        for role in ROLES:
            for method in methods:
                _status, text = walk.hit(role, method, paths[0])
                if role == 'admin' and method == 'GET':
                    names |= walk.page_names(text)
        for path in paths[1:]:
            for method in methods:
                walk.hit(SIGNED_IN[next(turn) % len(SIGNED_IN)], method, path)
        path = paths[0]
        for value, keys in BATTERY:
            role = SIGNED_IN[next(turn) % len(SIGNED_IN)]
            params = {n: value for n in names if keys or n not in KEYS}
            for method in methods:
                if method == 'GET':
                    walk.hit(role, 'GET', with_query(path, params))
                else:
                    walk.hit(role, 'POST', with_query(path, params), params)
    assert_clean(walk)


def test_every_sort_filter_and_row_action_of_every_list_answers_without_a_5xx(app, walk):
    turn = itertools.count()
    for view in admin_views(app):
        base = view.url + '/'
        columns = list(range(len(view._list_columns)))     # computed columns too
        for index in columns + [-1, len(columns), BIG]:
            walk.hit(SIGNED_IN[next(turn) % 4], 'GET',
                     with_query(base, {'sort': index, 'desc': ('1', 'abc')[index == BIG]}))
        for index, flt in enumerate(view._filters or ()):
            arg = 'flt0_%s' % view.get_filter_arg(index, flt)
            walk.hit('admin', 'GET', with_query(base, {arg: BIG}))     # admin sees every list
            walk.hit(SIGNED_IN[next(turn) % 4], 'GET',
                     with_query(base, {arg: FILTER_VALUES[index % len(FILTER_VALUES)]}))
        for name in getattr(view, '_form_ajax_refs', None) or {}:
            for value in NUMBERS:
                walk.hit(SIGNED_IN[next(turn) % 4], 'GET', with_query(
                    base + 'ajax/lookup/', {'name': name, 'query': value, 'offset': value,
                                            'limit': value}))
        for action in dict(getattr(view, '_actions_data', {}) or {}):
            walk.hit(SIGNED_IN[next(turn) % 4], 'POST', base + 'action/',
                     {'action': action, 'rowid': list(NUMBERS)})
        for value in NUMBERS:
            walk.hit(SIGNED_IN[next(turn) % 4], 'POST', base + 'delete/', {'id': value})
            walk.hit(SIGNED_IN[next(turn) % 4], 'POST', base + 'ajax/update/',
                     {'list_form_pk': value, view._list_columns[0][0]: value})
    assert_clean(walk)


def signed_tokens(app, view, wrong):
    """A token the app itself signed for the list's default order, carrying `wrong` in every
    position."""
    from views import listing
    with app.test_request_context():
        order = listing.list_order(view, None, None)
        signature = listing._signature(view, order, None, [])
        return listing.sign_position(signature, [wrong] * len(order))


def test_a_signed_paging_token_of_the_wrong_types_is_ignored(app, walk):
    turn = itertools.count()
    for view in admin_views(app):
        if not hasattr(view, 'register'):
            continue
        for wrong in WRONG_TYPES:
            token = signed_tokens(app, view, wrong)
            for name in ('after', 'before'):
                walk.hit(SIGNED_IN[next(turn) % 4], 'GET',
                         with_query(view.url + '/', {name: token}))
    assert_clean(walk)


def test_malformed_input_is_refused_or_falls_back_with_a_chinese_message(app, client_as, projects):
    admin = client_as('admin')
    assert admin.get('/unit/%s' % BIG).status_code == 404
    assert admin.get('/admin/unit/details/?id=%s' % BIG).status_code == 404
    assert admin.get('/admin/unit/?search=a%00b').status_code == 400
    for url in ('/?on=9999-12-31', '/project/%d?on=9999-12-31' % projects['mine'].id):
        page = admin.get(url)
        assert page.status_code == 200 and '已按今天计算' in page.get_data(as_text=True), url
    view = next(v for v in admin_views(app) if v.endpoint == 'unit')
    arg = 'flt0_%s' % view.get_filter_arg(0, view._filters[0])
    page = admin.get('/admin/unit/', query_string={arg: BIG})
    assert page.status_code == 200 and '无效，已忽略' in page.get_data(as_text=True)


def owner_order(app):
    """(view, order, signature) of the owner list in its default order."""
    from views import listing
    view = next(v for v in admin_views(app) if v.endpoint == 'owner')
    with app.test_request_context():
        order = listing.list_order(view, None, None)
        return view, order, listing._signature(view, order, None, [])


def test_the_paging_token_is_signed_with_the_secret_and_a_forged_one_is_ignored(
        app, client_as, projects):
    from test_big_tables import add_owners, ids_on, list_page
    from models.master import Owner
    app.config['KEFU_EXACT_COUNT_LIMIT'] = 30
    add_owners(projects['mine'], 90)
    admin = client_as('admin')
    first = list_page(admin, 'owner', page_size=20)
    token = re.search(r'after=([^&"]+)', first).group(1)
    assert ids_on(list_page(admin, 'owner', page_size=20, after=token))[0] not in ids_on(first)
    _view, order, signature = owner_order(app)
    late = Owner.select().order_by(Owner.name, Owner.id)[60]
    values = [getattr(late, f.name) if f.name != 'project' else late.project_id for f, _ in order]
    # The old scheme: the sort's unkeyed hash and the values, base64 — anyone could write one.
    raw = json.dumps([signature, values], ensure_ascii=False, default=str).encode('utf-8')
    forged = base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')
    # A token of the portal with other values put in, keeping its signature.
    tampered = forged + '.' + token.rsplit('.', 1)[1]
    for bad in (forged, tampered, token[:-3] + 'abc', 'x' + token):
        assert ids_on(list_page(admin, 'owner', page_size=20, after=bad)) == ids_on(first), bad


def assert_clean(walk):
    kinds = {}
    for role, method, url, data, text in walk.failures:     # each kind of error once
        kind = re.sub(r'\d+', 'N', text.split('\n')[0])[:120]
        kinds.setdefault(kind, []).append('%s %s %s' % (role, method, url[:160]))
    shown = '\n'.join('%d × %s\n    %s' % (len(v), k, '\n    '.join(v[:3]))
                      for k, v in sorted(kinds.items()))
    print('\nroute walk: %d requests, %d answered 5xx' % (walk.requests, len(walk.failures)))
    assert not walk.failures, '%d of %d requests answered 5xx:\n%s' % (
        len(walk.failures), walk.requests, shown)
