"""Walking the building with a tablet (views/inspect.py): the verifications made on site
(验收复验记录, a register), the units walked each day, and the receipts that make sending an
item from the tablet safe to repeat.

Every item the tablet sends carries an id made on the tablet (`client_id`). The first time an id
arrives, the item is written through the registers' own `create_logged` / `save_logged` (powers,
scoping, rules, version guard, change log) and its answer is kept as a receipt in the same
transaction; every later arrival of that id — a dropped connection mid-upload, a double tap, a
second tab — is answered with that first answer and writes nothing.
"""
import datetime
import json

from peewee import (JOIN, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField,
                    IntegrityError, TextField, fn)

from models.aftercare import ProjectFromParent
from models.base import (AttachmentField, BaseModel, RuleError, User, choices, now, write_tx)
from models.delivery import ROUND_LABELS, AcceptanceRound, InspectionIssue
from models.master import Contractor, ProjectRegister, Unit
from rules import delivery as issue_rules
from rules import site_walk as rules
from rules.address import natural_key

STAGE = '交付前'


def _today():
    return datetime.date.today()


# --------------------------------------------------------------------------- inspection_check

class IssueCheck(ProjectFromParent, ProjectRegister):
    """验收复验记录 — an issue 待验证 checked on site (手册001 客户关系部：“整改结果进行验证”):
    通过 closes it, 不通过 sends it back to 整改中; the photo shows what was seen."""
    issue = ForeignKeyField(InspectionIssue, backref='checks', on_delete='RESTRICT',
                            verbose_name='验收问题')
    round = ForeignKeyField(AcceptanceRound, null=True, backref='+', on_delete='RESTRICT',
                            verbose_name='复验轮次')
    result = CharField(max_length=4, choices=choices(*rules.CHECK_RESULTS), verbose_name='复验结果',
                       help_text='通过：问题关闭（验证人、验证日期即本记录的复验人、复验日期）；'
                                 '不通过：问题退回「整改中」。')
    checked_on = DateField(default=_today, verbose_name='复验日期')
    checked_by = CharField(max_length=32, null=True, verbose_name='复验人')
    photo = AttachmentField(kinds=('image',), verbose_name='复验照片')
    note = TextField(null=True, verbose_name='复验说明')

    class Meta:
        table_name = 'inspection_check'
        verbose_name = '验收复验记录'
        stage = STAGE
        list_columns = ('project', 'issue', 'round', 'result', 'checked_on', 'checked_by', 'note')
        filters = ('project', 'round', 'result', 'checked_on')
        search = ('note', 'checked_by')
        natural_key = ('issue', 'checked_on', 'result')
        # What a verification can name: an issue awaiting verification (the template's example).
        link_where = {'issue': lambda issue: issue.status == '待验证'}
        default_sort = (('checked_on', True),)
        readonly = ('project',)

    parent_field = 'issue'

    def __str__(self):
        return '%s 复验%s' % (self.checked_on or '', self.result or '')

    def problems(self, actor):
        yield from super().problems(actor)
        if self.checked_on and self.checked_on > _today():
            yield 'checked_on', '复验日期不能晚于今天。'
        if self.get_id() is not None:
            for name in ('issue', 'result', 'checked_on'):
                if self.original(name) != self.__data__.get(name):
                    yield name, '复验结果已记录，不能修改「%s」；如需更正，请重新复验该问题。' % self.label(name)
            return
        issue = self.parent_row()
        if issue is not None and issue.deleted_at is None and \
                issue.status != issue_rules.STATUS_TO_VERIFY:
            yield 'issue', '只有「待验证」的问题可以复验（该问题当前为「%s」）。' % issue.status
        round_id = self.__data__.get('round')
        if round_id and issue is not None:
            owner = AcceptanceRound.get_or_none(AcceptanceRound.id == round_id)
            if owner is not None and owner.__data__['project'] != issue.__data__['project']:
                yield 'round', '「复验轮次」不属于该问题的项目。'

    def after_save(self, actor, created):
        """A check recorded closes its issue (通过) or sends it back to 整改中 (不通过), in the
        same transaction, through the issue's own rules and change log."""
        if not created:
            return
        issue = self.parent_row()
        if issue is None:
            raise RuleError([('issue', '「验收问题」不存在。')])
        checker = self.checked_by or getattr(actor, 'display_name', None)
        if self.result == rules.PASSED:
            issue.status = issue_rules.STATUS_CLOSED
            issue.verified_by = (checker or '')[:32] or None
            issue.verified_on = self.checked_on
        else:
            issue.status = issue_rules.STATUS_IN_PROGRESS
            issue.rectified_on = None
            issue.verified_by = issue.verified_on = None
        note = '现场复验%s%s' % (self.result, '：%s' % self.note if self.note else '')
        try:
            issue.save_logged(actor, getattr(self, '_issue_version', None), note=note[:500])
        except RuleError as exc:
            raise RuleError([('issue', '该问题不能%s：%s' % (
                '关闭' if self.result == rules.PASSED else '退回整改',
                '；'.join(m for _, m in exc.problems)))]) from exc
        self._issue_after = issue


