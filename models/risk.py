"""风险控制 — risk control before launch (REGISTERS.md §2, manual 000 《客服工作手册-风险控制模块》).

Ten registers: two department-wide knowledge bases consulted while reviewing drawings, and eight
project registers following a project from drawing review to the changes told to its owners. The
deadlines, flags and gates are the plain functions of rules/risk.py; the models only feed them.
"""
import datetime

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField, TextField, fn

from models.base import AttachmentField, Deadline, Register, choices, db
from models.schema import SCHEMA_HOOKS
from models.master import PROJECT_DATE_HOOKS, Department, Project, ProjectRegister, Unit
from rules import risk as rules

STAGE = '风险控制'
MANUAL = '《%s》' % rules.MANUAL


def today():
    return datetime.date.today()


def _project_dates(project_id, row=None):
    """(launch date, delivery date) of a project, or (None, None) while it is unknown.

    A list has already loaded each row's project (views/listing.attach_related): use it rather
    than asking the database once per row.
    """
    if not project_id:
        return None, None
    loaded = getattr(row, '__rel__', {}).get('project') if row is not None else None
    project = loaded if loaded is not None and loaded.id == project_id else \
        Project.get_or_none(Project.id == project_id)
    if project is None:
        return None, None
    return project.launch_date, project.delivery_date


def _manual(section):
    return '%s %s' % (MANUAL, section)


KB_CATEGORIES = choices('精装修', '给排水', '强弱电', '暖通', '土建', '门窗', '户型', '景观',
                        '公共部位', '车库', '规划', '其他')
KB_HELP = ('手册：《客户风险审图评估要点明细》/《产品设计缺陷集》由区域客户服务部“在每季度各项目客服反馈'
           '……状况进行及时更新”。填写如 2024Q3。')


class QuarterMixin:
    """The knowledge bases are refreshed every quarter: the quarter is kept in one spelling."""

    def derive(self):
        super().derive()
        parsed = rules.parse_quarter(self.added_quarter)
        if parsed:
            self.added_quarter = '%dQ%d' % parsed

    def problems(self, actor):
        yield from super().problems(actor)
        if self.added_quarter and rules.parse_quarter(self.added_quarter) is None:
            yield 'added_quarter', '新增季度格式应为「2024Q3」（年份 + Q + 1–4）。'


# --------------------------------------------------------------------------- knowledge bases

class DrawingReviewPoint(QuarterMixin, Register):
    """客户风险审图评估要点明细 — what owners of earlier projects cared about, checked on new drawings."""
    category = CharField(max_length=16, choices=KB_CATEGORIES, verbose_name='专业类别')
    point = TextField(verbose_name='评估要点')
    source_project = CharField(max_length=100, null=True, verbose_name='来源项目')
    added_quarter = CharField(max_length=8, verbose_name='新增季度', help_text=KB_HELP)

    class Meta:
        table_name = 'drawing_review_point'
        verbose_name = '客户风险审图评估要点明细'
        stage = STAGE
        list_columns = ('category', 'point', 'source_project', 'added_quarter')
        filters = ('category', 'added_quarter', 'source_project')
        search = ('point', 'source_project')
        natural_key = ('category', 'point')
        default_sort = (('added_quarter', True), ('category', False))
        create_power = edit_power = delete_power = 'manage_master'    # shared by every project

    def __str__(self):
        return '[%s] %s' % (self.category, (self.point or '')[:30])


class DesignDefect(QuarterMixin, Register):
    """产品设计缺陷集 — design defects of earlier projects, offered while reviewing drawings."""
    category = CharField(max_length=16, choices=KB_CATEGORIES, verbose_name='专业类别')
    description = TextField(verbose_name='缺陷描述')
    consequence = TextField(null=True, verbose_name='造成后果')
    prevention = TextField(null=True, verbose_name='预防措施')
    source_project = CharField(max_length=100, null=True, verbose_name='来源项目')
    added_quarter = CharField(max_length=8, verbose_name='新增季度', help_text=KB_HELP)
    photo = AttachmentField(kinds=('image',), verbose_name='照片')

    class Meta:
        table_name = 'design_defect'
        verbose_name = '产品设计缺陷集'
        stage = STAGE
        list_columns = ('category', 'description', 'consequence', 'prevention', 'source_project',
                        'added_quarter')
        filters = ('category', 'added_quarter', 'source_project')
        search = ('description', 'consequence', 'prevention', 'source_project')
        natural_key = ('category', 'description')
        default_sort = (('added_quarter', True), ('category', False))
        create_power = edit_power = delete_power = 'manage_master'    # shared by every project

    def __str__(self):
        return '[%s] %s' % (self.category, (self.description or '')[:30])


# --------------------------------------------------------------------------- inspections

INSPECTION_HELP = '；'.join('%s：%s' % (k, rules.INSPECTION_RULES[k].clause.rstrip('。'))
                           for k in rules.INSPECTION_KINDS)


