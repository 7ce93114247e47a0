"""How fast the dashboard (`/`), the project board and `/due` answer, against the raw SQL of the
same counts, on the demo data and on a generated punch list of 1,000,000 rows.

    .venv/bin/python benchmarks/bench_due.py            # demo, then 1,000,000 punch-list rows
    .venv/bin/python benchmarks/bench_due.py --quick    # demo, then 20,000 rows (CI)
    .venv/bin/python benchmarks/bench_due.py --rows 300000 --keep /tmp/bench.db
    .venv/bin/python benchmarks/bench_due.py --reuse /tmp/bench.db   # measure it again

Every figure is the median of several warm requests through the Flask test client, logged in as
the auditor (every project), in wall time and in CPU time of the process (SQLite runs in it; on a
shared, loaded machine wall time mostly measures the wait for a core). The baseline is the raw
SQL of the counts the pages show, run straight on the database cursor with no Python around it:
the same statements the pages issue (the ratio is what the pages add), and the same counts
written by hand with bound parameters (which cannot use the deadlines' partial indexes).
"""
import argparse
import datetime
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

PASSWORD = 'Bench-Passw0rd-2026'


def median_time(func, repeat):
    """(median wall seconds, median CPU seconds of this process) over `repeat` warm runs.

    CPU time is reported too because a shared machine's load stretches wall time by the time the
    process waits for a core; SQLite runs in-process, so CPU time includes the database's work."""
    func()                                   # warm: templates compiled, caches filled
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        func()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def fetch(client, url):
    def run():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response
    return run


def raw_counts(today, days):
    """Two baselines of the counts behind the dashboard and /due, run on the raw cursor:

    - `indexed`: the very count statements the pages issue (open rows written as the deadlines'
      partial indexes say them), so the ratio is what the pages add around the database's work;
    - `plain`: the same counts as one writes them by hand, with bound parameters and no partial
      index, to show what the indexes save.
    """
    from peewee import Case, fn
    from models.base import db
    from models import due as engine
    ids = [p.id for p in engine.visible_projects()]
    flt = engine.DueFilter(days=days)
    indexed, plain = [], []
    for model, deadline in engine.register_deadlines():
        query = engine._deadline_query(model, deadline, flt, ids, today)
        if query is None:
            continue
        due = getattr(model, deadline.due_field)
        columns = (model.project, fn.SUM(Case(None, [(due < today, 1)], 0)),
                   fn.COUNT(model._meta.primary_key))
        indexed.append(query.select(*columns).group_by(model.project).sql())
        by_hand = model.select(*columns).where(
            model.deleted_at.is_null() & due.is_null(False) & (due <= engine.horizon(today, days))
            & model.project.in_(ids))
        if deadline.open_when is not None:
            by_hand = by_hand.where(deadline.open_when(model))
        plain.append(by_hand.group_by(model.project).sql())

    def runner(statements):
        def run():
            cursor = db.cursor()
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()
        return run
    return runner(indexed), runner(plain), len(indexed)


def generate_punch_list(rows, seed=7):
    """`rows` inspection issues in the first project: 90% settled, the rest open, with deadlines
    from 200 days ago to 30 days ahead (so the due list and the counts both have work to do)."""
    from models.base import db
    from models.master import Project, Unit
    from models.delivery import AcceptanceRound
    rng = random.Random(seed)
    project = Project.select().order_by(Project.id).first()
    units = [u.id for u in Unit.select(Unit.id).where(Unit.project == project.id)]
    rounds = [r.id for r in AcceptanceRound.select(AcceptanceRound.id)
              .where(AcceptanceRound.project == project.id)] or [None]
    today = datetime.date.today()
    statuses = ['已关闭'] * 17 + ['让步接收', '待整改', '整改中']
    sql = ('INSERT INTO inspection_issue (project_id, round_id, unit_id, category, description, '
           'severity, found_on, deadline, status, verified_on, version) '
           'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)')
    # Bulk load as a DBA would: the table's indexes and its text-search triggers
    # (models/search.py) are set aside while the rows go in, then built again in one pass each,
    # so the final schema is exactly the one init-db made.
    schema = db.execute_sql("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = "
                            "'inspection_issue' AND type IN ('index', 'trigger') AND sql IS NOT NULL"
                            ).fetchall()
    for kind, name, _ in schema:
        db.execute_sql('DROP %s "%s"' % (kind.upper(), name))
    cursor = db.cursor()
    batch = []
    for n in range(rows):
        found_on = today - datetime.timedelta(days=rng.randint(5, 230))
        deadline = found_on + datetime.timedelta(days=rng.randint(3, 60))
        status = rng.choice(statuses)
        batch.append((project.id, rng.choice(rounds), rng.choice(units) if units else None, '交楼标准',
                      '批量生成问题 %d' % n, '一般', found_on.isoformat(), deadline.isoformat(),
                      status, deadline.isoformat() if status == '已关闭' else None))
        if len(batch) >= 20000:
            cursor.executemany(sql, batch)
            batch = []
    if batch:
        cursor.executemany(sql, batch)
    for _, _, ddl in schema:
        db.execute_sql(ddl)
    # The loaded rows reach the search tables too, as if typed one by one.
    from models.delivery import InspectionIssue
    from models.search import rebuild_sqlite_search
    rebuild_sqlite_search(InspectionIssue)
    db.execute_sql('ANALYZE')
    return project


