"""Excel export and import at the size of a real company, against the plain libraries.

    .venv/bin/python benchmarks/bench_excel.py            # 100,000 and 1,000,000 rows; import 50,000
    .venv/bin/python benchmarks/bench_excel.py --quick    # 2,000 and 20,000 rows; import 2,000 (CI)

For each size a temporary SQLite database is filled with unit rows (fixed seed, insert_many).
Each measurement runs in its own subprocess, so its peak memory (VmHWM) is its own:
- export: the portal's `/admin/unit/export/xlsx/` (views.excel.export_list, as a supervisor)
  against plain xlsxwriter (constant_memory) writing the same rows from a sqlite3 cursor;
- import: the portal's importer (dry run, then the commit in batches through save_logged, each
  batch a short write transaction, undone as a whole if a row fails) of a 50,000-row file against
  plain openpyxl (read_only) reading the same file, and reading plus plain peewee insert_many of
  the same rows; during the commit a clerk saves a unit once a second on a connection of her
  own, and the p95 of her saves' time is printed (target ≤ 1 s).
Figures are printed as ratios against the baseline of the same run.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

SEED = 20261125
PASSWORD = 'Bench-Passw0rd-2026'
LAYOUTS = ('A1', 'A2', 'B1', 'B2', 'C1', '=HYPERLINK("x")', '+1')
KINDS = ('标准层', '标准层', '标准层', '首层', '二层', '边户', '非标层')
STATUSES = ('未售', '已售', '已交付')
HEADER = ['项目', '楼栋', '单元', '房号', '楼层', '户型', '特殊户型', '合同面积(㎡)', '实测面积(㎡)', '状态']


def current_rss_kb():
    with open('/proc/self/statm') as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') // 1024


def peak_rss_kb():
    """This process's own high-water mark (VmHWM). Not ru_maxrss: on Linux that survives
    exec, so a child would report the peak of the benchmark process that started it."""
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- fixtures

def make_app(db_path):
    from app import create_app
    from models.schema import init_db
    app = create_app({'KEFU_DATABASE_URL': 'sqlite:///' + db_path, 'SECRET_KEY': 'bench',
                      'TESTING': True, 'KEFU_PASSWORD_METHOD': 'pbkdf2:sha256:1000',
                      'KEFU_IMPORT_MAX_BYTES': 500 * 1024 * 1024,
                      # the benchmark's file is bigger than one import may be by default
                      'KEFU_IMPORT_MAX_ROWS': 10 ** 7, 'KEFU_IMPORT_MAX_SECONDS': 10 ** 5})
    app.instance_path = os.path.dirname(db_path)
    init_db()
    return app


def build_database(db_path, rows):
    """A database with one project, a supervisor and `rows` units (insert_many, fixed seed)."""
    from decimal import Decimal
    from models.base import db
    from models.master import Project, Unit
    from seeds import create_user
    app = make_app(db_path)
    rng = random.Random(SEED)
    with app.app_context():
        db.connect(reuse_if_open=True)
        project = Project.create_logged(None, code='BENCH', name='基准项目', region='浙江', city='杭州')
        create_user('bench', '基准测试', 'supervisor', PASSWORD, ['BENCH'])
        fields = [Unit.project, Unit.building, Unit.entrance, Unit.room, Unit.floor, Unit.layout,
                  Unit.special_kind, Unit.contract_area, Unit.measured_area, Unit.status,
                  Unit.version]
        batch = []
        with db.atomic():
            for n in range(rows):
                area = Decimal(rng.randrange(6000, 16000)) / 100
                batch.append((project.id, '%d栋' % (n // 10000 + 1), str(n // 1000 % 10 + 1),
                              str(n % 1000 + 101), rng.randrange(1, 34), rng.choice(LAYOUTS),
                              rng.choice(KINDS), area,
                              area + Decimal(rng.randrange(-150, 150)) / 100,
                              rng.choice(STATUSES), 1))
                if len(batch) >= 2500:      # 11 columns × 2,500 rows stays under SQLite's 32,766
                    Unit.insert_many(batch, fields=fields).execute()
                    batch = []
            if batch:
                Unit.insert_many(batch, fields=fields).execute()
        db.close()


# --------------------------------------------------------------------------- measurements (child)

def measure_portal_export(db_path, out_path):
    from flask_login import login_user
    from models.base import User, db
    app = make_app(db_path)
    with app.test_request_context('/admin/unit/export/xlsx/'):
        db.connect(reuse_if_open=True)
        login_user(User.get(User.username == 'bench'))
        view = next(v for v in app.extensions['admin'][0]._views
                    if getattr(v, 'endpoint', None) == 'unit')
        base = current_rss_kb()
        started, cpu = time.perf_counter(), cpu_seconds()
        response = view.export('xlsx')
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        size = int(response.headers.get('Content-Length', 0))
        response.close()
        peak = peak_rss_kb()
    for name in os.listdir(os.path.join(os.path.dirname(db_path), 'tmp')):
        os.unlink(os.path.join(os.path.dirname(db_path), 'tmp', name))
    return {'seconds': seconds, 'cpu': cpu, 'peak_kb': peak, 'base_kb': base, 'bytes': size}


def measure_plain_export(db_path, out_path):
    import sqlite3
    import xlsxwriter
    base = current_rss_kb()
    started, cpu = time.perf_counter(), cpu_seconds()
    con = sqlite3.connect(db_path)
    cursor = con.execute(
        'SELECT p.name, u.building, u.entrance, u.room, u.floor, u.layout, u.special_kind, '
        'u.contract_area, u.measured_area, u.status FROM unit u JOIN project p ON p.id = u.project_id '
        'WHERE u.deleted_at IS NULL ORDER BY u.building, u.entrance, u.room, u.id DESC')
    workbook = xlsxwriter.Workbook(out_path, {'constant_memory': True,
                                              'strings_to_formulas': False,
                                              'strings_to_urls': False})
    sheet = workbook.add_worksheet('房源')
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(cursor, start=1):
        sheet.write_row(r, 0, row)
    workbook.close()
    con.close()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    peak = peak_rss_kb()
    size = os.path.getsize(out_path)
    os.unlink(out_path)
    return {'seconds': seconds, 'cpu': cpu, 'peak_kb': peak, 'base_kb': base, 'bytes': size}


def write_import_file(path, rows):
    """The file a clerk would bring: the unit register's columns, `rows` new units."""
    import xlsxwriter
    rng = random.Random(SEED + 1)
    workbook = xlsxwriter.Workbook(path, {'constant_memory': True})
    sheet = workbook.add_worksheet('房源')
    sheet.write_row(0, 0, HEADER)
    for n in range(rows):
        area = rng.randrange(6000, 16000) / 100
        sheet.write_row(n + 1, 0, ['导入项目', '%d栋' % (n // 10000 + 1), str(n // 1000 % 10 + 1),
                                   str(n % 1000 + 101), rng.randrange(1, 34), rng.choice(LAYOUTS[:5]),
                                   rng.choice(KINDS), area, area, rng.choice(STATUSES)])
    workbook.close()


def measure_plain_import(db_path, file_path):
    import openpyxl
    import openpyxl.reader.excel  # noqa: F401  (imports outside the measured span)
    base = current_rss_kb()
    started, cpu = time.perf_counter(), cpu_seconds()
    workbook = openpyxl.load_workbook(file_path, read_only=True, data_only=True)
    count = 0
    for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True):
        count += 1
    workbook.close()
    return {'seconds': time.perf_counter() - started, 'cpu': cpu_seconds() - cpu,
            'peak_kb': peak_rss_kb(), 'base_kb': base, 'rows': count}


