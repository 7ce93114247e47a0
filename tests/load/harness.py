"""What the load and fault scripts share: the real server in a temporary instance, a clerk's browser
(cookies, CSRF token, forms), and the checks run on the database afterwards.

The scripts test the portal as it is deployed (waitress on 127.0.0.1), on SQLite (a file in the
run's folder) or, with `--database-url postgresql://…` (or KEFU_LOAD_DATABASE_URL), on a fresh
database created for the run on that PostgreSQL server and dropped with the run's folder.
Standard library only, and psycopg2 (a dependency of the portal) for PostgreSQL.
"""
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

from forms import form_fields

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STALE_MESSAGE = '该记录已被他人修改'
LOCKED = 'database is locked'
DEMO_PASSWORD = 'Load-demo-2026'
CLERK_PASSWORD = 'Load-clerk-pass-2026'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def percentile(values, pct):
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


class Store:
    """The server's database: a SQLite file in the run's folder, or a database of its own on the
    PostgreSQL server at `server_url`, made for the run. `connect()` gives a connection whose
    `execute(sql, params)` takes SQLite's `?` placeholders on both."""

    def __init__(self, workdir, server_url=None, name='kefu'):
        self.server_url = server_url
        if server_url:
            self.name = '%s_%s' % (name.replace('-', '_'), secrets.token_hex(4))
            self._admin('CREATE DATABASE "%s"' % self.name)
            self.url = _with_database(server_url, self.name)
            conn = self._pg(self.url)
            try:
                conn.cursor().execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
            finally:
                conn.close()
            self.backup_suffix = '.dump'
        else:
            self.path = os.path.join(workdir, name + '.db')
            self.url = 'sqlite:///' + self.path
            self.backup_suffix = '.db'

    @property
    def is_postgres(self):
        return bool(self.server_url)

    def sibling(self, workdir, name):
        """An empty store beside this one (a restore target), on the same kind of database."""
        return Store(workdir, self.server_url, name)

    @staticmethod
    def _pg(url):
        import psycopg2
        conn = psycopg2.connect(url)
        conn.autocommit = True
        return conn

    def _admin(self, sql):
        conn = self._pg(_with_database(self.server_url, 'postgres'))
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    def connect(self, read_only=True):
        """Read only on SQLite unless asked (the fault test opens the file as the restarted server
        would, running WAL recovery)."""
        if self.is_postgres:
            return _Connection(self._pg(self.url), '%s')
        if read_only:
            return _Connection(sqlite3.connect('file:%s?mode=ro' % self.path, uri=True, timeout=30))
        return _Connection(sqlite3.connect(self.path, timeout=30))

    def integrity(self):
        """'ok' or what is wrong. SQLite: PRAGMA integrity_check. PostgreSQL: amcheck's
        bt_index_check on every B-tree index of the portal's tables (heap and index agree)."""
        conn = self.connect()
        try:
            if not self.is_postgres:
                return '; '.join(r[0] for r in conn.execute('PRAGMA integrity_check'))
            conn.execute('CREATE EXTENSION IF NOT EXISTS amcheck')
            indexes = [r[0] for r in conn.execute(
                "SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE a.amname = 'btree' AND n.nspname = 'public' AND c.relpersistence = 'p'")]
            for oid in indexes:
                conn.execute('SELECT bt_index_check(?::regclass, true)', (oid,))
            return 'ok'
        except Exception as exc:        # sqlite3.DatabaseError / psycopg2.Error: the finding
            return str(exc)
        finally:
            conn.close()

    def drop(self):
        if self.is_postgres:
            self._admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)


class _Connection:
    """sqlite3 and psycopg2 behind one `execute(sql, params)` written with `?` placeholders."""

    def __init__(self, conn, param='?'):
        self.conn, self.param = conn, param

    def execute(self, sql, params=()):
        if self.param != '?':
            sql = sql.replace('%', '%%').replace('?', self.param)
            cursor = self.conn.cursor()
            cursor.execute(sql, tuple(params))
            return cursor
        return self.conn.execute(sql, params)

    def close(self):
        self.conn.close()


def _with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, '/' + name, parts.query, ''))


