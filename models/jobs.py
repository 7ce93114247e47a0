"""Work that runs by itself: the job runner and the jobs people see (我的任务).

The queue is huey (by the author of peewee): its storage is a SQLite file in the instance folder
(`instance/jobs.db`), or Redis when KEFU_REDIS_URL is set, for a site that outgrows one server.
huey moves messages; what a person sees of a job — what it is, who started it, its progress, its
result or why it failed, in Chinese — is a `Job` row in the portal's own database, so it is the
same on SQLite and PostgreSQL and survives a restart.

- `submit(kind, user, **params)` records a job and queues it; `job_task(kind, title)` declares
  what a kind does: `func(job, **params)` returning the result text (or raising JobError with a
  Chinese reason). `job.progress(done, total)` reports progress.
- A queued job is claimed once (UPDATE … WHERE state = 排队中), so a message delivered twice, or
  re-queued after a restart, runs it once.
- `recover()` runs when a consumer starts: a job left 运行中 by a server that died is queued again
  when its kind may safely run twice (`resumable`), else marked failed with the reason; queued jobs
  are queued again (the claim makes that safe). No job is silently lost.
- `tick()` runs every minute from the consumer: the scheduled work of the day (models/schedule.py
  registers it with `daily`), each at most once per day however many consumers run.
"""
import datetime
import json
import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable

from peewee import (CharField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError,
                    TextField)

from models.base import BaseModel, User, db, now, write_tx

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = '排队中', '运行中', '已完成', '失败'
STATES = (QUEUED, RUNNING, DONE, FAILED)
INTERRUPTED = '服务器在任务运行中重启，任务未完成，请重新提交。'


class JobError(Exception):
    """A job that cannot be done, with the reason for the person who started it (Chinese)."""


class Job(BaseModel):
    """后台任务 — one piece of work run by the job runner."""
    kind = CharField(max_length=40, verbose_name='类型')
    title = CharField(max_length=200, verbose_name='任务')
    user = ForeignKeyField(User, null=True, backref='+', on_delete='SET NULL', verbose_name='发起人')
    state = CharField(max_length=8, default=QUEUED, index=True, verbose_name='状态')
    done = IntegerField(default=0, verbose_name='已完成')
    total = IntegerField(null=True, verbose_name='总数')
    result = TextField(null=True, verbose_name='结果')
    error = TextField(null=True, verbose_name='失败原因')
    file_name = CharField(max_length=255, null=True, verbose_name='结果文件')
    download_name = CharField(max_length=255, null=True, verbose_name='文件名')
    params = TextField(null=True, verbose_name='参数')
    # At most one job per key (e.g. 'backup:2026-11-30'): scheduled work done once per day even
    # when several consumers run.
    key = CharField(max_length=120, null=True, unique=True, verbose_name='去重键')
    attempts = IntegerField(default=0, verbose_name='运行次数')
    created_at = DateTimeField(default=now, index=True, verbose_name='提交时间')
    started_at = DateTimeField(null=True, verbose_name='开始时间')
    finished_at = DateTimeField(null=True, verbose_name='结束时间')

    class Meta:
        table_name = 'job'
        verbose_name = '后台任务'
        indexes = ((('user', 'created_at'), False),)

    _last_progress = 0.0

    @property
    def percent(self):
        if self.state == DONE:
            return 100
        if not self.total:
            return 0
        return max(0, min(100, int(self.done * 100 / self.total)))

    @property
    def param_dict(self):
        return json.loads(self.params or '{}')

    def progress(self, done, total=None, force=False):
        """Record progress (at most twice a second unless forced: a million rows must not mean a
        million writes)."""
        self.done = done
        if total is not None:
            self.total = total
        moment = time.monotonic()
        if force or moment - self._last_progress >= 0.5:
            self._last_progress = moment
            Job.update(done=self.done, total=self.total).where(Job.id == self.id).execute()

    def result_path(self, instance_path):
        return os.path.join(jobs_folder(instance_path), self.file_name) if self.file_name else None


def jobs_folder(instance_path):
    path = os.path.join(instance_path, 'jobs')
    os.makedirs(path, exist_ok=True)
    return path


# --------------------------------------------------------------------------- what kinds of job do

@dataclass
class JobKind:
    kind: str
    title: str
    func: Callable
    resumable: bool = False     # may run again from the start after an interruption
    on_interrupted: Callable = None     # else, what undoes a half-done run: func(job) -> text