def measure_plain_insert(db_path, file_path):
    """The baseline of a commit: plain openpyxl reading plus plain peewee inserting the same rows
    (insert_many in one transaction: no rules, no change log, no version guard)."""
    import openpyxl
    from decimal import Decimal
    from models.base import db
    from models.master import Project, Unit
    app = make_app(db_path)
    with app.app_context():
        db.connect(reuse_if_open=True)
        project = Project.create_logged(None, code='PLAIN', name='导入项目', region='浙江', city='杭州')
        fields = [Unit.project, Unit.building, Unit.entrance, Unit.room, Unit.floor, Unit.layout,
                  Unit.special_kind, Unit.contract_area, Unit.measured_area, Unit.status,
                  Unit.version]
        started, cpu = time.perf_counter(), cpu_seconds()
        workbook = openpyxl.load_workbook(file_path, read_only=True, data_only=True)
        batch, count = [], 0
        with db.atomic():
            for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True):
                count += 1
                batch.append((project.id, row[1], row[2], row[3], row[4], row[5], row[6],
                              Decimal(str(row[7])), Decimal(str(row[8])), row[9], 1))
                if len(batch) >= 2500:
                    Unit.insert_many(batch, fields=fields).execute()
                    batch = []
            if batch:
                Unit.insert_many(batch, fields=fields).execute()
        workbook.close()
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        db.close()
    return {'seconds': seconds, 'cpu': cpu, 'rows': count}


def clerk_saving(app, stop, waits, every=1.0):
    """A clerk saving one unit once a second on a connection of her own; `waits` gets how long
    each save took (mostly waiting for the write lock while the import holds it)."""
    from models.base import User, db
    from models.master import Project, Unit
    with app.app_context():
        db.connect(reuse_if_open=True)
        user = User.get(User.username == 'bench')
        unit = Unit.select().join(Project).where(Project.code == 'BENCH').first() or \
            Unit.create_logged(user, project=Project.get(Project.code == 'BENCH'), building='1栋',
                               entrance='1', room='9999', special_kind='标准层', status='未售')
        n = 0
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            unit = Unit.get_by_id(unit.id)
            unit.remarks = 'clerk save %d' % n
            unit.save_logged(user)
            waits.append(time.perf_counter() - started)
            stop.wait(max(0.0, every - (time.perf_counter() - started)))
        db.close()