class RiskInspection(ProjectRegister):
    """风险检查记录 — every inspection of the manual with its window, derived from its kind."""
    kind = CharField(max_length=16, choices=choices(*rules.INSPECTION_KINDS), verbose_name='检查类型',
                     help_text='期限按类型自动计算（%s）。' % INSPECTION_HELP)
    anchor_on = DateField(null=True, verbose_name='起算日期',
                          help_text='审图评估填设计出图日期；样板间检查填样板间施工完成日期；'
                                    '其余类型按项目的开盘/交付日期自动带出。')
    listing_on = DateField(null=True, verbose_name='上市日期',
                           help_text='已开盘项目新产品（含人防/非人防车位）上市前检查时填写，'
                                     '期限按上市日期计算（手册：开盘、上市前7日内完毕）。')
    window_start_on = DateField(null=True, verbose_name='最早开始日期',
                                help_text='按手册计算：早于此日期完成的检查标记为“过早完成”。')
    due_on = DateField(null=True, verbose_name='完成期限', help_text=INSPECTION_HELP)
    completed_on = DateField(null=True, verbose_name='完成日期')
    out_of_window = BooleanField(default=False, verbose_name='超出时限',
                                 help_text='完成日期在手册规定的时间窗口之外。')
    lead_department = ForeignKeyField(Department, null=True, backref='+', on_delete='RESTRICT',
                                      verbose_name='牵头部门')
    participants = CharField(max_length=200, null=True, verbose_name='参与部门/人员')
    report_no = CharField(max_length=40, null=True, verbose_name='报告编号')
    report_title = CharField(max_length=100, null=True, verbose_name='报告名称',
                             help_text='如《审图评估报告》《开盘前样板间风险检查报告》'
                                       '《开盘及上市风险评估报告》《项目交付风险自评估报告》。')
    conclusion = TextField(null=True, verbose_name='检查结论')
    attachment = AttachmentField(verbose_name='报告附件')
    legal_joined = BooleanField(default=False, verbose_name='法务参与项目背景资料检查',
                                help_text=rules.LEGAL_BACKGROUND_CLAUSE)
    open_findings = IntegerField(default=0, verbose_name='未关闭问题数',
                                 help_text='由风险检查问题台账自动统计。')

    class Meta:
        table_name = 'risk_inspection'
        verbose_name = '风险检查记录'
        stage = STAGE
        list_columns = ('project', 'kind', 'anchor_on', 'due_on', 'completed_on', 'timing',
                        'deadline_rule', 'lead_department', 'report_title', 'open_findings')
        filters = ('project', 'kind', 'due_on', 'completed_on', 'out_of_window',
                   'lead_department')
        search = ('report_no', 'report_title', 'participants', 'conclusion')
        natural_key = ('project', 'kind', 'anchor_on')
        lookup = ('kind', 'report_title')
        default_sort = (('due_on', False),)
        readonly = ('window_start_on', 'due_on', 'out_of_window', 'open_findings')
        deadlines = tuple(
            Deadline(what=kind, due_field='due_on', clause=rules.INSPECTION_RULES[kind].clause,
                     manual=_manual(rules.INSPECTION_RULES[kind].section),
                     open_when=(lambda m, k=kind: (m.kind == k) & m.completed_on.is_null()),
                     owner_field='lead_department')
            for kind in rules.INSPECTION_KINDS)

    def __str__(self):
        return '%s %s' % (self.kind, self.due_on.isoformat() if self.due_on else '')

    def window(self, launch_on=None, delivery_on=None):
        if launch_on is None and delivery_on is None:
            launch_on, delivery_on = _project_dates(self.__data__.get('project'))
        return rules.inspection_due_date(self.kind, self.anchor_on, launch_on, delivery_on,
                                         self.listing_on)

    def derive(self):
        window = self.window()
        if window is None:
            self.window_start_on = self.due_on = None
            if self.kind not in rules.KINDS_WITH_OWN_ANCHOR:
                self.anchor_on = None
        else:
            self.anchor_on = window.anchor_on
            self.window_start_on, self.due_on = window.start_on, window.due_on
        self.out_of_window = self.timing in rules.OUT_OF_WINDOW
        if self.get_id() is not None:
            # Counted afresh: the row being saved may have been read before a finding changed.
            self.open_findings = self._count_open_findings()

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.inspection_problems(self.kind, self.anchor_on, self.completed_on, today())
        yield from rules.first_launch_legal_problems(self.kind, self.listing_on, self.completed_on,
                                                     self.legal_joined)

    def after_save(self, actor, created):
        # One obligation, one deadline: the countdown node of this inspection is done with it.
        from models.delivery import complete_node
        from rules.delivery import INSPECTION_CODES
        if self.kind in INSPECTION_CODES and self.completed_on and self.deleted_at is None:
            complete_node(self.__data__['project'], INSPECTION_CODES[self.kind], self.completed_on)

    @property
    def timing(self):
        """未到期/即将到期/已逾期/按时完成/逾期完成/过早完成/缺少日期, from the stored window."""
        if self.due_on is None:
            return rules.NO_DATE
        window = rules.Window(self.anchor_on, self.window_start_on, self.due_on)
        return rules.timing(window, self.completed_on, today())

    @property
    def deadline_rule(self):
        rule = rules.INSPECTION_RULES.get(self.kind)
        return rule.summary if rule else ''

    @property
    def rule_quote(self):
        return rules.inspection_rule_text(self.kind)

    def _count_open_findings(self):
        return (RiskFinding.select().where((RiskFinding.inspection == self.id) &
                                           RiskFinding.deleted_at.is_null() &
                                           (RiskFinding.status != rules.FINDING_CLOSED)).count())

    def refresh_open_findings(self):
        count = self._count_open_findings()
        RiskInspection.update(open_findings=count).where(RiskInspection.id == self.id).execute()
        self.open_findings = count


