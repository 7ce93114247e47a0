"""Plans, teams and reports the manuals name (REGISTERS.md §9): 交房工作计划/方案, 内部验收计划/标准,
工作小组 and their members, 按揭进度周报 — and the two records the manual asks for on the days of
the work: 验收过程小结会 (each acceptance day, 001) and 交房现场诉求抄送 (each handover day, 001).

Dates are derived from the project's move-in day T (Project.delivery_date) by rules/plans.py and
follow T when it moves (PROJECT_DATE_HOOKS). Obligations that exist before any row does (a team not
formed, a week not reported, a day without its meeting) are deadline sources (models/due.py).
"""
import datetime

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField, TextField, fn

from models.aftercare import ProjectFromParent
from models.base import AttachmentField, Deadline, choices
from models.delivery import AcceptanceRound, InspectionIssue
from models.master import (PROJECT_DATE_HOOKS, rederive, Contract, Department, Project, ProjectRegister,
                           rules as master_rules)
from models.risk import SalesScript
from rules import plans as rules

DAY = datetime.timedelta(days=1)


def _today():
    return datetime.date.today()


def _delivery_on(row):
    project = Project.get_or_none(Project.id == row.__data__.get('project'))
    return project.delivery_date if project is not None else None


def _round1_started_on(project_id):
    first = (AcceptanceRound.live(AcceptanceRound.started_on)
             .where((AcceptanceRound.project == project_id) & (AcceptanceRound.round_no == '第一轮'))
             .first())
    return first.started_on if first is not None else None


def _unique(row, *names):
    """True when another row (live or in the recycle bin) has the same values of `names`."""
    model = type(row)
    query = model.select(model.id)
    for name in names:
        query = query.where(getattr(model, name) == row.__data__.get(name))
    if row.get_id() is not None:
        query = query.where(model.id != row.get_id())
    return query.exists()


# --------------------------------------------------------------------------- work_team

class WorkTeam(ProjectRegister):
    """工作小组 — the teams the manuals set up, who leads them and when they were formed."""
    kind = CharField(max_length=16, choices=choices(*rules.TEAM_KINDS), verbose_name='小组类型',
                     help_text='内部验收协调组：第一轮内部验收前；入住工作小组：入住前3个月；交房小组：交房前40天；'
                               '现场答疑小组：交付当日，项目/工程、营销、物业各至少一人；联合维修小组：集中入住后三个月内。')
    name = CharField(max_length=100, verbose_name='小组名称')
    level = CharField(max_length=8, choices=choices('项目级', '公司级'), default='项目级',
                      verbose_name='层级', help_text='联合维修小组为公司层面的小组（手册002），登记在其服务的项目下。')
    leader = CharField(max_length=32, null=True, verbose_name='组长')
    formed_on = DateField(null=True, verbose_name='成立日期')
    due_on = DateField(null=True, verbose_name='最迟成立日期', help_text='按小组类型和项目交付日期（T日）推算。')
    watch_started_on = DateField(null=True, verbose_name='业主动态关注开始日期',
                                 help_text='入住工作小组：入住前3-6个月起关注业主动态（手册002）。')
    move_in_script = ForeignKeyField(SalesScript, null=True, backref='+', on_delete='RESTRICT',
                                     verbose_name='统一入住说辞',
                                     help_text='入住工作小组：统一入住说辞（说辞台账中的「交付统一答词」）。')
    watch_due_on = DateField(null=True, verbose_name='关注业主动态最迟开始日期')

    class Meta:
        table_name = 'work_team'
        verbose_name = '工作小组'
        stage = '交付前'
        list_columns = ('project', 'kind', 'name', 'level', 'leader', 'formed_on', 'due_on',
                        'member_count', 'composition')
        filters = ('project', 'kind', 'level', 'formed_on', 'due_on')
        search = ('name', 'leader', 'remarks')
        lookup = ('name',)
        natural_key = ('project', 'kind', 'name')
        default_sort = (('due_on', False),)
        readonly = ('due_on', 'watch_due_on')
        deadlines = (
            Deadline(what='成立工作小组', due_field='due_on', open_when=lambda m: m.formed_on.is_null(),
                     clause='；'.join(rules.TEAM_CLAUSES[k] for k in rules.TEAM_KINDS),
                     manual='手册001/002/004 工作小组'),
            Deadline(what='入住前关注业主动态、统一入住说辞', due_field='watch_due_on',
                     open_when=lambda m: m.watch_started_on.is_null() | m.move_in_script.is_null(),
                     clause=rules.TEAM_CLAUSES[rules.MOVE_IN], manual='手册002 三、入住阶段'),
        )

    def __str__(self):
        return self.name or ''

    def derive(self):
        delivery_on = _delivery_on(self)
        round1 = _round1_started_on(self.__data__.get('project')) if self.kind == rules.COORDINATION else None
        self.due_on = rules.team_due_on(self.kind, delivery_on, round1)
        self.watch_due_on = rules.watch_window(delivery_on)[1] if self.kind == rules.MOVE_IN else None

    def member_departments(self):
        if self.get_id() is None:
            return []
        return [m.department.name for m in TeamMember.live().join(Department)
                .where(TeamMember.team == self.get_id()).select(TeamMember, Department)]

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.team_problems(
            kind=self.kind, formed_on=self.formed_on, member_departments=self.member_departments(),
            watch_started_on=self.watch_started_on,
            script_kind=SalesScript.kind_of(self.__data__.get('move_in_script')), today=_today())

    @property
    def member_count(self):
        return TeamMember.live().where(TeamMember.team == self.get_id()).count()

    @property
    def composition(self):
        """The Q&A team's missing departments (手册004 4.3.3), '' when complete or another kind."""
        if self.kind != rules.QA:
            return ''
        missing = rules.qa_team_missing(self.member_departments())
        return ('缺少：' + '、'.join(missing)) if missing else '人员齐全'


