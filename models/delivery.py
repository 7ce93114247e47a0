"""交付前 — before delivery (REGISTERS.md §3 and §7): the three rounds of internal mock acceptance,
their punch list, the key transfers to the property company and the handover countdown.

The rules live in rules/delivery.py (plain functions, tested at their edges); the models only
gather the facts they need from the database and hand them over.
"""
import datetime

from peewee import (BooleanField, Case, CharField, DateField, ForeignKeyField, IntegerField,
                    TextField, fn)

from models.base import AttachmentField, Deadline, RuleError, choices, db, write_tx
from models.notify import Alert, became
from models.master import PROJECT_DATE_HOOKS, Contractor, Project, ProjectRegister, Unit
from models.schema import SCHEMA_HOOKS
from rules import delivery as rules

STAGE = '交付前'

ROUND_LABELS = {'第一轮': 1, '第二轮': 2, '第三轮': 3}
ROUND_NAMES = {number: label for label, number in ROUND_LABELS.items()}


class ActorAware:
    """Keeps the saving user at hand for `derive()` (who approved a decision, who verified)."""

    def save_logged(self, actor, expected_version=None, **kwargs):
        self._actor = actor
        return super().save_logged(actor, expected_version, **kwargs)

    def actor_name(self):
        actor = getattr(self, '_actor', None)
        return getattr(actor, 'display_name', None) or getattr(actor, 'username', None) or ''


def _today():
    return datetime.date.today()


# --------------------------------------------------------------------------- acceptance_round

