"""交付后 — after handover (REGISTERS.md §5): repairs, complaints and their follow-up log, work contact
forms, compensation, warranty expiry, callback surveys and their questionnaires.

The rules live in rules/aftercare.py (plain, tested functions); the models call them.
"""
import datetime

from peewee import (BooleanField, CharField, DateField, DecimalField, ForeignKeyField,
                    IntegerField, TextField)

from models.base import AttachmentField, Deadline, choices
from models.notify import Alert, became
from models.master import (PROJECT_DATE_HOOKS, rederive, Contractor, Department, Owner, Project,
                           ProjectRegister, Unit)
from rules import aftercare as rules

STAGE = '交付后'

SCORES = [(score, '%d 分' % score) for score in (1, 2, 3, 4, 5)]
REPAIR_CATEGORIES = choices('土建', '防水渗漏', '门窗', '给排水', '电气', '暖通', '设备', '装修',
                            '公共部位', '其他')
COMPLAINT_CHANNELS = choices('来电', '来访', '网络', '物业转达', '集团转办')
COMPLAINT_CATEGORIES = choices('工程质量', '设计', '销售承诺', '合同', '物业', '服务')
SEVERITIES = choices('一般', rules.MAJOR)
FOLLOW_UP_METHODS = choices('电话', '上门', '面谈', '短信/微信', '书面')
CONTACT_FORM_STATUSES = choices('待回复', '已回复待验证', '已验证关闭')
COMPENSATION_KINDS = choices('现金赔付', '物业费减免', '维修代偿', '实物补偿', '其他')
RECTIFICATION_STATUSES = choices('无问题', '待整改', '整改中', '已整改')
SURVEY_KINDS = choices('签约满意度回访', '交付回访', '维修回访', '年度回访')
SURVEYORS = choices('营销代理', '第三方')


def _today():
    return datetime.date.today()


class ProjectFromParent:
    """A child row (a complaint's follow-up, a survey's questionnaire, a group's member or meeting):
    the clerk picks only the parent, the row takes the parent's project (Meta.readonly = project),
    and a parent outside the user's projects is refused."""
    parent_field = None

    def parent_row(self):
        parent_id = self.__data__.get(self.parent_field)
        if not parent_id:
            return None
        parent_model = self._meta.fields[self.parent_field].rel_model
        return parent_model.get_or_none(parent_model._meta.primary_key == parent_id)

    def derive(self):
        super().derive()
        parent = self.parent_row()
        if parent is not None:
            self.project = parent.__data__['project']

    def problems(self, actor):
        yield from super().problems(actor)
        project_id = self.__data__.get('project')
        if actor is not None and project_id is not None and not actor.may_see_project(project_id):
            yield self.parent_field, '「%s」不属于您负责的项目。' % self.label(self.parent_field)