# For scale: a page with only the menu, and a register list of the same punch list.
CONTEXT_URLS = [('参照：仅菜单的页面', '/account/password'),
                ('参照：验收问题列表', '/admin/inspection_issue/')]


def measure(client, label, repeat, today, days, project_id):
    from models.base import db
    urls = [('首页 /', '/?on=%s' % today), ('待办 /due', '/due?on=%s&days=%d' % (today, days)),
            ('待办 /due 单项目', '/due?on=%s&days=%d&project=%d' % (today, days, project_id)),
            ('项目看板 /project', '/project/%d?on=%s' % (project_id, today))]
    indexed, plain, statements = raw_counts(today, days)
    with db.connection_context():
        baseline, baseline_cpu = median_time(indexed, repeat)
        by_hand, by_hand_cpu = median_time(plain, max(1, min(repeat, 2)))
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print('\n== %s（机器负载 %.1f / %d 核）' % (label, load, os.cpu_count() or 1))
    print('   基准：页面所发的同样计数 SQL %d 条，原始游标执行 %.1f ms（CPU %.1f ms）'
          % (statements, baseline * 1000, baseline_cpu * 1000))
    print('   对照：手写的同样计数（绑定参数、不走部分索引）%.1f ms（CPU %.1f ms）'
          % (by_hand * 1000, by_hand_cpu * 1000))
    print('%-20s %12s %10s %12s %10s' % ('页面', '耗时', '÷基准', 'CPU', '÷基准CPU'))
    results = {}
    for name, url in urls + CONTEXT_URLS:
        runs = repeat if not name.startswith('项目看板') else max(1, min(repeat, 2))
        wall, cpu = median_time(fetch(client, url), runs)
        results[name] = (wall, cpu)
        print('%-20s %9.1f ms %9.1f× %9.1f ms %9.1f×' % (
            name, wall * 1000, wall / baseline if baseline else 0,
            cpu * 1000, cpu / baseline_cpu if baseline_cpu else 0))
    return baseline, results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='20,000 generated rows, 3 repeats')
    parser.add_argument('--rows', type=int, default=None)
    parser.add_argument('--repeat', type=int, default=None)
    parser.add_argument('--keep', default=None, help='keep the database at this path')
    parser.add_argument('--reuse', default=None,
                        help='measure a copy of a database kept earlier (--keep), skip loading')
    args = parser.parse_args(argv)
    rows = args.rows or (20000 if args.quick else 1000000)
    repeat = args.repeat or (3 if args.quick else 5)

    workdir = tempfile.mkdtemp(prefix='kefu-bench-')
    os.environ['KEFU_INSTANCE_PATH'] = workdir
    path = os.path.join(workdir, 'bench.db')
    from app import create_app
    from models.base import db
    from models.schema import init_db
    from seeds import seed_demo
    app = create_app({'KEFU_DATABASE_URL': 'sqlite:///' + path, 'SECRET_KEY': 'bench',
                      'TESTING': True, 'WTF_CSRF_ENABLED': False,
                      'KEFU_PASSWORD_METHOD': 'pbkdf2:sha256:1000'})
    if args.reuse:
        shutil.copyfile(args.reuse, path)
    init_db()
    client = app.test_client()
    today, days = datetime.date.today(), 14
    from models.master import Project

    def first_project():
        with db.connection_context():
            return Project.select().order_by(Project.id).first().id

    if args.reuse:
        login(client)
        label = '%s（已有数据库）' % os.path.basename(args.reuse)
    else:
        start = time.perf_counter()
        with db.connection_context():
            try:
                seed_demo(PASSWORD)
            except Exception as exc:   # a stage's demo data being reworked: measure what loaded
                print('警告：演示数据未完全加载（%s: %s），以已加载的数据测量。'
                      % (type(exc).__name__, exc))
        print('演示数据加载 %.1f s（%s）' % (time.perf_counter() - start, path))
        login(client)
        measure(client, '演示数据', repeat, today, days, first_project())
        start = time.perf_counter()
        with db.connection_context():
            with db.atomic():
                generate_punch_list(rows)
        print('\n生成验收问题 %d 行 %.1f s' % (rows, time.perf_counter() - start))
        label = '演示数据 + %d 行验收问题' % rows
    baseline, results = measure(client, label, repeat, today, days, first_project())
    slow = {k: v for k, v in results.items()
            if v[1] >= 1.0 and not k.startswith(('项目看板', '参照'))}
    print('\n结论：%s' % ('首页与待办的 CPU 耗时均在 1 秒内' if not slow else
                        'CPU 耗时超过 1 秒：%s' % '、'.join(slow)))
    if args.keep:
        shutil.copyfile(path, args.keep)
    shutil.rmtree(workdir, ignore_errors=True)
    return 1 if slow else 0


def login(client):
    response = client.post('/login', data={'username': 'auditor', 'password': PASSWORD})
    assert response.status_code == 302, response.status_code


if __name__ == '__main__':
    sys.exit(main())