# --------------------------------------------------------------------------- scripts

class SalesScript(ProjectRegister):
    """销售说辞 / 统一说辞 — what sales may say, and the unified answers for what cannot be fixed."""
    kind = CharField(max_length=16, choices=choices(*rules.SCRIPT_KINDS), verbose_name='说辞类型')
    specialty = CharField(max_length=8, choices=choices(*rules.SPECIALTIES), verbose_name='专业')
    topic = CharField(max_length=100, verbose_name='主题',
                      help_text='敏感问题（开盘区域绿化、车位、不利因素）须在新产品上市前至少两周重新确认。')
    content = TextField(verbose_name='说辞内容')
    script_version = IntegerField(default=1, verbose_name='版本号',
                                  help_text='填写“替代旧版本”时自动为旧版本号 + 1。')
    replaces = ForeignKeyField('self', null=True, backref='+', on_delete='RESTRICT',
                               verbose_name='替代旧版本',
                               help_text='新版本生效后旧版本自动标记为“已被替代”，旧版本仍可查阅。')
    drafted_on = DateField(null=True, verbose_name='编制日期',
                           help_text='手册：项目营销组应在开盘前一种月组织项目各专业编制项目销售说辞。')
    listing_on = DateField(null=True, verbose_name='新产品上市日期')
    reconfirmed_on = DateField(null=True, verbose_name='上市前重新确认日期',
                               help_text='手册：项目营销组应在新产品上市前至少两周……重新确认有关说辞内容。')
    specialty_lead_signed_on = DateField(null=True, verbose_name='专业负责人签字日期')
    legal_reviewed_on = DateField(null=True, verbose_name='法务审核日期')
    cs_reviewed_on = DateField(null=True, verbose_name='客服审核日期')
    oa_countersign_no = CharField(max_length=40, null=True, verbose_name='OA会签单号')
    effective_on = DateField(null=True, verbose_name='生效日期',
                             help_text='三项审核（专业负责人签字、法务审核、客服审核）齐全后方可生效。')
    superseded_by = ForeignKeyField('self', null=True, backref='+', on_delete='SET NULL',
                                    verbose_name='已被替代为')

    class Meta:
        table_name = 'sales_script'
        verbose_name = '销售说辞与统一说辞'
        stage = STAGE
        list_columns = ('project', 'kind', 'specialty', 'topic', 'script_version', 'state',
                        'specialty_lead_signed_on', 'legal_reviewed_on', 'cs_reviewed_on',
                        'effective_on', 'flags')
        filters = ('project', 'kind', 'specialty', 'effective_on', 'superseded_by')
        search = ('topic', 'content', 'oa_countersign_no')
        natural_key = ('project', 'kind', 'topic', 'script_version')
        lookup = ('topic',)
        default_sort = (('topic', False), ('script_version', True))
        readonly = ('superseded_by',)

    def __str__(self):
        return '%s·%s v%s' % (self.kind, self.topic, self.script_version)

    def derive(self):
        old_id = self.__data__.get('replaces')
        if old_id and self.original('replaces') != old_id:
            old = SalesScript.get_or_none(SalesScript.id == old_id)
            if old is not None and (self.get_id() is None or
                                    self.script_version in (None, 1, old.script_version)):
                self.script_version = (old.script_version or 1) + 1

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.sales_script_problems(
            self.effective_on, self.specialty_lead_signed_on, self.legal_reviewed_on,
            self.cs_reviewed_on, self.__data__.get('superseded_by'), self.get_id())
        old_id = self.__data__.get('replaces')
        if old_id:
            if old_id == self.get_id():
                yield 'replaces', '说辞不能替代自身。'
            old = SalesScript.get_or_none(SalesScript.id == old_id)
            if old is not None:
                if old.kind != self.kind:
                    yield 'replaces', '只能替代同一类型（%s）的说辞。' % old.kind
                taken = old.__data__.get('superseded_by')
                if taken and taken != self.get_id():
                    yield 'replaces', '该旧版本已被另一版本替代，请选择最新版本。'
        if self.script_version is not None and self.script_version < 1:
            yield 'script_version', '版本号须为正整数。'

    def after_save(self, actor, created):
        old_id = self.__data__.get('replaces')
        previous = self.original('replaces')
        if previous and previous != old_id:
            prior = SalesScript.get_or_none(SalesScript.id == previous)
            if prior is not None and prior.__data__.get('superseded_by') == self.id:
                prior.superseded_by = None
                prior.save_logged(actor)
        if old_id:
            old = SalesScript.get_by_id(old_id)
            if old.__data__.get('superseded_by') != self.id:
                old.superseded_by = self.id
                old.save_logged(actor)

    @classmethod
    def kind_of(cls, script_id):
        """The kind of a linked script (None when none is linked): what the closing gates check."""
        if not script_id:
            return None
        script = cls.select(cls.kind).where(cls.id == script_id).first()
        return script.kind if script else None

    @property
    def state(self):
        if self.__data__.get('superseded_by'):
            return '已被替代'
        if self.effective_on is None:
            return '审核中'
        return '已生效' if rules.script_is_effective(self.effective_on, None, today()) else '待生效'

    @property
    def flags(self):
        launch_on, delivery_on = _project_dates(self.__data__.get('project'), self)
        return '；'.join(rules.sales_script_flags(
            self.kind, self.drafted_on, launch_on, self.reconfirmed_on, self.listing_on,
            self.effective_on, delivery_on))


