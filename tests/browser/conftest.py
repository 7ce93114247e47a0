"""Browser tests: the real portal (`python app.py --demo`) on a free local port with a fresh
database, driven by Debian's chromium through Playwright, as the department's people use it.

- `portal`   the running server (base URL, the demo password), one per test session;
- `browser`  headless chromium (/usr/bin/chromium, or KEFU_CHROMIUM);
- `page`     a fresh browser tab at 1366×768; every request it makes is recorded, and a failed
             test leaves a full-page screenshot in tests/browser/failures/;
- `login`    `login(page, 'clerk')` signs the tab in as a demo user (sessions are reused).

Run: `.venv/bin/pytest -q tests/browser`; `KEFU_SCREENSHOTS=1` also rewrites docs/screenshots/.
Without chromium every scenario is skipped with the reason (with CI=true that is a failure). While writing a scenario, point the tests at a demo portal
already running: KEFU_BROWSER_BASE_URL=http://127.0.0.1:5000 KEFU_DEMO_PASSWORD=… .
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest
from playwright import sync_api as playwright_api

from .harness import (CHROMIUM, CHROMIUM_ARGS, DEMO_PASSWORD, FAILURES, ROOT, Portal, _free_port,
                      new_context, sign_in, take_screenshot)


def require_chromium():
    """Skip (with the reason) when chromium is missing; in CI, which installs it, fail instead.
    Called before anything starts a browser or the portal."""
    if CHROMIUM and os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    message = 'chromium not found (%s): apt-get install -y chromium, or set KEFU_CHROMIUM' % (
        CHROMIUM or 'not on PATH')
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope='session')
def portal():
    """`python app.py --demo` in a subprocess with its own instance folder and SQLite database."""
    require_chromium()
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
    require_chromium()
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def pytest_sessionstart(session):
    """tests/browser/failures/ holds the failures of this run only."""
    if FAILURES.is_dir():
        for old in FAILURES.iterdir():
            if old.name != '.gitignore':
                old.unlink()


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
    """shot(page, 'name'): the screen rendered to a picture; kept as docs/screenshots/name.png
    only when asked (KEFU_SCREENSHOTS=1), so a test run never changes the work tree."""
    return take_screenshot