class AcceptanceRound(ProjectRegister):
    round_no = CharField(max_length=8, choices=choices(*ROUND_LABELS), verbose_name='轮次')
    organizer = CharField(max_length=16, choices=choices('项目部', '客户关系部', '物业公司'), null=True,
                          verbose_name='组织部门',
                          help_text='手册001：第一轮由项目部组织，第二轮由客户关系部组织，第三轮由物业公司组织；空则按轮次填写。')
    leader = CharField(max_length=32, null=True, verbose_name='验收小组组长',
                       help_text='手册001：组长由项目总经理（或其指定人员）担任。')
    started_on = DateField(null=True, verbose_name='开始日期')
    cleared_on = DateField(null=True, verbose_name='清查完毕日期')
    summary_meeting_on = DateField(null=True, verbose_name='总结会日期')
    summary_report = AttachmentField(verbose_name='内部验收总结报告',
                                     help_text='手册001：总结报告包括验收过程总结、问题归纳、数据分析、整改情况，典型问题配图片、说明。')
    utilities_commissioned = BooleanField(default=False, verbose_name='水电及弱电系统调试完毕',
                                          help_text='第三轮必备条件：室内、外永久水、电调试完毕；电话、有线电视、对讲安全系统具备使用条件。')
    landscaping_done = BooleanField(default=False, verbose_name='景观绿化、室外配套完毕',
                                    help_text='第三轮必备条件。')
    completion_filing_obtained = BooleanField(default=False, verbose_name='已取得竣工备案表',
                                              help_text='第三轮必备条件。')
    start_from = DateField(null=True, verbose_name='最早开始日期')
    start_until = DateField(null=True, verbose_name='最迟开始日期')
    clear_by = DateField(null=True, verbose_name='最迟清查完毕日期',
                         help_text='由项目交付日期（T日）按手册001推算。')
    out_of_window = BooleanField(default=False, verbose_name='超出时间窗口')
    window_note = CharField(max_length=255, null=True, verbose_name='时间窗口说明')
    summary_due_on = DateField(null=True, verbose_name='总结会最迟日期',
                               help_text='第一轮不晚于入住前2个月，第二轮不晚于入住前30天（手册001）。')

    class Meta:
        table_name = 'acceptance_round'
        verbose_name = '内部模拟验收'
        stage = STAGE
        list_columns = ('project', 'round_no', 'organizer', 'leader', 'started_on', 'cleared_on',
                        'clear_by', 'summary_meeting_on', 'out_of_window', 'window_note')
        filters = ('project', 'round_no', 'organizer', 'started_on', 'cleared_on', 'out_of_window')
        search = ('leader', 'window_note', 'remarks')
        natural_key = ('project', 'round_no')
        default_sort = (('project', False), ('round_no', False))
        readonly = ('start_from', 'start_until', 'clear_by', 'out_of_window', 'window_note',
                    'summary_due_on')
        lookup = ('round_no',)
        indexes = ((('project', 'round_no'), True),)
        deadlines = (
            Deadline(what='内部模拟验收清查完毕', due_field='clear_by',
                     open_when=lambda m: m.cleared_on.is_null(),
                     clause='第一轮“清查完毕(不晚于入住前2月)”；第二轮“清查完毕(不晚于入住前30天)”；'
                            '第三轮问题须在施工钥匙移交（不晚于入住前15日）前关闭。',
                     manual='手册001 项目交付前的内部模拟验收', owner_field='organizer'),
            Deadline(what='内部验收总结会', due_field='summary_due_on',
                     open_when=lambda m: m.summary_meeting_on.is_null(),
                     clause=rules.SUMMARY_MEETING_CLAUSES[1] + rules.SUMMARY_MEETING_CLAUSES[2],
                     manual='手册001 内部验收总结会', owner='项目部'),
        )

    def __str__(self):
        # Lists name thousands of issues' rounds: no query here, the project column sits beside it.
        project = self.__rel__.get('project')
        return '%s %s' % (project.name, self.round_no) if project is not None else self.round_no

    @property
    def round_number(self):
        return ROUND_LABELS.get(self.round_no)

    def _delivery_on(self):
        project = Project.get_or_none(Project.id == self.__data__.get('project'))
        return project.delivery_date if project else None

    def derive(self):
        number = self.round_number
        if number is None:
            return
        if not self.organizer:
            self.organizer = rules.ROUND_ORGANIZERS[number]
        delivery_on = self._delivery_on()
        self.summary_due_on = rules.summary_meeting_due(number, delivery_on)
        window = rules.round_window(number, delivery_on)
        if window is None:
            self.start_from = self.start_until = self.clear_by = None
            self.out_of_window = False
            self.window_note = '项目未定交付日期，无法推算时间窗口。'
            return
        self.start_from, self.start_until, self.clear_by = \
            window.start_from, window.start_until, window.clear_by
        deviations = rules.round_window_deviations(number, delivery_on, self.started_on,
                                                   self.cleared_on)
        self.out_of_window = bool(deviations)
        self.window_note = ('；'.join(m for _, m in deviations) if deviations
                            else window.describe())[:255]

    def open_round2_issue_count(self):
        round2 = AcceptanceRound.select(AcceptanceRound.id).where(
            (AcceptanceRound.project == self.__data__.get('project')) &
            (AcceptanceRound.round_no == '第二轮') & AcceptanceRound.deleted_at.is_null())
        return (InspectionIssue.live()
                .where(InspectionIssue.round.in_(round2) &
                       InspectionIssue.status.not_in(rules.SETTLED_STATUSES))
                .count())

    def problems(self, actor):
        yield from super().problems(actor)
        if self.started_on and self.cleared_on and self.cleared_on < self.started_on:
            yield 'cleared_on', '清查完毕日期不能早于开始日期。'
        if self.summary_meeting_on and self.started_on and self.summary_meeting_on < self.started_on:
            yield 'summary_meeting_on', '总结会日期不能早于开始日期。'
        clash = AcceptanceRound.select(AcceptanceRound.id).where(
            (AcceptanceRound.project == self.__data__.get('project')) &
            (AcceptanceRound.round_no == self.round_no))
        if self.get_id() is not None:
            clash = clash.where(AcceptanceRound.id != self.get_id())
        if clash.exists():
            yield 'round_no', '本项目已登记%s内部验收，请编辑原记录。' % self.round_no
        # 手册001: round 3 checks round 2's closure and needs its three prerequisites met first.
        starting = self.started_on and (self.original('started_on') is None)
        if self.round_number == 3 and starting:
            yield from rules.round3_prerequisite_problems(
                self.open_round2_issue_count(), self.utilities_commissioned,
                self.landscaping_done, self.completion_filing_obtained)


# --------------------------------------------------------------------------- inspection_issue

