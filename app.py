"""客服台账 — the portal of a residential developer's customer-relations department.

    python app.py --demo [--port 5000] [--host 127.0.0.1]   serve with demo data (waitress)
    flask --app app init-db | seed-demo | create-user | backup DEST | restore SRC
"""
import argparse
import datetime
import os
import secrets
import sys

import click
from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from models.base import ROLE_LABELS, ChangeLog, User, db, make_database

csrf = CSRFProtect()
HERE = os.path.dirname(os.path.abspath(__file__))


def _secret_key(instance_path):
    """KEFU_SECRET_KEY, else a random key generated once and kept in instance/."""
    key = os.environ.get('KEFU_SECRET_KEY')
    if key:
        return key
    path = os.path.join(instance_path, 'secret_key')
    if os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as fh:
        fh.write(key)
    return key


def _proxy_count():
    """KEFU_PROXY_COUNT: how many reverse proxies in front of the portal to trust."""
    value = (os.environ.get('KEFU_PROXY_COUNT') or '0').strip()
    if not value.isdigit():
        raise SystemExit('KEFU_PROXY_COUNT 须为非负整数（反向代理的层数），当前为 %r。' % value)
    return int(value)


# Settings of the job runner, the notifications and the nightly backup, taken from the environment
# (docs/operations.md).
JOB_SETTINGS = ('KEFU_REDIS_URL', 'KEFU_SMTP_URL', 'KEFU_MAIL_FROM', 'KEFU_BASE_URL',
                'KEFU_DIGEST_AT', 'KEFU_DAILY_REPORT_AT', 'KEFU_BACKUP_AT', 'KEFU_BACKUP_DIR',
                'KEFU_BACKUP_KEEP_DAYS', 'KEFU_EXPORT_JOB_ROWS', 'KEFU_IMPORT_BATCH_ROWS')


