"""Punch-list and daily-report speed, as ratios to the same queries in raw SQL, in one run.

Generates (fixed seed) a project with 2,000 units, 100,000 inspection issues over them and a
2,000-unit handover roster, then measures through the app's test client, logged in as a clerk:

- the punch-list page: first page, filtered by status, searched by a word;
- the daily handover report screen;

and the same questions asked directly in SQL (count + first page with the related names; the
daily figures as one aggregate). Each figure is the median of several runs.

    .venv/bin/python benchmarks/bench_punch_list.py [--issues 100000] [--repeat 7] [--db PATH]

With --db, the data is generated into PATH once and reused by later runs (the build takes minutes:
every insert also feeds the search indexes).
"""
import argparse
import datetime
import os
import random
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

PASSWORD = 'Bench-Passw0rd-2026'
CATEGORIES = ('交楼标准', '施工图与现场符合', '重大质量问题', '系统性风险', '设计缺陷', '销售承诺', '使用功能',
              '成品保护', '完整性', '水电', '景观', '观感色差卫生')
WORDS = ('插座不通电', '墙面乳胶漆色差', '外窗渗水', '入户门划伤', '地砖空鼓', '卫生间地漏反味', '橱柜门板变形',
         '阳台栏杆松动', '开关面板缺失', '窗台石材水渍')
STATUSES = ('待整改', '整改中', '待验证', '已关闭', '让步接收', '不整改')
STATUS_WEIGHTS = (15, 15, 10, 50, 6, 4)


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bulk_insert(model, rows):
    """Load rows with one prepared INSERT (executemany): the benchmark's setup, not what it measures."""
    if not rows:
        return
    from models.base import db
    columns = list(dict.fromkeys(k for row in rows for k in row))
    defaults = {n: f.default for n, f in model._meta.fields.items()
                if n not in columns and f.default is not None}
    rows = [dict({n: d() if callable(d) else d for n, d in defaults.items()}, **row) for row in rows]
    columns += list(defaults)
    fields = [model._meta.fields[c] for c in columns]
    sql = 'INSERT INTO "%s" (%s) VALUES (%s)' % (
        model._meta.table_name, ', '.join('"%s"' % f.column_name for f in fields),
        ', '.join('?' for _ in fields))
    db.cursor().executemany(sql, [[f.db_value(row.get(c)) for f, c in zip(fields, columns)] for row in rows])