class InspectionIssue(ActorAware, ProjectRegister):
    round = ForeignKeyField(AcceptanceRound, null=True, backref='issues', on_delete='RESTRICT',
                            verbose_name='验收轮次')
    unit = ForeignKeyField(Unit, null=True, backref='+', on_delete='RESTRICT', verbose_name='房号',
                           help_text='户内问题选房号；公共部位问题填写位置。')
    location = CharField(max_length=100, null=True, verbose_name='部位/位置')
    category = CharField(max_length=16, choices=choices(*rules.ISSUE_CATEGORIES), verbose_name='问题类别')
    description = TextField(verbose_name='问题描述')
    severity = CharField(max_length=4, choices=choices(*rules.SEVERITIES), default='一般',
                         verbose_name='严重程度',
                         help_text='重大问题须定整改措施、整改期限、责任人和处罚措施（手册001）。')
    photo = AttachmentField(kinds=('image',), verbose_name='照片')
    found_on = DateField(default=_today, verbose_name='发现日期')
    found_by = CharField(max_length=32, null=True, verbose_name='发现人')
    contractor = ForeignKeyField(Contractor, null=True, backref='+', on_delete='RESTRICT',
                                 verbose_name='责任单位')
    responsible_person = CharField(max_length=32, null=True, verbose_name='责任人')
    deadline = DateField(null=True, verbose_name='整改期限')
    rectification_plan = TextField(null=True, verbose_name='整改措施')
    penalty = CharField(max_length=200, null=True, verbose_name='处罚措施')
    status = CharField(max_length=8, choices=choices(*rules.ISSUE_STATUSES), default='待整改',
                       verbose_name='状态',
                       help_text='待整改 → 整改中 → 待验证 → 已关闭；让步接收、不整改须客服经理审批，不整改须有统一说辞。')
    rectified_on = DateField(null=True, verbose_name='整改完成日期')
    verified_by = CharField(max_length=32, null=True, verbose_name='验证人')
    verified_on = DateField(null=True, verbose_name='验证日期')
    decision_approved_by = CharField(max_length=64, null=True, verbose_name='决策审批人')
    decision_approved_on = DateField(null=True, verbose_name='决策审批日期')
    unified_script = TextField(null=True, verbose_name='统一说辞',
                               help_text='手册001：“确定不整改的问题,形成统一说辞,履行决策审批后由客户关系部和项目部存档。”')

    class Meta:
        table_name = 'inspection_issue'
        verbose_name = '验收问题'
        stage = STAGE
        list_columns = ('project', 'round', 'unit', 'location', 'category', 'description',
                        'severity', 'contractor', 'responsible_person', 'found_on', 'deadline',
                        'status', 'verified_on')
        filters = ('project', 'round', 'status', 'severity', 'category', 'contractor', 'deadline',
                   'found_on', 'verified_on')
        search = ('description', 'location', 'responsible_person', 'found_by')
        natural_key = ('project', 'round', 'unit', 'location', 'description')
        default_sort = (('found_on', True),)
        readonly = ('decision_approved_by', 'decision_approved_on')
        lookup = ('description', 'location')
        workflow = rules.ISSUE_WORKFLOW
        # 手册001: 重大问题须定整改措施、整改期限、责任人和处罚措施 — told to the supervisors at once.
        alerts = (Alert('重大验收问题', became('severity', '重大'),
                        lambda row: '重大验收问题：%s' % row),)
        deadlines = (
            Deadline(what='验收问题整改期限', due_field='deadline',
                     open_when=lambda m: m.status.not_in(rules.SETTLED_STATUSES),
                     clause='手册001：“将每日需整改问题汇总反馈给监理和总包单位,并落实整改时间,跟踪关闭整改问题。”',
                     manual='手册001 内部模拟验收', owner='项目部', unit_field='unit'),
        )

    def __str__(self):
        text = (self.description or '')[:20]
        return '#%s %s' % (self.get_id() or '', text)

    @property
    def is_overdue(self):
        return rules.is_issue_overdue(self.deadline, self.status, _today())

    def derive(self):
        if self.__data__.get('round') and not self.__data__.get('project'):
            self.project = self.round.project_id
        if isinstance(self.location, str):
            self.location = self.location.strip() or None
        old = self.original('status')
        today = _today()
        # Moving an issue on is the step being done now: rectified today, and closing is the
        # verification by 客户关系部 (the closing user, today) unless given. A new row records
        # what happened before: it carries those facts itself (ISSUE_WORKFLOW), its creator is
        # never taken for the verifier.
        editing = getattr(self, '_before_row', None) is not None
        if editing and self.status == rules.STATUS_TO_VERIFY and not self.rectified_on:
            self.rectified_on = today
        if editing and self.status == rules.STATUS_CLOSED and old != rules.STATUS_CLOSED:
            if not (self.verified_by or '').strip() and self.actor_name():
                self.verified_by = self.actor_name()
            if not self.verified_on:
                self.verified_on = today
        if self.status in rules.DECISION_STATUSES and self.status != old:
            self.decision_approved_by = self.actor_name() or None
            self.decision_approved_on = today
        elif self.status not in rules.DECISION_STATUSES:
            self.decision_approved_by = self.decision_approved_on = None

    def problems(self, actor):
        yield from super().problems(actor)
        if not self.__data__.get('unit') and not (self.location or '').strip():
            yield 'location', '请选择房号，或填写公共部位的位置。'
        can_approve = bool(actor is not None and actor.can('approve'))
        yield from rules.issue_problems(self, self.original('status'), can_approve)
        round_id = self.__data__.get('round')
        if round_id:
            owner = AcceptanceRound.get_or_none(AcceptanceRound.id == round_id)
            if owner is not None and owner.started_on and self.found_on and \
                    self.found_on < owner.started_on:
                yield 'found_on', '发现日期早于%s的开始日期 %s。' % (owner.round_no, owner.started_on)

    # ---- summaries (per round, per contractor)
    @classmethod
    def summary(cls, query, group, today=None):
        """(group value, found, closed, decided, overdue) per group of the rows in `query`.

        closed = 已关闭; decided = 让步接收 + 不整改; overdue = deadline past and not settled.
        """
        today = today or _today()
        settled = cls.status.in_(rules.SETTLED_STATUSES)
        rows = (query.select(group,
                             fn.COUNT(cls.id).alias('found'),
                             fn.SUM(Case(None, [(cls.status == rules.STATUS_CLOSED, 1)], 0)).alias('closed'),
                             fn.SUM(Case(None, [(cls.status.in_(rules.DECISION_STATUSES), 1)], 0)).alias('decided'),
                             fn.SUM(Case(None, [((cls.deadline < today) & ~settled, 1)], 0)).alias('overdue'))
                .group_by(group).order_by(group).tuples())
        return [(g, found, closed or 0, decided or 0, overdue or 0) for g, found, closed, decided, overdue in rows]


