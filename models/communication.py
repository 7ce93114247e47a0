"""与业主沟通 — communication with owners (REGISTERS.md §6): owner quality groups and service groups,
their members and meetings, and customer events between signing and move-in.

The rules live in rules/communication.py (plain, tested functions); the models call them.
"""
import datetime

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField, TextField

from models.aftercare import ProjectFromParent
from models.base import choices
from models.master import Owner, Project, ProjectRegister
from rules import communication as rules

STAGE = '业主沟通'

GROUP_STATUSES = choices('筹建中', '运行中', '已解散')
MEMBER_ROLES = choices('组长', '副组长', '成员')
EVENT_KINDS = choices('工地开放日', '客户通讯', '业主活动', '模拟验房')

def _today():
    return datetime.date.today()


class SupervisionGroup(ProjectRegister):
    """业主工程质量监理小组 / 客户服务质量监督小组 — 手册003 与业主工程质量监理小组的沟通."""
    kind = CharField(max_length=16, choices=choices(*rules.GROUP_KINDS), verbose_name='小组类型',
                     help_text='业主工程质量监理小组：销售超过30%（按户数）时成立；'
                               '客户服务质量监督小组：交付后按区域设立，登记在牵头项目下。')
    name = CharField(max_length=100, verbose_name='小组名称')
    region = CharField(max_length=16, null=True, verbose_name='区域',
                       help_text='客户服务质量监督小组按区域设立（浙江、上海、北京、安徽区域）。')
    formed_on = DateField(null=True, verbose_name='成立日期')
    status = CharField(max_length=8, choices=GROUP_STATUSES, default='筹建中', verbose_name='状态')

    class Meta:
        table_name = 'supervision_group'
        verbose_name = '业主监督小组'
        stage = STAGE
        list_columns = ('project', 'kind', 'name', 'region', 'formed_on', 'status')
        filters = ('project', 'kind', 'region', 'formed_on', 'status')
        search = ('name', 'region', 'remarks')
        lookup = ('name',)
        natural_key = ('project', 'name')
        default_sort = (('formed_on', True),)
        workflow = rules.GROUP_WORKFLOW

    def __str__(self):
        return self.name or ''

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.group_problems(kind=self.kind, formed_on=self.formed_on, region=self.region,
                                        has_project=bool(self.__data__.get('project')))
        project = Project.get_or_none(Project.id == self.__data__.get('project'))
        yield from rules.service_group_problems(
            kind=self.kind, formed_on=self.formed_on,
            delivered_on=project.delivery_start_date if project else None, region=self.region,
            project_region=project.region if project else None,
            region_taken=self.status != '已解散' and self._region_taken())
        if self.formed_on and self.formed_on > _today():
            yield 'formed_on', '成立日期不能晚于今天'

    def _region_taken(self):
        """Another running service group of the same region (of any project)."""
        if self.kind != rules.SERVICE_GROUP or not self.region:
            return False
        others = SupervisionGroup.live(SupervisionGroup.region).where(
            (SupervisionGroup.kind == rules.SERVICE_GROUP) & (SupervisionGroup.status != '已解散'))
        if self.get_id() is not None:
            others = others.where(SupervisionGroup.id != self.get_id())
        return any(rules.region_name(o.region) == rules.region_name(self.region) for o in others)

    def active_member_count(self, today=None):
        today = today or _today()
        members = GroupMember.live().where(GroupMember.group == self.get_id())
        return sum(1 for m in members if rules.member_is_active(m.joined_on, m.left_on, today))

    def size_warning(self, today=None):
        return rules.group_size_warning(self.active_member_count(today))

    def missing_phases(self):
        held = (GroupMeeting.live(GroupMeeting.phase)
                .where((GroupMeeting.group == self.get_id()) & GroupMeeting.held_on.is_null(False)))
        return rules.missing_phases(m.phase for m in held)

    def pending_feedback(self):
        return list(GroupMeeting.live().where(
            (GroupMeeting.group == self.get_id()) & (GroupMeeting.suggestions_accepted == True) &  # noqa: E712
            GroupMeeting.feedback_sent_on.is_null()).order_by(GroupMeeting.held_on))


class GroupMember(ProjectFromParent, ProjectRegister):
    """小组成员 — 手册003：“业主工程质量监理小组的数量应控制在5-10人左右”."""
    group = ForeignKeyField(SupervisionGroup, backref='members', on_delete='RESTRICT', verbose_name='小组')
    owner = ForeignKeyField(Owner, backref='+', on_delete='RESTRICT', verbose_name='业主')
    role = CharField(max_length=8, choices=MEMBER_ROLES, default='成员', verbose_name='职务')
    joined_on = DateField(verbose_name='加入日期')
    left_on = DateField(null=True, verbose_name='退出日期')

    class Meta:
        table_name = 'group_member'
        verbose_name = '小组成员'
        stage = STAGE
        list_columns = ('project', 'group', 'owner', 'role', 'joined_on', 'left_on')
        filters = ('project', 'group', 'role', 'joined_on', 'left_on')
        search = ('remarks',)
        natural_key = ('group', 'owner', 'joined_on')
        default_sort = (('joined_on', False),)
        readonly = ('project',)

    def __str__(self):
        return str(self.owner) if self.__data__.get('owner') else ''

    parent_field = 'group'

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.member_problems(joined_on=self.joined_on, left_on=self.left_on)
        if self.__data__.get('group') and self.__data__.get('owner'):
            clash = GroupMember.live(GroupMember.id).where(
                (GroupMember.group == self.__data__['group']) & (GroupMember.owner == self.__data__['owner'])
                & GroupMember.left_on.is_null())
            if self.get_id() is not None:
                clash = clash.where(GroupMember.id != self.get_id())
            if self.left_on is None and clash.exists():
                yield 'owner', '该业主已是本小组在册成员'