def measure_portal_import(db_path, file_path):
    from flask_login import login_user
    from models.base import User, db
    from models.master import Project, Unit
    from views.importer import Importer
    app = make_app(db_path)
    with app.test_request_context('/admin/unit/import/'):
        db.connect(reuse_if_open=True)
        if not Project.select().where(Project.code == 'IMPORT').exists():
            from models.master import UserProject
            project = Project.create_logged(None, code='IMPORT', name='导入项目', region='浙江',
                                            city='杭州')
            UserProject.create(user=User.get(User.username == 'bench'), project=project)
        user = User.get(User.username == 'bench')
        login_user(user)
        view = next(v for v in app.extensions['admin'][0]._views
                    if getattr(v, 'endpoint', None) == 'unit')
        base = current_rss_kb()
        started, cpu = time.perf_counter(), cpu_seconds()
        dry = Importer(view, user).run(file_path, commit=False)
        dry_seconds, dry_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        started, cpu = time.perf_counter(), cpu_seconds()
        done = None
        waits = []
        if not os.environ.get('KEFU_BENCH_SKIP_COMMIT'):
            import threading
            stop = threading.Event()
            clerk = threading.Thread(target=clerk_saving, args=(app, stop, waits))
            clerk.start()
            try:
                done = Importer(view, user).run(file_path, commit=True)
            finally:
                stop.set()
                clerk.join()
        commit_seconds, commit_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        created = Unit.select().join(Project).where(Project.code == 'IMPORT').count()
    return {'dry_seconds': dry_seconds, 'commit_seconds': commit_seconds, 'seconds': dry_seconds,
            'dry_cpu': dry_cpu, 'commit_cpu': commit_cpu,
            'peak_kb': peak_rss_kb(), 'base_kb': base, 'rows': dry.total, 'errors': dry.error_count,
            'to_create': dry.created, 'created': created,
            'committed': done.committed if done else None, 'clerk_waits': sorted(waits)}


MEASURES = {'portal_export': measure_portal_export, 'plain_export': measure_plain_export,
            'plain_import': measure_plain_import, 'portal_import': measure_portal_import,
            'plain_insert': measure_plain_insert}


def child(args):
    result = MEASURES[args.measure](args.db, args.out)
    print('RESULT ' + json.dumps(result))


def run_child(measure, db_path, out_path):
    command = [sys.executable, os.path.abspath(__file__), '--child', measure, '--db', db_path,
               '--out', out_path]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    for line in done.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[7:])
    raise RuntimeError('%s failed:\n%s\n%s' % (measure, done.stdout[-2000:], done.stderr[-4000:]))


# --------------------------------------------------------------------------- the report