class TeamMember(ProjectFromParent, ProjectRegister):
    """小组成员 — who, from which department, in which role."""
    team = ForeignKeyField(WorkTeam, backref='members', on_delete='RESTRICT', verbose_name='小组')
    name = CharField(max_length=32, verbose_name='姓名')
    department = ForeignKeyField(Department, backref='+', on_delete='RESTRICT', verbose_name='部门')
    role = CharField(max_length=8, choices=choices('组长', '副组长', '组员'), default='组员',
                     verbose_name='职务')
    phone = CharField(max_length=32, null=True, verbose_name='联系电话')

    class Meta:
        table_name = 'team_member'
        verbose_name = '小组成员（工作小组）'
        stage = '交付前'
        list_columns = ('project', 'team', 'name', 'department', 'role', 'phone')
        filters = ('project', 'team', 'department', 'role')
        search = ('name', 'phone')
        natural_key = ('team', 'name')
        default_sort = (('team', False), ('role', False))
        readonly = ('project',)
        masked = {'phone': 'see_phone'}

    parent_field = 'team'

    def __str__(self):
        return self.name or ''

    def problems(self, actor):
        yield from super().problems(actor)
        if self.phone and not master_rules.phone_looks_valid(self.phone):
            yield 'phone', '联系电话格式不正确：应为 11 位手机号或带区号的固话。'
        if self.__data__.get('team') and self.name and _unique(self, 'team', 'name'):
            yield 'name', '该小组已有成员「%s」。' % self.name


# --------------------------------------------------------------------------- handover_plan

