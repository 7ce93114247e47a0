"""交付 — handover (REGISTERS.md §4): the handover roster 《交樓名單》 with notices, calls, arrivals,
keys, refusals and late-delivery penalties; the daily report and the +3/+15 lists read it.

The rules live in rules/handover.py; this module gathers contract facts and roster rows for them.
"""
import datetime
from decimal import Decimal
from collections import namedtuple

from peewee import (JOIN, BooleanField, CharField, DateField, DateTimeField, DecimalField,
                    ForeignKeyField, IntegerField)

from models.base import Deadline, choices, write_tx
from models.master import PROJECT_DATE_HOOKS, rederive, Contract, Owner, Project, ProjectRegister, Unit
from rules import handover as rules

STAGE = '交付'


def _today():
    return datetime.date.today()


class HandoverEntry(ProjectRegister):
    unit = ForeignKeyField(Unit, backref='+', on_delete='RESTRICT', verbose_name='房号')
    owner = ForeignKeyField(Owner, null=True, backref='+', on_delete='RESTRICT', verbose_name='业主')
    contract = ForeignKeyField(Contract, null=True, backref='+', on_delete='RESTRICT',
                               verbose_name='合同')
    eligible = BooleanField(default=False, verbose_name='符合交楼资格',
                            help_text='由合同台账推算：已签约、未作废、房款已结清。')
    ineligible_reason = CharField(max_length=64, null=True, verbose_name='不符合原因')
    notice_mailed_on = DateField(null=True, verbose_name='交付通知书寄出日期',
                                 help_text='手册004 4.2.6：交付前10日填写并邮寄《交付通知书》。')
    tracking_no = CharField(max_length=40, null=True, verbose_name='快递单号')
    notice_confirmed = BooleanField(default=False, verbose_name='确认收到通知书')
    phoned_on = DateField(null=True, verbose_name='电话通知日期',
                          help_text='手册004 4.2.7：交付前3日电话通知，不符合交楼资格的要特别说明。')
    appointment_on = DateField(null=True, verbose_name='预约交付日期')
    arrived_at = DateTimeField(null=True, verbose_name='到场时间')
    gift_or_lottery = CharField(max_length=64, null=True, verbose_name='礼品/抽奖登记')
    issues_found = IntegerField(default=0, verbose_name='验房问题数')
    keys_handed_on = DateField(null=True, verbose_name='钥匙交付日期')
    status = CharField(max_length=8, choices=choices(*rules.HANDOVER_STATUSES), default='待交付',
                       verbose_name='交付状态')
    refused_on = DateField(null=True, verbose_name='拒收日期', help_text='空则取到场日期。')
    refusal_reason = CharField(max_length=200, null=True, verbose_name='拒收原因')
    late_days = IntegerField(default=0, verbose_name='逾期交付天数')
    late_penalty = DecimalField(max_digits=14, decimal_places=2, default=Decimal('0.00'),
                                verbose_name='逾期交付违约金(元)')
    demand_letter_sent_on = DateField(null=True, verbose_name='催告函发出日期')
    notice_due_on = DateField(null=True, verbose_name='通知书最迟寄出日期')
    phone_due_on = DateField(null=True, verbose_name='最迟电话通知日期')

    class Meta:
        table_name = 'handover_entry'
        verbose_name = '交楼名单'
        stage = STAGE
        list_columns = ('project', 'unit', 'owner', 'eligible', 'ineligible_reason',
                        'notice_mailed_on', 'phoned_on', 'appointment_on', 'arrived_at',
                        'issues_found', 'keys_handed_on', 'status', 'refusal_reason',
                        'late_days', 'late_penalty')
        filters = ('project', 'eligible', 'status', 'appointment_on', 'keys_handed_on', 'refused_on',
                   'notice_mailed_on', 'phoned_on', 'notice_confirmed', 'late_days')
        search = ('ineligible_reason', 'refusal_reason', 'tracking_no', 'remarks')
        natural_key = ('project', 'unit')
        default_sort = (('unit', False),)
        workflow = rules.HANDOVER_WORKFLOW
        readonly = ('eligible', 'ineligible_reason', 'late_days', 'late_penalty', 'notice_due_on',
                    'phone_due_on')
        lookup = ('status',)
        # List and report indexes come from the declaration (models/search.py); only uniqueness here.
        indexes = ((('project', 'unit'), True),)
        # Notices and calls come before handover: a unit handed over or refused owes neither.
        deadlines = (
            Deadline(what='交付通知书寄出', due_field='notice_due_on',
                     open_when=lambda m: m.notice_mailed_on.is_null() & (m.eligible == True) &  # noqa: E712
                     m.status.not_in(rules.ARRIVED_STATUSES),
                     clause=rules.NOTICE_CLAUSE, manual='手册004 4.2.6', unit_field='unit'),
            Deadline(what='交付前电话通知', due_field='phone_due_on',
                     open_when=lambda m: m.phoned_on.is_null() & m.status.not_in(rules.ARRIVED_STATUSES),
                     clause=rules.PHONE_CLAUSE, manual='手册004 4.2.7', unit_field='unit'),
        )


    def __str__(self):
        unit = self.__rel__.get('unit')      # loaded with a batch of rows (the change log)
        if unit is None:
            unit = Unit.get_or_none(Unit.id == self.__data__.get('unit'))
        return '交楼名单 %s' % (unit or '')

    # ---- derived facts
    def _project(self):
        return Project.get_or_none(Project.id == self.__data__.get('project'))

    def _contract(self):
        cid = self.__data__.get('contract')
        return Contract.get_or_none(Contract.id == cid) if cid else None

    def derive(self):
        project = self._project()
        if not self.__data__.get('contract') and self.__data__.get('unit'):
            # A row typed in by hand: the unit's valid contract (else its latest) decides.
            found = (Contract.live().where(Contract.unit == self.__data__['unit'])
                     .order_by(Contract.cancelled, Contract.sign_date.desc()).first())
            if found is not None:
                self.contract = found.id
        contract = self._contract()
        if contract is not None:
            if not self.__data__.get('owner'):
                self.owner = contract.__data__.get('owner')
            if not self.__data__.get('unit'):
                self.unit = contract.__data__.get('unit')
        self.eligible, reason = rules.roster_eligibility(
            contract is not None, bool(contract and contract.sign_date),
            bool(contract and contract.cancelled), bool(contract and contract.paid_in_full))
        self.ineligible_reason = reason or None
        if self.keys_handed_on and self.status in (rules.STATUS_PENDING, rules.STATUS_ABSENT):
            self.status = rules.STATUS_HANDED
        if self.status == rules.STATUS_REFUSED and not self.refused_on and self.arrived_at:
            self.refused_on = self.arrived_at.date() if isinstance(self.arrived_at, datetime.datetime) \
                else self.arrived_at
        delivery_on = project.delivery_date if project else None
        self.notice_due_on = rules.roster_due_on(delivery_on)
        self.phone_due_on = rules.phone_due_on(delivery_on)
        self.late_days, self.late_penalty = self.lateness(project, contract)

    def lateness(self, project, contract, as_of=None):
        """(late days, penalty) of the seller towards this owner (rules.late_days / late_penalty)."""
        if contract is None or not self.eligible or project is None:
            return 0, Decimal('0.00')
        agreed_on = contract.agreed_delivery_date or project.contract_delivery_date
        # A postponed handover (延期) was not offered: lateness runs until the keys change hands.
        offered_on = None if self.status == rules.STATUS_POSTPONED else project.delivery_start_date
        days = rules.late_days(agreed_on, offered_on=offered_on,
                               handed_on=self.keys_handed_on if self.status == rules.STATUS_HANDED else None,
                               as_of=as_of or _today())
        return days, rules.late_penalty(contract.total_price, contract.late_penalty_rate, days)

    def after_save(self, actor, created):
        # The last scheduled day is the handover's completion (models.delivery): the +3/+15
        # countdown nodes follow it when the roster's schedule changes.
        if created or self.deleted_at is not None or any(
                self.original(n) != self.__data__.get(n) for n in ('appointment_on', 'status')):
            from models.delivery import follow_handover_completion
            follow_handover_completion(self.__data__['project'])

    def problems(self, actor):
        yield from super().problems(actor)
        today = _today()
        contract = self._contract()
        if contract is not None and contract.__data__.get('unit') != self.__data__.get('unit'):
            yield 'contract', '合同 %s 不是该房号的合同。' % contract.contract_no
        clash = HandoverEntry.select(HandoverEntry.id).where(
            (HandoverEntry.project == self.__data__.get('project')) &
            (HandoverEntry.unit == self.__data__.get('unit')))
        if self.get_id() is not None:
            clash = clash.where(HandoverEntry.id != self.get_id())
        if self.__data__.get('unit') and clash.exists():
            yield 'unit', '该房号已在交楼名单中（可能在回收站中），请编辑原记录。'
        if self.status == rules.STATUS_HANDED:
            if not self.eligible:
                yield 'status', '该户不符合交楼资格（%s），不能登记为已交付；请先在合同台账更新签约、作废或房款结清情况。' % (
                    self.ineligible_reason or '')
        if self.status == rules.STATUS_REFUSED and not (self.refusal_reason or '').strip():
            yield 'refusal_reason', '拒收须填写拒收原因（交付后由客户关系部统一联系处理）。'
        for name in ('keys_handed_on', 'notice_mailed_on', 'phoned_on', 'refused_on',
                     'demand_letter_sent_on'):
            value = getattr(self, name)
            if value and value > today:
                yield name, '「%s」不能晚于今天。' % self.label(name)
        if self.arrived_at and self.arrived_at.date() > today:
            yield 'arrived_at', '到场时间不能晚于今天。'
        if self.keys_handed_on and self.arrived_at and self.keys_handed_on < self.arrived_at.date():
            yield 'keys_handed_on', '钥匙交付日期不能早于到场时间。'
        if self.issues_found is not None and self.issues_found < 0:
            yield 'issues_found', '验房问题数不能为负数。'

    # ---- the roster
    @classmethod
    def generate_roster(cls, project, actor):
        """Put every sold unit of the project on the roster (手册004 4.2.5).

        Eligibility comes from the unit's valid contract (else its latest cancelled one); a unit
        already listed keeps its row, and only its eligibility is refreshed when contract facts
        changed. Returns (created, refreshed).
        """
        contracts = {}
        for c in (Contract.live().where(Contract.project == project.id)
                  .order_by(Contract.cancelled.desc(), Contract.sign_date, Contract.id)):
            contracts[c.__data__['unit']] = c       # a valid contract wins over cancelled ones
        units = (Unit.live().where((Unit.project == project.id) &
                                   (Unit.status.in_(('已售', '已交付')) | Unit.id.in_(list(contracts) or [0])))
                 .order_by(Unit.building, Unit.entrance, Unit.room))
        existing = {e.__data__['unit']: e for e in cls.select().where(cls.project == project.id)}
        created = refreshed = 0
        with write_tx():
            for unit in units:
                contract = contracts.get(unit.id)
                row = existing.get(unit.id)
                if row is None:
                    cls.create_logged(actor, project=project.id, unit=unit.id,
                                      contract=contract.id if contract else None,
                                      owner=contract.__data__['owner'] if contract else None)
                    created += 1
                    continue
                if row.deleted_at is not None or row.is_closed():    # handed over: done
                    continue
                before = (row.eligible, row.ineligible_reason, row.__data__.get('contract'))
                if contract is not None and row.__data__.get('contract') != contract.id:
                    row.contract = contract.id
                row.derive()
                if (row.eligible, row.ineligible_reason, row.__data__.get('contract')) != before:
                    row.save_logged(actor)
                    refreshed += 1
        return created, refreshed

    ROSTER_FIELDS = ('id', 'eligible', 'ineligible_reason', 'status', 'appointment_on', 'arrived_at',
                     'keys_handed_on', 'refused_on', 'refusal_reason', 'issues_found',
                     'notice_mailed_on', 'notice_confirmed', 'phoned_on', 'demand_letter_sent_on',
                     'late_days', 'late_penalty')

    @classmethod
    def roster_rows(cls, project_id):
        """Every live roster row of a project as light records, in unit order.

        The daily report reads the whole roster on every request, so the rows are fetched as
        plain tuples (one query, no model hydration) and only their dates are converted; each
        record carries the roster fields the report rules read, plus unit_label, owner_name and
        owner_phone.
        """
        fields = [cls._meta.fields[n] for n in cls.ROSTER_FIELDS]
        query = (cls.select(*fields, Unit.building, Unit.entrance, Unit.room, Owner.name, Owner.phone)
                 .join(Unit, on=(cls.unit == Unit.id))
                 .switch(cls).join(Owner, JOIN.LEFT_OUTER, on=(cls.owner == Owner.id))
                 .where((cls.project == project_id) & cls.deleted_at.is_null()))
        # SQLite hands dates back as ISO text, PostgreSQL as dates: convert text only.
        dated = [(i, _as_datetime if isinstance(f, DateTimeField) else _as_date)
                 for i, f in enumerate(fields) if isinstance(f, (DateField, DateTimeField))]
        width = len(fields)
        rows = []
        for raw in cls._meta.database.execute_sql(*query.sql()):
            values = list(raw[:width])
            for i, convert in dated:
                value = values[i]
                if value.__class__ is str:
                    values[i] = convert(value)
            building, entrance, room, owner_name, owner_phone = raw[width:]
            values += [owner_name, owner_phone, '%s-%s-%s' % (building, entrance, room),
                       (building, entrance, len(room), room)]
            rows.append(RosterRecord._make(values))
        rows.sort(key=lambda r: r.sort_key)
        return rows


# One roster row as the reports read it (see HandoverEntry.roster_rows).
RosterRecord = namedtuple('RosterRecord', HandoverEntry.ROSTER_FIELDS + (
    'owner_name', 'owner_phone', 'unit_label', 'sort_key'))


def _as_date(text):
    return datetime.date.fromisoformat(text[:10])


def _as_datetime(text):
    return datetime.datetime.fromisoformat(text)


DATE_DERIVED = ('notice_due_on', 'phone_due_on', 'late_days', 'late_penalty')


def follow_project_dates(project_id):
    """The project's dates moved: notice and call due dates, late days and penalties follow."""
    rederive(HandoverEntry, project_id, DATE_DERIVED)


PROJECT_DATE_HOOKS.append(follow_project_dates)


EXTRA_MODELS = []
