"""Fault test: the server is killed (SIGKILL) while clerks are saving; nothing acknowledged is lost.

    .venv/bin/python benchmarks/fault_test.py --seconds 60          (CI: --seconds 15)

Starts `python app.py --demo` on 127.0.0.1 in a temporary instance; clerks create units and edit
their own units through the forms. In each round the server process is killed with SIGKILL in the
middle of the writes (no shutdown, no checkpoint), then the database is opened as the server
would open it, and:
  - it passes `PRAGMA integrity_check` (SQLite) or amcheck's index check (PostgreSQL, with
    --database-url);
  - every save the server acknowledged (a redirect after the post) is there: created units in the
    unit table with their change-log entry, edits in the change log and the row;
  - versions form unbroken chains (no half-written save).
The server is restarted on the same files and the next round begins. Exits non-zero on any
violation. Saves in flight at the kill (no answer) may or may not be there: both are correct.
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'tests', 'load'))

from forms import form_fields  # noqa: E402
from harness import (LOCKED, Server, create_clerks, database_url_argument,  # noqa: E402
                     finish, lost_updates)


class Clerk:
    def __init__(self, n, browser, project_id, own_rows):
        self.n, self.browser, self.project_id, self.own_rows = n, browser, project_id, own_rows
        self.created = []            # (building, room) acknowledged
        self.accepted = {}           # token -> (row id, version posted)
        self.refused = set()
        self.in_flight = 0           # writes cut off by the kill
        self.errors = []             # 5xx or 'database is locked'
        self.seq = 0

    def run(self, round_no, stop):
        while not stop.is_set():
            self.seq += 1
            try:
                if self.seq % 2:
                    self.create(round_no)
                else:
                    self.edit(round_no)
            except (OSError, RuntimeError):
                self.in_flight += 1      # the server went away mid-request
                return

    def create(self, round_no):
        status, page, _, _ = self.browser.request('GET', '/admin/unit/new/')
        if status != 200:
            raise RuntimeError('create form answered %d' % status)
        data = form_fields(page)
        building, room = 'K%d' % self.n, 'r%d-%d' % (round_no, self.seq)
        data.update(project=str(self.project_id), building=building, entrance='1', room=room,
                    floor='3', status='未售', special_kind='标准层', remarks='故障测试')
        status, body, _, _ = self.browser.request('POST', '/admin/unit/new/', data)
        self.check(status, body)
        if status == 302:
            self.created.append((building, room))

    def edit(self, round_no):
        row_id = self.own_rows[self.seq % len(self.own_rows)]
        path = '/admin/unit/edit/?id=%d' % row_id
        status, page, _, _ = self.browser.request('GET', path)
        if status != 200:
            raise RuntimeError('edit form answered %d' % status)
        data = form_fields(page)
        token = 'LT-F%d-%d-%d' % (self.n, round_no, self.seq)
        data['remarks'] = token
        status, body, _, _ = self.browser.request('POST', path, data)
        self.check(status, body)
        if status == 302:
            self.accepted[token] = (row_id, data.get('row_version'))
        elif '该记录已被他人修改' in body:
            self.refused.add(token)

    def check(self, status, body):
        if status >= 500 or LOCKED in body:
            self.errors.append((status, body[-200:]))


def check_database(store, clerks):
    """Open the database as the restarted server will (on SQLite read-write: WAL recovery) and
    check it."""
    problems = []
    conn = store.connect(read_only=False)
    try:
        conn.execute('SELECT COUNT(*) FROM change_log').fetchone()     # recovery happens here
        conn.close()
        found = store.integrity()
        conn = store.connect()
        if found != 'ok':
            problems.append('integrity_check: %s' % found)
        for clerk in clerks:
            for building, room in clerk.created:
                row = conn.execute('SELECT id FROM unit WHERE building=? AND room=?',
                                   (building, room)).fetchone()
                if row is None:
                    problems.append('acknowledged unit %s %s is missing' % (building, room))
                    continue
                logged = conn.execute("SELECT COUNT(*) FROM change_log WHERE table_name='unit' "
                                      "AND row_id=? AND action='create'", (row[0],)).fetchone()[0]
                if logged != 1:
                    problems.append('unit %s %s has %d create entries' % (building, room, logged))
    finally:
        conn.close()
    accepted, refused = {}, set()
    for clerk in clerks:
        accepted.update(clerk.accepted)
        refused |= clerk.refused
    lost, _ = lost_updates(store, accepted, refused)
    return found, problems + lost


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=60, help='seconds of writing in all')
    parser.add_argument('--rounds', type=int, default=3, help='kills (one per round)')
    parser.add_argument('--clients', type=int, default=4)
    parser.add_argument('--keep', action='store_true')
    database_url_argument(parser)
    args = parser.parse_args(argv)

    server = Server(database_url=args.database_url)
    print('实例目录 %s' % server.workdir)
    boot = server.start()
    print('服务器已启动（含演示数据）：%.1f s，端口 %d' % (boot, server.port))
    conn = server.store.connect()
    project_id = conn.execute(
        "SELECT up.project_id FROM user_project up JOIN app_user u ON u.id = up.user_id "
        "WHERE u.username = 'clerk'").fetchone()[0]
    unit_ids = [r[0] for r in conn.execute(
        'SELECT id FROM unit WHERE project_id=? AND deleted_at IS NULL ORDER BY id DESC LIMIT ?',
        (project_id, 2 * args.clients))]
    conn.close()
    browsers = create_clerks(server, args.clients, project_id)
    clerks = [Clerk(n, b, project_id, unit_ids[2 * (n - 1):2 * n]) for n, b in enumerate(browsers, 1)]

    violations, restarts = [], []
    per_round = args.seconds / args.rounds
    try:
        for round_no in range(1, args.rounds + 1):
            stop = threading.Event()
            threads = [threading.Thread(target=c.run, args=(round_no, stop)) for c in clerks]
            for t in threads:
                t.start()
            time.sleep(per_round)
            server.kill()                   # while the clerks are still posting
            stop.set()
            for t in threads:
                t.join(120)
            for c in clerks:
                c.browser.close()
            found, problems = check_database(server.store, clerks)
            acked = sum(len(c.created) + len(c.accepted) for c in clerks)
            print('第 %d 轮：SIGKILL 于写入中；完整性 %s；累计已确认写入 %d 条；问题 %d 项' % (
                round_no, found, acked, len(problems)))
            violations += ['round %d: %s' % (round_no, p) for p in problems]
            restarts.append(server.start())
    finally:
        server.stop()

    for c in clerks:
        violations += ['5xx or locked: %s' % (e,) for e in c.errors]
    created = sum(len(c.created) for c in clerks)
    edits = sum(len(c.accepted) for c in clerks)
    in_flight = sum(c.in_flight for c in clerks)
    print()
    print('故障测试：%d 轮，每轮写入 %.1f s 后 SIGKILL；%d 名客服专员' % (args.rounds, per_round, args.clients))
    print('  已确认的新建房源    %6d' % created)
    print('  已确认的修改        %6d' % edits)
    print('  被杀时未获应答的写入 %5d（可有可无，均不算丢失）' % in_flight)
    print('  丢失的已确认写入    %6d' % sum(1 for v in violations if 'missing' in v or 'logged 0' in v))
    print('  重启到可用          %s s' % ' / '.join('%.1f' % r for r in restarts))
    print('  违规                %6d' % len(violations))
    return finish(server, violations, args.keep)


if __name__ == '__main__':
    sys.exit(main())