class HandoverPlan(ProjectRegister):
    """交房工作计划/方案 — drafted by T−40 with the handover team, approved by T−20 (手册001)."""
    title = CharField(max_length=100, verbose_name='方案名称')
    team = ForeignKeyField(WorkTeam, null=True, backref='+', on_delete='RESTRICT', verbose_name='交房小组',
                           help_text='手册001：交房前40天组织交房小组，制定交房工作计划/方案。')
    handover_dates = CharField(max_length=100, null=True, verbose_name='交房时间')
    venue = CharField(max_length=200, null=True, verbose_name='地点')
    staffing = TextField(null=True, verbose_name='人员安排')
    handover_process = TextField(null=True, verbose_name='交房流程')
    posts = TextField(null=True, verbose_name='岗位设置')
    duties = TextField(null=True, verbose_name='各岗位职责及注意事项')
    drafted_on = DateField(null=True, verbose_name='编制日期')
    countersigned_by = CharField(max_length=200, null=True, verbose_name='会签部门',
                                 help_text='手册001：须由各相关部门会签后，总经理批准。')
    countersigned_on = DateField(null=True, verbose_name='会签日期')
    approved_by = CharField(max_length=32, null=True, verbose_name='批准人（总经理）')
    approved_on = DateField(null=True, verbose_name='审批日期')
    roster_sent_on = DateField(null=True, verbose_name='交楼名单发物业公司日期',
                               help_text='手册004 4.2.5：交付前10日制定《交楼名单》并发给物业公司。')
    draft_due_on = DateField(null=True, verbose_name='最迟编制日期')
    approve_due_on = DateField(null=True, verbose_name='最迟审批日期')
    roster_due_on = DateField(null=True, verbose_name='名单最迟发送日期')
    attachment = AttachmentField(verbose_name='方案附件')

    class Meta:
        table_name = 'handover_plan'
        verbose_name = '交房工作计划/方案'
        stage = '交付前'
        list_columns = ('project', 'title', 'team', 'draft_due_on', 'drafted_on', 'approve_due_on',
                        'approved_on', 'approved_by', 'roster_sent_on', 'missing_contents')
        filters = ('project', 'drafted_on', 'approved_on', 'draft_due_on', 'approve_due_on',
                   'roster_sent_on')
        search = ('title', 'venue', 'staffing', 'handover_process', 'countersigned_by', 'approved_by')
        lookup = ('title',)
        natural_key = ('project',)
        default_sort = (('approve_due_on', False),)
        readonly = ('draft_due_on', 'approve_due_on', 'roster_due_on')
        deadlines = (
            Deadline(what='成立交房小组、编制交房工作计划/方案', due_field='draft_due_on',
                     open_when=lambda m: m.drafted_on.is_null() | m.team.is_null(),
                     clause=rules.PLAN_DRAFT_CLAUSE, manual='手册001 房屋交付前期准备'),
            Deadline(what='交房工作计划/方案审批确定', due_field='approve_due_on',
                     open_when=lambda m: m.approved_on.is_null(),
                     clause=rules.PLAN_APPROVE_CLAUSE + '；' + rules.PLAN_SIGN_CLAUSE,
                     manual='手册001 房屋交付前期准备'),
            Deadline(what='《交楼名单》发物业公司', due_field='roster_due_on',
                     open_when=lambda m: m.roster_sent_on.is_null(),
                     clause='手册004 4.2.5：“交付前10日,客户关系管理部……制定《交楼名单》,并将该名单发给物业公司。”',
                     manual='手册004 4.2 材料准备'),
        )

    def __str__(self):
        return self.title or ''

    def derive(self):
        delivery_on = _delivery_on(self)
        self.draft_due_on = rules.plan_draft_due(delivery_on)
        self.approve_due_on = rules.plan_approve_due(delivery_on)
        self.roster_due_on = None if delivery_on is None else delivery_on - 10 * DAY

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.plan_problems(
            contents={name: getattr(self, name) for name, _ in rules.PLAN_CONTENTS},
            drafted_on=self.drafted_on, approved_on=self.approved_on, approved_by=self.approved_by,
            countersigned_by=self.countersigned_by, countersigned_on=self.countersigned_on,
            today=_today())
        team_id = self.__data__.get('team')
        if team_id:
            team = WorkTeam.get_or_none(WorkTeam.id == team_id)
            if team is not None and team.kind != rules.HANDOVER:
                yield 'team', '请选择本项目的「交房小组」。'
        if self.__data__.get('project') and _unique(self, 'project'):
            yield 'project', '本项目已有交房工作计划/方案，请编辑原记录。'
        if self.roster_sent_on and self.roster_sent_on > _today():
            yield 'roster_sent_on', '发送日期不能晚于今天。'

    @property
    def missing_contents(self):
        missing = rules.plan_missing_contents({n: getattr(self, n) for n, _ in rules.PLAN_CONTENTS})
        return ('缺少：' + '、'.join(missing)) if missing else ''


# --------------------------------------------------------------------------- acceptance_plan