class RepairOrder(ProjectRegister):
    """报修/维修台账 — 手册002 四、五: centralized repair for 3 months after handover, then daily repairs."""
    unit = ForeignKeyField(Unit, null=True, backref='+', on_delete='RESTRICT', verbose_name='房源')
    owner = ForeignKeyField(Owner, null=True, backref='+', on_delete='RESTRICT', verbose_name='业主')
    source = CharField(max_length=16, null=True, choices=choices(*rules.REPAIR_SOURCES),
                       verbose_name='报修来源',
                       help_text='留空时自动判定：项目集中交付后三个月内为集中维修，此后为日常报修（手册002 四）。')
    reported_on = DateField(verbose_name='报修日期')
    description = TextField(verbose_name='报修内容')
    category = CharField(max_length=16, choices=REPAIR_CATEGORIES, verbose_name='问题类别')
    contractor = ForeignKeyField(Contractor, null=True, backref='+', on_delete='RESTRICT',
                                 verbose_name='维修责任单位')
    deadline = DateField(null=True, verbose_name='维修期限')
    completed_on = DateField(null=True, verbose_name='完成日期')
    closed = BooleanField(default=False, verbose_name='销单', help_text='维修完成并经业主确认后销单。')
    satisfaction = IntegerField(null=True, choices=SCORES, verbose_name='业主满意度')
    revisited_on = DateField(null=True, verbose_name='回访日期')

    class Meta:
        table_name = 'repair_order'
        verbose_name = '报修/维修台账'
        stage = STAGE
        list_columns = ('project', 'unit', 'owner', 'source', 'reported_on', 'category', 'description',
                        'contractor', 'deadline', 'completed_on', 'closed', 'satisfaction')
        filters = ('project', 'source', 'category', 'contractor', 'reported_on', 'deadline',
                   'completed_on', 'closed', 'satisfaction')
        search = ('description', 'remarks')
        natural_key = ('project', 'unit', 'reported_on', 'description')
        default_sort = (('reported_on', True),)
        workflow = rules.REPAIR_WORKFLOW
        indexes = ((('project', 'reported_on'), False),)
        deadlines = (Deadline(what='报修维修期限', due_field='deadline',
                              open_when=lambda m: m.completed_on.is_null() & (
                                  m.source.is_null() | (m.source != rules.HANDOVER_DAY_SOURCE)),
                              clause=rules.CENTRALIZED_CLAUSE, manual='手册002 四、售后集中维修阶段',
                              owner='工程管理部', unit_field='unit'),
                     # Reported on handover day: fixed and closed (销单) the same day.
                     Deadline(what='交付当日报修维修销单', due_field='deadline',
                              open_when=lambda m: (m.source == rules.HANDOVER_DAY_SOURCE) & (
                                  m.completed_on.is_null() | (m.closed == False)),  # noqa: E712
                              clause=rules.HANDOVER_DAY_CLAUSE, manual='手册004 4.3.4',
                              owner='工程管理部', unit_field='unit'),)

    def __str__(self):
        return '%s %s' % (self.reported_on or '', (self.description or '')[:20])

    def delivered_on(self):
        """The project's handover day (actual, else contracted): the 3-month window starts there."""
        project = Project.get_or_none(Project.id == self.__data__.get('project'))
        return project.delivery_date if project is not None else None

    def derive(self):
        self.source = rules.repair_source(self.source, self.reported_on, self.delivered_on())
        self.deadline = rules.repair_default_deadline(self.source, self.reported_on, self.deadline)

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.repair_problems(
            source=self.source, reported_on=self.reported_on,
            delivered_on=self.delivered_on(), deadline=self.deadline,
            completed_on=self.completed_on, closed=self.closed, satisfaction=self.satisfaction,
            revisited_on=self.revisited_on)


def callback_obligation(project, today):
    """The owner callback of `project` as of `today` (rules.aftercare.callback_obligation), from
    the registers: handed-over units from the handover roster (已交付, on its keys day) and the
    units marked 已交付 without a roster row (counted from the delivery day), all live units of the
    project, and the valid 年度回访 surveys by their report date. /due, the dashboard and the
    callbacks page all ask this one function."""
    from models.handover import HandoverEntry
    delivered_on = project.delivery_start_date
    handed = {}
    for unit_id, day in (HandoverEntry.select(HandoverEntry.unit, HandoverEntry.keys_handed_on)
                         .where((HandoverEntry.project == project.id) &
                                HandoverEntry.deleted_at.is_null() &
                                (HandoverEntry.status == '已交付')).tuples()):
        handed[unit_id] = day
    for (unit_id,) in (Unit.select(Unit.id).where((Unit.project == project.id) &
                                                 Unit.deleted_at.is_null() &
                                                 (Unit.status == '已交付')).tuples()):
        handed.setdefault(unit_id, None)
    total = Unit.live().where(Unit.project == project.id).count()
    surveys = (CallbackSurvey.live(CallbackSurvey.issued, CallbackSurvey.returned, CallbackSurvey.report_on)
               .where((CallbackSurvey.project == project.id) &
                      CallbackSurvey.kind.in_(rules.CALLBACK_KINDS) &
                      CallbackSurvey.report_on.is_null(False)))
    valid = [s.report_on for s in surveys if rules.survey_is_valid(s.issued, s.returned)]
    obligation = rules.callback_obligation(delivered_on=delivered_on, total_units=total,
                                           handed_over_dates=list(handed.values()), today=today,
                                           valid_survey_dates=valid)
    handed_now = sum(1 for d in handed.values() if (d or delivered_on) and (d or delivered_on) <= today)
    return obligation, handed_now, total, valid


