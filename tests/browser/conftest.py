"""Browser tests: the real portal (`python app.py --demo`) on a free local port with a fresh
database, driven by Debian's chromium through Playwright, as the department's people use it.

- `portal`   the running server (base URL, the demo password), one per test session;
- `browser`  headless chromium (/usr/bin/chromium, or KEFU_CHROMIUM);
- `page`     a fresh browser tab at 1366×768; every request it makes is recorded, and a failed
             test leaves a full-page screenshot in tests/browser/failures/;
- `login`    `login(page, 'clerk')` signs the tab in as a demo user (sessions are reused).

Run: `.venv/bin/pytest -q tests/browser`. While writing a scenario, point the tests at a demo portal
already running: KEFU_BROWSER_BASE_URL=http://127.0.0.1:5000 KEFU_DEMO_PASSWORD=… .
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright import sync_api as playwright_api

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FAILURES = HERE / 'failures'
SCREENSHOTS = ROOT / 'docs' / 'screenshots'
AXE = HERE / 'vendor' / 'node_modules' / 'axe-core' / 'axe.min.js'
CHROMIUM = os.environ.get('KEFU_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']
DEMO_PASSWORD = 'Demo-Browser-2026!'
DESKTOP = {'width': 1366, 'height': 768}
TABLET = {'width': 768, 'height': 1024}
LOCAL_HOSTS = ('127.0.0.1', 'localhost')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Portal:
    def __init__(self, base_url, password, log_path, database_path):
        self.base_url = base_url
        self.password = password
        self.log_path = log_path
        self.database_path = database_path
        self.sessions = {}       # role → storage state of a signed-in tab
        self.assets = AssetCache()

    def url(self, path):
        return self.base_url + path

    def log(self):
        return Path(self.log_path).read_text(encoding='utf-8', errors='replace')


@pytest.fixture(scope='session')
def portal():
    """`python app.py --demo` in a subprocess with its own instance folder and SQLite database."""
    if not os.path.exists(CHROMIUM):
        pytest.fail('chromium not found at %s (apt-get install -y chromium)' % CHROMIUM)
    if os.environ.get('KEFU_BROWSER_BASE_URL'):
        # While writing scenarios: reuse a demo portal already running (its demo password given).
        yield Portal(os.environ['KEFU_BROWSER_BASE_URL'].rstrip('/'),
                     os.environ.get('KEFU_DEMO_PASSWORD', DEMO_PASSWORD), os.devnull, None)
        return
    workdir = tempfile.mkdtemp(prefix='kefu-browser-')
    port = _free_port()
    database_path = os.path.join(workdir, 'kefu.db')
    env = dict(os.environ,
               KEFU_INSTANCE_PATH=workdir,
               KEFU_DATABASE_URL='sqlite:///' + database_path,
               KEFU_DEMO_PASSWORD=DEMO_PASSWORD,
               KEFU_SECRET_KEY='browser-tests-' + str(port),
               PYTHONUNBUFFERED='1')
    log_path = os.path.join(workdir, 'server.log')
    log = open(log_path, 'w')
    process = subprocess.Popen([sys.executable, 'app.py', '--demo', '--port', str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = 'http://127.0.0.1:%d' % port
    server = Portal(base_url, DEMO_PASSWORD, log_path, database_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail('the portal stopped while starting:\n' + server.log()[-3000:])
            try:
                with urllib.request.urlopen(base_url + '/healthz', timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail('the portal did not answer /healthz within 120 s:\n' + server.log()[-3000:])
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if os.environ.get('KEFU_KEEP_BROWSER_DB') != '1':
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope='session')
def browser():
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Traffic:
    """Every request a tab made, and those that left this machine (offline use: none may)."""

    def __init__(self):
        self.urls = []

    def record(self, request):
        self.urls.append(request.url)

    def outside(self):
        found = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in ('data', 'blob', 'about'):
                continue
            if parts.hostname not in LOCAL_HOSTS:
                found.append(url)
        return found


STATIC = re.compile(r'^http://127\.0\.0\.1:\d+/(admin/)?static/')


class AssetCache:
    """The portal's CSS, JS and fonts, fetched from it once per test session.

    The portal answers static files with `Cache-Control: no-cache`, so a browser asks again for
    ~25 files on every page; across many short-lived test tabs that is most of the suite's time.
    Each file still comes from the portal (the first time), so "every asset is served locally"
    is still what the tests see.
    """

    def __init__(self):
        self.files = {}

    def serve(self, route):
        url = route.request.url
        kept = self.files.get(url)
        if kept is None:
            response = route.fetch()
            if response.status != 200:
                route.fulfill(response=response)
                return
            # Never replay the session cookie of the tab that fetched it first to another user.
            headers = {k: v for k, v in response.headers.items() if k.lower() != 'set-cookie'}
            self.files[url] = (response.status, headers, response.body())
            route.fulfill(response=response)
            return
        status, headers, body = kept
        route.fulfill(status=status, headers=headers, body=body)


def new_context(browser, portal, viewport=None, **options):
    context = browser.new_context(viewport=viewport or DESKTOP, locale='zh-CN',
                                  timezone_id='Asia/Shanghai', accept_downloads=True,
                                  base_url=portal.base_url, **options)
    context.set_default_timeout(15000)
    context.traffic = Traffic()
    context.on('request', context.traffic.record)
    context.route(STATIC, portal.assets.serve)
    return context


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, 'report_' + report.when, report)
    return report


def _failed(request):
    return any(getattr(getattr(request.node, 'report_' + when, None), 'failed', False)
               for when in ('setup', 'call'))


def _keep_failure(request, page):
    FAILURES.mkdir(exist_ok=True)
    name = request.node.nodeid.split('::')[-1]
    for bad in '[]/\\:':
        name = name.replace(bad, '_')
    try:
        page.screenshot(path=str(FAILURES / (name + '.png')), full_page=True)
        (FAILURES / (name + '.html')).write_text(page.content(), encoding='utf-8')
    except Exception as exc:   # a crashed tab: say so rather than hide the test's own failure
        (FAILURES / (name + '.txt')).write_text('no screenshot: %s' % exc, encoding='utf-8')


@pytest.fixture
def context(browser, portal, request):
    ctx = new_context(browser, portal)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, request):
    tab = context.new_page()
    tab.console_errors = []
    tab.on('console', lambda msg: msg.type == 'error' and tab.console_errors.append(msg.text))
    tab.on('pageerror', lambda exc: tab.console_errors.append(str(exc)))
    yield tab
    if _failed(request):
        _keep_failure(request, tab)
    outside = context.traffic.outside()
    assert not outside, 'requests left this machine (the portal must work offline): %s' % outside


def sign_in(page, username, password):
    page.goto('/login')
    page.get_by_label('用户名').fill(username)
    page.get_by_label('密码').fill(password)
    page.get_by_role('button', name='登录').click()
    page.wait_for_load_state()


@pytest.fixture
def login(portal):
    """login(page, role): the tab signed in as that demo user (one real login per role)."""
    def do_login(page, role):
        state = portal.sessions.get(role)
        if state is not None:
            # The same signed-in session in a new tab (nobody signs out during the tests).
            page.context.add_cookies(state['cookies'])
            return page
        sign_in(page, role, portal.password)
        assert '/login' not in page.url, 'login of %s failed: %s' % (role, page.url)
        portal.sessions[role] = page.context.storage_state()
        return page
    return do_login


@pytest.fixture
def shot():
    """shot(page, 'name'): keep a screenshot of a main screen in docs/screenshots/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name, full_page=False):
        page.wait_for_load_state()
        page.evaluate('document.fonts.ready.then(() => true)')
        path = SCREENSHOTS / (name + '.png')
        page.screenshot(path=str(path), full_page=full_page)
        return path
    return take