# --------------------------------------------------------------------------- key_transfer

class KeyTransfer(ProjectRegister):
    kind = CharField(max_length=8, choices=choices(*rules.KEY_TRANSFER_KINDS), verbose_name='钥匙类型',
                     help_text='补交/更换钥匙：事后补交或更换的钥匙，不改变项目的钥匙移交日期，不计逾期。')
    scope = TextField(verbose_name='移交范围',
                      help_text='楼栋或房号，用逗号、顿号或空格分隔（如“1栋、2栋、3-1-101”）；“全部”表示本项目全部房源。')
    from_party = CharField(max_length=64, null=True, verbose_name='移交方',
                           help_text='施工钥匙：施工单位（项目部组织）；销售钥匙：营销管理部。')
    to_party = CharField(max_length=64, default='物业公司', verbose_name='接收方')
    keys_count = IntegerField(null=True, verbose_name='钥匙数量')
    transferred_on = DateField(verbose_name='移交日期')
    handed_by = CharField(max_length=32, null=True, verbose_name='移交人')
    received_by = CharField(max_length=32, null=True, verbose_name='接收人')
    missing_or_damaged = TextField(null=True, verbose_name='丢失/坏损钥匙')
    replaced = BooleanField(default=False, verbose_name='已更替或修复')
    due_on = DateField(null=True, verbose_name='最迟移交日期')
    late_days = IntegerField(default=0, verbose_name='逾期天数')
    timing_note = CharField(max_length=255, null=True, verbose_name='时限说明')

    class Meta:
        table_name = 'key_transfer'
        verbose_name = '钥匙移交'
        stage = STAGE
        list_columns = ('project', 'kind', 'scope', 'from_party', 'to_party', 'keys_count',
                        'transferred_on', 'due_on', 'late_days', 'missing_or_damaged', 'replaced')
        filters = ('project', 'kind', 'transferred_on', 'replaced')
        search = ('scope', 'from_party', 'missing_or_damaged', 'remarks')
        natural_key = ('project', 'kind', 'transferred_on')
        default_sort = (('transferred_on', True),)
        readonly = ('due_on', 'late_days', 'timing_note')
        lookup = ('kind', 'scope')

    def __str__(self):
        return '%s %s' % (self.kind, self.transferred_on or '')

    def _project(self):
        return Project.get_or_none(Project.id == self.__data__.get('project'))

    def derive(self):
        if not self.from_party and self.kind:
            self.from_party = '施工单位' if self.kind == rules.KEY_CONSTRUCTION else '营销管理部'
        project = self._project()
        move_in_on = project.delivery_date if project else None
        if self.kind in rules.KEY_KINDS:
            self.due_on = rules.key_due_on(self.kind, move_in_on)
            self.late_days = rules.key_late_days(self.kind, move_in_on, self.transferred_on)
            self.timing_note = rules.key_timing_note(self.kind, move_in_on, self.transferred_on) or \
                ('项目未定交付日期，无法判断移交时限。' if move_in_on is None else None)
        elif self.kind == rules.KEY_SUPPLEMENT:
            self.due_on, self.late_days, self.timing_note = None, 0, rules.SUPPLEMENT_NOTE

    def unsettled_issue_count(self):
        return (InspectionIssue.live()
                .where((InspectionIssue.project == self.__data__.get('project')) &
                       InspectionIssue.status.not_in(rules.SETTLED_STATUSES))
                .count())

    def sold_units_without_keys(self):
        """Sold units of the project not covered by this or any other sales-key transfer."""
        project_id = self.__data__.get('project')
        scopes = [self.scope or '']
        others = KeyTransfer.live().where((KeyTransfer.project == project_id) &
                                          KeyTransfer.kind.in_((rules.KEY_SALES, rules.KEY_SUPPLEMENT)))
        if self.get_id() is not None:
            others = others.where(KeyTransfer.id != self.get_id())
        scopes += [o.scope or '' for o in others]
        sold = (Unit.select(Unit.building, Unit.entrance, Unit.room)
                .where((Unit.project == project_id) & Unit.status.in_(('已售', '已交付')) &
                       Unit.deleted_at.is_null())
                .order_by(Unit.building, Unit.entrance, Unit.room))
        units = [(str(u), u.building, u.entrance, u.room) for u in sold]
        return rules.units_not_covered(units, ' '.join(scopes))

    def project_units(self):
        """(building, entrance, room) of every live unit of the project."""
        return (Unit.select(Unit.building, Unit.entrance, Unit.room)
                .where((Unit.project == self.__data__.get('project')) & Unit.deleted_at.is_null())
                .tuples())

    def problems(self, actor):
        yield from super().problems(actor)
        if self.transferred_on and self.transferred_on > _today():
            yield 'transferred_on', '移交日期 %s 晚于今天：请在钥匙实际移交后再登记。' % self.transferred_on
        if self.keys_count is not None and self.keys_count < 0:
            yield 'keys_count', '钥匙数量不能为负数。'
        # The gates judge the transfer when it is recorded (or its date, kind or scope changes);
        # issues found after the keys moved do not block correcting the remarks of a past transfer.
        if self.get_id() is not None and all(
                self.original(name) == getattr(self, name)
                for name in ('kind', 'scope', 'transferred_on', 'missing_or_damaged', 'replaced')):
            return
        if self.__data__.get('project'):
            yield from rules.scope_problems(self.scope, self.project_units())
        if self.kind == rules.KEY_CONSTRUCTION:
            yield from rules.construction_key_problems(self.unsettled_issue_count())
        elif self.kind == rules.KEY_SALES:
            yield from rules.sales_key_problems(self.sold_units_without_keys(),
                                                self.missing_or_damaged, self.replaced)