class WorkContactForm(ProjectRegister):
    """工作联系单 — 手册003: sent to the responsible department with a deadline; the result is verified."""
    no = CharField(max_length=32, null=True, verbose_name='联系单编号',
                   help_text='留空时自动编号：GZ-年份-序号，按项目、年度连续编号。')
    to_department = ForeignKeyField(Department, backref='+', on_delete='RESTRICT', verbose_name='责任部门')
    subject = CharField(max_length=200, verbose_name='事由')
    content = TextField(verbose_name='联系内容')
    issued_on = DateField(verbose_name='发出日期')
    deadline = DateField(verbose_name='回复期限', help_text='手册003：“反馈至责任部门,要求限期整改”。')
    reply = TextField(null=True, verbose_name='回复内容')
    replied_on = DateField(null=True, verbose_name='回复日期')
    verified_on = DateField(null=True, verbose_name='验证日期', help_text='“并对改进结果进行跟踪验证”：填写验证日期即关闭。')
    status = CharField(max_length=16, choices=CONTACT_FORM_STATUSES, default='待回复', verbose_name='状态',
                       help_text='由回复日期、验证日期自动得出。')

    class Meta:
        table_name = 'work_contact_form'
        verbose_name = '工作联系单'
        stage = STAGE
        list_columns = ('project', 'no', 'to_department', 'subject', 'issued_on', 'deadline',
                        'replied_on', 'verified_on', 'status')
        filters = ('project', 'to_department', 'status', 'issued_on', 'deadline', 'replied_on',
                   'verified_on')
        search = ('no', 'subject', 'content', 'reply')
        lookup = ('no', 'subject')
        natural_key = ('project', 'no')
        default_sort = (('issued_on', True),)
        readonly = ('status',)
        indexes = ((('project', 'no'), True),)
        workflow = rules.CONTACT_FORM_WORKFLOW
        deadlines = (Deadline(what='工作联系单回复期限', due_field='deadline',
                              open_when=lambda m: m.replied_on.is_null(),
                              clause=rules.CONTACT_FORM_CLAUSE, manual='手册003 与物管单位的沟通',
                              owner_field='to_department'),)

    def __str__(self):
        return '%s %s' % (self.no or '', self.subject or '')

    def derive(self):
        if not self.no and self.issued_on and self.__data__.get('project'):
            used = [row.no for row in WorkContactForm.select(WorkContactForm.no)
                    .where(WorkContactForm.project == self.__data__['project'])]
            self.no = rules.contact_form_no(self.issued_on.year, used)
        if self.no:
            self.no = self.no.strip()
        self.status = ('已验证关闭' if self.verified_on else '已回复待验证' if self.replied_on else '待回复')

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.contact_form_problems(issued_on=self.issued_on, deadline=self.deadline,
                                               reply=self.reply, replied_on=self.replied_on,
                                               verified_on=self.verified_on)
        if self.no and self.__data__.get('project'):
            clash = WorkContactForm.select(WorkContactForm.id).where(
                (WorkContactForm.project == self.__data__['project']) & (WorkContactForm.no == self.no))
            if self.get_id() is not None:
                clash = clash.where(WorkContactForm.id != self.get_id())
            if clash.exists():
                yield 'no', '本项目已有编号为 %s 的工作联系单，编号不能重复。' % self.no

    def is_overdue(self, today=None):
        return rules.contact_form_overdue(self.deadline, self.replied_on, today or _today())