# --------------------------------------------------------------------------- visits, receipts

class UnitVisit(BaseModel):
    """A unit walked on an acceptance day (marked 本户已查 on the tablet): the day's figures count
    units walked, with or without issues."""
    client_id = CharField(max_length=64, unique=True)
    project = IntegerField(index=True)
    round = IntegerField(null=True)
    unit = IntegerField()
    visited_on = DateField()
    user_id = IntegerField(null=True)
    at = DateTimeField(default=now)

    class Meta:
        table_name = 'inspect_unit_visit'
        indexes = ((('project', 'visited_on'), False),)


class InspectReceipt(BaseModel):
    """What the portal answered the first time a tablet item arrived (its `client_id`)."""
    client_id = CharField(max_length=64, unique=True)
    kind = CharField(max_length=8)
    user_id = IntegerField(null=True)
    project_id = IntegerField(null=True)
    row_id = IntegerField(null=True)
    answer = TextField()
    at = DateTimeField(default=now)

    class Meta:
        table_name = 'inspect_receipt'


EXTRA_MODELS = [UnitVisit, InspectReceipt]


def create_tables():
    """Migration 6: the tablet's receipts, the units walked and the verifications register."""
    from models.base import db
    db.create_tables([IssueCheck, UnitVisit, InspectReceipt], safe=True)


def receipt_answer(client_id, actor):
    """The first answer given to `client_id`, marked as a repeat; None when it never arrived.
    An id another user's item already took is refused (ids are made at random on tablets)."""
    found = InspectReceipt.get_or_none(InspectReceipt.client_id == client_id)
    if found is None:
        return None
    if found.user_id != getattr(actor, 'id', None):
        return dict(ok=False, state='refused', client_id=client_id, status=409,
                    message='条目编号已被其他用户的记录使用，未保存。请在平板上删除该条目后重新录入。')
    answer = json.loads(found.answer)
    answer['repeat'] = True
    return answer


def receive(actor, client_id, kind, apply):
    """Write a tablet item once: `apply()` (inside the write transaction) returns
    (answer, project id, row id); the answer is kept under `client_id`. A repeat gets the first
    answer. RuleError from `apply` propagates (nothing is kept: a refused item may be corrected
    and sent again)."""
    try:
        with write_tx():
            first = receipt_answer(client_id, actor)
            if first is not None:
                return first
            answer, project_id, row_id = apply()
            answer.update(ok=True, client_id=client_id, repeat=False)
            InspectReceipt.create(client_id=client_id, kind=kind, user_id=getattr(actor, 'id', None),
                                  project_id=project_id, row_id=row_id,
                                  answer=json.dumps(answer, ensure_ascii=False), at=now())
            return answer
    except IntegrityError:
        # Two sends of one item at the same moment (PostgreSQL): the other one stored it first.
        first = receipt_answer(client_id, actor)
        if first is None:
            raise
        return first


# --------------------------------------------------------------------------- what the tablet keeps

def issue_json(issue, rounds=None, contractors=None):
    rounds = rounds or {}
    contractors = contractors or {}
    data = issue.__data__
    return {
        'id': issue.id, 'version': issue.version, 'unit': data.get('unit'),
        'round': data.get('round'), 'round_no': rounds.get(data.get('round'), ''),
        'location': issue.location or '', 'category': issue.category,
        'severity': issue.severity, 'description': issue.description, 'status': issue.status,
        'found_on': issue.found_on.isoformat() if issue.found_on else None,
        'found_by': issue.found_by or '', 'deadline': issue.deadline.isoformat() if issue.deadline else None,
        'contractor': contractors.get(data.get('contractor'), ''),
        'photo': bool(data.get('photo')),
    }


def project_rounds(project_id):
    rows = AcceptanceRound.live().where(AcceptanceRound.project == project_id)
    return sorted(rows, key=lambda r: ROUND_LABELS.get(r.round_no, 9))


def contractor_names():
    return {c.id: c.name for c in Contractor.live(Contractor.id, Contractor.name)}


def buildings(project_id):
    """(building, units) of the project, in the order people count (2栋 before 10栋)."""
    rows = (Unit.select(Unit.building, fn.COUNT(Unit.id))
            .where((Unit.project == project_id) & Unit.deleted_at.is_null())
            .group_by(Unit.building).tuples())
    return sorted(rows, key=lambda row: natural_key(row[0]))