# --------------------------------------------------------------------------- findings

class RiskFinding(ProjectRegister):
    """风险检查问题 — followed by the project's CS until verified and closed."""
    inspection = ForeignKeyField(RiskInspection, backref='+', on_delete='RESTRICT',
                                 verbose_name='所属检查')
    category = CharField(max_length=16, choices=choices(*rules.FINDING_CATEGORIES),
                         verbose_name='问题类别')
    description = TextField(verbose_name='问题描述')
    found_on = DateField(null=True, verbose_name='发现日期', help_text='空则取所属检查的完成日期。')
    rectification_plan = TextField(null=True, verbose_name='整改方案')
    responsible_department = ForeignKeyField(Department, null=True, backref='+',
                                             on_delete='RESTRICT', verbose_name='责任部门')
    due_on = DateField(null=True, verbose_name='整改期限',
                       help_text='空则按所属检查自动带出：开盘前检查的问题须在开盘前整改完毕'
                                 '（手册：由项目客服跟进在项目开盘前整治完毕状况），交付前检查的问题须在交付前整改完毕。')
    fixable = BooleanField(default=True, verbose_name='可整改',
                           help_text='无法整改的问题须关联一份「不整改问题统一说辞」才能关闭'
                                     '（手册：对无法整治旳问题拟定统一说辞）。')
    status = CharField(max_length=8, choices=choices(*rules.FINDING_STATUSES), default='待整改',
                       verbose_name='状态')
    verified_by = CharField(max_length=32, null=True, verbose_name='验证人')
    closed_on = DateField(null=True, verbose_name='关闭日期')
    unified_script = ForeignKeyField(SalesScript, null=True, backref='+', on_delete='RESTRICT',
                                     verbose_name='统一说辞')

    class Meta:
        table_name = 'risk_finding'
        verbose_name = '风险检查问题'
        stage = STAGE
        list_columns = ('project', 'inspection', 'category', 'description', 'responsible_department',
                        'due_on', 'overdue', 'fixable', 'status', 'verified_by', 'closed_on',
                        'unified_script')
        filters = ('project', 'category', 'status', 'fixable', 'responsible_department', 'due_on',
                   'closed_on')
        search = ('description', 'rectification_plan', 'verified_by')
        natural_key = ('project', 'inspection', 'description')
        workflow = rules.FINDING_WORKFLOW
        default_sort = (('due_on', False),)
        deadlines = (Deadline(what='风险检查问题整改', due_field='due_on',
                              clause='检查完毕后,各项目应就检查报告反映旳问题制定整治方案,'
                                     '由项目客服跟进在项目开盘前整治完毕状况。',
                              manual=_manual('项目开盘前各阶段风险控制 四、组织开盘及上市前风险检查'),
                              open_when=lambda m: m.status != rules.FINDING_CLOSED,
                              owner_field='responsible_department'),)

    def __str__(self):
        return '%s：%s' % (self.category, (self.description or '')[:30])

    def derive(self):
        inspection = None
        if self.__data__.get('inspection'):
            inspection = RiskInspection.get_or_none(RiskInspection.id == self.__data__['inspection'])
        if inspection is not None:
            if self.found_on is None:
                self.found_on = inspection.completed_on
            if self.due_on is None:
                launch_on, delivery_on = _project_dates(inspection.__data__.get('project'))
                self.due_on = rules.finding_default_deadline(inspection.kind, launch_on,
                                                             delivery_on)

    def problems(self, actor):
        yield from super().problems(actor)
        script_kind = SalesScript.kind_of(self.__data__.get('unified_script'))
        yield from rules.finding_close_problems(self.status, self.fixable, script_kind,
                                                self.verified_by, self.closed_on, self.found_on,
                                                today())
        if actor is not None:
            yield from rules.unfixable_decision_problems(self.fixable, self.original('fixable'),
                                                         actor.can('approve'))

    @property
    def overdue(self):
        return '已逾期' if (self.due_on and rules.finding_is_open(self.status)
                           and self.due_on < today()) else ''

    def after_save(self, actor, created):
        for inspection_id in {self.__data__.get('inspection'), self.original('inspection')} - {None}:
            RiskInspection(id=inspection_id).refresh_open_findings()

    def delete_logged(self, actor, note=None):
        super().delete_logged(actor, note=note)
        RiskInspection(id=self.__data__['inspection']).refresh_open_findings()

    def restore_logged(self, actor):
        super().restore_logged(actor)
        RiskInspection(id=self.__data__['inspection']).refresh_open_findings()


# --------------------------------------------------------------------------- disclosures