class Complaint(ProjectRegister):
    """客户投诉台账 — 手册003 顾客投诉: 登记 → 分析 → 转办 → 跟进 → 核查 → 关闭."""
    unit = ForeignKeyField(Unit, null=True, backref='+', on_delete='RESTRICT', verbose_name='房源')
    owner = ForeignKeyField(Owner, null=True, backref='+', on_delete='RESTRICT', verbose_name='投诉人')
    received_on = DateField(verbose_name='受理日期')
    channel = CharField(max_length=8, choices=COMPLAINT_CHANNELS, verbose_name='投诉渠道')
    category = CharField(max_length=8, choices=COMPLAINT_CATEGORIES, verbose_name='投诉类别')
    content = TextField(verbose_name='投诉内容')
    severity = CharField(max_length=4, choices=SEVERITIES, default='一般', verbose_name='严重程度',
                         help_text='重大投诉由授权的客户服务分管领导决定（手册003）。')
    status = CharField(max_length=4, choices=choices(*rules.COMPLAINT_STATES), default='登记',
                       verbose_name='处理状态', help_text='登记→分析→转办→跟进→核查→关闭，逐步推进。')
    responsible_department = ForeignKeyField(Department, null=True, backref='+', on_delete='RESTRICT',
                                             verbose_name='责任部门')
    work_contact_form = ForeignKeyField(WorkContactForm, null=True, backref='complaints',
                                        on_delete='RESTRICT', verbose_name='工作联系单')
    deadline = DateField(null=True, verbose_name='处理期限')
    analysis = TextField(null=True, verbose_name='原因分析')
    resolution = TextField(null=True, verbose_name='处理结果')
    closed_on = DateField(null=True, verbose_name='关闭日期')
    satisfaction = IntegerField(null=True, choices=SCORES, verbose_name='业主满意度')
    decided_by = CharField(max_length=64, null=True, verbose_name='决定人',
                           help_text='重大投诉：作出关闭决定的授权领导（手册003：授权公司客户服务分管领导作出决定）。')

    class Meta:
        table_name = 'complaint'
        verbose_name = '客户投诉台账'
        stage = STAGE
        list_columns = ('project', 'received_on', 'unit', 'owner', 'channel', 'category', 'severity',
                        'status', 'responsible_department', 'deadline', 'closed_on', 'satisfaction')
        filters = ('project', 'channel', 'category', 'severity', 'status', 'responsible_department',
                   'received_on', 'deadline', 'closed_on')
        search = ('content', 'analysis', 'resolution', 'decided_by')
        lookup = ('content',)
        natural_key = ('project', 'received_on', 'content')
        default_sort = (('received_on', True),)
        indexes = ((('project', 'status'), False), (('project', 'category'), False))
        workflow = rules.COMPLAINT_WORKFLOW
        # 手册003: 重大投诉由授权的客户服务分管领导决定 — the supervisors hear of one at once.
        alerts = (Alert('重大投诉', became('severity', '重大'), lambda row: '重大投诉：%s' % row),)
        deadlines = (Deadline(what='投诉处理期限', due_field='deadline',
                              open_when=lambda m: m.closed_on.is_null(),
                              clause='手册002 五：“客服专员应及时更新客户投诉记录,做到及时跟踪、及时反馈、及时关闭”',
                              manual='手册002 五、日常维修及客诉阶段', owner_field='responsible_department',
                              unit_field='unit'),)

    def __str__(self):
        return '%s %s' % (self.received_on or '', (self.content or '')[:20])

    def follow_up_count(self):
        if self.get_id() is None:
            return 0
        return ComplaintFollowUp.live().where(ComplaintFollowUp.complaint == self.get_id()).count()

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.complaint_problems(
            old_status=self.original('status'), status=self.status, severity=self.severity,
            can_approve=bool(actor is not None and actor.can('approve')), decided_by=self.decided_by,
            received_on=self.received_on, closed_on=self.closed_on, deadline=self.deadline,
            resolution=self.resolution,
            responsible_department=self.__data__.get('responsible_department'),
            follow_up_count=self.follow_up_count())

    def is_overdue(self, today=None):
        return rules.complaint_overdue(self.deadline, self.closed_on, today or _today())


class ComplaintFollowUp(ProjectFromParent, ProjectRegister):
    """投诉跟进记录 — the dated follow-up log of a complaint (手册002：“及时跟踪、及时反馈”)."""
    complaint = ForeignKeyField(Complaint, backref='follow_ups', on_delete='RESTRICT', verbose_name='投诉')
    followed_on = DateField(verbose_name='跟进日期')
    method = CharField(max_length=8, choices=FOLLOW_UP_METHODS, verbose_name='跟进方式')
    content = TextField(verbose_name='跟进情况')
    owner_feedback = TextField(null=True, verbose_name='业主反馈')
    next_step = CharField(max_length=200, null=True, verbose_name='下一步')

    class Meta:
        table_name = 'complaint_follow_up'
        verbose_name = '投诉跟进记录'
        stage = STAGE
        list_columns = ('project', 'complaint', 'followed_on', 'method', 'content', 'owner_feedback',
                        'next_step')
        filters = ('project', 'method', 'followed_on')
        search = ('content', 'owner_feedback', 'next_step')
        natural_key = ('complaint', 'followed_on', 'content')
        default_sort = (('followed_on', True),)
        readonly = ('project',)

    def __str__(self):
        return '%s %s' % (self.followed_on or '', (self.content or '')[:20])

    parent_field = 'complaint'

    def problems(self, actor):
        yield from super().problems(actor)
        parent = self.parent_row()
        if parent is not None:
            if parent.received_on and self.followed_on and self.followed_on < parent.received_on:
                yield 'followed_on', '跟进日期不能早于投诉受理日期'
            if parent.status == '关闭' and self.get_id() is None:
                yield 'complaint', '该投诉已关闭，不能再添加跟进记录'