# --------------------------------------------------------------------------- delivery_milestone

class DeliveryMilestone(ProjectRegister):
    code = CharField(max_length=8, verbose_name='节点编码')
    name = CharField(max_length=100, verbose_name='节点名称')
    anchor = CharField(max_length=8, choices=choices(*rules.ANCHORS), default=rules.ANCHOR_T,
                       verbose_name='起算日',
                       help_text='交付日：集中交付首日（T日）；交付完成日：集中交付工作完成之日（手册001 “房屋交付工作完成三日内/15日内”）。')
    offset_months = IntegerField(default=0, verbose_name='相对月数',
                                 help_text='“N个月”按日历月计算（如 5月31日前3个月为2月28日/29日）；负数为之前。')
    offset_days = IntegerField(verbose_name='相对天数', help_text='负数为交付前，正数为交付后；在相对月数之后再加减。')
    due_on = DateField(null=True, verbose_name='计划完成日期',
                       help_text='生成时按起算日推算；起算日未定时为“待定”。可修改，重新生成不会覆盖。')
    owner_department = CharField(max_length=32, verbose_name='责任部门')
    done_on = DateField(null=True, verbose_name='完成日期')
    clause = TextField(null=True, verbose_name='手册依据')
    plan_basis_on = DateField(null=True, verbose_name='编制时的起算日',
                              help_text='推算计划完成日期时所用的起算日（T日或交付完成日）；起算日变更时，未手工改过日期的节点随之顺延。')

    class Meta:
        table_name = 'delivery_milestone'
        verbose_name = '交付计划节点'
        stage = STAGE
        list_columns = ('project', 'code', 'name', 'offset_label', 'due_on', 'owner_department',
                        'done_on', 'state')
        filters = ('project', 'owner_department', 'due_on', 'done_on', 'code')
        search = ('code', 'name', 'owner_department', 'remarks')
        natural_key = ('project', 'code')
        default_sort = (('due_on', False), ('code', False))
        lookup = ('code', 'name')
        readonly = ('plan_basis_on',)
        indexes = ((('project', 'code'), True),)
        deadlines = (
            Deadline(what='交付计划节点', due_field='due_on', open_when=lambda m: m.done_on.is_null(),
                     clause='交付倒排计划（手册004 4.1–4.3，手册001、000、002）：各节点相对交付日T或交付完成日的期限。',
                     manual='手册004 交付工作指引', owner_field='owner_department',
                     row_clause=lambda row: (rules.clause_source(row.clause), row.clause)),
        )

    def __str__(self):
        return '%s %s' % (self.code, self.name)

    @property
    def state(self):
        return rules.milestone_state(self.due_on, self.done_on, _today())

    @property
    def offset_label(self):
        return rules.offset_label(self.offset_days or 0, self.offset_months or 0, self.anchor)

    def anchor_on(self, project=None):
        """The day this node counts from: T, or the handover's completion (None while unknown)."""
        project = project or Project.get_or_none(Project.id == self.__data__.get('project'))
        if project is None:
            return None
        if self.anchor == rules.ANCHOR_DONE:
            return handover_completed_on(project)
        return project.delivery_date

    def planned_due_on(self, anchor_on):
        return rules.milestone_due_on(anchor_on, self.offset_days or 0, self.offset_months or 0,
                                      rules.ANCHOR_T)

    def derive(self):
        if self.due_on is None and self.offset_days is not None:
            basis = self.anchor_on()
            if basis is not None:
                self.due_on = self.planned_due_on(basis)
                self.plan_basis_on = basis

    def problems(self, actor):
        yield from super().problems(actor)
        clash = DeliveryMilestone.select(DeliveryMilestone.id).where(
            (DeliveryMilestone.project == self.__data__.get('project')) &
            (DeliveryMilestone.code == self.code))
        if self.get_id() is not None:
            clash = clash.where(DeliveryMilestone.id != self.get_id())
        if self.code and clash.exists():
            yield 'code', '本项目已有节点 %s（可能在回收站中），不能重复。' % self.code
        if self.done_on and self.done_on > _today():
            yield 'done_on', '完成日期不能晚于今天。'

    @classmethod
    def generate_plan(cls, project, actor):
        """Create the §7 countdown rows the project lacks; returns the rows created.

        Idempotent: codes present (edited or even in the recycle bin) are left as they are.
        """
        if project.delivery_date is None:
            raise RuleError([(None, '项目「%s」未填写合同约定交付日期或实际集中交付日期，无法生成交付计划。'
                              % project.name)])
        created = []
        with write_tx():
            existing = [m.code for m in cls.select(cls.code).where(cls.project == project.id)]
            for values in rules.missing_milestones(project.delivery_date, existing,
                                                   handover_completed_on(project)):
                created.append(cls.create_logged(actor, project=project.id, **values))
            from models.risk import RiskInspection
            for kind, code in rules.INSPECTION_CODES.items():
                done = (RiskInspection.live(RiskInspection.completed_on)
                        .where((RiskInspection.project == project.id) & (RiskInspection.kind == kind) &
                               RiskInspection.completed_on.is_null(False))
                        .order_by(RiskInspection.completed_on).first())
                if done is not None:
                    complete_node(project.id, code, done.completed_on)
        return created