class AcceptancePlan(ProjectRegister):
    """内部验收计划 / 内部验收标准 — drawn up by engineering with property, customer relations and
    the project; confirmed by the 内部验收协调组 before round 1 (手册001)."""
    kind = CharField(max_length=8, choices=choices(*rules.ACCEPTANCE_PLAN_KINDS), verbose_name='类型')
    title = CharField(max_length=100, verbose_name='名称')
    drafted_by = CharField(max_length=32, default='工程管理部', verbose_name='编制部门',
                           help_text='手册001：工程管理部组织物业公司、客户关系部、项目部编制。')
    participants = CharField(max_length=100, default='、'.join(rules.ACCEPTANCE_PLAN_PARTIES),
                             verbose_name='参与编制部门')
    drafted_on = DateField(null=True, verbose_name='编制日期')
    confirmed_by = ForeignKeyField(WorkTeam, null=True, backref='+', on_delete='RESTRICT',
                                   verbose_name='审核确认小组', help_text='本项目的内部验收协调组。')
    confirmed_on = DateField(null=True, verbose_name='确认日期')
    covers_special_layouts = BooleanField(default=False, verbose_name='含非标层/特殊户型单独标准')
    due_on = DateField(null=True, verbose_name='最迟确认日期',
                       help_text='第一轮内部验收开始前（已登记开始日期时取该日，否则取交付前3个月）。')
    attachment = AttachmentField(verbose_name='附件')

    class Meta:
        table_name = 'acceptance_plan'
        verbose_name = '内部验收计划/标准'
        stage = '交付前'
        list_columns = ('project', 'kind', 'title', 'drafted_by', 'participants', 'drafted_on',
                        'confirmed_by', 'confirmed_on', 'due_on', 'covers_special_layouts')
        filters = ('project', 'kind', 'confirmed_on', 'due_on', 'covers_special_layouts')
        search = ('title', 'drafted_by', 'participants')
        lookup = ('title',)
        natural_key = ('project', 'kind', 'title')
        default_sort = (('due_on', False),)
        readonly = ('due_on',)
        deadlines = (Deadline(what='内部验收计划/标准审核确认', due_field='due_on',
                              open_when=lambda m: m.confirmed_on.is_null(),
                              clause=rules.ACCEPTANCE_PLAN_CLAUSE, manual='手册001 项目交付部门职责划分',
                              owner='工程管理部'),)

    def __str__(self):
        return '%s %s' % (self.kind or '', self.title or '')

    def derive(self):
        self.due_on = rules.before_round1_due(_delivery_on(self),
                                              _round1_started_on(self.__data__.get('project')))

    def problems(self, actor):
        yield from super().problems(actor)
        team_id = self.__data__.get('confirmed_by')
        team = WorkTeam.get_or_none(WorkTeam.id == team_id) if team_id else None
        yield from rules.acceptance_plan_problems(
            kind=self.kind, participants=self.participants, confirmed_on=self.confirmed_on,
            confirmed_by_kind=team.kind if team else None,
            covers_special_layouts=self.covers_special_layouts, today=_today())


# --------------------------------------------------------------------------- mortgage_report

class MortgageReport(ProjectRegister):
    """按揭进度周报 — each week during sales and before handover (手册002); the counts by mortgage
    status are taken from the contract register when the report is saved."""
    week = CharField(max_length=10, verbose_name='周次', help_text='ISO 周，如 2026-W48。')
    week_ends_on = DateField(null=True, verbose_name='周末日期')
    loan_contracts = IntegerField(default=0, verbose_name='按揭合同数')
    collecting = IntegerField(default=0, verbose_name='资料收集')
    submitted = IntegerField(default=0, verbose_name='已递交')
    approved = IntegerField(default=0, verbose_name='已审批')
    disbursed = IntegerField(default=0, verbose_name='已放款')
    report_on = DateField(null=True, verbose_name='报送日期')
    sent_to = CharField(max_length=100, default='营销总经理', verbose_name='报送对象',
                        help_text='手册002：每个周向上级领导进行按揭进度更新。')
    attachment = AttachmentField(verbose_name='周报附件')

    STATUS_FIELDS = (('资料收集', 'collecting'), ('已递交', 'submitted'), ('已审批', 'approved'),
                     ('已放款', 'disbursed'))

    class Meta:
        table_name = 'mortgage_report'
        verbose_name = '按揭进度周报'
        stage = '基础数据'
        list_columns = ('project', 'week', 'week_ends_on', 'loan_contracts', 'collecting',
                        'submitted', 'approved', 'disbursed', 'report_on', 'sent_to')
        filters = ('project', 'week', 'week_ends_on', 'report_on')
        search = ('week', 'sent_to', 'remarks')
        lookup = ('week',)
        natural_key = ('project', 'week')
        default_sort = (('week', True),)
        readonly = ('week_ends_on', 'loan_contracts', 'collecting', 'submitted', 'approved', 'disbursed')
        indexes = ((('project', 'week'), True),)
        deadlines = (Deadline(what='按揭进度周报', due_field='week_ends_on',
                              open_when=lambda m: m.report_on.is_null(), clause=rules.MORTGAGE_CLAUSE,
                              manual='手册002 工作计划（三）销售后'),)

    def __str__(self):
        return self.week or ''

    def derive(self):
        parsed = rules.parse_week(self.week)
        if parsed:
            self.week = rules.week_label(*parsed)
            self.week_ends_on = rules.week_last_day(*parsed)
        project_id = self.__data__.get('project')
        if project_id and self.get_id() is None:     # the week's figures as reported
            rows = (Contract.live(Contract.mortgage_status, fn.COUNT(Contract.id))
                    .where((Contract.project == project_id) & (Contract.cancelled == False) &  # noqa: E712
                           Contract.payment_method.in_(master_rules.LOAN_METHODS))
                    .group_by(Contract.mortgage_status).tuples())
            counts = dict(rows)
            self.loan_contracts = sum(counts.values())
            for status, name in self.STATUS_FIELDS:
                setattr(self, name, counts.get(status, 0))

    def problems(self, actor):
        yield from super().problems(actor)
        if self.week and rules.parse_week(self.week) is None:
            yield 'week', '周次格式应为「2026-W48」（年份 + W + 周序号）。'
        elif self.__data__.get('project') and _unique(self, 'project', 'week'):
            yield 'week', '本项目已有 %s 的周报，请编辑原记录。' % self.week
        if self.report_on and self.report_on > _today():
            yield 'report_on', '报送日期不能晚于今天。'
        parsed = rules.parse_week(self.week or '')
        if self.report_on and parsed and self.report_on < rules.week_first_day(*parsed):
            yield 'report_on', '报送日期不能早于该周的第一天。'


