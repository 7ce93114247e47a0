"""Backup and restore: consistent while clerks keep writing.

    flask --app app backup /var/backups/kefu/          a dated file in that folder
    flask --app app restore /var/backups/kefu/kefu-20261125-020000.db --yes

See docs/operations.md for the schedule (cron) and the restore drill.
"""
import datetime
import os
import sqlite3
import subprocess
import tempfile


def _sqlite_path(url):
    return url.split(':///', 1)[1]


def integrity(path):
    """'ok', or what SQLite's integrity check found wrong with the database file at `path`."""
    if not os.path.exists(path):
        return 'missing: %s' % path
    conn = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
    try:
        return '; '.join(r[0] for r in conn.execute('PRAGMA integrity_check'))
    except sqlite3.DatabaseError as exc:       # not a database at all
        return str(exc)
    finally:
        conn.close()


def backup(url, dest):
    """Write a consistent copy of the database to `dest` (a file, or a folder for a dated name).

    SQLite: the online backup API copies the whole database in one step, inside one read
    transaction: a snapshot of every transaction committed before the step began. In WAL mode
    writers go on meanwhile. (A page-by-page backup would restart each time another connection
    writes, and under steady writing might never finish.)
    PostgreSQL: pg_dump in custom format, itself one consistent snapshot.
    The copy holds personal data: it is readable by its owner only.
    """
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    if os.path.isdir(dest):
        ext = 'db' if url.startswith('sqlite') else 'dump'
        name, n = os.path.join(dest, 'kefu-%s' % stamp), 1
        dest = '%s.%s' % (name, ext)
        while os.path.exists(dest):          # two backups in one second keep both
            n += 1
            dest = '%s-%d.%s' % (name, n, ext)
    # A private temporary file of its own: two backups at once never write the same file.
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dest) + '.', suffix='.partial',
                               dir=os.path.dirname(os.path.abspath(dest)))
    os.close(fd)
    try:
        if url.startswith('sqlite'):
            source = sqlite3.connect(_sqlite_path(url), timeout=30)
            target = sqlite3.connect(tmp)
            try:
                source.backup(target, pages=-1)
                # The copy is one self-contained file: no WAL beside it (opened read-only by the
                # integrity check, a WAL database would leave -wal and -shm files behind).
                target.execute('PRAGMA journal_mode=DELETE')
            finally:
                target.close()
                source.close()
            found = integrity(tmp)
            if found != 'ok':
                raise RuntimeError('backup failed its integrity check: %s' % found)
        else:
            subprocess.run(['pg_dump', '--format=custom', '--no-owner', '--file', tmp,
                            '--dbname', _pg_url(url)], check=True)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    os.replace(tmp, dest)
    return dest


def restore(url, src):
    """Replace the database with the backup `src` (stop the portal first).

    SQLite: the backup is checked, then copied in with the backup API into the database itself,
    in one transaction, so its WAL stays consistent (nothing to delete by hand) and a failed
    restore leaves the old database as it was.
    """
    if url.startswith('sqlite'):
        found = integrity(src)
        if found != 'ok':
            raise RuntimeError('the backup fails its integrity check: %s' % found)
        source = sqlite3.connect('file:%s?mode=ro' % src, uri=True)
        target = sqlite3.connect(_sqlite_path(url), timeout=30)
        try:
            source.backup(target, pages=-1)
        finally:
            target.close()
            source.close()
        found = integrity(_sqlite_path(url))
        if found != 'ok':
            raise RuntimeError('the restored database fails its integrity check: %s' % found)
    else:
        subprocess.run(['pg_restore', '--clean', '--if-exists', '--no-owner', '--single-transaction',
                        '--dbname', _pg_url(url), src], check=True)


def _pg_url(url):
    return 'postgresql://' + url.split('://', 1)[1]