def database_url_argument(parser):
    """The scripts' --database-url: a PostgreSQL server to run on (default: SQLite)."""
    parser.add_argument('--database-url', default=os.environ.get('KEFU_LOAD_DATABASE_URL'),
                        help='postgresql://user@host:port/db — run on a fresh database of that '
                             'server instead of SQLite (default: KEFU_LOAD_DATABASE_URL)')


class Server:
    """`python app.py --demo` on 127.0.0.1 with its own instance folder and database."""

    def __init__(self, workdir=None, threads=8, database_url=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix='kefu-load-')
        self.store = Store(self.workdir, database_url)
        self.port = free_port()
        self.threads = threads
        self.proc = None
        self.extra_stores = []          # restore targets, dropped with the run
        self.log_path = os.path.join(self.workdir, 'server.log')
        self.env = dict(os.environ, KEFU_INSTANCE_PATH=self.workdir,
                        KEFU_DATABASE_URL=self.store.url,
                        KEFU_DEMO_PASSWORD=DEMO_PASSWORD,
                        KEFU_SECRET_KEY=secrets.token_hex(32), PYTHONUNBUFFERED='1')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=180):
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(
            [sys.executable, 'app.py', '--demo', '--host', '127.0.0.1', '--port', str(self.port),
             '--threads', str(self.threads)],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started = time.time()
        while time.time() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError('server exited (%s); see %s' % (self.proc.returncode, self.log_path))
            try:
                conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=2)
                conn.request('GET', '/healthz')
                if conn.getresponse().status == 200:
                    return time.time() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError('server did not answer within %d s' % timeout)

    def kill(self):
        """SIGKILL: no shutdown handler, no final checkpoint — as a crash or the OOM killer."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def flask(self, *args, db_url=None):
        """Run a `flask --app app …` command against this instance (backup, restore)."""
        env = dict(self.env)
        if db_url:
            env['KEFU_DATABASE_URL'] = db_url
        return subprocess.run([sys.executable, '-m', 'flask', '--app', 'app'] + list(args),
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    def log_text(self):
        with open(self.log_path, encoding='utf-8', errors='replace') as fh:
            return fh.read()


class Browser:
    """One user's browser: a keep-alive connection, cookies and the CSRF token of the last form."""

    def __init__(self, server, timeout=60):
        self.server = server
        self.timeout = timeout
        self.cookies = {}
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=self.timeout)
        return self.conn

    def request(self, method, path, data=None):
        """(status, body text, location, seconds). Connection errors propagate."""
        headers = {'Cookie': '; '.join('%s=%s' % kv for kv in self.cookies.items())}
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data, doseq=True)
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        started = time.perf_counter()
        try:
            conn = self._connection()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode('utf-8', errors='replace')
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        elapsed = time.perf_counter() - started
        for header in response.msg.get_all('Set-Cookie') or []:
            name, _, value = header.split(';', 1)[0].partition('=')
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        if response.getheader('Connection', '').lower() == 'close':
            self.close()
        return response.status, text, response.getheader('Location') or '', elapsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def login(self, username, password):
        status, page, _, _ = self.request('GET', '/login')
        token = csrf_of(page)
        status, page, location, _ = self.request('POST', '/login', {
            'username': username, 'password': password, 'csrf_token': token})
        if status != 302:
            raise RuntimeError('login of %s refused (%d)' % (username, status))
        return location

    def post_form(self, path, changes, form_path=None):
        """Open the form at `form_path` (default `path`), change some values, post it.
        Returns (status, body, location, seconds of the post, the form as posted)."""
        status, page, _, _ = self.request('GET', form_path or path)
        if status != 200:
            raise RuntimeError('GET %s answered %d' % (form_path or path, status))
        data = form_fields(page)
        data.update(changes)
        status, body, location, elapsed = self.request('POST', path, data)
        return status, body, location, elapsed, data


def csrf_of(page):
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"',
                      page)
    if not match:
        raise RuntimeError('no CSRF token on the page')
    return match.group(1) or match.group(2)


