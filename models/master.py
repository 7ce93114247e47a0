"""基础数据 — master data (REGISTERS.md §1): projects, units, owners, contracts, departments,
contractors; and `ProjectRegister`, the base of every register that belongs to a project."""
from peewee import (BooleanField, CharField, DateField, DecimalField, ForeignKeyField,
                    IntegerField, TextField)

from models.base import BaseModel, Register, User, choices
from models.notify import ROBOT_KINDS
from rules import master as rules

STAGE = '基础数据'

REGIONS = choices('浙江', '上海', '北京', '江苏', '安徽', '山东', '天津', '其他')
PROJECT_STAGES = choices('规划设计', '在售', '交付准备', '已交付', '出保')
SPECIAL_KINDS = choices(*rules.SPECIAL_KINDS)
UNIT_STATUSES = choices('未售', '已售', '已交付')
PAYMENT_METHODS = choices('一次性', '商业贷款', '公积金', '组合贷')
MORTGAGE_STATUSES = choices('资料收集', '已递交', '已审批', '已放款')
FILING_STATUSES = choices('未备案', '已网签', '已备案')
CERTIFICATE_STATUSES = choices('未办', '办理中', '已办', '已领取')
CONTRACTOR_KINDS = choices('总包', '分包', '监理', '营销代理', '物业', '第三方')


# Stage modules append callables(project_id) that re-derive their rows' dates when a project's
# launch or delivery date changes (e.g. risk inspections' due dates, countersign deadlines).
PROJECT_DATE_HOOKS = []


def rederive(model, project_id, names):
    """Re-derive `names` of every live row of `model` in the project (its dates moved); a derived
    value, not anyone's edit: no change_log rows. What PROJECT_DATE_HOOKS call."""
    for row in list(model.live().where(model.project == project_id)):
        row.derive()
        model.update({model._meta.fields[n]: row.__data__.get(n) for n in names}) \
             .where(model.id == row.id).execute()
PROJECT_DATE_FIELDS = ('launch_date', 'contract_delivery_date', 'delivery_start_date',
                       'handover_completed_on')
# The region's heating and cooling seasons (warranty periods of 2 seasons, 第四十条) as 'MM-DD'.
SEASON_FIELDS = ('heating_season_starts', 'heating_season_ends', 'cooling_season_starts',
                 'cooling_season_ends')
PROJECT_DATE_FIELDS += SEASON_FIELDS
SEASON_HELP = '按项目所在区域填写「月-日」；保修期按“2个采暖期、供冷期”计算（建设工程质量管理条例 第四十条）。'