class GroupMeeting(ProjectFromParent, ProjectRegister):
    """小组会议 — 手册003: at each key construction phase; accepted suggestions fed back in writing."""
    group = ForeignKeyField(SupervisionGroup, backref='meetings', on_delete='RESTRICT', verbose_name='小组')
    phase = CharField(max_length=8, choices=choices(*rules.MEETING_PHASES), verbose_name='会议阶段',
                      help_text='监理小组：基础、主体结构、装饰装修、安装；监督小组：座谈。')
    held_on = DateField(verbose_name='会议日期')
    chair = CharField(max_length=32, verbose_name='主持人', help_text='手册003：会议由该项目负责人主持。')
    attendees = TextField(null=True, verbose_name='参会人员')
    minutes = TextField(null=True, verbose_name='会议纪要')
    minutes_sent_on = DateField(null=True, verbose_name='纪要发送日期',
                                help_text='纪要主送小组各成员，并报总工办和客户服务部。')
    minutes_sent_to = CharField(max_length=200, null=True, verbose_name='纪要主送/抄报',
                                help_text='手册003：纪要主送相关单位、部门及小组各成员，并报集团公司总工程师办公室和客户服务部。')
    owner_suggestions = TextField(null=True, verbose_name='业主建议')
    suggestions_accepted = BooleanField(default=False, verbose_name='建议已采纳')
    feedback_sent_on = DateField(null=True, verbose_name='书面反馈日期',
                                 help_text='已采纳的建议，落实情况须书面反馈给小组各成员（手册003）。')

    class Meta:
        table_name = 'group_meeting'
        verbose_name = '小组会议'
        stage = STAGE
        list_columns = ('project', 'group', 'phase', 'held_on', 'chair', 'minutes_sent_on',
                        'suggestions_accepted', 'feedback_sent_on')
        filters = ('project', 'group', 'phase', 'held_on', 'suggestions_accepted', 'feedback_sent_on')
        search = ('chair', 'attendees', 'minutes', 'owner_suggestions')
        natural_key = ('group', 'phase', 'held_on')
        default_sort = (('held_on', True),)
        readonly = ('project',)

    def __str__(self):
        return '%s %s' % (self.phase or '', self.held_on or '')

    parent_field = 'group'
    MINUTES_RECIPIENTS = '小组各成员、总工程师办公室、客户服务部'

    def derive(self):
        super().derive()
        if self.minutes_sent_on and not (self.minutes_sent_to or '').strip():
            self.minutes_sent_to = self.MINUTES_RECIPIENTS     # whom the manual names

    def problems(self, actor):
        yield from super().problems(actor)
        group = self.parent_row()
        yield from rules.meeting_problems(
            kind=group.kind if group else None, phase=self.phase, held_on=self.held_on,
            owner_suggestions=self.owner_suggestions, suggestions_accepted=self.suggestions_accepted,
            feedback_sent_on=self.feedback_sent_on, today=_today())
        if self.minutes_sent_on and self.held_on and self.minutes_sent_on < self.held_on:
            yield 'minutes_sent_on', '纪要发送日期不能早于会议日期'

    @property
    def feedback_pending(self):
        return rules.feedback_pending(self.suggestions_accepted, self.feedback_sent_on)


class CustomerEvent(ProjectRegister):
    """客户活动 — 手册002 二、签约后入住前阶段：“制作《客户通讯》…组织‘工地开放日’和业主模拟验收等活动”."""
    kind = CharField(max_length=8, choices=EVENT_KINDS, verbose_name='活动类型')
    title = CharField(max_length=100, verbose_name='活动主题')
    held_on = DateField(verbose_name='活动日期')
    participants = IntegerField(null=True, verbose_name='参加人数')
    summary = TextField(null=True, verbose_name='活动小结')

    class Meta:
        table_name = 'customer_event'
        verbose_name = '客户活动'
        stage = STAGE
        list_columns = ('project', 'kind', 'title', 'held_on', 'participants')
        filters = ('project', 'kind', 'held_on')
        search = ('title', 'summary')
        natural_key = ('project', 'kind', 'held_on')
        default_sort = (('held_on', True),)

    def __str__(self):
        return '%s %s' % (self.held_on or '', self.title or '')

    def problems(self, actor):
        yield from super().problems(actor)
        if self.participants is not None and self.participants < 0:
            yield 'participants', '参加人数不能为负数'