class RiskDisclosure(ProjectRegister):
    """销售风险特别提示 / 不利因素公示 — the boards standing before the project opens."""
    scope = CharField(max_length=8, choices=choices('红线内', '红线外'), verbose_name='范围')
    content = TextField(verbose_name='提示内容')
    display_location = CharField(max_length=100, null=True, verbose_name='公示位置')
    displayed_on = DateField(null=True, verbose_name='公示日期',
                             help_text='手册：根据特别提示内容在项目开放前完毕各类展示展板旳摆放。')
    display_due_on = DateField(null=True, verbose_name='公示期限',
                               help_text='开盘前一日（手册：根据特别提示内容在项目开放前完毕各类展示展板旳摆放）。')
    legal_reviewed_on = DateField(null=True, verbose_name='法务审核日期')
    in_contract_attachment = BooleanField(default=False, verbose_name='纳入合同附件',
                                          help_text='《销售风险特别提示》为商品房买卖合同附件。')

    class Meta:
        table_name = 'risk_disclosure'
        verbose_name = '销售风险特别提示'
        stage = STAGE
        list_columns = ('project', 'scope', 'content', 'display_location', 'display_due_on',
                        'displayed_on', 'legal_reviewed_on', 'in_contract_attachment', 'flags')
        filters = ('project', 'scope', 'display_due_on', 'displayed_on', 'in_contract_attachment')
        search = ('content', 'display_location')
        natural_key = ('project', 'scope', 'content')
        lookup = ('content',)
        default_sort = (('displayed_on', True),)
        readonly = ('display_due_on',)
        deadlines = (Deadline(what='销售风险特别提示公示', due_field='display_due_on',
                              clause='根据特别提示内容在项目开放前完毕各类展示展板旳摆放',
                              manual=_manual('项目开盘前各阶段风险控制 三、参与开盘前销售资料会签'),
                              open_when=lambda m: m.displayed_on.is_null()),)

    def __str__(self):
        return '%s：%s' % (self.scope, (self.content or '')[:30])

    def derive(self):
        launch_on, _ = _project_dates(self.__data__.get('project'))
        self.display_due_on = rules.disclosure_due(launch_on)

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.disclosure_problems(self.displayed_on, self.legal_reviewed_on, today())

    @property
    def flags(self):
        launch_on, _ = _project_dates(self.__data__.get('project'), self)
        return '；'.join(rules.disclosure_flags(self.displayed_on, self.legal_reviewed_on,
                                               launch_on))


# --------------------------------------------------------------------------- sales documents

class SalesDocumentReview(ProjectRegister):
    """销售资料会签 — countersigned in OA at least 20 days before launch."""
    doc_kind = CharField(max_length=16, choices=choices(*rules.DOCUMENT_KINDS), verbose_name='资料类型')
    title = CharField(max_length=100, null=True, verbose_name='资料名称')
    applies_to = CharField(max_length=8, choices=choices('全部户型', *rules.SPECIAL_UNIT_KINDS),
                           default='全部户型', verbose_name='适用户型',
                           help_text='手册：注意将非标层等特殊户型单独起草房屋交付原则。')
    doc_version = CharField(max_length=16, null=True, verbose_name='版本')
    drafted_by = CharField(max_length=64, null=True, verbose_name='编制人/部门')
    drafted_on = DateField(null=True, verbose_name='制作日期',
                           help_text='买卖合同及附件：开盘前两周制作完成（手册000）。')
    draft_due_on = DateField(null=True, verbose_name='制作期限',
                             help_text='买卖合同及附件：开盘日期 − 14日。')
    legal_reviewed_on = DateField(null=True, verbose_name='法务审核日期')
    cs_reviewed_on = DateField(null=True, verbose_name='客服审核日期')
    countersigned_on = DateField(null=True, verbose_name='会签日期')
    countersign_due_on = DateField(null=True, verbose_name='会签期限',
                                   help_text='开盘日期 − 20日（手册：工作完毕时间:开盘前20日完毕。）')
    late = BooleanField(default=False, verbose_name='会签逾期',
                        help_text='会签日期晚于开盘前20日。')
    oa_no = CharField(max_length=40, null=True, verbose_name='OA会签单号')
    archived = BooleanField(default=False, verbose_name='已存档',
                            help_text='手册：由项目营销组和项目客服各保存一份，各自存档。')

    class Meta:
        table_name = 'sales_document_review'
        verbose_name = '销售资料会签'
        stage = STAGE
        list_columns = ('project', 'doc_kind', 'title', 'applies_to', 'doc_version',
                        'legal_reviewed_on', 'cs_reviewed_on', 'countersign_due_on',
                        'countersigned_on', 'late', 'oa_no', 'archived')
        filters = ('project', 'doc_kind', 'applies_to', 'countersigned_on', 'late', 'archived')
        search = ('title', 'drafted_by', 'oa_no')
        natural_key = ('project', 'doc_kind', 'title', 'doc_version')
        default_sort = (('countersign_due_on', False), ('doc_kind', False))
        readonly = ('countersign_due_on', 'late', 'draft_due_on')
        deadlines = (Deadline(what='销售资料会签', due_field='countersign_due_on',
                              clause='工作完毕时间:开盘前20日完毕。',
                              manual=_manual('项目开盘前各阶段风险控制 三、参与开盘前销售资料会签'),
                              open_when=lambda m: m.countersigned_on.is_null()),
                     Deadline(what='买卖合同及附件制作', due_field='draft_due_on',
                              clause=rules.CONTRACT_DRAFT_CLAUSE,
                              manual=_manual('项目开盘前各阶段风险控制 三、合同及合同附件制作'),
                              open_when=lambda m: m.drafted_on.is_null(), owner='营销管理部'))

    def __str__(self):
        return '%s %s' % (self.doc_kind, self.title or '')

    def derive(self):
        launch_on, _ = _project_dates(self.__data__.get('project'))
        self.countersign_due_on = rules.document_countersign_due(launch_on)
        self.draft_due_on = rules.contract_draft_due(self.doc_kind, launch_on)
        self.late = bool(rules.document_review_late(self.countersigned_on, launch_on))

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.document_review_problems(self.legal_reviewed_on, self.cs_reviewed_on,
                                                  self.countersigned_on, self.oa_no, today())
        if self.drafted_on and self.drafted_on > today():
            yield 'drafted_on', '制作日期不能晚于今天（%s）。' % today().isoformat()
        if self.drafted_on and self.countersigned_on and self.drafted_on > self.countersigned_on:
            yield 'drafted_on', '制作日期不能晚于会签日期。'


