"""The browser tests' harness: the chromium to use, the portal process, browser contexts that
record their traffic and keep the portal's static files, and signing in. Fixtures: conftest.py."""

import os
import re
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit


HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FAILURES = HERE / 'failures'
SCREENSHOTS = ROOT / 'docs' / 'screenshots'
AXE = HERE / 'vendor' / 'node_modules' / 'axe-core' / 'axe.min.js'
# KEFU_CHROMIUM, else Debian's chromium on the PATH (empty when there is none).
CHROMIUM = os.environ.get('KEFU_CHROMIUM') or shutil.which('chromium') or \
    shutil.which('chromium-browser') or ''
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


def sign_in(page, username, password):
    page.goto('/login')
    page.get_by_label('用户名').fill(username)
    page.get_by_label('密码').fill(password)
    page.get_by_role('button', name='登录').click()
    page.wait_for_load_state()


def screenshots_wanted():
    """docs/screenshots/ is rewritten only on request: KEFU_SCREENSHOTS=1."""
    return os.environ.get('KEFU_SCREENSHOTS') == '1'


def take_screenshot(page, name, full_page=False, folder=None):
    """The page rendered to a PNG (fonts loaded); written to docs/screenshots/<name>.png only
    when screenshots are wanted, else only returned (bytes), so running tests leaves git clean."""
    page.wait_for_load_state()
    page.evaluate('document.fonts.ready.then(() => true)')
    if not screenshots_wanted():
        return page.screenshot(full_page=full_page)
    folder = Path(folder or SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name + '.png')
    page.screenshot(path=str(path), full_page=full_page)
    return path