# --------------------------------------------------------------------------- acceptance_review_meeting

class AcceptanceReviewMeeting(ProjectFromParent, ProjectRegister):
    """验收过程小结会 — held after each acceptance day; the day's issues go to the supervisor and the
    main contractor with their deadlines (手册001)."""
    round = ForeignKeyField(AcceptanceRound, backref='+', on_delete='RESTRICT', verbose_name='验收轮次')
    held_on = DateField(verbose_name='验收日期/会议日期')
    chair = CharField(max_length=32, null=True, verbose_name='召集人',
                      help_text='内部验收小组组长或其指定人员。')
    attendees = TextField(null=True, verbose_name='参会人员')
    summary = TextField(null=True, verbose_name='当日验收情况小结')
    issues_sent_on = DateField(null=True, verbose_name='问题反馈监理/总包日期')
    sent_to = CharField(max_length=100, default='监理单位、总包单位', verbose_name='反馈对象')

    class Meta:
        table_name = 'acceptance_review_meeting'
        verbose_name = '验收过程小结会'
        stage = '交付前'
        list_columns = ('project', 'round', 'held_on', 'chair', 'issues_found', 'major_issues',
                        'issues_sent_on', 'sent_to')
        filters = ('project', 'round', 'held_on', 'issues_sent_on')
        search = ('chair', 'attendees', 'summary')
        natural_key = ('round', 'held_on')
        default_sort = (('held_on', True),)
        readonly = ('project',)
        deadlines = (Deadline(what='每日整改问题反馈监理和总包', due_field='held_on',
                              open_when=lambda m: m.issues_sent_on.is_null(), clause=rules.REVIEW_CLAUSE,
                              manual='手册001 项目交付前的内部模拟验收', owner='项目部'),)

    parent_field = 'round'

    def __str__(self):
        return '%s 小结会' % (self.held_on or '')

    def _day_issues(self):
        return InspectionIssue.live().where((InspectionIssue.round == self.__data__.get('round')) &
                                            (InspectionIssue.found_on == self.held_on))

    @property
    def issues_found(self):
        return self._day_issues().count()

    @property
    def major_issues(self):
        return self._day_issues().where(InspectionIssue.severity == '重大').count()

    def problems(self, actor):
        yield from super().problems(actor)
        if self.held_on and self.held_on > _today():
            yield 'held_on', '会议日期不能晚于今天：未召开的会议请勿登记。'
        if self.issues_sent_on and self.held_on and self.issues_sent_on < self.held_on:
            yield 'issues_sent_on', '反馈日期不能早于验收日期。'
        if self.__data__.get('round') and self.held_on and _unique(self, 'round', 'held_on'):
            yield 'held_on', '该轮次 %s 已登记小结会。' % self.held_on