def common_phrases(project_id, limit=40):
    """The project's most used issue descriptions, per category: one-tap suggestions."""
    rows = (InspectionIssue.select(InspectionIssue.category, InspectionIssue.description,
                                   fn.COUNT(InspectionIssue.id).alias('n'))
            .where((InspectionIssue.project == project_id) & InspectionIssue.deleted_at.is_null())
            .group_by(InspectionIssue.category, InspectionIssue.description)
            .order_by(fn.COUNT(InspectionIssue.id).desc(), InspectionIssue.description)
            .limit(400).tuples())
    found = {}
    for category, description, _ in rows:
        if description and len(description) <= 60 and len(found.setdefault(category, [])) < 8:
            found[category].append(description)
    overall = [d for d, _ in sorted(
        ((d, n) for c, d, n in rows if d and len(d) <= 60), key=lambda x: -x[1])][:limit]
    found[''] = list(dict.fromkeys(overall))[:12]
    return found


def contractor_by_category(project_id):
    """The contractor most often responsible for each category in the project (a proposal)."""
    rows = (InspectionIssue.select(InspectionIssue.category, InspectionIssue.contractor,
                                   fn.COUNT(InspectionIssue.id))
            .where((InspectionIssue.project == project_id) & InspectionIssue.deleted_at.is_null() &
                   InspectionIssue.contractor.is_null(False))
            .group_by(InspectionIssue.category, InspectionIssue.contractor).tuples())
    best = {}
    for category, contractor_id, count in rows:
        if category not in best or count > best[category][1] or \
                (count == best[category][1] and contractor_id < best[category][0]):
            best[category] = (contractor_id, count)
    return {category: contractor_id for category, (contractor_id, _) in best.items()}


def building_units(project_id, building):
    units = list(Unit.select(Unit.id, Unit.building, Unit.entrance, Unit.room, Unit.floor,
                             Unit.layout, Unit.status)
                 .where((Unit.project == project_id) & (Unit.building == building) &
                        Unit.deleted_at.is_null()))
    units.sort(key=lambda u: (u.floor if u.floor is not None else 0, natural_key(u.entrance),
                              natural_key(u.room)))
    return units


def open_issues_of_units(project_id, unit_ids):
    """Issues of these units not yet settled (any round, and those found outside a round)."""
    if not unit_ids:
        return []
    return list(InspectionIssue.live()
                .where((InspectionIssue.project == project_id) &
                       InspectionIssue.unit.in_(unit_ids) &
                       InspectionIssue.status.not_in(issue_rules.SETTLED_STATUSES))
                .order_by(InspectionIssue.found_on, InspectionIssue.id))


# --------------------------------------------------------------------------- the day's figures

def day_figures(project_id, day, round_id=None):
    """The figures of one acceptance day of a project (rules.site_walk.day_figures), from the
    issues found that day, the units walked and the verifications made."""
    issues = (InspectionIssue.select(Unit.building, InspectionIssue.category,
                                     InspectionIssue.severity, InspectionIssue.unit)
              .join(Unit, on=(InspectionIssue.unit == Unit.id), join_type=JOIN.LEFT_OUTER)
              .where((InspectionIssue.project == project_id) & (InspectionIssue.found_on == day) &
                     InspectionIssue.deleted_at.is_null()))
    visits = (UnitVisit.select(Unit.building, UnitVisit.unit)
              .join(Unit, on=(UnitVisit.unit == Unit.id))
              .where((UnitVisit.project == project_id) & (UnitVisit.visited_on == day)))
    checks = IssueCheck.live(IssueCheck.result).where((IssueCheck.project == project_id) &
                                                      (IssueCheck.checked_on == day))
    if round_id is not None:
        issues = issues.where(InspectionIssue.round == round_id)
        visits = visits.where(UnitVisit.round == round_id)
        checks = checks.where(IssueCheck.round == round_id)
    return rules.day_figures(list(issues.tuples()), list(visits.tuples()),
                             [r for (r,) in checks.tuples()], sort_key=natural_key)


def acceptance_days(project_id, round_id=None, limit=60):
    """Days issues were found, units walked or checks made in the project (newest first)."""
    found = set()
    query = InspectionIssue.select(InspectionIssue.found_on).distinct().where(
        (InspectionIssue.project == project_id) & InspectionIssue.deleted_at.is_null())
    visits = UnitVisit.select(UnitVisit.visited_on).distinct().where(UnitVisit.project == project_id)
    if round_id is not None:
        query = query.where(InspectionIssue.round == round_id)
        visits = visits.where(UnitVisit.round == round_id)
    for (day,) in list(query.tuples()) + list(visits.tuples()):
        if isinstance(day, str):
            day = datetime.date.fromisoformat(day[:10])
        if day is not None:
            found.add(day)
    return sorted(found, reverse=True)[:limit]


def user_name(user_id):
    user = User.get_or_none(User.id == user_id) if user_id else None
    return user.display_name if user else None