KINDS = {}


def job_task(kind, title, resumable=False, on_interrupted=None):
    """Declare what a kind of job does: func(job, **params) -> result text."""
    def wrap(func):
        KINDS[kind] = JobKind(kind, title, func, resumable, on_interrupted)
        return func
    return wrap


# --------------------------------------------------------------------------- the runner

class Runner:
    """The huey instance and the Flask app its tasks run in."""

    def __init__(self):
        self.huey = None
        self.app = None
        self.consumer = None
        self.thread = None

    def init_app(self, app):
        from huey import RedisHuey, SqliteHuey
        self.app = app
        redis_url = app.config.get('KEFU_REDIS_URL')
        immediate = bool(app.config.get('KEFU_JOBS_IMMEDIATE'))
        if redis_url:
            huey = RedisHuey('kefu', url=redis_url, utc=False, immediate=immediate)
        else:
            huey = SqliteHuey('kefu', filename=os.path.join(app.instance_path, 'jobs.db'),
                              utc=False, immediate=immediate, results=False)
        self.huey = huey
        self.run_job_task = huey.task(retries=0, name='run_job')(self._run_job)
        from huey import crontab
        self.tick_task = huey.periodic_task(crontab(minute='*'), name='tick')(self._tick)
        self.every_minute_task = huey.task(name='every_minute')(
            lambda: self._in_app(run_every_minute))
        # At a consumer's start the day's routine catches up at once, not at the next minute.
        self.tick_now_task = huey.task(name='tick_now')(self._tick)
        app.extensions['kefu_jobs'] = self

    # ---- tasks (run inside the app and a database connection)
    def _in_app(self, func, *args):
        """Run inside the app and a database connection — the caller's when there is one (a
        job run at once, in immediate mode), else its own, given back at the end."""
        from flask import has_app_context
        if has_app_context() and not db.is_closed():
            return func(*args)
        with self.app.app_context():
            db.connect(reuse_if_open=True)
            try:
                return func(*args)
            finally:
                if not db.is_closed():
                    db.close()

    def _run_job(self, job_id):
        return self._in_app(run, job_id)

    def _tick(self):
        return self._in_app(tick)

    # ---- queueing
    def enqueue(self, job_id):
        self.run_job_task(job_id)

    def poke(self):
        """Send what is waiting now rather than at the next tick (an event that cannot wait)."""
        if self.huey is not None and not self.huey.immediate:
            self.every_minute_task()

    # ---- the consumer inside the web server's process
    def start_consumer(self, workers=2):
        """Run the consumer on background threads of this process (`python app.py`)."""
        consumer = self.huey.create_consumer(workers=workers, worker_type='thread', periodic=True,
                                             check_worker_health=True)
        consumer._set_signal_handlers = lambda: None     # the web server owns the signals
        self.consumer = consumer
        self._in_app(recover)
        self.tick_now_task()
        self.thread = threading.Thread(target=consumer.run, name='kefu-jobs', daemon=True)
        self.thread.start()
        return consumer

    def stop_consumer(self):
        if self.consumer is not None:
            self.consumer.stop(graceful=False)
            self.thread.join(10)
            self.consumer = None


runner = Runner()


def submit(kind, user=None, title=None, key=None, **params):
    """Record a job and queue it. With a `key` already used, the existing job is returned."""
    spec = KINDS[kind]
    try:
        with write_tx():
            job = Job.create(kind=kind, title=title or spec.title, user=getattr(user, 'id', user),
                             params=json.dumps(params, ensure_ascii=False, default=str), key=key,
                             state=QUEUED, created_at=now())
    except IntegrityError:
        return Job.get(Job.key == key)
    if runner.huey is None:
        raise RuntimeError('job runner not initialised')
    runner.enqueue(job.id)
    return Job.get_by_id(job.id)


def claim(job_id):
    """Take a queued job for running; False when someone else has it (or it is finished)."""
    with write_tx():
        taken = (Job.update(state=RUNNING, started_at=now(), attempts=Job.attempts + 1, error=None)
                 .where((Job.id == job_id) & (Job.state == QUEUED)).execute())
    return taken == 1


# Callables run before every job (e.g. following the department's own field definitions).
BEFORE_RUN = []


