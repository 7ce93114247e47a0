"""The job runner for real: `python app.py` runs the consumer in its own process; the daily routine
fires from it without anyone asking (a real SMTP server receives the digest); a server killed
with jobs in flight is restarted and nothing is silently lost. On the database of the run
(SQLite, or a fresh database on the PostgreSQL server of KEFU_DATABASE_URL)."""
import email
import email.policy
import os
import sys
import threading
import time

import pytest
from aiosmtpd.controller import Controller

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'load'))

from harness import Server  # noqa: E402
from tests.test_jobs import Inbox, free_port  # noqa: E402


def wait_for(check, seconds):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    return check()


@pytest.fixture(scope='module')
def served():
    inbox = Inbox()
    controller = Controller(inbox, hostname='127.0.0.1', port=free_port())
    controller.start()
    url = os.environ.get('KEFU_DATABASE_URL', '')
    server = Server(database_url=url if url.startswith('postgres') else None, threads=4)
    server.env.update(KEFU_SMTP_URL='smtp://127.0.0.1:%d' % controller.port,
                      KEFU_MAIL_FROM='kefu@example.com', KEFU_BASE_URL='https://kefu.example.com',
                      KEFU_DIGEST_AT='00:00', KEFU_BACKUP_AT='00:00', KEFU_DAILY_REPORT_AT='23:59')
    server.start()
    yield server, inbox
    server.stop()
    controller.stop()
    server.store.drop()


def jobs_in(server, where=''):
    conn = server.store.connect()
    try:
        return conn.execute('SELECT kind, state, error, attempts FROM job %s ORDER BY id' % where) \
            .fetchall()
    finally:
        conn.close()


def test_the_server_runs_the_daily_routine_by_itself(served):
    server, inbox = served
    digest = wait_for(lambda: [m for _, m in inbox.messages if '晨报' in m['Subject']], 90)
    assert digest, 'no digest within 90 s; server log:\n' + server.log_text()[-2000:]
    body = digest[0].get_body(('plain',)).get_content()
    assert 'https://kefu.example.com/due' in body and '/due/' not in body
    done = wait_for(lambda: [j for j in jobs_in(server) if j[0] == 'daily:夜间备份' and j[1] == '已完成'], 30)
    assert done, jobs_in(server)
    if not server.store.is_postgres:
        backups = os.listdir(os.path.join(server.workdir, 'backups'))
        assert [b for b in backups if b.startswith('kefu-') and b.endswith('.db')], backups


def test_a_server_killed_with_jobs_in_flight_loses_none(served):
    """Killed (SIGKILL) with a job running of a kind that may run again and one that may not,
    and one still queued: after the restart the first and the queued one run, the second is
    failed with the reason — none stays 运行中 or disappears."""
    server, _ = served
    server.kill()
    conn = server.store.connect(read_only=False)
    try:
        for kind, state, key in (('daily:夜间备份', '运行中', 'restart-test:resumable'),
                                 ('unknown-kind', '运行中', 'restart-test:once'),
                                 ('daily:夜间备份', '排队中', 'restart-test:queued')):
            conn.execute("INSERT INTO job (kind, title, state, done, attempts, created_at, key, params) "
                         "VALUES (?, ?, ?, 0, ?, CURRENT_TIMESTAMP, ?, ?)",
                         (kind, '重启测试', state, 1 if state == '运行中' else 0, key,
                          '{"day": "2026-01-01"}'))
        if not server.store.is_postgres:
            conn.conn.commit()
    finally:
        conn.close()
    server.start()
    where = "WHERE key LIKE 'restart-test:%'"
    settled = wait_for(lambda: all(j[1] in ('已完成', '失败') for j in jobs_in(server, where)) and
                       jobs_in(server, where), 60)
    assert settled, jobs_in(server, where)
    states = {(kind, state) for kind, state, _, _ in jobs_in(server, where)}
    assert states == {('daily:夜间备份', '已完成'), ('unknown-kind', '失败')}
    [failed] = [j for j in jobs_in(server, where) if j[1] == '失败']
    assert '服务器在任务运行中重启' in failed[2]


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of the test's own on a free port (Debian's redis-server; CI installs it)."""
    import shutil
    import subprocess
    binary = shutil.which('redis-server')
    if binary is None:
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail('redis-server not found: apt-get install -y redis-server')
        pytest.skip('redis-server not found: apt-get install -y redis-server')
    port = free_port()
    process = subprocess.Popen([binary, '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                                '--appendonly', 'no', '--dir', str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port)
    assert wait_for(lambda: _pings(client), 10), 'redis-server did not start'
    yield 'redis://127.0.0.1:%d/0' % port
    process.terminate()
    process.wait(10)


def _pings(client):
    try:
        return client.ping()
    except Exception:       # redis.ConnectionError while it starts
        return False


def test_the_queue_can_live_in_redis(app, users, redis_url):
    """KEFU_REDIS_URL: the same jobs through a Redis queue and a real consumer."""
    from models import jobs
    from models.jobs import DONE, Job, Runner
    jobs.job_task('t_redis', '测试任务')(lambda job, n: '收到 %d' % n)
    app.config['KEFU_REDIS_URL'] = redis_url
    app.config['KEFU_JOBS_IMMEDIATE'] = False
    saved = app.extensions.get('kefu_jobs')
    runner = Runner()
    try:
        runner.init_app(app)
        assert type(runner.huey).__name__ == 'RedisHuey'
        with app.app_context():
            job = Job.create(kind='t_redis', title='Redis 测试', user=users['clerk'].id,
                             params='{"n": 7}')
        runner.enqueue(job.id)
        assert len(runner.huey) == 1           # waiting in Redis
        consumer = runner.huey.create_consumer(workers=1, worker_type='thread', periodic=False)
        consumer._set_signal_handlers = lambda: None
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        done = wait_for(lambda: Job.get_by_id(job.id).state == DONE, 20)
        consumer.stop(graceful=True)
        thread.join(10)
        assert done and Job.get_by_id(job.id).result == '收到 7'
    finally:
        jobs.KINDS.pop('t_redis', None)
        app.config.pop('KEFU_REDIS_URL', None)
        app.config['KEFU_JOBS_IMMEDIATE'] = True
        app.extensions['kefu_jobs'] = saved
