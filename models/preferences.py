"""A user's own conveniences: saved list views ("我的逾期问题").

A saved view is the query string of a register list (filters, search, sort, page size) under a
name the user chose. It belongs to that user alone and is not register data: no project, no
change log. What it shows is decided afresh by the list every time it is opened, so a saved view
never widens what the user may see.
"""
from urllib.parse import parse_qsl, urlencode

from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from models.base import BaseModel, User, now, write_tx

NAME_MAX = 40
QUERY_MAX = 2000
# Parameters of a list page worth keeping: the page number is not (a saved view opens on page 1),
# nor Flask-Admin's return address.
DROPPED_PARAMS = ('page', 'url', 'csrf_token')


def clean_query(query):
    """The list query string without the page number and return address, in a stable form."""
    if isinstance(query, bytes):
        query = query.decode('utf-8', 'replace')
    pairs = [(k, v) for k, v in parse_qsl(query or '', keep_blank_values=False)
             if k not in DROPPED_PARAMS]
    return urlencode(pairs)


def saved_view_problems(name, query, table_name, known_tables):
    """(field, message) for every reason a saved view cannot be kept."""
    name = (name or '').strip()
    if not name:
        yield 'name', '请为视图起一个名称，例如“我的逾期问题”。'
    elif len(name) > NAME_MAX:
        yield 'name', '视图名称不能超过 %d 个字符。' % NAME_MAX
    if table_name not in known_tables:
        yield 'table_name', '没有这个台账，无法保存视图。'
    if len(query or '') > QUERY_MAX:
        yield 'query', '筛选条件过长（超过 %d 个字符），请减少筛选条件后再保存。' % QUERY_MAX


class SavedView(BaseModel):
    user = ForeignKeyField(User, backref='saved_views', on_delete='CASCADE', verbose_name='用户')
    table_name = CharField(max_length=64, verbose_name='台账')
    name = CharField(max_length=NAME_MAX, verbose_name='视图名称')
    query = TextField(default='', verbose_name='筛选条件')
    created_at = DateTimeField(default=now, verbose_name='创建时间')
    updated_at = DateTimeField(default=now, verbose_name='修改时间')

    class Meta:
        table_name = 'saved_view'
        verbose_name = '我的视图'
        indexes = ((('user', 'table_name', 'name'), True),)

    def __str__(self):
        return self.name

    @classmethod
    def of(cls, user, table_name=None):
        """The views `user` saved (for one register when `table_name` is given), by name."""
        query = cls.select().where(cls.user == user.id)
        if table_name is not None:
            query = query.where(cls.table_name == table_name)
        return query.order_by(cls.table_name, cls.name)

    @classmethod
    def keep(cls, user, table_name, name, query):
        """Save under `name`, replacing the user's view of that name on this register."""
        name = name.strip()
        query = clean_query(query)
        with write_tx():
            row = cls.get_or_none((cls.user == user.id) & (cls.table_name == table_name) &
                                  (cls.name == name))
            if row is None:
                return cls.create(user=user.id, table_name=table_name, name=name, query=query), True
            row.query = query
            row.updated_at = now()
            row.save()
            return row, False


EXTRA_MODELS = [SavedView]