# --------------------------------------------------------------------------- promises

class SalesPromise(ProjectRegister):
    """销售承诺台账 — every promise is checked before delivery."""
    source = CharField(max_length=16, choices=choices(*rules.PROMISE_SOURCES), verbose_name='来源')
    content = TextField(verbose_name='承诺内容')
    scope = CharField(max_length=8, choices=choices('全体业主', '部分房源', '单户'),
                      default='全体业主', verbose_name='承诺范围')
    unit = ForeignKeyField(Unit, null=True, backref='+', on_delete='RESTRICT', verbose_name='房源',
                           help_text='单户承诺时选择。')
    scope_note = CharField(max_length=200, null=True, verbose_name='范围说明',
                           help_text='部分房源时写明楼栋/户型。')
    responsible_department = ForeignKeyField(Department, null=True, backref='+',
                                             on_delete='RESTRICT', verbose_name='责任部门')
    status = CharField(max_length=8, choices=choices(*rules.PROMISE_STATUSES), default='待兑现',
                       verbose_name='兑现状态',
                       help_text='手册（交付前风险检查）：销售承诺类(含客户提出旳变更),核对所有销售承诺旳实现状况。')
    checked_on = DateField(null=True, verbose_name='核查日期')
    check_due_on = DateField(null=True, verbose_name='梳理期限',
                             help_text='交付日期前两个月（手册：交付前两个月由项目中心组织对交付旳产品质量、'
                                       '设计缺陷、销售承诺等问题进行梳理,对无法整治旳问题拟定统一说辞）。')
    unified_script = ForeignKeyField(SalesScript, null=True, backref='+', on_delete='RESTRICT',
                                     verbose_name='统一说辞',
                                     help_text='无法兑现的承诺须在交付前确定统一说辞。')

    class Meta:
        table_name = 'sales_promise'
        verbose_name = '销售承诺台账'
        stage = STAGE
        list_columns = ('project', 'source', 'content', 'scope', 'unit', 'responsible_department',
                        'status', 'check_due_on', 'checked_on', 'unified_script',
                        'open_before_delivery')
        filters = ('project', 'source', 'scope', 'status', 'responsible_department',
                   'check_due_on', 'checked_on', 'unified_script')
        search = ('content', 'scope_note')
        natural_key = ('project', 'source', 'content')
        workflow = rules.PROMISE_WORKFLOW
        lookup = ('content',)
        default_sort = (('status', False), ('id', False))
        readonly = ('check_due_on',)
        deadlines = (Deadline(what='销售承诺兑现核对', due_field='check_due_on',
                              clause='交付前两个月由项目中心组织对交付旳产品质量、设计缺陷、销售承诺等问题'
                                     '进行梳理,对无法整治旳问题拟定统一说辞。',
                              manual=_manual('房屋交付入住前风险控制 三、交付前风险检查'),
                              open_when=lambda m: (m.status == '待兑现') | (
                                  (m.status == '无法兑现') & m.unified_script.is_null()),
                              owner_field='responsible_department'),)

    def __str__(self):
        return '%s：%s' % (self.source, (self.content or '')[:30])

    def derive(self):
        _, delivery_on = _project_dates(self.__data__.get('project'))
        self.check_due_on = rules.unified_script_due(delivery_on)

    def problems(self, actor):
        yield from super().problems(actor)
        script_kind = SalesScript.kind_of(self.__data__.get('unified_script'))
        yield from rules.promise_problems(self.status, self.checked_on, script_kind, today())
        if self.scope == '单户' and not self.__data__.get('unit'):
            yield 'unit', '单户承诺须选择房源。'

    @property
    def open_before_delivery(self):
        return '未闭合' if rules.promise_is_open(self.status,
                                               bool(self.__data__.get('unified_script'))) else ''


# --------------------------------------------------------------------------- floor plans