# --------------------------------------------------------------------------- when T moves

ROUND_DERIVED = ('start_from', 'start_until', 'clear_by', 'out_of_window', 'window_note',
                 'summary_due_on')
KEY_DERIVED = ('due_on', 'late_days', 'timing_note')


def _rederive(model, rows, names):
    for row in rows:
        row.derive()
        model.update({model._meta.fields[n]: row.__data__.get(n) for n in names}) \
             .where(model.id == row.id).execute()


def complete_node(project_id, code, done_on):
    """The register that tracks a countdown node's work recorded it done (e.g. the 交付前风险检查
    completed): its open node is done on that day too, so the two never disagree."""
    for row in DeliveryMilestone.live().where((DeliveryMilestone.project == project_id) &
                                              (DeliveryMilestone.code == code) &
                                              DeliveryMilestone.done_on.is_null()):
        row.done_on = done_on
        row.save_logged(None)


def handover_completed_on(project):
    """集中交付完成日 of a project (rules.delivery.handover_completed_on): the date the supervisor
    recorded, else the last day the roster scheduled an owner for (postponed owners aside)."""
    set_on = getattr(project, 'handover_completed_on', None)
    if set_on is not None:
        return set_on
    from models.handover import HandoverEntry
    last = (HandoverEntry.select(fn.MAX(HandoverEntry.appointment_on))
            .where((HandoverEntry.project == project.id) & HandoverEntry.deleted_at.is_null() &
                   (HandoverEntry.status != '延期')).scalar())
    if isinstance(last, str):
        last = datetime.date.fromisoformat(last[:10])
    return rules.handover_completed_on(None, last)