def create_clerks(server, count, project_id):
    """The admin creates `count` clerks through user management; each changes the initial
    password at first login (as the portal demands) and is returned logged in."""
    admin = Browser(server)
    admin.login('admin', DEMO_PASSWORD)
    clerks = []
    for n in range(1, count + 1):
        username = 'loadclerk%d' % n
        status, body, _, _, _ = admin.post_form('/admin/users/new', {
            'username': username, 'display_name': '压测专员%d' % n, 'role': 'clerk',
            'projects': [str(project_id)], 'active': 'y', 'password': CLERK_PASSWORD + '-init'})
        if status != 302:
            raise RuntimeError('creating %s failed (%d): %s' % (username, status, body[-500:]))
        clerk = Browser(server)
        where = clerk.login(username, CLERK_PASSWORD + '-init')
        if not where.endswith('/account/password'):
            raise RuntimeError('%s was not sent to change the initial password' % username)
        status, body, _, _, _ = clerk.post_form('/account/password', {
            'current': CLERK_PASSWORD + '-init', 'new': CLERK_PASSWORD, 'again': CLERK_PASSWORD})
        if status != 302:
            raise RuntimeError('%s could not change the password (%d)' % (username, status))
        clerks.append(clerk)
    admin.close()
    return clerks


# ------------------------------------------------------------------ the database afterwards

def logged_updates(store, table='unit', marker='LT-'):
    """token -> (row id, version before, version after) for every logged update whose remarks
    carry a load token."""
    conn = store.connect()
    try:
        found = {}
        for row_id, before, after in conn.execute(
                "SELECT row_id, before, after FROM change_log WHERE table_name=? AND action='update'"
                " AND after LIKE ?", (table, '%' + marker + '%')):
            b, a = json.loads(before or '{}'), json.loads(after or '{}')
            token = a.get('remarks')
            if token and token.startswith(marker):
                found.setdefault(token, []).append((row_id, b.get('version'), a.get('version')))
        return found
    finally:
        conn.close()


def current_rows(store, ids, table='unit'):
    conn = store.connect()
    try:
        marks = ','.join('?' * len(ids))
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            'SELECT id, remarks, version FROM %s WHERE id IN (%s)' % (table, marks), list(ids))}
    finally:
        conn.close()


def lost_updates(store, accepted, refused):
    """Every violation of 'no lost update': returns a list of messages (empty when none).

    accepted: token -> (row id, row_version posted); refused: tokens answered as stale.
    - every accepted save is in the change log once, on its row, written on the version posted;
    - no refused save is in the change log;
    - each row's versions form one unbroken chain, and its final data is the last save.
    """
    problems = []
    logged = logged_updates(store)
    for token, (row_id, posted) in accepted.items():
        entries = logged.get(token, [])
        if len(entries) != 1:
            problems.append('accepted save %s logged %d times' % (token, len(entries)))
            continue
        logged_row, before, _ = entries[0]
        if logged_row != row_id or str(before) != str(posted):
            problems.append('accepted save %s written on row %s v%s, posted for row %s v%s' % (
                token, logged_row, before, row_id, posted))
    for token in refused:
        if token in logged:
            problems.append('refused save %s is in the change log' % token)
    unacknowledged = set(logged) - set(accepted) - set(refused)
    chains = {}
    for token, entries in logged.items():
        for row_id, before, after in entries:
            chains.setdefault(row_id, []).append((before, after, token))
    final = current_rows(store, list(chains)) if chains else {}
    for row_id, steps in chains.items():
        steps.sort(key=lambda s: s[0])
        for (b1, a1, _), (b2, a2, t2) in zip(steps, steps[1:]):
            if a1 != b2:
                problems.append('row %s: version %s followed by a save on version %s (%s)' % (
                    row_id, a1, b2, t2))
        remarks, version = final[row_id]
        last = steps[-1]
        if (version, remarks) != (last[1], last[2]):
            problems.append('row %s holds %r (v%s), its last logged save was %r (v%s)' % (
                row_id, remarks, version, last[2], last[1]))
    return problems, unacknowledged


def finish(server, violations, keep=False):
    """List the violations (the first 20); remove the run's folder when there were none and it
    is not to be kept. The exit code of the run."""
    for v in violations[:20]:
        print('  - ' + v)
    if not keep and not violations:
        for store in [server.store] + list(server.extra_stores):
            store.drop()
        shutil.rmtree(server.workdir, ignore_errors=True)
    return 1 if violations else 0
