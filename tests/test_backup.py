"""Backup and restore: a backup taken while clerks write is consistent and complete up to its start;
a restore brings it back; a damaged backup is refused."""
import os
import sqlite3
import threading
import time

import pytest

from models.base import ChangeLog, db, is_sqlite
from models.master import Unit
from models.ops import backup, integrity, restore

pytestmark = pytest.mark.skipif(
    os.environ.get('KEFU_DATABASE_URL', '').startswith('postgres'),
    reason='SQLite backup file checks (PostgreSQL uses pg_dump, see docs/operations.md)')


def db_path(app):
    return app.config['KEFU_DATABASE_URL'].split(':///', 1)[1]


def rows(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


class Writers:
    """Threads creating units (each one save = one transaction, as a clerk's form post)."""

    def __init__(self, project, count=4):
        self.project = project
        self.committed = []            # (unit id, room) once create_logged has returned
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(count)]

    def run(self, n):
        i = 0
        try:
            with db.connection_context():
                while not self.stop.is_set():
                    i += 1
                    unit = Unit.create_logged(None, project=self.project, building='B%d' % n,
                                              room='R%d' % i, special_kind='标准层', status='未售')
                    with self.lock:
                        self.committed.append(unit.id)
        except Exception as exc:   # reported by the test, not swallowed
            self.errors.append(repr(exc))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def snapshot(self):
        with self.lock:
            return list(self.committed)


def wait_for(writers, count, timeout=30):
    deadline = time.time() + timeout
    while len(writers.snapshot()) < count and time.time() < deadline:
        time.sleep(0.01)
    assert len(writers.snapshot()) >= count, writers.errors


def test_backup_during_writes_has_every_row_committed_before_it(app, projects, tmp_path):
    dest = str(tmp_path / 'during.db')
    with Writers(projects['mine']) as writers:
        wait_for(writers, 40)
        before = writers.snapshot()                  # acknowledged before the backup started
        backup(app.config['KEFU_DATABASE_URL'], dest)
        wait_for(writers, len(before) + 40)          # writers went on during and after it
    assert writers.errors == []
    assert integrity(dest) == 'ok'
    in_backup = {r[0] for r in rows(dest, 'SELECT id FROM unit')}
    assert set(before) <= in_backup
    assert len(in_backup) < len(writers.snapshot())           # the later rows are not in it
    # consistent across tables: every unit in the copy has its change-log entry, and no more
    logged = {r[0] for r in rows(dest, "SELECT row_id FROM change_log WHERE table_name='unit' "
                                       "AND action='create'")}
    assert logged == in_backup


def test_restore_brings_back_the_backup(app, projects, make, tmp_path):
    keep = make.unit(projects['mine'], room='5501')
    dest = backup(app.config['KEFU_DATABASE_URL'], str(tmp_path / 'b.db'))
    later = make.unit(projects['mine'], room='5502')
    keep.delete_logged(None)
    db.close()
    restore(app.config['KEFU_DATABASE_URL'], dest)
    db.connect(reuse_if_open=True)
    assert Unit.get_by_id(keep.id).deleted_at is None
    assert Unit.get_or_none(Unit.id == later.id) is None
    assert integrity(db_path(app)) == 'ok'


def test_backup_into_a_folder_gets_a_dated_private_file(app, projects, tmp_path):
    path = backup(app.config['KEFU_DATABASE_URL'], str(tmp_path))
    assert os.path.basename(path).startswith('kefu-') and path.endswith('.db')
    assert os.stat(path).st_mode & 0o077 == 0          # personal data: owner only
    assert not [n for n in os.listdir(tmp_path) if n.endswith('.partial')]


def test_backup_and_restore_commands(app, projects, make, tmp_path):
    make.unit(projects['mine'], room='6601')
    runner = app.test_cli_runner()
    result = runner.invoke(args=['backup', str(tmp_path / 'cli.db')])
    assert result.exit_code == 0 and '备份完成' in result.output
    make.unit(projects['mine'], room='6602')
    db.close()
    result = runner.invoke(args=['restore', str(tmp_path / 'cli.db'), '--yes'])
    assert result.exit_code == 0, result.output
    db.connect(reuse_if_open=True)
    assert [u.room for u in Unit.select().where(Unit.room.in_(['6601', '6602']))] == ['6601']


def test_a_damaged_backup_is_refused_and_the_database_kept(app, projects, make, tmp_path):
    make.unit(projects['mine'], room='7701')
    bad = tmp_path / 'bad.db'
    good = backup(app.config['KEFU_DATABASE_URL'], str(tmp_path / 'good.db'))
    data = bytearray(open(good, 'rb').read())
    data[4096:8192] = b'\x00garbage' * 512           # a page overwritten
    bad.write_bytes(bytes(data))
    with pytest.raises(RuntimeError):
        restore(app.config['KEFU_DATABASE_URL'], str(bad))
    assert Unit.select().where(Unit.room == '7701').exists()
    assert integrity(db_path(app)) == 'ok'


def test_restore_command_asks_before_replacing(app, projects, tmp_path):
    dest = backup(app.config['KEFU_DATABASE_URL'], str(tmp_path / 'ask.db'))
    result = app.test_cli_runner().invoke(args=['restore', dest], input='n\n')
    assert result.exit_code != 0