def build(app, issues, rng):
    from models.base import now
    from models.delivery import AcceptanceRound, InspectionIssue
    from models.handover import HandoverEntry
    from models.master import Contract, Contractor, Owner, Project, Unit
    from seeds import create_user

    today = datetime.date.today()
    stamp = now()
    audit = dict(created_at=stamp, updated_at=stamp, version=1)
    t = today - datetime.timedelta(days=5)
    project = Project.create(code='BENCH', name='基准项目', region='浙江', city='杭州',
                             contract_delivery_date=t, delivery_start_date=t, stage='交付准备', **audit)
    Project.create(code='OTHER', name='其他项目', region='上海', city='上海', stage='在售', **audit)
    contractors = [Contractor.create(name='责任单位%02d' % n, kind='分包', **audit) for n in range(12)]
    units = []
    for b in range(1, 21):
        for floor in range(1, 26):
            for r in range(1, 5):
                units.append(dict(project=project.id, building='%d栋' % b, entrance='1',
                                  room='%d%02d' % (floor, r), floor=floor, status='已售', **audit))
    bulk_insert(Unit, units)
    unit_ids = [u.id for u in Unit.select(Unit.id).where(Unit.project == project.id).order_by(Unit.id)]
    rounds = []
    for n, label in enumerate(('第一轮', '第二轮', '第三轮')):
        rounds.append(AcceptanceRound.create(project=project.id, round_no=label,
                                             started_on=t - datetime.timedelta(days=150 - 50 * n), **audit))
    batch = []
    for n in range(issues):
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        found_on = t - datetime.timedelta(days=rng.randint(0, 150))
        batch.append(dict(project=project.id, round=rng.choice(rounds).id, unit=rng.choice(unit_ids),
                          category=rng.choice(CATEGORIES), description=rng.choice(WORDS) + '（%d）' % n,
                          severity='一般', found_on=found_on, found_by='验收组',
                          contractor=rng.choice(contractors).id, responsible_person='责任人%d' % rng.randint(1, 40),
                          deadline=found_on + datetime.timedelta(days=rng.choice((3, 7, 15))),
                          status=status, **audit))
    bulk_insert(InspectionIssue, batch)
    owners, contracts, roster = [], [], []
    for n, unit_id in enumerate(unit_ids):
        owners.append(dict(project=project.id, name='业主%d' % n, phone='138%08d' % n, **audit))
    bulk_insert(Owner, owners)
    owner_ids = [o.id for o in Owner.select(Owner.id).where(Owner.project == project.id).order_by(Owner.id)]
    for n, (unit_id, owner_id) in enumerate(zip(unit_ids, owner_ids)):
        contracts.append(dict(project=project.id, contract_no='B-%05d' % n, unit=unit_id, owner=owner_id,
                              sign_date=t - datetime.timedelta(days=400), total_price=1500000,
                              payment_method='一次性', paid_in_full=rng.random() > 0.1, **audit))
    bulk_insert(Contract, contracts)
    for n, contract in enumerate(Contract.select().where(Contract.project == project.id).order_by(Contract.id)):
        eligible = contract.paid_in_full
        row = dict(project=project.id, unit=contract.unit_id, owner=contract.owner_id, contract=contract.id,
                   eligible=eligible, ineligible_reason=None if eligible else '房款未结清', status='待交付',
                   issues_found=0, late_days=0, late_penalty=0, **audit)
        if eligible:
            day = t + datetime.timedelta(days=n % 10)
            row['appointment_on'] = day
            if day <= today:
                fate = rng.random()
                if fate > 0.1:
                    row['arrived_at'] = datetime.datetime.combine(day, datetime.time(9 + n % 8, 0))
                    row['issues_found'] = rng.randint(0, 6)
                    if fate > 0.2:
                        row.update(status='已交付', keys_handed_on=day)
                    else:
                        row.update(status='拒收', refused_on=day, refusal_reason='渗水')
                else:
                    row['status'] = '未到场'
        roster.append(row)
    bulk_insert(HandoverEntry, roster)
    with app.app_context():
        create_user('clerk', '李专员', 'clerk', PASSWORD, ['BENCH'])
    return project


def login(client):
    page = client.get('/login').get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post('/login', data={'username': 'clerk', 'password': PASSWORD, 'csrf_token': token})
    assert response.status_code == 302, 'login failed'


LIST_SQL = '''
SELECT i.id, p.name, r.round_no, u.building, u.entrance, u.room, i.location, i.category, i.description,
       i.severity, c.name, i.responsible_person, i.found_on, i.deadline, i.status, i.verified_on
FROM inspection_issue i
JOIN project p ON p.id = i.project_id
LEFT JOIN acceptance_round r ON r.id = i.round_id
LEFT JOIN unit u ON u.id = i.unit_id
LEFT JOIN contractor c ON c.id = i.contractor_id
WHERE i.deleted_at IS NULL AND i.project_id IN (%(projects)s) %(extra)s
ORDER BY i.found_on DESC, i.id DESC
LIMIT 50'''
COUNT_SQL = '''SELECT COUNT(*) FROM inspection_issue i
WHERE i.deleted_at IS NULL AND i.project_id IN (%(projects)s) %(extra)s'''
SEARCH = ('AND (i.description LIKE ? OR i.location LIKE ? OR i.responsible_person LIKE ? '
          'OR i.found_by LIKE ?)')
