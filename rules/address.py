"""How people write a home: 「3栋1单元1602」「3#1-1602」「3-1-1602」「3栋-1-1602」「3幢1单元1602室」
「A1栋2单元801」「8号楼1602」「1602」 — one parser for the unit file, list searches, pickers and
imports, so a room written one way is found however it was stored (building 3, 3栋 or 3号楼).

Anything else is a name or a phone fragment. A bare number of three or four digits is a room
(it may also be the last digits of a phone: 手机尾号, the other way clerks name a household).
"""
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

BUILDING_MARKS = ('号楼', '栋', '幢', '座', '#', '号')
ENTRANCE_MARK = '单元'
ROOM_MARKS = ('室', '号', '房')

# A building before a dash has a digit (「3-1-1602」, 「A1-2-801」); letters alone need their mark
# (「A座1602」), so 「HT-2026」 stays a contract number.
_B = r'(?P<b>[A-Z]{0,2}\d{1,3}[A-Z]?)'
_BL = r'(?P<b>[A-Z]{0,2}\d{1,3}[A-Z]?|[A-Z]{1,2})'
_BM = r'(?:号楼|栋|幢|座|#|号)'
_E = r'(?P<e>\d{1,2})'
_R = r'(?P<r>\d{3,5})'
_RM = r'(?:室|号|房)?'
PATTERNS = (
    re.compile(r'^%s%s-?%s(?:单元-?|-)%s%s$' % (_BL, _BM, _E, _R, _RM)),  # 3栋1单元1602, 3#1-1602
    re.compile(r'^%s-%s(?:单元-?|-)%s%s$' % (_B, _E, _R, _RM)),           # 3-1-1602
    re.compile(r'^%s%s-?%s%s$' % (_BL, _BM, _R, _RM)),                    # 3栋1602
    re.compile(r'^%s-%s%s$' % (_B, _R, _RM)),                             # 3-1602
    re.compile(r'^%s单元-?%s%s$' % (_E, _R, _RM)),                         # 1单元1602
    re.compile(r'^(?P<r>\d{3,4})%s$' % _RM),                               # 1602, 1602室
    re.compile(r'^%s%s$' % (_BL, _BM)),                                    # 3栋, 8号楼, A座
)
_DASHES = re.compile(r'[-－—–_/\\]+')
_SPACES = re.compile(r'[\s\u3000]+')


@dataclass(frozen=True)
class Address:
    """A home as typed: each part None when not written. Parts are keys (no 栋/单元/室)."""
    building: Optional[str] = None
    entrance: Optional[str] = None
    room: Optional[str] = None

    @property
    def full(self):
        """Building and room written: one home (in a project; the entrance when several)."""
        return self.building is not None and self.room is not None

    @property
    def room_only(self):
        return self.room is not None and self.building is None and self.entrance is None


def _normal(text):
    text = unicodedata.normalize('NFKC', str(text or '')).strip().upper()
    text = _SPACES.sub('-', text)
    return _DASHES.sub('-', text).strip('-')


def parse_address(text):
    """The Address `text` writes, or None when it is not an address (a name, a phone fragment)."""
    text = _normal(text)
    if not text:
        return None
    for pattern in PATTERNS:
        match = pattern.match(text)
        if match:
            parts = match.groupdict()
            return Address(building=parts.get('b'), entrance=entrance_key(parts.get('e')),
                           room=parts.get('r'))
    return None


def building_key(value):
    """「3栋」「3号楼」「3#」「3」 → '3'; 「A1栋」 → 'A1'."""
    text = _normal(value)
    for mark in BUILDING_MARKS:
        if text.endswith(mark) and len(text) > len(mark):
            return text[:-len(mark)]
    return text


def entrance_key(value):
    if value is None:
        return None
    text = _normal(value)
    if text.endswith(ENTRANCE_MARK):
        text = text[:-len(ENTRANCE_MARK)]
    return str(int(text)) if text.isdigit() else text


def room_key(value):
    text = _normal(value)
    for mark in ROOM_MARKS:
        if text.endswith(mark) and len(text) > len(mark):
            return text[:-len(mark)]
    return text


def unit_key(building, entrance, room):
    """The key of a stored unit, however its parts were written: ('3', '1', '1602')."""
    return building_key(building), entrance_key(entrance), room_key(room)


def building_forms(key):
    """The spellings a building may be stored in ('3' → 3, 3栋, 3幢, 3号楼 …)."""
    bases = {key, key.lower()}
    return sorted({b + mark for b in bases for mark in ('',) + BUILDING_MARKS})


def entrance_forms(key):
    bases = {key} | ({'0' + key} if key.isdigit() and len(key) == 1 else set())
    return sorted({b + mark for b in bases for mark in ('', ENTRANCE_MARK)})


def room_forms(key):
    return sorted({key} | {key + mark for mark in ROOM_MARKS})


def household_text(text):
    """The words of a search: [Address or str]. The whole text when it is one address (「3栋 1单元
    1602」, 「7栋 2302」), else each blank-separated word, parsed on its own."""
    whole = parse_address(text)
    if whole is not None:
        return [whole]
    return [parse_address(word) or word for word in str(text or '').split()]


# --------------------------------------------------------------------------- natural order

_CN_DIGITS = {'零': 0, '〇': 0, '一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6,
              '七': 7, '八': 8, '九': 9}
_CN_UNITS = {'十': 10, '百': 100, '千': 1000}
_RUNS = re.compile(r'(\d+|[零〇一二两三四五六七八九十百千]+)')


def chinese_number(text):
    """「三」 → 3, 「十二」 → 12, 「二十」 → 20, 「一百零五」 → 105."""
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
    return total + (digit or 0)


def natural_key(text):
    """Sort key in the order people count: 101 before 1001, 2栋 before 10栋, 第二轮 before 第十轮."""
    key = []
    for part in _RUNS.split(str(text or '')):
        if not part:
            continue
        if part.isdigit():
            key.append((0, int(part), ''))
        elif _RUNS.fullmatch(part):
            key.append((0, chinese_number(part), ''))
        else:
            key.append((1, 0, part))
    return key