class Compensation(ProjectRegister):
    """赔付台账 — 手册002：“赔付都通过OA审批,资料留存齐全”."""
    complaint = ForeignKeyField(Complaint, null=True, backref='compensations', on_delete='RESTRICT',
                                verbose_name='关联投诉')
    unit = ForeignKeyField(Unit, null=True, backref='+', on_delete='RESTRICT', verbose_name='房源')
    owner = ForeignKeyField(Owner, null=True, backref='+', on_delete='RESTRICT', verbose_name='业主')
    kind = CharField(max_length=8, choices=COMPENSATION_KINDS, verbose_name='赔付方式')
    reason = TextField(verbose_name='赔付事由')
    amount = DecimalField(max_digits=12, decimal_places=2, verbose_name='赔付金额(元)')
    oa_approval_no = CharField(max_length=40, null=True, verbose_name='OA审批单号')
    approved_on = DateField(null=True, verbose_name='OA审批日期')
    paid_on = DateField(null=True, verbose_name='付款日期',
                        help_text='须先有OA审批单号和审批日期（手册002：赔付都通过OA审批）。')
    papers = AttachmentField(verbose_name='赔付资料', help_text='协议、收据等，资料留存齐全。')

    class Meta:
        table_name = 'compensation'
        verbose_name = '赔付台账'
        stage = STAGE
        list_columns = ('project', 'complaint', 'unit', 'owner', 'kind', 'amount', 'oa_approval_no',
                        'approved_on', 'paid_on')
        filters = ('project', 'kind', 'approved_on', 'paid_on', 'amount')
        search = ('reason', 'oa_approval_no', 'remarks')
        natural_key = ('project', 'unit', 'kind', 'reason')
        default_sort = (('approved_on', True),)

    def __str__(self):
        return '%s %s元' % (self.kind or '', self.amount or '')

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.compensation_problems(amount=self.amount, oa_approval_no=self.oa_approval_no,
                                               approved_on=self.approved_on, paid_on=self.paid_on)