def create_app(config=None):
    from views.account import DEFAULT_DEMO_PASSWORD
    app = Flask(__name__, instance_path=os.environ.get('KEFU_INSTANCE_PATH') or
                os.path.join(HERE, 'instance'))
    os.makedirs(app.instance_path, exist_ok=True)
    from views import params
    params.install(app)     # bounded ids and numbers, no NUL: before any route is added
    app.config.update(
        KEFU_DATABASE_URL=os.environ.get('KEFU_DATABASE_URL') or
        'sqlite:///' + os.path.join(app.instance_path, 'kefu.db'),
        KEFU_DEMO_PASSWORD=os.environ.get('KEFU_DEMO_PASSWORD') or DEFAULT_DEMO_PASSWORD,
        KEFU_PROXY_COUNT=_proxy_count(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE='Lax',
        SESSION_COOKIE_SECURE=os.environ.get('KEFU_HTTPS') == '1',
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=os.environ.get('KEFU_HTTPS') == '1',
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(minutes=30),   # idle timeout
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=int(os.environ.get('KEFU_MAX_REQUEST_MB', '60')) * 1024 * 1024,
        # The job runner and what it sends (models/jobs.py, models/notify.py, models/routine.py).
        **{name: os.environ.get(name) for name in JOB_SETTINGS if os.environ.get(name)},
        KEFU_MAX_UPLOAD_BYTES=10 * 1024 * 1024,
        KEFU_IMPORT_MAX_BYTES=int(os.environ.get('KEFU_IMPORT_MAX_MB', '50')) * 1024 * 1024,
        KEFU_IMPORT_MAX_ROWS=int(os.environ.get('KEFU_IMPORT_MAX_ROWS', '20000')),
        BABEL_DEFAULT_LOCALE='zh_Hans_CN',
        BABEL_DEFAULT_TIMEZONE='Asia/Shanghai',
        FLASK_ADMIN_SWATCH='default',
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
        SEND_FILE_MAX_AGE_DEFAULT=datetime.timedelta(hours=1),
    )
    if config:
        app.config.update(config)
    proxies = int(app.config.get('KEFU_PROXY_COUNT') or 0)
    if proxies > 0:     # the client address from X-Forwarded-For only behind that many proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.secret_key = app.config.get('SECRET_KEY') or _secret_key(app.instance_path)
    app.json.ensure_ascii = False

    db.initialize(make_database(app.config['KEFU_DATABASE_URL']))

    Babel(app, locale_selector=lambda: 'zh_Hans_CN', timezone_selector=lambda: 'Asia/Shanghai')
    csrf.init_app(app)

    from views.auth import bp as auth_bp, login_manager
    login_manager.init_app(app)
    app.register_blueprint(auth_bp)
    from views.registers import build_admin, describe_change
    build_admin(app)   # registers the stage blueprints too
    from views.security import add_security_headers, csp_nonce

    @app.before_request
    def _open_db():
        db.connect(reuse_if_open=True)
        csp_nonce()

    @app.teardown_request
    def _close_db(exc):
        if not db.is_closed():
            db.close()

    app.after_request(add_security_headers)
    from views import custom as custom_views
    custom_views.install(app)    # the department's own fields and registers, in every process

    @app.context_processor
    def _helpers():
        return {'role_label': lambda role: ROLE_LABELS.get(role, role),
                'action_label': lambda a: dict(ChangeLog.ACTIONS).get(a, a),
                'describe_change': describe_change}

    def _error(code, message, level='warning'):
        from views.pages import render_page
        try:
            return render_page('errors/error.html', code=code, message=message, level=level,
                               title=str(code)), code
        except Exception:   # the error page must not fail in turn
            return '%d %s' % (code, message), code

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        from views.auth import csrf_failed     # back to the form, what was typed put back
        return csrf_failed()

    app.register_error_handler(400, lambda e: _error(400, e.description if isinstance(
        e.description, str) and not e.description.isascii() else '请求无效。'))
    app.register_error_handler(403, lambda e: _error(403, '您没有权限执行此操作。', 'danger'))
    app.register_error_handler(404, lambda e: _error(404, '记录不存在，或您无权查看。'))
    app.register_error_handler(405, lambda e: _error(405, '不支持的请求方式。'))
    app.register_error_handler(413, lambda e: _error(413, '上传的文件过大。'))

    @app.errorhandler(500)
    def _server_error(exc):
        return _error(500, '服务器内部错误，已记录。请稍后重试或联系系统管理员。', 'danger')

    from models.jobs import runner
    import models.routine  # noqa: F401  (the daily routine's jobs)
    runner.init_app(app)

    register_cli(app)
    from views.registers import discover_view_modules
    for module in discover_view_modules():     # stage modules add their own commands
        if hasattr(module, 'register_cli'):
            module.register_cli(app)
    return app


def register_cli(app):
    from models.schema import init_db

    @app.cli.command('init-db')
    def init_db_command():
        """Create the schema and apply pending migrations."""
        init_db()
        click.echo('数据库已就绪：%s' % _safe_url(app.config['KEFU_DATABASE_URL']))

    @app.cli.command('seed-demo')
    @click.option('--force', is_flag=True, help='Seed even if the database already has projects.')
    def seed_demo_command(force):
        """Load the demo data (projects, units, owners, contracts, registers, users)."""
        from seeds import seed_demo
        init_db()
        with db.connection_context():
            done = seed_demo(app.config['KEFU_DEMO_PASSWORD'], force=force)
        click.echo('演示数据已加载。' if done else '数据库已有数据，未重复加载（用 --force 强制）。')

    @app.cli.command('create-user')
    @click.argument('username')
    @click.option('--role', type=click.Choice(sorted(ROLE_LABELS)), required=True)
    @click.option('--name', 'display_name', default=None)
    @click.option('--project', 'projects', multiple=True, help='Project code (repeatable).')
    @click.password_option()
    def create_user_command(username, role, display_name, projects, password):
        """Create a user with a role and projects."""
        from seeds import create_user
        from views.account import password_problems
        problems = password_problems(password, username)
        if problems:
            raise click.ClickException(' '.join(problems))
        init_db()
        with db.connection_context():
            if User.get_or_none(User.username == username):
                raise click.ClickException('用户 %s 已存在。' % username)
            create_user(username, display_name or username, role, password, projects)
        click.echo('用户 %s（%s）已创建。' % (username, ROLE_LABELS[role]))

    @app.cli.command('worker')
    @click.option('--workers', default=2, show_default=True, help='worker threads')
    def worker_command(workers):
        """Run the job runner on its own (with `python app.py --no-worker` serving the pages)."""
        from models.jobs import recover, runner
        init_db()
        consumer = runner.huey.create_consumer(workers=workers, worker_type='thread',
                                               periodic=True)
        with app.app_context(), db.connection_context():
            requeued = recover()
        runner.tick_now_task()
        click.echo('任务执行器已启动（%d 个线程）；重新排队 %d 个任务。' % (workers, len(requeued)))
        consumer.run()

    @app.cli.command('notify')
    @click.option('--date', 'day', default=None, help='YYYY-MM-DD (default: today)')
    @click.option('--dry-run', is_flag=True, help='show the digests instead of sending them')
    def notify_command(day, dry_run):
        """Send (or show) the morning digests of a day at once, for operators."""
        from models import notify, routine
        try:
            day = datetime.date.fromisoformat(day) if day else datetime.date.today()
        except ValueError:
            raise click.BadParameter('日期格式应为 YYYY-MM-DD', param_hint='--date')
        init_db()
        with db.connection_context():
            if dry_run:
                for user in User.select().where(User.active == True).order_by(User.id):  # noqa: E712
                    subject, body, count = routine.digest_for(user, day)
                    if count:
                        click.echo('== %s <%s>\n%s\n%s\n' % (user.display_name, user.email or '无邮箱',
                                                                subject, body))
                return
            click.echo(routine.morning_digest(day))
            sent, failed = notify.send_pending(app.config, app.instance_path)
            click.echo('已发送 %d 条，失败 %d 条（失败的将自动重试）。' % (sent, failed))

    @app.cli.command('backup')
    @click.argument('dest')
    def backup_command(dest):
        """Consistent online backup to DEST (SQLite backup API, or pg_dump for PostgreSQL)."""
        from models.ops import backup
        path = backup(app.config['KEFU_DATABASE_URL'], dest)
        click.echo('备份完成：%s' % path)

    @app.cli.command('restore')
    @click.argument('src')
    @click.option('--yes', is_flag=True, help='Replace the current database without asking.')
    def restore_command(src, yes):
        """Restore the database from a backup made by `backup` (the portal must be stopped)."""
        from models.ops import restore
        if not yes:
            click.confirm('这会用 %s 替换当前数据库，确定吗？' % src, abort=True)
        restore(app.config['KEFU_DATABASE_URL'], src)
        click.echo('已从 %s 恢复。' % src)


def _safe_url(url):
    return url.split('://', 1)[0] + '://…@' + url.split('@', 1)[1] if '@' in url else url


def serve(argv=None):
    parser = argparse.ArgumentParser(description='客服台账')
    parser.add_argument('--demo', action='store_true', help='load demo data into an empty database')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5000)
    parser.add_argument('--threads', type=int, default=8)
    parser.add_argument('--no-worker', action='store_true',
                        help='do not run the job runner in this process (a separate '
                             '`flask --app app worker` service runs it); also KEFU_WORKER=external')
    args = parser.parse_args(argv)
    app = create_app()
    from models.schema import init_db
    init_db()
    if args.demo:
        from seeds import seed_demo
        with db.connection_context():
            if seed_demo(app.config['KEFU_DEMO_PASSWORD']):
                print('演示数据已加载；演示用户 admin / supervisor / clerk / auditor。', flush=True)
    if not (args.no_worker or os.environ.get('KEFU_WORKER') == 'external'):
        from models.jobs import runner
        runner.start_consumer()     # background jobs and the daily routine, in this process
    from waitress import serve as waitress_serve
    print('客服台账 http://%s:%d/  (数据库 %s)' % (args.host, args.port,
                                                  _safe_url(app.config['KEFU_DATABASE_URL'])),
          flush=True)
    waitress_serve(app, host=args.host, port=args.port, threads=args.threads,
                   ident='kefu-ledger', max_request_body_size=app.config['MAX_CONTENT_LENGTH'])


if __name__ == '__main__':
    serve(sys.argv[1:])