class Project(Register):
    code = CharField(max_length=32, unique=True, verbose_name='项目编码')
    name = CharField(max_length=100, verbose_name='项目名称')
    region = CharField(max_length=16, choices=REGIONS, verbose_name='区域')
    city = CharField(max_length=32, verbose_name='城市')
    company = CharField(max_length=100, null=True, verbose_name='项目公司')
    launch_date = DateField(null=True, verbose_name='开盘日期')
    contract_delivery_date = DateField(null=True, verbose_name='合同约定交付日期')
    delivery_start_date = DateField(null=True, verbose_name='实际集中交付日期',
                                    help_text='集中交付开始日（T日）；未定时按合同约定交付日期计算各节点。')
    handover_completed_on = DateField(
        null=True, verbose_name='集中交付完成日期',
        help_text='房屋交付工作完成之日，由客服经理填写；空则取交楼名单最后一个预约交付日。'
                  '“完成三日内/15日内”的期限由此起算（手册001），两者皆无时为“待定”。')
    total_units = IntegerField(default=0, verbose_name='总户数',
                               help_text='由房源台账自动统计。')
    sold_units = IntegerField(default=0, verbose_name='已售户数',
                              help_text='由房源台账自动统计（已售 + 已交付）。')
    stage = CharField(max_length=16, choices=PROJECT_STAGES, default='在售', verbose_name='阶段')
    heating_season_starts = CharField(max_length=5, default='11-15', verbose_name='采暖期开始',
                                      help_text=SEASON_HELP)
    heating_season_ends = CharField(max_length=5, default='03-15', verbose_name='采暖期结束',
                                    help_text=SEASON_HELP)
    cooling_season_starts = CharField(max_length=5, default='06-01', verbose_name='供冷期开始',
                                      help_text=SEASON_HELP)
    cooling_season_ends = CharField(max_length=5, default='09-30', verbose_name='供冷期结束',
                                    help_text=SEASON_HELP)
    # The project's group robot (models/notify.py): the morning summary and the daily handover
    # report go there. Set by administrators only (Meta.field_powers).
    robot_webhook = CharField(max_length=500, null=True, verbose_name='群机器人地址',
                              help_text='企业微信、钉钉或飞书群机器人的 Webhook 地址（https://…）。')
    robot_kind = CharField(max_length=8, null=True, choices=[(k, k) for k in ROBOT_KINDS],
                           verbose_name='群机器人类型')
    robot_secret = CharField(max_length=200, null=True, verbose_name='群机器人签名密钥',
                             help_text='钉钉“加签”或飞书“签名校验”的密钥；企业微信不需要。')

    class Meta:
        table_name = 'project'
        verbose_name = '项目'
        stage = STAGE
        list_columns = ('code', 'name', 'region', 'city', 'company', 'stage', 'launch_date',
                        'contract_delivery_date', 'delivery_start_date', 'total_units',
                        'sold_units')
        filters = ('region', 'city', 'stage', 'launch_date', 'contract_delivery_date',
                   'delivery_start_date')
        search = ('code', 'name', 'city', 'company')
        natural_key = ('code',)
        default_sort = (('code', False),)
        readonly = ('total_units', 'sold_units')
        create_power = delete_power = 'manage_projects'    # admins add and remove projects
        edit_power = 'manage_master'                       # supervisors keep their dates
        field_powers = {'robot_webhook': 'manage_projects', 'robot_kind': 'manage_projects',
                        'robot_secret': 'manage_projects'}
        masked = {'robot_webhook': 'manage_projects', 'robot_secret': 'manage_projects'}

    def __str__(self):
        return self.name

    @property
    def delivery_date(self):
        """T day of the handover countdown: the actual start, else the contract date."""
        return self.delivery_start_date or self.contract_delivery_date

    def problems(self, actor):
        yield from super().problems(actor)
        start = self.delivery_start_date
        if self.handover_completed_on and start and self.handover_completed_on < start:
            yield 'handover_completed_on', '集中交付完成日期不能早于实际集中交付日期（%s）。' % start
        from rules.aftercare import month_day_problem
        for name in SEASON_FIELDS:
            problem = month_day_problem(getattr(self, name))
            if problem:
                yield name, '「%s」%s' % (self.label(name), problem)

    def after_save(self, actor, created):
        if not created and any(self.original(n) != self.__data__.get(n) for n in PROJECT_DATE_FIELDS):
            for hook in PROJECT_DATE_HOOKS:
                hook(self.id)

    @property
    def seasons(self):
        """(heating, cooling) seasons of the project's region (rules.aftercare.Season)."""
        from rules.aftercare import project_seasons
        return project_seasons(*(getattr(self, name) for name in SEASON_FIELDS))

    def refresh_unit_counts(self):
        """Keep total/sold units in step with the unit register (derived, not logged)."""
        total, sold = rules.unit_counts(Unit, self.id)
        Project.update(total_units=total, sold_units=sold).where(Project.id == self.id).execute()


class ProjectRegister(Register):
    """A register row that belongs to one project: what project scoping filters on."""
    project = ForeignKeyField(Project, backref='+', on_delete='RESTRICT', verbose_name='项目')
    _abstract = True     # a base, not a register: no table


class UserProject(BaseModel):
    """Which projects a clerk or supervisor works on."""
    user = ForeignKeyField(User, backref='project_links', on_delete='CASCADE')
    project = ForeignKeyField(Project, backref='+', on_delete='CASCADE')

    class Meta:
        table_name = 'user_project'
        indexes = ((('user', 'project'), True),)