DAILY_SQL = '''
SELECT COUNT(*),
       SUM(CASE WHEN eligible THEN 1 ELSE 0 END),
       SUM(CASE WHEN appointment_on = ? THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = '已交付' AND keys_handed_on = ? THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = '已交付' AND keys_handed_on <= ? THEN 1 ELSE 0 END),
       SUM(CASE WHEN status = '已交付' AND keys_handed_on = ? THEN issues_found ELSE 0 END),
       SUM(CASE WHEN status = '拒收' AND refused_on = ? THEN 1 ELSE 0 END),
       SUM(CASE WHEN eligible AND appointment_on = ? AND (arrived_at IS NULL OR arrived_at >= ?)
                 AND NOT (status = '已交付' AND keys_handed_on <= ?)
                 AND NOT (status = '拒收' AND refused_on <= ?) THEN 1 ELSE 0 END)
FROM handover_entry WHERE project_id = ? AND deleted_at IS NULL'''


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--issues', type=int, default=100000)
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--db', help='SQLite file to generate into, or reuse when it holds the data')
    args = parser.parse_args(argv)

    from app import create_app
    from models.base import db
    from models.schema import init_db

    path = os.path.abspath(args.db) if args.db else os.path.join(tempfile.mkdtemp(prefix='kefu_bench_'),
                                                                 'bench.db')
    app = create_app({'TESTING': True, 'SECRET_KEY': 'bench', 'KEFU_DATABASE_URL': 'sqlite:///' + path,
                      'KEFU_PASSWORD_METHOD': 'pbkdf2:sha256:1000'})
    app.instance_path = os.path.dirname(path)
    init_db()
    db.connect(reuse_if_open=True)
    from models.delivery import InspectionIssue
    from models.master import Project
    project = Project.get_or_none(Project.code == 'BENCH')
    if project is None:
        rng = random.Random(20261125)
        started = time.perf_counter()
        with db.atomic():
            project = build(app, args.issues, rng)
        db.execute_sql('ANALYZE')
        print('生成 %d 条验收问题、%d 户交楼名单：%.1f 秒（%s）' % (
            args.issues, 2000, time.perf_counter() - started, path))
    else:
        print('沿用 %s：%d 条验收问题' % (path, InspectionIssue.select().count()))

    client = app.test_client()
    login(client)
    view = next(v for v in app.extensions['admin'][0]._views if getattr(v, 'endpoint', '') == 'inspection_issue')
    status_filter = next(i for i, f in enumerate(view._filters)
                         if f.name == '状态' and type(f).__name__ == 'FilterEqual')
    day = project.delivery_start_date + datetime.timedelta(days=2)
    projects = str(project.id)       # the clerk's scope

    def page(url, expect):
        def run():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert expect in response.get_data(as_text=True), (url, expect)
        return run

    def raw(extra='', params=()):
        def run():
            sql = {'projects': projects, 'extra': extra}
            db.execute_sql(COUNT_SQL % sql, params).fetchone()
            db.execute_sql(LIST_SQL % sql, params).fetchall()
        return run

    word = '%插座%'
    iso = day.isoformat()
    next_day = (day + datetime.timedelta(days=1)).isoformat()
    cases = [
        ('验收问题清单 第一页', page('/admin/inspection_issue/', '验收问题'), raw()),
        ('按状态筛选（待整改）', page('/admin/inspection_issue/?flt0_%d=待整改' % status_filter, '待整改'),
         raw('AND i.status = ?', ('待整改',))),
        ('搜索“插座”', page('/admin/inspection_issue/?search=插座', '插座'), raw(SEARCH, (word,) * 4)),
        ('每日交房日报表', page('/admin/handover_entry/daily/?project=%d&day=%s' % (project.id, iso), '当日交付户数'),
         lambda: db.execute_sql(DAILY_SQL, (iso, iso, iso, iso, iso, iso, next_day, iso, iso,
                                            project.id)).fetchone()),
    ]
    for _, app_run, sql_run in cases:      # warm caches and templates once
        app_run()
        sql_run()
    print('%-22s %10s %10s %8s' % ('场景', '应用(ms)', 'SQL(ms)', '倍数'))
    for name, app_run, sql_run in cases:
        app_ms = median_ms(app_run, args.repeat)
        sql_ms = median_ms(sql_run, args.repeat)
        print('%-22s %10.1f %10.2f %8.1f' % (name, app_ms, sql_ms, app_ms / sql_ms if sql_ms else float('inf')))
    db.close()


if __name__ == '__main__':
    main()
