"""The department's own fields and registers: plain rules of their definitions (models/custom.py).

Labels are text people give; column and table names are generated here and only ever these
patterns reach SQL as identifiers.
"""
import re

KINDS = ('文本', '多行文本', '数字', '金额', '日期', '是否', '单选', '多选', '房源', '人员')
CHOICE_KINDS = ('单选', '多选')
TEXT_KINDS = ('文本', '多行文本')           # what the list search can cover
LINK_KINDS = ('房源', '人员')
# Kinds a list filters by (and indexes): all but long free text.
FILTER_KINDS = tuple(k for k in KINDS if k not in ('多行文本', '房源'))
STAGES = ('基础数据', '风险控制', '交付前', '交付', '交付后', '业主沟通')

LABEL_MAX = 40
OPTION_MAX = 60
OPTIONS_MAX = 100
TEXT_MAX = 200

_COLUMN = re.compile(r'^cf_[1-9][0-9]{0,8}$')
_TABLE = re.compile(r'^cr_[1-9][0-9]{0,8}$')
_OPTION_SPLIT = re.compile(r'[\r\n、，,；;|]+')
_LABEL_BAD = re.compile(r'[\x00-\x1f\x7f*"\'`<>\\]')


def column_name(field_id):
    """The generated column of custom field `field_id`: cf_<id>, never a name anyone typed."""
    name = 'cf_%d' % int(field_id)
    assert _COLUMN.match(name)
    return name


def table_name(register_id):
    """The generated table of custom register `register_id`: cr_<id>."""
    name = 'cr_%d' % int(register_id)
    assert _TABLE.match(name)
    return name


def is_column_name(name):
    return bool(name) and bool(_COLUMN.match(name))


def is_table_name(name):
    return bool(name) and bool(_TABLE.match(name))


def parse_options(text):
    """The choices of a 单选/多选 field as typed: one per line, or separated by 、，, ；;"""
    found = []
    for part in _OPTION_SPLIT.split(text or ''):
        part = part.strip()
        if part and part not in found:
            found.append(part)
    return found


def join_values(values):
    """A 多选 value as stored and exported: the picked options joined by 、."""
    return '、'.join(v for v in values if v) or None


def split_values(text):
    return parse_options(text) if isinstance(text, str) else list(text or [])


def label_problems(label):
    """What is wrong with a field's or a register's label, as messages."""
    label = (label or '').strip()
    if not label:
        return ['名称不能为空。']
    found = []
    if len(label) > LABEL_MAX:
        found.append('名称不能超过 %d 个字符。' % LABEL_MAX)
    if _LABEL_BAD.search(label):
        found.append('名称不能包含引号、星号、尖括号、反斜杠或控制字符。')
    return found


def options_problems(kind, options):
    """Messages for the options of a field of `kind` (a list from parse_options)."""
    if kind not in CHOICE_KINDS:
        return []
    if not options:
        return ['「%s」字段须填写可选项（每行一个，或用顿号分隔）。' % kind]
    found = []
    if len(options) > OPTIONS_MAX:
        found.append('可选项不能超过 %d 个。' % OPTIONS_MAX)
    long = [o for o in options if len(o) > OPTION_MAX]
    if long:
        found.append('可选项「%s」超过 %d 个字符。' % (long[0], OPTION_MAX))
    return found


def multi_problems(label, value, options):
    """Messages for a stored 多选 value whose parts are not all among the options."""
    unknown = [v for v in split_values(value) if v not in options]
    if unknown:
        return ['「%s」的值「%s」不在可选范围内（%s）。' % (label, '、'.join(unknown), '、'.join(options))]
    return []