# --------------------------------------------------------------------------- handover_request_copy

class HandoverRequestCopy(ProjectRegister):
    """交房现场诉求抄送 — each department's owner requests of a handover day, copied to customer
    relations that same day, with its answer to what owners raised most (手册001)."""
    handover_on = DateField(verbose_name='交房日期')
    department = ForeignKeyField(Department, backref='+', on_delete='RESTRICT', verbose_name='抄送部门')
    requests_count = IntegerField(default=0, verbose_name='诉求条数')
    content = TextField(null=True, verbose_name='诉求整理')
    response = TextField(null=True, verbose_name='改进方案/回应')
    copied_on = DateField(null=True, verbose_name='抄送客户关系部日期')

    class Meta:
        table_name = 'handover_request_copy'
        verbose_name = '交房现场诉求抄送'
        stage = '交付'
        list_columns = ('project', 'handover_on', 'department', 'requests_count', 'copied_on',
                        'response')
        filters = ('project', 'handover_on', 'department', 'copied_on')
        search = ('content', 'response')
        natural_key = ('project', 'handover_on', 'department')
        default_sort = (('handover_on', True),)
        deadlines = (Deadline(what='交房当日诉求抄送客户关系部', due_field='handover_on',
                              open_when=lambda m: m.copied_on.is_null(), clause=rules.COPY_CLAUSE,
                              manual='手册001 交房组织实施阶段', owner_field='department'),)

    def __str__(self):
        return '%s %s' % (self.handover_on or '', self.department if self.__data__.get('department') else '')

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.copy_problems(handover_on=self.handover_on, copied_on=self.copied_on,
                                       today=_today())
        if self.requests_count is not None and self.requests_count < 0:
            yield 'requests_count', '诉求条数不能为负数。'
        if self.__data__.get('department') and self.handover_on and \
                _unique(self, 'project', 'handover_on', 'department'):
            yield 'department', '该部门当日的诉求抄送已登记。'


# --------------------------------------------------------------------------- when T moves

DATE_DERIVED = (
    (WorkTeam, ('due_on', 'watch_due_on')),
    (HandoverPlan, ('draft_due_on', 'approve_due_on', 'roster_due_on')),
    (AcceptancePlan, ('due_on',)),
)


def follow_project_dates(project_id):
    """The project's T moved: the plans' and teams' derived dates follow (no change_log rows)."""
    for model, names in DATE_DERIVED:
        rederive(model, project_id, names)


PROJECT_DATE_HOOKS.append(follow_project_dates)


# --------------------------------------------------------------------------- deadline sources

# Registered by models/due.py when the engine is imported (so this module, imported with every
# register, does not pull the engine in early): (key, name, owner, function).
DEADLINE_SOURCES = []
STALE_DAYS = 180      # as the countdown (models.due.COUNTDOWN_STALE_DAYS): older days are history


def deadline_source(key, name, owner='客户关系部'):
    def wrap(func):
        DEADLINE_SOURCES.append((key, name, owner, func))
        return func
    return wrap

TEAMS_KEY, TEAMS_NAME = 'work_teams_missing', '成立工作小组（未登记）'


@deadline_source(TEAMS_KEY, TEAMS_NAME)
def teams_missing(projects, today, flt):
    """A team the manuals set up that the project has not registered, due on its formation day.
    The 入住工作小组 (T−3 months) and the 交房小组 (T−40) are nodes of the handover countdown,
    which is their one deadline until a row exists (models.due._countdown_evidence)."""
    from models import due as engine
    for project in projects:
        delivery_on = project.delivery_date
        if delivery_on is None or project.stage == '出保' or (today - delivery_on).days > STALE_DAYS:
            continue
        kinds = {t.kind for t in WorkTeam.live(WorkTeam.kind).where(WorkTeam.project == project.id)}
        round1 = _round1_started_on(project.id)
        for seq, kind in enumerate(rules.TEAM_KINDS):
            if kind in kinds or kind in rules.COUNTDOWN_TEAMS:
                continue
            yield engine._item(TEAMS_KEY, TEAMS_NAME, project, today, what='成立%s' % kind,
                               due_on=rules.team_due_on(kind, delivery_on, round1),
                               clause=rules.TEAM_CLAUSES[kind], manual='手册001/002/004 工作小组',
                               owner=engine.DEFAULT_OWNER, link='/admin/work_team/new/',
                               detail='尚未登记%s' % kind, seq=seq)