class WarrantyItem(ProjectRegister):
    """工程保修期限台账 — 手册002 六 and 建设工程质量管理条例 第四十条."""
    building = CharField(max_length=64, verbose_name='楼栋/范围')
    kind = CharField(max_length=16, choices=choices(*rules.WARRANTY_KINDS), verbose_name='保修项目类别',
                     help_text='类别决定法定最低保修期限（建设工程质量管理条例 第四十条）：屋面防水及防渗漏5年；'
                               '供热、供冷系统2个采暖期、供冷期；电气管线、给排水管道、设备安装、装修工程2年；'
                               '地基基础和主体结构为设计文件规定的合理使用年限；其他项目按合同约定。')
    item = CharField(max_length=100, verbose_name='保修项目')
    contractor = ForeignKeyField(Contractor, null=True, backref='+', on_delete='RESTRICT',
                                 verbose_name='施工单位')
    contract_no = CharField(max_length=40, null=True, verbose_name='施工合同编号')
    starts_on = DateField(verbose_name='保修起始日', help_text='竣工验收合格之日（保修期自此起算）。')
    period_months = IntegerField(null=True, verbose_name='约定保修期(月)',
                                 help_text='留空按法定最低期限；不得短于法定最低期限。')
    period_seasons = IntegerField(null=True, verbose_name='约定采暖期/供冷期数',
                                  help_text='仅供热、供冷系统：按项目所在区域的采暖期、供冷期计（项目设置，默认采暖期11-15至次年03-15、'
                                            '供冷期06-01至09-30）。')
    design_life_years = IntegerField(null=True, verbose_name='设计使用年限(年)',
                                     help_text='地基基础和主体结构：设计文件规定的合理使用年限。')
    expires_on = DateField(null=True, verbose_name='保修到期日', help_text='自动计算。')
    notice_due_on = DateField(null=True, verbose_name='业主告知日',
                              help_text='到期前2个月，自动计算（手册002 六）。')
    owners_notified_on = DateField(null=True, verbose_name='已告知业主日期')
    issues_reported = IntegerField(default=0, verbose_name='业主报修问题数')
    rectification_deadline = DateField(null=True, verbose_name='整改期限')
    rectification_status = CharField(max_length=8, choices=RECTIFICATION_STATUSES, null=True,
                                     verbose_name='整改情况')
    retention_amount = DecimalField(max_digits=14, decimal_places=2, null=True, verbose_name='质保金(元)')
    settled_on = DateField(null=True, verbose_name='质保金结算日期')

    class Meta:
        table_name = 'warranty_item'
        verbose_name = '工程保修期限台账'
        stage = STAGE
        list_columns = ('project', 'building', 'kind', 'item', 'contractor', 'starts_on', 'expires_on',
                        'notice_due_on', 'owners_notified_on', 'issues_reported', 'rectification_status',
                        'retention_amount', 'settled_on')
        filters = ('project', 'kind', 'contractor', 'starts_on', 'expires_on', 'notice_due_on',
                   'owners_notified_on', 'rectification_status', 'settled_on')
        search = ('building', 'item', 'contract_no', 'remarks')
        natural_key = ('project', 'building', 'item')
        default_sort = (('expires_on', False),)
        readonly = ('expires_on', 'notice_due_on')
        indexes = ((('project', 'notice_due_on'), False),)
        deadlines = (
            Deadline(what='保修到期前2个月告知业主', due_field='notice_due_on',
                     open_when=lambda m: m.owners_notified_on.is_null(),
                     clause=rules.NOTICE_CLAUSE, manual='手册002 六、质保期届满前公示和排查'),
            Deadline(what='保修期问题限期整改', due_field='rectification_deadline',
                     open_when=lambda m: (m.rectification_status != '已整改') |
                     m.rectification_status.is_null(),
                     clause=rules.NOTICE_CLAUSE, manual='手册002 六、质保期届满前公示和排查',
                     owner='物业公司'),
        )

    def __str__(self):
        return '%s %s' % (self.building or '', self.item or '')

    def seasons(self):
        """(heating, cooling) seasons of the project's region (Project settings)."""
        project = Project.get_or_none(Project.id == self.__data__.get('project'))
        return project.seasons if project is not None else rules.project_seasons()

    def derive(self):
        heating, cooling = self.seasons()
        self.expires_on = rules.warranty_expires_on(
            self.kind, self.starts_on, period_months=self.period_months,
            period_seasons=self.period_seasons, design_life_years=self.design_life_years,
            heating=heating, cooling=cooling)
        self.notice_due_on = rules.notice_due_on(self.expires_on)

    def problems(self, actor):
        yield from super().problems(actor)
        heating, cooling = self.seasons()
        yield from rules.warranty_period_problems(
            self.kind, self.starts_on, period_months=self.period_months,
            period_seasons=self.period_seasons, design_life_years=self.design_life_years,
            heating=heating, cooling=cooling)
        if self.issues_reported is not None and self.issues_reported < 0:
            yield 'issues_reported', '业主报修问题数不能为负数'
        if self.issues_reported and not self.rectification_deadline:
            yield 'rectification_deadline', '业主报修了问题，须给责任单位限定整改期限（手册002 六：限期整改）'
        if self.owners_notified_on and self.starts_on and self.owners_notified_on < self.starts_on:
            yield 'owners_notified_on', '告知业主日期不能早于保修起始日'
        if self.retention_amount is not None and self.retention_amount < 0:
            yield 'retention_amount', '质保金不能为负数'

    @property
    def notice_due(self):
        return rules.owner_notice_due(self.notice_due_on, self.owners_notified_on, _today())


