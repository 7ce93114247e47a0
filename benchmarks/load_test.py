"""Load test: 8 clerks saving the same and different rows of the real server at once.

    .venv/bin/python benchmarks/load_test.py --seconds 60        (CI: --seconds 15)

Starts `python app.py --demo` (waitress) on 127.0.0.1 in a temporary instance, has the admin
create the clerks (each changes the initial password at first login), then each clerk opens a
unit's edit form and saves it with a unique remark, again and again, on two rows everybody edits
and on rows of their own. Half-way a backup is taken with `flask --app app backup`.

It prints figures against a one-clerk baseline measured in the same run, and exits non-zero on
any violation:
  - a 5xx answer, or 'database is locked' in an answer or the server log;
  - a lost update: an accepted save missing from the final data or the change log, a save written
    on another version than the one its form was opened on, a refused save without the stale
    message '该记录已被他人修改';
  - a backup that fails its integrity check, does not restore, or lacks a save acknowledged
    before the backup started.
"""
import argparse
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'tests', 'load'))

from forms import form_fields  # noqa: E402
from harness import (LOCKED, STALE_MESSAGE, Server, create_clerks,  # noqa: E402
                     database_url_argument, finish, logged_updates, lost_updates, percentile)

HOT_ROWS = 2            # rows every clerk edits (conflicts expected)
OWN_ROWS = 3            # rows only one clerk edits (no conflict possible)