class FloorPlanCheck(ProjectRegister):
    """户型图现场复查 — site layout against the DM sheet while standard floors are ≤50% built."""
    unit = ForeignKeyField(Unit, backref='+', on_delete='RESTRICT', verbose_name='房源')
    checked_on = DateField(verbose_name='复查日期')
    matches_dm = BooleanField(default=True, verbose_name='与DM单一致')
    discrepancy = TextField(null=True, verbose_name='差异内容')
    checker = CharField(max_length=32, verbose_name='复查人')
    structure_progress = IntegerField(null=True, verbose_name='标准层主体完成比例(%)',
                                      help_text='手册：完毕时间:原则层主体完毕50%内完毕。超过50%视为复查滞后。')
    late = BooleanField(default=False, verbose_name='复查滞后')
    photo = AttachmentField(kinds=('image',), verbose_name='现场照片')

    class Meta:
        table_name = 'floor_plan_check'
        verbose_name = '户型图现场复查'
        stage = STAGE
        list_columns = ('project', 'unit', 'unit_kind', 'checked_on', 'matches_dm', 'discrepancy',
                        'checker', 'structure_progress', 'late')
        filters = ('project', 'checked_on', 'matches_dm', 'late', 'checker')
        search = ('discrepancy', 'checker')
        natural_key = ('project', 'unit', 'checked_on')
        default_sort = (('checked_on', True),)
        readonly = ('late',)

    def __str__(self):
        return '%s %s' % (self.unit if self.__data__.get('unit') else '', self.checked_on or '')

    def derive(self):
        self.late = bool(rules.floor_plan_check_late(self.structure_progress))

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.floor_plan_check_problems(self.matches_dm, self.discrepancy,
                                                   self.structure_progress, self.checked_on,
                                                   today())

    @property
    def unit_kind(self):
        unit = self.unit if self.__data__.get('unit') else None
        return rules.unit_category(unit.special_kind) if unit else ''


# --------------------------------------------------------------------------- design changes

class DesignChange(ProjectRegister):
    """设计变更台账 — changes issued after launch go to CS, sales and legal; letters are kept."""
    change_no = CharField(max_length=40, verbose_name='变更编号')
    issued_on = DateField(verbose_name='下发日期')
    issuing_department = ForeignKeyField(Department, null=True, backref='+', on_delete='RESTRICT',
                                         verbose_name='下发部门')
    content = TextField(verbose_name='变更内容')
    affected_scope = CharField(max_length=200, null=True, verbose_name='影响范围',
                               help_text='楼栋/房源/户型。')
    after_launch = BooleanField(default=False, verbose_name='开盘后下发',
                                help_text='按项目开盘日期自动判断（开盘当日下发的计为开盘后）。手册：凡在销售开盘后下发旳'
                                          '所有设计变更须及时告知客户服务部、销售部及法务。')
    cs_notified_on = DateField(null=True, verbose_name='告知客服日期')
    sales_notified_on = DateField(null=True, verbose_name='告知销售日期')
    legal_notified_on = DateField(null=True, verbose_name='告知法务日期')
    pending_departments = CharField(max_length=40, null=True, verbose_name='待告知部门')
    customer_notice_required = BooleanField(default=False, verbose_name='需告知客户',
                                            help_text='由客户服务部和法务根据法规判断与否需要及时告知客户。')
    notice_basis = TextField(null=True, verbose_name='判断依据')
    complaint_risk = CharField(max_length=2, choices=choices(*rules.COMPLAINT_RISKS),
                               verbose_name='投诉风险')
    notice_method = CharField(max_length=4, choices=choices(*rules.NOTICE_METHODS), null=True,
                              verbose_name='告知方式')
    letters_sent_on = DateField(null=True, verbose_name='发函日期',
                                help_text='手册：对于已告知客户旳设计变更及发函情况需在项目客服建立台帐,以备后期核查。')
    owners_to_notify = IntegerField(null=True, verbose_name='应告知业主数')
    owners_notified = IntegerField(default=0, verbose_name='已告知业主数')
    owners_left = IntegerField(default=0, verbose_name='待告知业主数')
    impact = TextField(null=True, verbose_name='影响说明',
                       help_text='交付前未告知业主且投诉风险高的变更，须写明影响范围、影响程度和处理建议。')
    suggestion = TextField(null=True, verbose_name='处理建议')
    customer_feedback = TextField(null=True, verbose_name='客户反馈')
    follow_up = TextField(null=True, verbose_name='跟进情况')
    status = CharField(max_length=8, choices=choices(*rules.CHANGE_STATUSES), default='开盘前变更',
                       verbose_name='状态', help_text='按各告知日期自动判断。')

    class Meta:
        table_name = 'design_change'
        verbose_name = '设计变更台账'
        stage = STAGE
        list_columns = ('project', 'change_no', 'issued_on', 'issuing_department', 'content',
                        'affected_scope', 'after_launch', 'pending_departments',
                        'customer_notice_required', 'complaint_risk', 'letters_sent_on',
                        'owners_to_notify', 'owners_notified', 'owners_left', 'status')
        filters = ('project', 'after_launch', 'complaint_risk', 'customer_notice_required',
                   'status', 'issued_on', 'letters_sent_on', 'issuing_department')
        search = ('change_no', 'content', 'affected_scope', 'customer_feedback', 'follow_up')
        natural_key = ('project', 'change_no')
        default_sort = (('issued_on', True),)
        readonly = ('after_launch', 'pending_departments', 'owners_left', 'status')
        indexes = ((('project', 'change_no'), True),)

    def __str__(self):
        return self.change_no

    def derive(self):
        launch_on, _ = _project_dates(self.__data__.get('project'))
        self.after_launch = rules.design_change_after_launch(self.issued_on, launch_on)
        pending = rules.pending_notices(self.after_launch, self.cs_notified_on,
                                        self.sales_notified_on, self.legal_notified_on)
        self.pending_departments = '、'.join(pending) or None
        self.owners_left = rules.owners_still_to_tell(self.customer_notice_required,
                                                      self.owners_to_notify, self.owners_notified)
        self.status = rules.design_change_status(
            self.after_launch, pending, self.customer_notice_required, self.letters_sent_on,
            self.owners_left, self.owners_notified)

    def problems(self, actor):
        yield from super().problems(actor)
        yield from rules.design_change_problems(
            self.customer_notice_required, self.notice_basis, self.notice_method,
            self.letters_sent_on, self.owners_to_notify, self.owners_notified, self.issued_on,
            {'cs_notified_on': self.cs_notified_on, 'sales_notified_on': self.sales_notified_on,
             'legal_notified_on': self.legal_notified_on}, today())
        clash = DesignChange.select(DesignChange.id).where(
            (DesignChange.project == self.__data__.get('project')) &
            (DesignChange.change_no == self.change_no))
        if self.get_id() is not None:
            clash = clash.where(DesignChange.id != self.get_id())
        if self.change_no and clash.exists():
            yield 'change_no', '本项目已有变更编号 %s，不能重复登记。' % self.change_no

    @property
    def needs_pre_delivery_review(self):
        return rules.change_needs_pre_delivery_review(
            self.after_launch, self.complaint_risk, self.letters_sent_on, self.owners_to_notify,
            self.owners_notified)