def mb(kb):
    return kb / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='small sizes, for CI')
    parser.add_argument('--sizes', type=int, nargs='*', help='export sizes (rows)')
    parser.add_argument('--import-rows', type=int, help='rows of the import file')
    parser.add_argument('--skip-commit', action='store_true', help='dry run only for the import')
    parser.add_argument('--commit-rows', type=int,
                        help='measure the commit on a file of this many rows (default: the same file)')
    parser.add_argument('--no-export', action='store_true', help='measure the import only')
    parser.add_argument('--no-import', action='store_true', help='measure the export only')
    parser.add_argument('--work', default='/var/tmp',
                        help='folder for the temporary databases and files (default /var/tmp)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--db', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.measure = args.child
        return child(args)
    sizes = [] if args.no_export else \
        (args.sizes or ([2000, 20000] if args.quick else [100000, 1000000]))
    import_rows = args.import_rows or (2000 if args.quick else 50000)
    work = tempfile.mkdtemp(prefix='kefu-excel-bench-', dir=args.work)
    print('Excel benchmark (seed %d), work folder %s' % (SEED, work))
    if sizes:
        print('\nExport of the unit register (10 columns), portal vs plain xlsxwriter:')
        print('%10s %10s %10s %7s %10s %10s %7s %11s %11s %8s' % (
            'rows', 'portal s', 'plain s', 'ratio', 'portal cpu', 'plain cpu', 'ratio',
            'portal MB*', 'plain MB*', 'file MB'))
    exports = []
    for rows in sizes:
        db_path = os.path.join(work, 'units-%d.db' % rows)
        started = time.perf_counter()
        build_database(db_path, rows)
        build_seconds = time.perf_counter() - started
        portal = run_child('portal_export', db_path, os.path.join(work, 'portal.xlsx'))
        plain = run_child('plain_export', db_path, os.path.join(work, 'plain.xlsx'))
        exports.append((rows, portal, plain))
        print('%10d %10.2f %10.2f %6.2fx %10.2f %10.2f %6.2fx %11.1f %11.1f %8.1f  (db built in %.0fs)'
              % (rows, portal['seconds'], plain['seconds'], portal['seconds'] / plain['seconds'],
                 portal['cpu'], plain['cpu'], portal['cpu'] / plain['cpu'],
                 mb(portal['peak_kb'] - portal['base_kb']), mb(plain['peak_kb'] - plain['base_kb']),
                 portal['bytes'] / 1e6, build_seconds), flush=True)
        os.unlink(db_path)
    if sizes:
        print('* peak resident memory during the export minus the resident memory before it.')
    if len(exports) >= 2:
        (small, ps, _), (large, pl, _) = exports[0], exports[-1]
        growth = mb(pl['peak_kb'] - pl['base_kb']) - mb(ps['peak_kb'] - ps['base_kb'])
        print('Memory growth from %d to %d rows (%.0f× the rows): %+.1f MB' % (
            small, large, large / small, growth))

    if args.no_import:
        return
    print('\nImport of %d new units (dry run, then the commit in batches through the rules and '
          'change log), portal vs plain openpyxl reading (and inserting):' % import_rows)
    db_path = os.path.join(work, 'import.db')
    build_database(db_path, 0)
    file_path = os.path.join(work, 'import.xlsx')
    write_import_file(file_path, import_rows)
    plain = run_child('plain_import', db_path, file_path)
    plain_db = os.path.join(work, 'import-plain.db')
    build_database(plain_db, 0)
    inserted = run_child('plain_insert', plain_db, file_path)
    if args.skip_commit or args.commit_rows:
        os.environ['KEFU_BENCH_SKIP_COMMIT'] = '1'
    portal = run_child('portal_import', db_path, file_path)
    if args.commit_rows:
        os.environ.pop('KEFU_BENCH_SKIP_COMMIT', None)
        small_db = os.path.join(work, 'import-commit.db')
        build_database(small_db, 0)
        small_file = os.path.join(work, 'import-commit.xlsx')
        write_import_file(small_file, args.commit_rows)
        small_plain = run_child('plain_import', small_db, small_file)
        small = run_child('portal_import', small_db, small_file)
    print('  plain openpyxl read : %8.2f s, cpu %8.2f s  (%d rows, peak +%.1f MB)' % (
        plain['seconds'], plain['cpu'], plain['rows'], mb(plain['peak_kb'] - plain['base_kb'])))
    print('  portal dry run      : %8.2f s, cpu %8.2f s  (%.1fx cpu; %d to create, %d errors)' % (
        portal['dry_seconds'], portal['dry_cpu'], portal['dry_cpu'] / plain['cpu'],
        portal['to_create'], portal['errors']))
    print('  plain read + insert : %8.2f s, cpu %8.2f s  (openpyxl + peewee insert_many, '
          'no rules, no change log)' % (inserted['seconds'], inserted['cpu']))
    if portal['committed'] is not None:
        print('  portal commit       : %8.2f s, cpu %8.2f s  (%.1fx the plain read + insert; '
              '%d rows written, committed=%s, peak +%.1f MB)' % (
                  portal['commit_seconds'], portal['commit_cpu'],
                  portal['commit_seconds'] / inserted['seconds'], portal['created'],
                  portal['committed'], mb(portal['peak_kb'] - portal['base_kb'])))
        waits = portal['clerk_waits']
        if waits:
            p95 = waits[max(0, int(round(0.95 * len(waits))) - 1)]
            print('  a clerk saving once a second during the commit: %d saves, p50 %.0f ms, '
                  'p95 %.0f ms, max %.0f ms (target p95 ≤ 1000 ms)' % (
                      len(waits), 1000 * waits[len(waits) // 2], 1000 * p95, 1000 * waits[-1]))
    print('  per row (cpu)       : dry run %.2f ms' % (1000 * portal['dry_cpu'] / max(1, portal['rows'])))
    if args.commit_rows:
        print('  commit measured on %d rows: plain read cpu %.2f s; dry run cpu %.2f s; '
              'commit %.2f s, cpu %.2f s (%.1fx the plain read; %.2f ms cpu per row; '
              '%d written, committed=%s)' % (
                  small['rows'], small_plain['cpu'], small['dry_cpu'], small['commit_seconds'],
                  small['commit_cpu'], small['commit_cpu'] / small_plain['cpu'],
                  1000 * small['commit_cpu'] / max(1, small['rows']), small['created'],
                  small['committed']))


if __name__ == '__main__':
    main()
