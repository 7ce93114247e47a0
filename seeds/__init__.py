"""Demo data: realistic Chinese registers for two projects in different cities.

`seed_demo` loads master data (seeds/master.py), then every stage module's `seed(ctx)` in stage
order. Everything is drawn from one fixed random seed, so the demo is the same on every machine.
"""
import datetime
import importlib
import pkgutil
import random

from models.base import User, write_tx
from models.master import Project, UserProject

STAGE_ORDER = ('master', 'risk', 'delivery', 'handover', 'aftercare', 'communication')

DEMO_USERS = (
    ('admin', '系统管理员', 'admin'),
    ('supervisor', '王经理', 'supervisor'),
    ('clerk', '李专员', 'clerk'),
    ('auditor', '赵审计', 'auditor'),
)


class SeedContext:
    def __init__(self, today=None, seed=20261125):
        self.today = today or datetime.date.today()
        self.rng = random.Random(seed)
        self.projects = []
        self.units = {}
        self.owners = {}
        self.contracts = {}
        self.users = {}
        self.departments = {}
        self.contractors = []


def insert_derived(model, rows, audit=None, batch=200):
    """Derive each row as the portal would, then insert them in one statement per batch.

    Every row carries every column: insert_many takes its columns from the first row, so a key
    missing there would silently drop that value from all the others. Demo rows are not logged."""
    names = [n for n in model._meta.sorted_field_names if n != 'id']
    data = []
    for row in rows:
        row.derive()
        values = {n: row.__data__.get(n) for n in names}
        values.update(audit or {})
        data.append(values)
    for start in range(0, len(data), batch):
        model.insert_many(data[start:start + batch]).execute()


def create_user(username, display_name, role, password, project_codes=(), email=None):
    from views.auth import hash_password, new_session_token
    user = User.create(username=username, display_name=display_name, role=role, email=email,
                       password_hash=hash_password(password), session_token=new_session_token())
    for code in project_codes:
        project = Project.get(Project.code == code)
        UserProject.create(user=user, project=project)
    return user


def stage_modules():
    import seeds
    names = [m.name for m in pkgutil.iter_modules(seeds.__path__)]
    names.sort(key=lambda n: STAGE_ORDER.index(n) if n in STAGE_ORDER else 99)
    return [importlib.import_module('seeds.%s' % n) for n in names]


def seed_demo(password, force=False, today=None):
    """Load the demo into an empty database; returns False when projects already exist."""
    if Project.select().exists() and not force:
        return False
    ctx = SeedContext(today=today)
    from views.auth import hash_password, new_session_token
    hashed = hash_password(password)     # one slow hash for the four demo users
    modules = stage_modules()
    with write_tx():
        for module in modules:
            if module.__name__ == 'seeds.master':
                module.seed(ctx)
        for username, name, role in DEMO_USERS:
            user = User.get_or_none(User.username == username)
            if user is None:
                # Example addresses (example.com never receives mail): with KEFU_SMTP_URL set to
                # a test mail server, the morning digest of the demo can be read there.
                user = User.create(username=username, display_name=name, role=role,
                                   email='%s@example.com' % username,
                                   password_hash=hashed, session_token=new_session_token())
            ctx.users[username] = user
        for username in ('supervisor', 'clerk'):
            UserProject.get_or_create(user=ctx.users[username], project=ctx.projects[0])
    for module in modules:
        if module.__name__ != 'seeds.master' and hasattr(module, 'seed'):
            with write_tx():
                module.seed(ctx)
    return True