class Department(Register):
    name = CharField(max_length=64, unique=True, verbose_name='部门名称')
    duties = TextField(null=True, verbose_name='职责')

    class Meta:
        table_name = 'department'
        verbose_name = '部门'
        stage = STAGE
        list_columns = ('name', 'duties')
        filters = ()
        search = ('name', 'duties')
        natural_key = ('name',)
        default_sort = (('name', False),)
        create_power = edit_power = delete_power = 'manage_master'

    def __str__(self):
        return self.name


class Contractor(Register):
    name = CharField(max_length=100, unique=True, verbose_name='单位名称')
    kind = CharField(max_length=16, choices=CONTRACTOR_KINDS, verbose_name='单位类型')
    contact = CharField(max_length=32, null=True, verbose_name='联系人')
    phone = CharField(max_length=32, null=True, verbose_name='联系电话')

    class Meta:
        table_name = 'contractor'
        verbose_name = '责任单位'
        stage = STAGE
        list_columns = ('name', 'kind', 'contact', 'phone')
        filters = ('kind',)
        search = ('name', 'contact', 'phone')
        natural_key = ('name',)
        default_sort = (('name', False),)
        create_power = edit_power = delete_power = 'manage_master'    # shared by every project

    def __str__(self):
        return self.name


class Unit(ProjectRegister):
    building = CharField(max_length=16, verbose_name='楼栋')
    entrance = CharField(max_length=16, default='1', verbose_name='单元')
    room = CharField(max_length=16, verbose_name='房号')
    floor = IntegerField(null=True, verbose_name='楼层')
    layout = CharField(max_length=32, null=True, verbose_name='户型')
    special_kind = CharField(max_length=8, choices=SPECIAL_KINDS, default='标准层',
                             verbose_name='特殊户型',
                             help_text='首层/二层/边户/非标层须 100% 户型图复查；标准层抽查 ≥25%。')
    contract_area = DecimalField(max_digits=10, decimal_places=2, null=True,
                                 verbose_name='合同面积(㎡)')
    measured_area = DecimalField(max_digits=10, decimal_places=2, null=True,
                                 verbose_name='实测面积(㎡)')
    heating_area = DecimalField(max_digits=10, decimal_places=2, null=True,
                                verbose_name='供暖面积(㎡)')
    status = CharField(max_length=8, choices=UNIT_STATUSES, default='未售', verbose_name='状态')

    class Meta:
        table_name = 'unit'
        verbose_name = '房源'
        stage = STAGE
        list_columns = ('project', 'building', 'entrance', 'room', 'floor', 'layout',
                        'special_kind', 'contract_area', 'measured_area', 'status')
        filters = ('project', 'building', 'special_kind', 'status', 'floor')
        search = ('building', 'room', 'layout')
        natural_key = ('project', 'building', 'entrance', 'room')
        default_sort = (('building', False), ('entrance', False), ('room', False))
        indexes = ((('project', 'building', 'entrance', 'room'), True),
                   (('project', 'status'), False))

    def __str__(self):
        return '%s-%s-%s' % (self.building, self.entrance, self.room)

    def problems(self, actor):
        yield from super().problems(actor)
        clash = Unit.select(Unit.id).where(
            (Unit.project == self.__data__.get('project')) & (Unit.building == self.building) &
            (Unit.entrance == self.entrance) & (Unit.room == self.room))
        if self.get_id() is not None:
            clash = clash.where(Unit.id != self.get_id())
        if clash.exists():
            yield 'room', '本项目已有房号 %s，不能重复登记。' % self
        for name in ('contract_area', 'measured_area', 'heating_area'):
            value = getattr(self, name)
            if value is not None and value <= 0:
                yield name, '「%s」必须大于 0。' % self.label(name)

    def after_save(self, actor, created):
        # Counts move by this row's change, so a 50,000-row import does not recount the project
        # 50,000 times; deletes and restores (rare) recount.
        sold = ('已售', '已交付')
        before = getattr(self, '_before_row', None)
        project_id = self.__data__['project']
        if self.deleted_at is None and (created or before is not None) and \
                (created or before.__data__.get('project') == project_id):
            was_sold = (not created) and before.status in sold
            d_total = 1 if created else 0
            d_sold = int(self.status in sold) - int(was_sold)
            if d_total or d_sold:
                Project.update(total_units=Project.total_units + d_total,
                               sold_units=Project.sold_units + d_sold) \
                    .where(Project.id == project_id).execute()
            return
        Project.get_by_id(project_id).refresh_unit_counts()
        if before is not None and before.__data__.get('project') != project_id:
            Project.get_by_id(before.__data__['project']).refresh_unit_counts()


