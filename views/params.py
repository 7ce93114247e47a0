"""What a request may carry: ids, numbers and dates read once, here, for every page.

A number in a URL or a query string is a row id, a page or a count: anything beyond a 64-bit
integer cannot be one (SQLite raises on it, PostgreSQL refuses it), a date must be one the
portal's own date arithmetic can move from, and no text the portal keeps holds a NUL character
(PostgreSQL refuses it, SQLite cuts the text short). Such input is answered 404 (an id in the
path), 400 (a NUL) or ignored with a message (a query parameter), the same on both databases.
"""
import datetime

from flask import Request, abort, flash, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

INT_MIN, INT_MAX = -2 ** 63, 2 ** 63 - 1
FIRST_DAY, LAST_DAY = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


def to_int(value, low=INT_MIN, high=INT_MAX):
    """`value` as an integer between `low` and `high`, or None (text, '1.5', 20 digits …)."""
    text = str(value).strip() if value is not None else ''
    digits = text[1:] if text.startswith('-') else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        return None
    number = int(text)
    return number if low <= number <= high else None


def to_id(value):
    """A row id (a positive 64-bit integer) or None."""
    return to_int(value, 1)


def parse_day(text):
    """A date written YYYY-MM-DD (or 2026-1-5) between 1900 and 2999, or None."""
    try:
        day = datetime.datetime.strptime((text or '').strip(), '%Y-%m-%d').date()
    except (TypeError, ValueError):
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def date_arg(name):
    """The date of query parameter `name`, or None: a value that is not one is flashed."""
    text = (request.args.get(name) or '').strip()
    day = parse_day(text)
    if text and day is None:
        flash('日期「%s」无效：应为 %s 至 %s 之间、如 2026-12-01 的日期；已按今天计算。'
              % (text, FIRST_DAY.isoformat(), LAST_DAY.isoformat()), 'warning')
    return day


class Args(ImmutableMultiDict):
    """Query and form values: `get(name, type=int)` gives the default, not a number no column
    holds, for values beyond a 64-bit integer (Flask-Admin reads page, sort, offset … so)."""

    def get(self, key, default=None, type=None):
        value = super().get(key, default, type)
        if type is int and isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            return default
        return value


class PortalRequest(Request):
    parameter_storage_class = Args


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a number beyond a 64-bit integer matches no row (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault('max', INT_MAX)
        super().__init__(map, *args, **kwargs)


def refuse_nul():
    """No page takes a NUL character in a parameter: 400 before any view reads it."""
    sources = [request.args] + ([request.form] if request.method == 'POST' else [])
    for values in sources:
        for name, items in values.lists():
            if '\x00' in name or any('\x00' in item for item in items):
                abort(400, '请求中含有无效字符（NUL），请检查输入。')


def install(app):
    """Before any route is added: bounded ids in paths, bounded numbers in arguments."""
    app.request_class = PortalRequest
    app.url_map.converters['int'] = IdConverter
    app.before_request(refuse_nul)