def follow_handover_completion(project_id):
    """The roster's schedule changed: the nodes counting from the handover's completion follow."""
    if DeliveryMilestone.live().where((DeliveryMilestone.project == project_id) &
                                      (DeliveryMilestone.anchor == rules.ANCHOR_DONE) &
                                      DeliveryMilestone.done_on.is_null()).exists():
        follow_project_dates(project_id, only_anchor=rules.ANCHOR_DONE)


def follow_project_dates(project_id, only_anchor=None):
    """The project's delivery date (or its handover completion) moved: round windows and key due
    dates are derived again, and milestones still on the date the plan gave them move with the
    day they count from (hand-edited ones stay; one whose anchor is unknown again is 待定)."""
    if only_anchor is None:
        _rederive(AcceptanceRound, AcceptanceRound.live().where(AcceptanceRound.project == project_id),
                  ROUND_DERIVED)
        _rederive(KeyTransfer, KeyTransfer.live().where(KeyTransfer.project == project_id), KEY_DERIVED)
    project = Project.get_by_id(project_id)
    if project.delivery_date is None:
        return
    rows = DeliveryMilestone.live().where(DeliveryMilestone.project == project_id)
    if only_anchor is not None:
        rows = rows.where(DeliveryMilestone.anchor == only_anchor)
    for row in rows:
        basis, anchor_on = row.plan_basis_on, row.anchor_on(project)
        if basis == anchor_on or row.done_on is not None:
            continue
        planned = row.planned_due_on(basis) if basis is not None else None
        if row.due_on != planned:
            continue                      # edited by hand: kept
        row.due_on = row.planned_due_on(anchor_on) if anchor_on is not None else None
        row.plan_basis_on = anchor_on
        try:
            row.save_logged(None)
        except RuleError:                 # a row its own rules refuse stays as it was
            continue