class CallbackSurvey(ProjectRegister):
    """顾客回访 — 手册003 顾客回访: a questionnaire round; valid only when returned > 25%."""
    kind = CharField(max_length=8, choices=SURVEY_KINDS, verbose_name='回访类型')
    period = CharField(max_length=32, verbose_name='回访期次', help_text='如“2026年度”“交付一周年”。')
    surveyor = CharField(max_length=8, choices=SURVEYORS, verbose_name='调查单位')
    planned_on = DateField(null=True, verbose_name='计划日期')
    population = IntegerField(null=True, verbose_name='应调查户数')
    issued = IntegerField(null=True, verbose_name='发放份数')
    returned = IntegerField(null=True, verbose_name='回收份数')
    response_rate = DecimalField(max_digits=5, decimal_places=1, null=True, verbose_name='回收率(%)',
                                 help_text='回收份数 ÷ 发放份数，自动计算。')
    valid = BooleanField(default=False, verbose_name='有效',
                         help_text='回收数量超过总调查量的25%才有效（手册003），自动判定。')
    report_no = CharField(max_length=40, null=True, verbose_name='分析报告编号')
    report_on = DateField(null=True, verbose_name='报告日期')

    class Meta:
        table_name = 'callback_survey'
        verbose_name = '顾客回访'
        stage = STAGE
        list_columns = ('project', 'kind', 'period', 'surveyor', 'planned_on', 'population', 'issued',
                        'returned', 'response_rate', 'valid', 'report_no', 'report_on')
        filters = ('project', 'kind', 'surveyor', 'valid', 'planned_on', 'report_on')
        search = ('period', 'report_no', 'remarks')
        lookup = ('period',)
        natural_key = ('project', 'kind', 'period')
        default_sort = (('planned_on', True),)
        readonly = ('response_rate', 'valid')

    def __str__(self):
        return '%s %s' % (self.period or '', self.kind or '')

    def derive(self):
        self.response_rate = rules.percent(rules.response_rate(self.issued, self.returned))
        self.valid = rules.survey_is_valid(self.issued, self.returned)

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.survey_problems(population=self.population, issued=self.issued,
                                         returned=self.returned, report_on=self.report_on,
                                         planned_on=self.planned_on)

    def averages(self):
        responses = SurveyResponse.live().where(SurveyResponse.survey == self.get_id())
        return rules.dimension_averages(
            {field: getattr(r, field) for field, _ in rules.SURVEY_DIMENSIONS} for r in responses)


class SurveyResponse(ProjectFromParent, ProjectRegister):
    """回访问卷 — one questionnaire: a 1–5 score per dimension of 手册003."""
    survey = ForeignKeyField(CallbackSurvey, backref='responses', on_delete='RESTRICT', verbose_name='回访')
    unit = ForeignKeyField(Unit, null=True, backref='+', on_delete='RESTRICT', verbose_name='房源')
    owner = ForeignKeyField(Owner, null=True, backref='+', on_delete='RESTRICT', verbose_name='业主')
    answered_on = DateField(verbose_name='答卷日期')
    product_planning = IntegerField(null=True, choices=SCORES, verbose_name='产品策划')
    construction_quality = IntegerField(null=True, choices=SCORES, verbose_name='工程质量')
    sales_service = IntegerField(null=True, choices=SCORES, verbose_name='销售服务')
    complaint_service = IntegerField(null=True, choices=SCORES, verbose_name='投诉处理服务')
    property_service = IntegerField(null=True, choices=SCORES, verbose_name='物业管理服务')
    comments = TextField(null=True, verbose_name='意见建议')

    class Meta:
        table_name = 'survey_response'
        verbose_name = '回访问卷'
        stage = STAGE
        list_columns = ('project', 'survey', 'unit', 'owner', 'answered_on', 'product_planning',
                        'construction_quality', 'sales_service', 'complaint_service', 'property_service')
        filters = ('project', 'survey', 'answered_on', 'product_planning', 'construction_quality',
                   'sales_service', 'complaint_service', 'property_service')
        search = ('comments',)
        natural_key = ('survey', 'unit', 'answered_on')
        default_sort = (('answered_on', True),)
        readonly = ('project',)

    def __str__(self):
        return '%s %s' % (self.answered_on or '', self.unit if self.__data__.get('unit') else '')

    parent_field = 'survey'

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.score_problems({field: getattr(self, field) for field, _ in rules.SURVEY_DIMENSIONS})
        if all(getattr(self, field) is None for field, _ in rules.SURVEY_DIMENSIONS):
            yield None, '问卷至少须有一项评分'


def follow_project_seasons(project_id):
    """A project's heating/cooling seasons (or dates) changed: its warranty expiries and owner
    notice days follow (derived values: no change_log rows)."""
    rederive(WarrantyItem, project_id, ('expires_on', 'notice_due_on'))


PROJECT_DATE_HOOKS.append(follow_project_seasons)
