"""Backup and restore: consistent while clerks keep writing."""
import datetime
import os
import shutil
import sqlite3
import subprocess


def _sqlite_path(url):
    return url.split(':///', 1)[1]


def backup(url, dest):
    """Write a consistent copy of the database to `dest` (a file, or a folder for a dated name).

    SQLite: the online backup API copies a snapshot while writers go on (WAL).
    PostgreSQL: pg_dump in custom format, itself one consistent snapshot.
    """
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    if os.path.isdir(dest):
        dest = os.path.join(dest, 'kefu-%s.%s' % (stamp, 'db' if url.startswith('sqlite') else 'dump'))
    tmp = dest + '.partial'
    if url.startswith('sqlite'):
        source = sqlite3.connect(_sqlite_path(url), timeout=30)
        target = sqlite3.connect(tmp)
        try:
            with target:
                source.backup(target, pages=1024)
            ok = target.execute('PRAGMA integrity_check').fetchone()[0]
            if ok != 'ok':
                raise RuntimeError('backup failed its integrity check: %s' % ok)
        finally:
            target.close()
            source.close()
    else:
        subprocess.run(['pg_dump', '--format=custom', '--no-owner', '--file', tmp,
                        '--dbname', _pg_url(url)], check=True)
    os.replace(tmp, dest)
    return dest


def restore(url, src):
    """Replace the database with the backup `src` (stop the portal first)."""
    if url.startswith('sqlite'):
        check = sqlite3.connect(src)
        try:
            ok = check.execute('PRAGMA integrity_check').fetchone()[0]
        finally:
            check.close()
        if ok != 'ok':
            raise RuntimeError('the backup fails its integrity check: %s' % ok)
        path = _sqlite_path(url)
        for suffix in ('-wal', '-shm'):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        shutil.copyfile(src, path + '.restoring')
        os.replace(path + '.restoring', path)
    else:
        subprocess.run(['pg_restore', '--clean', '--if-exists', '--no-owner', '--single-transaction',
                        '--dbname', _pg_url(url), src], check=True)


def _pg_url(url):
    return 'postgresql://' + url.split('://', 1)[1]