class Owner(ProjectRegister):
    name = CharField(max_length=64, verbose_name='姓名')
    phone = CharField(max_length=32, null=True, verbose_name='联系电话')
    id_number = CharField(max_length=32, null=True, verbose_name='证件号码')
    mailing_address = CharField(max_length=200, null=True, verbose_name='邮寄地址')

    class Meta:
        table_name = 'owner'
        verbose_name = '客户/业主'
        stage = STAGE
        list_columns = ('project', 'name', 'phone', 'id_number', 'mailing_address')
        filters = ('project',)
        search = ('name', 'phone', 'mailing_address')
        natural_key = ('project', 'id_number')
        default_sort = (('name', False),)
        # field -> the permission that shows it unmasked (ROLE_PERMISSIONS)
        masked = {'id_number': 'see_id_number', 'phone': 'see_phone'}

    def __str__(self):
        return self.name

    def problems(self, actor):
        yield from super().problems(actor)
        if self.id_number and not rules.id_number_looks_valid(self.id_number):
            yield 'id_number', '证件号码格式不正确：身份证应为 18 位（末位可为 X）。'
        if self.phone and not rules.phone_looks_valid(self.phone):
            yield 'phone', '联系电话格式不正确：应为 11 位手机号或带区号的固话。'


class Contract(ProjectRegister):
    contract_no = CharField(max_length=40, unique=True, verbose_name='合同编号')
    unit = ForeignKeyField(Unit, backref='contracts', on_delete='RESTRICT', verbose_name='房源')
    owner = ForeignKeyField(Owner, backref='contracts', on_delete='RESTRICT', verbose_name='业主')
    co_owner = ForeignKeyField(Owner, null=True, backref='+', on_delete='RESTRICT',
                               verbose_name='共有人')
    sign_date = DateField(verbose_name='签约日期')
    total_price = DecimalField(max_digits=14, decimal_places=2, verbose_name='总价(元)')
    payment_method = CharField(max_length=8, choices=PAYMENT_METHODS, verbose_name='付款方式')
    mortgage_bank = CharField(max_length=64, null=True, verbose_name='按揭银行')
    mortgage_status = CharField(max_length=8, choices=MORTGAGE_STATUSES, null=True,
                                verbose_name='按揭状态')
    loan_amount = DecimalField(max_digits=14, decimal_places=2, null=True,
                               verbose_name='贷款金额(元)')
    disbursed_date = DateField(null=True, verbose_name='放款日期')
    filing_status = CharField(max_length=8, choices=FILING_STATUSES, default='未备案',
                              verbose_name='网签备案')
    filed_date = DateField(null=True, verbose_name='备案日期')
    pre_registration_date = DateField(null=True, verbose_name='预告登记日期')
    cancelled = BooleanField(default=False, verbose_name='作废')
    cancel_date = DateField(null=True, verbose_name='作废日期')
    cancel_reason = CharField(max_length=200, null=True, verbose_name='作废原因')
    certificate_status = CharField(max_length=8, choices=CERTIFICATE_STATUSES, default='未办',
                                   verbose_name='产权证')
    certificate_date = DateField(null=True, verbose_name='产权证日期')
    paid_in_full = BooleanField(default=False, verbose_name='房款结清',
                                help_text='手册004：交楼名单只列房款已结清的业主。')
    agreed_delivery_date = DateField(null=True, verbose_name='约定交付日期',
                                     help_text='空则取项目的合同约定交付日期；逾期交房违约金由此起算。')
    late_penalty_rate = DecimalField(max_digits=8, decimal_places=6, null=True,
                                     verbose_name='延期交房违约金日费率',
                                     help_text='如 0.0001 即每日万分之一，按总价计。')
    household = CharField(max_length=4, choices=choices(*rules.HOUSEHOLDS), null=True,
                          verbose_name='户籍', help_text=rules.NONLOCAL_CLAUSE)
    social_security_proof = BooleanField(default=False, verbose_name='一年社保证明')
    tax_proof = BooleanField(default=False, verbose_name='一年纳税证明')

    class Meta:
        table_name = 'contract'
        verbose_name = '合同台账'
        stage = STAGE
        list_columns = ('project', 'contract_no', 'unit', 'owner', 'sign_date', 'total_price',
                        'payment_method', 'mortgage_status', 'filing_status', 'cancelled',
                        'paid_in_full', 'certificate_status')
        filters = ('project', 'payment_method', 'mortgage_status', 'filing_status', 'cancelled',
                   'paid_in_full', 'certificate_status', 'sign_date', 'disbursed_date', 'household')
        search = ('contract_no', 'mortgage_bank', 'cancel_reason')
        natural_key = ('contract_no',)
        default_sort = (('sign_date', True),)
        indexes = ((('project', 'sign_date'), False),)

    def __str__(self):
        return self.contract_no

    def problems(self, actor):
        yield from super().problems(actor)
        for field, message in rules.contract_problems(
                payment_method=self.payment_method, mortgage_bank=self.mortgage_bank,
                mortgage_status=self.mortgage_status, loan_amount=self.loan_amount,
                total_price=self.total_price, disbursed_date=self.disbursed_date,
                sign_date=self.sign_date, cancelled=self.cancelled,
                cancel_date=self.cancel_date, cancel_reason=self.cancel_reason,
                filing_status=self.filing_status, filed_date=self.filed_date,
                late_penalty_rate=self.late_penalty_rate):
            yield field, message
        yield from rules.nonlocal_buyer_problems(self.household, self.social_security_proof,
                                                 self.tax_proof)
        unit_id = self.__data__.get('unit')
        if unit_id and not self.cancelled:
            clash = Contract.select(Contract.contract_no).where(
                (Contract.unit == unit_id) & (Contract.cancelled == False) &  # noqa: E712
                Contract.deleted_at.is_null())
            if self.get_id() is not None:
                clash = clash.where(Contract.id != self.get_id())
            other = clash.first()
            if other is not None:
                yield 'unit', '该房源已有有效合同 %s，请先作废原合同。' % other.contract_no

    def after_save(self, actor, created):
        # The unit's status follows its live, valid contract (rules.unit_status_from_contracts):
        # on signing, cancelling, deleting, restoring and importing alike — and the unit a
        # contract was moved away from follows too.
        before = getattr(self, '_before_row', None)
        units = {self.__data__['unit']}
        if before is not None:
            units.add(before.__data__.get('unit'))
        for unit_id in units:
            sync_unit_status(unit_id)

    @property
    def delivery_due_on(self):
        return self.agreed_delivery_date or self.project.contract_delivery_date


def sync_unit_status(unit_id):
    """Set the unit's status from its contracts (rules.unit_status_from_contracts) and keep the
    project's sold count in step; returns the status."""
    unit = Unit.get_or_none(Unit.id == unit_id)
    if unit is None:
        return None
    valid = Contract.live().where((Contract.unit == unit_id) &
                                  (Contract.cancelled == False)).exists()  # noqa: E712
    status = rules.unit_status_from_contracts(unit.status, valid)
    if status != unit.status:
        Unit.update(status=status).where(Unit.id == unit_id).execute()
        Project.get_by_id(unit.__data__['project']).refresh_unit_counts()
    return status


EXTRA_MODELS = [UserProject]