REVIEW_KEY, REVIEW_NAME = 'acceptance_review_missing', '验收过程小结会（未召开）'


@deadline_source(REVIEW_KEY, REVIEW_NAME, owner='项目部')
def review_meetings_missing(projects, today, flt):
    """Each day issues were found in a round needs its review meeting that day (手册001)."""
    from models import due as engine
    by_id = {p.id: p for p in projects}
    if not by_id:
        return
    since = today - STALE_DAYS * DAY
    days = (InspectionIssue.live(InspectionIssue.project, InspectionIssue.round, InspectionIssue.found_on)
            .where(InspectionIssue.project.in_(list(by_id)) & InspectionIssue.round.is_null(False) &
                   (InspectionIssue.found_on >= since))
            .group_by(InspectionIssue.project, InspectionIssue.round, InspectionIssue.found_on).tuples())
    found = {}
    for project_id, round_id, day in days:
        found.setdefault((project_id, round_id), []).append(day)
    if not found:
        return
    held = {}
    for round_id, day in (AcceptanceReviewMeeting.live(AcceptanceReviewMeeting.round,
                                                        AcceptanceReviewMeeting.held_on)
                          .where(AcceptanceReviewMeeting.round.in_([r for _, r in found])).tuples()):
        held.setdefault(round_id, []).append(day)
    names = {r.id: r.round_no for r in AcceptanceRound.select(AcceptanceRound.id, AcceptanceRound.round_no)
             .where(AcceptanceRound.id.in_([r for _, r in found]))}
    for (project_id, round_id), issue_days in found.items():
        for seq, day in enumerate(rules.days_without_meeting(issue_days, held.get(round_id, ()))):
            yield engine._item(REVIEW_KEY, REVIEW_NAME, by_id[project_id], today,
                               what='%s %s 验收过程小结会' % (names.get(round_id, ''), day.isoformat()),
                               due_on=day, clause=rules.REVIEW_CLAUSE,
                               manual='手册001 项目交付前的内部模拟验收', owner='项目部',
                               link='/admin/acceptance_review_meeting/new/',
                               detail='当日发现问题，未登记小结会', seq=seq)


COPY_KEY, COPY_NAME = 'request_copy_missing', '交房现场诉求抄送（未登记）'
ONSITE_TEAMS = (rules.HANDOVER, rules.QA)


@deadline_source(COPY_KEY, COPY_NAME)
def request_copies_missing(projects, today, flt):
    """On each handover day, every department on the project's 交房小组/现场答疑小组 (other than
    customer relations itself) copies that day's owner requests to customer relations (手册001)."""
    from models import due as engine
    roster = engine._model('handover_entry')
    if roster is None:
        return
    since = today - STALE_DAYS * DAY
    for project in projects:
        departments = sorted({m.department.name for m in TeamMember.live().join(WorkTeam)
                              .switch(TeamMember).join(Department)
                              .where((TeamMember.project == project.id) & WorkTeam.kind.in_(ONSITE_TEAMS) &
                                     WorkTeam.deleted_at.is_null())
                              .select(TeamMember, Department)} - {'客户关系部'})
        if not departments:
            continue
        days = [d for (d,) in roster.live(roster.keys_handed_on)
                .where((roster.project == project.id) & (roster.keys_handed_on >= since) &
                       (roster.keys_handed_on <= today))
                .group_by(roster.keys_handed_on).tuples()]
        if not days:
            continue
        copies = [(c.handover_on, c.department.name) for c in HandoverRequestCopy.live()
                  .join(Department).where(HandoverRequestCopy.project == project.id)
                  .select(HandoverRequestCopy, Department)]
        for seq, (day, dept) in enumerate(rules.copies_missing(days, departments, copies)):
            yield engine._item(COPY_KEY, COPY_NAME, project, today,
                               what='%s %s 诉求抄送客户关系部' % (day.isoformat(), dept), due_on=day,
                               clause=rules.COPY_CLAUSE, manual='手册001 交房组织实施阶段', owner=dept,
                               link='/admin/handover_request_copy/new/', detail='当日交房，未登记诉求抄送',
                               seq=seq)


MORTGAGE_KEY, MORTGAGE_NAME = 'mortgage_weekly', '按揭进度周报（未报送）'
SELLING_STAGES = ('在售', '交付准备')