PROJECT_DATE_HOOKS.append(follow_project_dates)


def _add_late_columns():
    """Columns added after the delivery tables first shipped: an older database gets them."""
    from models.schema import add_column
    if 'delivery_milestone' in db.get_tables():
        add_column('delivery_milestone', 'plan_basis_on', DateField(null=True))


def countdown_in_calendar_months():
    """Migration 3: "N个月" is N calendar months, and +3/+15 count from the handover's completion.

    Every project gets its handover completion date column; the countdown's nodes written as 90
    days get their new codes (rules.RENAMED_CODES) and month offsets, every node its anchor, and
    each node still on the date its plan gave it (not done, not edited by hand) is dated again by
    the rule. The two risk inspections whose window lost its lower bound (交付前风险检查,
    开盘及上市前检查) get their deadline again. Only the columns named here are read, so later
    migrations' columns are not needed yet."""
    from models.risk import RiskInspection
    from models.schema import add_column
    from rules import risk as risk_rules
    add_column('project', 'handover_completed_on', DateField(null=True))
    projects = {p.id: p for p in Project.select(Project.id, Project.launch_date,
                                                Project.contract_delivery_date,
                                                Project.delivery_start_date,
                                                Project.handover_completed_on)}
    tables = db.get_tables()
    if 'delivery_milestone' in tables:
        add_column('delivery_milestone', 'anchor', CharField(max_length=8, default=rules.ANCHOR_T))
        add_column('delivery_milestone', 'offset_months', IntegerField(default=0))
        m = DeliveryMilestone
        for old, new in rules.RENAMED_CODES.items():
            m.update(code=new).where(m.code == old).execute()
        for row in m.select(m.id, m.project, m.code, m.offset_days, m.due_on, m.done_on,
                            m.plan_basis_on).where(m.code.in_(list(rules.COUNTDOWN_BY_CODE))):
            spec = rules.COUNTDOWN_BY_CODE[row.code]
            planned = row.plan_basis_on and rules.milestone_due_on(row.plan_basis_on, row.offset_days)
            values = {m.anchor: spec.anchor, m.offset_months: spec.offset_months,
                      m.offset_days: spec.offset_days}
            project = projects.get(row.__data__['project'])
            if row.done_on is None and row.due_on == planned and project is not None:
                basis = handover_completed_on(project) if spec.anchor == rules.ANCHOR_DONE \
                    else project.delivery_date
                values[m.due_on] = rules.spec_due_on(spec, project.delivery_date, basis)
                values[m.plan_basis_on] = basis
            m.update(values).where(m.id == row.id).execute()
    if 'risk_inspection' in tables:
        r = RiskInspection
        for row in r.select(r.id, r.project, r.kind, r.listing_on, r.completed_on).where(
                r.kind.in_(('交付前风险检查', '开盘及上市前检查'))):
            project = projects.get(row.__data__['project'])
            window = project and risk_rules.inspection_due_date(
                row.kind, launch_on=project.launch_date, delivery_on=project.delivery_date,
                listing_on=row.listing_on)
            if window is None:
                continue
            timing = risk_rules.timing(window, row.completed_on, datetime.date.today())
            r.update({r.window_start_on: window.start_on, r.due_on: window.due_on,
                      r.out_of_window: timing in risk_rules.OUT_OF_WINDOW}).where(r.id == row.id).execute()


SCHEMA_HOOKS.append(_add_late_columns)


EXTRA_MODELS = []