class Tally:
    """What the clerks saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = {}        # token -> (row id, row_version posted)
        self.acked_at = {}        # token -> monotonic time the acceptance arrived
        self.refused = set()      # tokens refused with the stale message
        self.save_seconds = []
        self.page_seconds = []
        self.server_errors = []   # (status, path)
        self.locked = 0
        self.unexpected = []      # answers that are neither a save nor the stale message
        self.requests = 0

    def merge(self, other):
        with self.lock:
            self.accepted.update(other.accepted)
            self.acked_at.update(other.acked_at)
            self.refused |= other.refused
            self.save_seconds += other.save_seconds
            self.page_seconds += other.page_seconds
            self.server_errors += other.server_errors
            self.locked += other.locked
            self.unexpected += other.unexpected
            self.requests += other.requests


def clerk_loop(n, browser, hot, own, until, tally, rng, prefix):
    seq = 0
    while time.monotonic() < until:
        seq += 1
        row_id = rng.choice(hot) if rng.random() < 0.5 else rng.choice(own)
        token = '%s%d-%d' % (prefix, n, seq)
        edit = '/admin/unit/edit/?id=%d' % row_id
        status, page, _, page_seconds = browser.request('GET', edit)
        tally.requests += 1
        tally.page_seconds.append(page_seconds)
        if status >= 500 or LOCKED in page:
            tally.server_errors.append((status, 'GET ' + edit))
            tally.locked += LOCKED in page
            continue
        data = form_fields(page)
        posted_version = data.get('row_version')
        data['remarks'] = token
        status, body, _, save_seconds = browser.request('POST', edit, data)
        tally.requests += 1
        tally.save_seconds.append(save_seconds)
        if LOCKED in body:
            tally.locked += 1
        if status >= 500:
            tally.server_errors.append((status, 'POST ' + edit))
        elif status == 302:
            tally.accepted[token] = (row_id, posted_version)
            tally.acked_at[token] = time.monotonic()
        elif status == 200 and STALE_MESSAGE in body:
            tally.refused.add(token)
        else:
            tally.unexpected.append((token, status, body[-300:]))


def run_clerks(browsers, rows_of, seconds, prefix, backup_at=None, on_backup=None):
    tally = Tally()
    until = time.monotonic() + seconds
    threads, parts = [], []
    for n, browser in enumerate(browsers, 1):
        part = Tally()
        parts.append(part)
        hot, own = rows_of(n)
        threads.append(threading.Thread(target=clerk_loop, args=(
            n, browser, hot, own, until, part, random.Random(n), prefix)))
    started = time.monotonic()
    for t in threads:
        t.start()
    backup_result = None
    if backup_at is not None:
        time.sleep(max(0.0, started + backup_at - time.monotonic()))
        backup_result = on_backup(parts)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    for part in parts:
        tally.merge(part)
    return tally, elapsed, backup_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--clients', type=int, default=8)
    parser.add_argument('--threads', type=int, default=8, help='waitress worker threads')
    parser.add_argument('--keep', action='store_true', help='keep the temporary instance folder')
    parser.add_argument('--sqlite-synchronous', choices=('full', 'normal'), default=None,
                        help="SQLite's synchronous setting of the server (default: the portal's)")
    database_url_argument(parser)
    args = parser.parse_args(argv)

    server = Server(threads=args.threads, database_url=args.database_url)
    if args.sqlite_synchronous:
        server.env['KEFU_SQLITE_SYNCHRONOUS'] = args.sqlite_synchronous
    print('实例目录 %s；数据库 %s' % (server.workdir, 'PostgreSQL' if server.store.is_postgres else
                                   'SQLite（synchronous=%s）' % (
                                       args.sqlite_synchronous or 'full')))
    boot = server.start()
    print('服务器已启动（含演示数据）：%.1f s，端口 %d' % (boot, server.port))
    violations = []
    try:
        conn = server.store.connect()
        project_id = conn.execute(
            "SELECT up.project_id FROM user_project up JOIN app_user u ON u.id = up.user_id "
            "WHERE u.username = 'clerk'").fetchone()[0]
        unit_ids = [r[0] for r in conn.execute(
            'SELECT id FROM unit WHERE project_id = ? AND deleted_at IS NULL ORDER BY id LIMIT ?',
            (project_id, HOT_ROWS + OWN_ROWS * args.clients))]
        conn.close()
        hot = unit_ids[:HOT_ROWS]

        def rows_of(n):
            start = HOT_ROWS + (n - 1) * OWN_ROWS
            return hot, unit_ids[start:start + OWN_ROWS]

        browsers = create_clerks(server, args.clients, project_id)
        print('管理员已创建 %d 名客服专员，均已在首次登录时修改密码。' % len(browsers))

        # Baseline: one clerk alone, same work, same server.
        base_seconds = max(3.0, args.seconds / 5)
        base, base_elapsed, _ = run_clerks(browsers[:1], lambda n: (hot, rows_of(1)[1]),
                                           base_seconds, 'LT-base-')

        backup_path = os.path.join(server.workdir, 'during-load' + server.store.backup_suffix)

        def take_backup(parts):
            acked = set()
            for part in parts:
                acked |= set(part.accepted)        # acknowledged before the backup started
            started = time.monotonic()
            done = server.flask('backup', backup_path)
            return {'acked': acked, 'seconds': time.monotonic() - started, 'result': done}

        tally, elapsed, taken = run_clerks(browsers, rows_of, args.seconds, 'LT-',
                                           backup_at=args.seconds / 2, on_backup=take_backup)
        for b in browsers:
            b.close()
    finally:
        server.stop()

    # ---------------------------------------------------------------- checks
    everything = Tally()
    everything.merge(base)
    everything.merge(tally)
    log = server.log_text()
    if everything.server_errors:
        violations.append('%d answers 5xx: %s' % (len(everything.server_errors),
                                                  everything.server_errors[:5]))
    locked = everything.locked + log.count(LOCKED)
    if locked:
        violations.append("%d times 'database is locked'" % locked)
    if 'Traceback' in log:
        violations.append('the server log has a traceback')
    if everything.unexpected:
        violations.append('%d answers neither saved nor refused as stale: %s' % (
            len(everything.unexpected), everything.unexpected[:3]))
    lost, unacknowledged = lost_updates(server.store, everything.accepted, everything.refused)
    violations += lost
    if unacknowledged:
        violations.append('%d saves in the change log the clerks never saw acknowledged' %
                          len(unacknowledged))
    live_check = server.store.integrity()
    if live_check != 'ok':
        violations.append('live database integrity: %s' % live_check)

    # the backup taken during the load
    backup_missing = None
    restored_check = None
    if taken['result'].returncode != 0:
        violations.append('backup failed: %s' % taken['result'].stderr[-500:])
    else:
        restored = server.store.sibling(server.workdir, 'restored')
        server.extra_stores.append(restored)
        done = server.flask('restore', backup_path, '--yes', db_url=restored.url)
        if done.returncode != 0:
            violations.append('restore failed: %s' % done.stderr[-500:])
        else:
            restored_check = restored.integrity()
            if restored_check != 'ok':
                violations.append('restored backup integrity: %s' % restored_check)
            in_backup = logged_updates(restored)
            backup_missing = sorted(t for t in taken['acked'] if t not in in_backup)
            if backup_missing:
                violations.append('%d saves acknowledged before the backup are missing from it' %
                                  len(backup_missing))

    # ---------------------------------------------------------------- figures
    saves = len(tally.accepted)
    throughput = saves / elapsed if elapsed else 0
    base_throughput = len(base.accepted) / base_elapsed if base_elapsed else 0
    p50, p95 = percentile(tally.save_seconds, 50), percentile(tally.save_seconds, 95)
    b50, b95 = percentile(base.save_seconds, 50), percentile(base.save_seconds, 95)
    print()
    print('负载：%d 名客服专员，%.1f s；%d 行共同编辑 + 每人 %d 行独自编辑；waitress %d 线程' % (
        args.clients, elapsed, HOT_ROWS, OWN_ROWS, args.threads))
    print('  请求                %6d（%.1f 次/秒）' % (tally.requests, tally.requests / elapsed))
    print('  保存成功            %6d（%.1f 次/秒；单人基线 %.1f 次/秒，比值 %.2f×）' % (
        saves, throughput, base_throughput, throughput / base_throughput if base_throughput else 0))
    print('  过期被拒（提示“%s”） %6d' % (STALE_MESSAGE, len(tally.refused)))
    print('  保存耗时 p50 / p95  %6.0f / %.0f ms（单人基线 %.0f / %.0f ms，p95 比值 %.2f×）' % (
        p50 * 1000, p95 * 1000, b50 * 1000, b95 * 1000, p95 / b95 if b95 else 0))
    print('  打开表单 p50 / p95  %6.0f / %.0f ms' % (percentile(tally.page_seconds, 50) * 1000,
                                                  percentile(tally.page_seconds, 95) * 1000))
    print('  5xx 响应            %6d' % len(everything.server_errors))
    print("  'database is locked' %5d" % locked)
    print('  丢失的更新          %6d' % len(lost))
    print('  数据库完整性        %s' % live_check)
    print('  运行中备份          %.2f s；备份前已确认的保存 %d 条，备份中缺失 %s 条；恢复后完整性 %s' % (
        taken['seconds'], len(taken['acked']),
        '-' if backup_missing is None else len(backup_missing), restored_check or '-'))
    if violations:
        print()
        print('违规 %d 项：' % len(violations))
    return finish(server, violations, args.keep)


if __name__ == '__main__':
    sys.exit(main())