@deadline_source(MORTGAGE_KEY, MORTGAGE_NAME, owner='客户关系部')
def mortgage_weeks_missing(projects, today, flt):
    """A selling project's week with no mortgage report, from the first loan signed until the
    handover day: the earliest such week is due on its Sunday (手册002)."""
    from models import due as engine
    for project in projects:
        if project.stage not in SELLING_STAGES:
            continue
        start_on = (Contract.live(fn.MIN(Contract.sign_date))
                    .where((Contract.project == project.id) & (Contract.cancelled == False) &  # noqa: E712
                           Contract.payment_method.in_(master_rules.LOAN_METHODS)).scalar())
        weeks = [rules.parse_week(w) for (w,) in MortgageReport.select(MortgageReport.week)
                 .where(MortgageReport.project == project.id).tuples()]
        due = rules.mortgage_report_due(start_on, project.delivery_date, [w for w in weeks if w], today)
        if due is None:
            continue
        due_on, missing = due
        yield engine._item(MORTGAGE_KEY, MORTGAGE_NAME, project, today,
                           what='%s 按揭进度周报' % rules.week_label(*rules.week_of(due_on)), due_on=due_on,
                           clause=rules.MORTGAGE_CLAUSE, manual='手册002 工作计划（三）销售后',
                           owner='客户关系部', link='/admin/mortgage_report/new/',
                           detail='共 %d 周未报送' % missing)


KNOWLEDGE_KEY, KNOWLEDGE_NAME = 'knowledge_refresh', '知识库季度更新'


def knowledge_last_updated(model):
    """The day a knowledge base last changed: its latest saved live row, else the first day of its
    latest quarter (demo rows carry no save time)."""
    from rules.risk import parse_quarter
    saved = model.live(fn.MAX(model.updated_at)).scalar()
    if saved is not None:
        return saved.date() if isinstance(saved, datetime.datetime) else saved
    quarters = [parse_quarter(q) for (q,) in model.live(model.added_quarter).distinct().tuples()]
    quarters = [q for q in quarters if q]
    if not quarters:
        return None
    year, quarter = max(quarters)
    return datetime.date(year, quarter * 3 - 2, 1)


@deadline_source(KNOWLEDGE_KEY, KNOWLEDGE_NAME)
def knowledge_refresh_due(projects, today, flt):
    """The department-wide knowledge bases are refreshed every quarter (手册000). They belong to no
    project, so (like every shared register's deadline) only users who see every project get them."""
    from models import due as engine
    if flt.project_ids is not None or flt.project is not None:
        return
    for seq, table in enumerate(('drawing_review_point', 'design_defect')):
        model = engine._model(table)
        if model is None:
            continue
        due_on = rules.knowledge_update_due(knowledge_last_updated(model), today)
        name = model._meta.verbose_name
        yield engine.DueItem(what='%s 季度更新' % name, due_on=due_on, today=today, project_id=None,
                             project_name='全公司', owner='客户关系部', clause=rules.KNOWLEDGE_CLAUSE,
                             manual='手册000 一、参与设计图纸审图阶段风险控制', register=KNOWLEDGE_KEY,
                             register_name=KNOWLEDGE_NAME, link='/admin/%s/' % table,
                             detail='本季度尚未更新', seq=seq)


# --------------------------------------------------------------------------- migration

def add_manual_gap_columns():
    """Migration 4: the columns issue 15 found missing in registers that already hold data — the
    region's heating/cooling seasons on the project, the contract's document checklist for buyers
    from elsewhere, the contract draft date on sales documents, legal on the first pre-launch
    check, the round's summary-meeting due date, the minutes' recipients."""
    from models import due as engine
    from models.schema import add_column, column_names
    from models.base import db
    tables = set(db.get_tables())
    wanted = (
        (Project, ('heating_season_starts', 'heating_season_ends', 'cooling_season_starts',
                   'cooling_season_ends')),
        (Contract, ('household', 'social_security_proof', 'tax_proof')),
        (engine.registers()['sales_document_review'], ('drafted_on', 'draft_due_on')),
        (engine.registers()['risk_inspection'], ('legal_joined',)),
        (AcceptanceRound, ('summary_due_on',)),
        (engine.registers()['group_meeting'], ('minutes_sent_to',)),
    )
    for model, names in wanted:
        table = model._meta.table_name
        if table not in tables:
            continue
        have = column_names(table)
        for name in names:
            if name not in have:
                add_column(table, name, model._meta.fields[name])