# --------------------------------------------------------------------------- per-project figures

def floor_plan_coverage(project_id):
    """(coverage rows, meets) of one project: live units against live checks (rules.floor_plan_coverage)."""
    units = [(u.id, u.special_kind) for u in
             Unit.select(Unit.id, Unit.special_kind).where(
                 (Unit.project == project_id) & Unit.deleted_at.is_null())]
    checked = [c.unit_id for c in
               FloorPlanCheck.select(FloorPlanCheck.unit).where(
                   (FloorPlanCheck.project == project_id) & FloorPlanCheck.deleted_at.is_null())]
    return rules.floor_plan_coverage(units, checked)


def open_findings_count(project_id):
    return (RiskFinding.select().where((RiskFinding.project == project_id) &
                                       RiskFinding.deleted_at.is_null() &
                                       (RiskFinding.status != rules.FINDING_CLOSED)).count())


def open_promises_count(project_id):
    rows = (SalesPromise.select(SalesPromise.status, SalesPromise.unified_script)
            .where((SalesPromise.project == project_id) & SalesPromise.deleted_at.is_null()))
    return rules.count_open_promises((r.status, r.__data__.get('unified_script') is not None)
                                     for r in rows)


def changes_untold_high_risk(project_ids=None):
    """After-launch, high complaint risk, not (fully) told to owners — the pre-delivery check."""
    query = (DesignChange.select()
             .where(DesignChange.deleted_at.is_null() & (DesignChange.after_launch == True) &  # noqa: E712
                    (DesignChange.complaint_risk == '高'))
             .order_by(DesignChange.project, DesignChange.issued_on))
    if project_ids is not None:
        query = query.where(DesignChange.project.in_(project_ids or [0]))
    return [c for c in query if c.needs_pre_delivery_review]


def project_risk_figures(project_id):
    """What the project page shows of risk control: open findings and promises, untold changes."""
    changes = (DesignChange.select(fn.COUNT(DesignChange.id), fn.SUM(DesignChange.owners_left))
               .where((DesignChange.project == project_id) & DesignChange.deleted_at.is_null())
               .scalar(as_tuple=True))
    return {
        'open_findings': open_findings_count(project_id),
        'open_promises': open_promises_count(project_id),
        'owners_still_to_tell': int(changes[1] or 0),
        'high_risk_untold_changes': len(changes_untold_high_risk([project_id])),
        'coverage_meets': floor_plan_coverage(project_id)[1],
    }


def _add_late_columns():
    """Columns added after the risk tables first shipped: a database made before gets them."""
    from models.schema import add_column
    tables = db.get_tables()
    for table, name in (('sales_promise', 'check_due_on'), ('risk_disclosure', 'display_due_on')):
        if table in tables:
            add_column(table, name, DateField(null=True))


SCHEMA_HOOKS.append(_add_late_columns)


# Registers whose derived fields follow the project's launch or delivery date.
DATE_DERIVED = (
    (RiskInspection, ('anchor_on', 'window_start_on', 'due_on', 'out_of_window')),
    (SalesDocumentReview, ('countersign_due_on', 'late', 'draft_due_on')),
    (DesignChange, ('after_launch', 'pending_departments', 'owners_left', 'status')),
    (SalesPromise, ('check_due_on',)),
    (RiskDisclosure, ('display_due_on',)),
)


def refresh_for_project(project_id):
    """Re-derive the rows whose dates count from the project's launch/delivery date.

    Runs when a project's launch or delivery date changes (Project.after_save calls every
    PROJECT_DATE_HOOKS entry): a changed launch date moves every countersign deadline and may
    turn a change into an after-launch one. Derived values only: no change_log rows, versions untouched.
    Returns the number of rows whose derived values changed.
    """
    changed = 0
    for model, names in DATE_DERIVED:
        for row in model.select().where((model.project == project_id) & model.deleted_at.is_null()):
            before = {n: row.__data__.get(n) for n in names}
            row.derive()
            after = {n: row.__data__.get(n) for n in names}
            if after != before:
                model.update({model._meta.fields[n]: v for n, v in after.items()}) \
                    .where(model.id == row.id).execute()
                changed += 1
    return changed


PROJECT_DATE_HOOKS.append(refresh_for_project)