def run(job_id):
    """Run one job: claimed once, its result or its failure recorded in Chinese."""
    if not claim(job_id):
        return None
    for hook in BEFORE_RUN:
        hook()
    job = Job.get_by_id(job_id)
    spec = KINDS.get(job.kind)
    try:
        if spec is None:
            raise JobError('未知的任务类型：%s' % job.kind)
        result = spec.func(job, **job.param_dict)
    except JobError as exc:
        finish(job, FAILED, error=str(exc))
    except Exception as exc:      # any failure ends the job with a reason, never silently
        log.error('job %s (%s) failed:\n%s', job.id, job.kind, traceback.format_exc())
        finish(job, FAILED, error='任务出错（%s），已记录日志。请稍后重试或联系系统管理员。' %
               type(exc).__name__)
    else:
        finish(job, DONE, result=result)
    runner.poke()       # what the job had to tell goes out now, not at the next minute
    return Job.get_by_id(job_id)


def finish(job, state, result=None, error=None):
    values = {Job.state: state, Job.finished_at: now(), Job.done: job.done, Job.total: job.total}
    if result is not None:
        values[Job.result] = str(result)
    if error is not None:
        values[Job.error] = error
    if job.file_name:
        values[Job.file_name] = job.file_name
        values[Job.download_name] = job.download_name
    if state == DONE and job.total is not None:
        values[Job.done] = job.total
    with write_tx():
        Job.update(values).where(Job.id == job.id).execute()
    job.state = state


def recover():
    """At a consumer's start: nothing a dead server left behind is lost silently."""
    requeue = []
    for job in list(Job.select().where(Job.state == RUNNING)):
        spec = KINDS.get(job.kind)
        if spec is not None and spec.resumable and job.attempts < 3:
            Job.update(state=QUEUED, done=0).where(Job.id == job.id).execute()
            requeue.append(job.id)
            continue
        error = INTERRUPTED
        if spec is not None and spec.on_interrupted is not None:
            try:
                error += spec.on_interrupted(job)
            except Exception:       # the job still ends failed, with what could be said
                log.exception('undoing interrupted job %s failed', job.id)
                error += '撤销未完成，请联系系统管理员核对。'
        Job.update(state=FAILED, finished_at=now(), error=error).where(Job.id == job.id).execute()
    requeue += [j.id for j in Job.select(Job.id).where(Job.state == QUEUED)]
    for job_id in requeue:
        runner.enqueue(job_id)
    return requeue


# --------------------------------------------------------------------------- scheduled work

@dataclass
class Daily:
    name: str
    setting: str            # config key holding 'HH:MM'
    default: str
    func: Callable          # func(day) — runs once per day, after the time of day


DAILY = []
EVERY_MINUTE = []       # functions run at every tick (e.g. sending what is waiting)


def daily(name, setting, default):
    """Declare work done once a day after a configurable time of day (see tick): a job kind
    'daily:<name>' whose job runs func(day) and may run again after an interruption."""
    def wrap(func):
        DAILY[:] = [d for d in DAILY if d.name != name]
        DAILY.append(Daily(name, setting, default, func))
        job_task('daily:' + name, name, resumable=True)(
            lambda job, day: func(datetime.date.fromisoformat(day)))
        return func
    return wrap


def time_of_day(text, default):
    try:
        hour, minute = (int(part) for part in (text or default).split(':'))
        return datetime.time(hour, minute)
    except (TypeError, ValueError):
        hour, minute = (int(part) for part in default.split(':'))
        return datetime.time(hour, minute)


def tick(at=None):
    """Every minute: each daily work whose time has come today and that has not run today runs
    now (also after a downtime that covered its time). Returns the names run."""
    from flask import current_app
    at = at or now()
    ran = []
    for item in DAILY:
        when = time_of_day(current_app.config.get(item.setting), item.default)
        if at.time() < when:
            continue
        key = '%s:%s' % (item.name, at.date().isoformat())
        if Job.select().where(Job.key == key).exists():
            continue
        job = submit_daily(item, key, at.date())
        if job is not None:
            ran.append(item.name)
    run_every_minute()
    return ran


def run_every_minute():
    for func in EVERY_MINUTE:
        try:
            func()
        except Exception:       # one failing routine must not stop the others
            log.exception('every-minute routine %s failed', getattr(func, '__name__', func))


def submit_daily(item, key, day):
    return submit('daily:' + item.name, None, title='%s（%s）' % (item.name, day.isoformat()),
                  key=key, day=day.isoformat())


EXTRA_MODELS = [Job]
