"""Demo data after handover: repairs, complaints with their follow-up log, work contact forms,
compensation, warranty items and callback surveys — chosen so that every rule shows:
warranty items whose owner notice is due (expiring next month), one already notified; a 重大
complaint waiting at 核查 for a supervisor; an overdue contact form; a compensation still without
OA approval; centralized repairs inside the 3-month window; a callback survey below the 25% line
(so the delivered project stays on the callback-due list) and a valid one.
"""
import datetime
from decimal import Decimal

from models.aftercare import (CallbackSurvey, Compensation, Complaint, ComplaintFollowUp, RepairOrder,
                              SurveyResponse, WarrantyItem, WorkContactForm)
from models.base import now
from rules import aftercare as rules

DAY = datetime.timedelta(days=1)

REPAIR_TEXTS = (
    ('防水渗漏', '卫生间地面渗水至楼下'), ('门窗', '主卧窗户关闭不严，漏风'), ('给排水', '厨房下水管接口滴水'),
    ('电气', '客厅插座无电'), ('装修', '客厅墙面乳胶漆开裂'), ('土建', '阳台地砖空鼓'),
    ('门窗', '入户门锁芯卡顿'), ('暖通', '地暖分集水器漏水'), ('装修', '橱柜门板变形'),
    ('公共部位', '单元门禁失灵'), ('防水渗漏', '外墙窗边渗水'), ('给排水', '阳台地漏返味'),
)
COMPLAINT_TEXTS = (
    ('工程质量', '来电', '交付时发现次卧墙面大面积空鼓，要求整改并延期收房'),
    ('销售承诺', '来访', '样板间展示的地暖在交付时未安装，认为与销售承诺不符'),
    ('物业', '物业转达', '地下车库照明不足，夜间安全隐患'),
    ('设计', '网络', '楼栋间距过近，低层采光差'),
    ('服务', '来电', '报修三次未上门，对客服响应不满'),
    ('合同', '集团转办', '对面积差异补款计算有异议'),
)


def author(ctx, project):
    """Who keeps a project's registers in the demo: the clerk their own project, the admin the rest
    (the clerk may not write rows of projects they do not work on)."""
    return ctx.users['clerk'] if project.id == ctx.projects[0].id else ctx.users['admin']


def _audit():
    stamp = now()
    return dict(created_at=stamp, updated_at=stamp, version=1)


def seed(ctx):
    clerk, supervisor = ctx.users['clerk'], ctx.users['supervisor']
    departments = ctx.departments
    contractors = {c.name: c for c in ctx.contractors}
    general = contractors['浙江宏远建设集团有限公司']
    waterproofing = contractors['上海申达防水工程有限公司']
    windows = contractors['杭州金盾门窗幕墙有限公司']
    decoration = contractors['安徽华美装饰工程有限公司']
    lift = contractors['通力电梯有限公司杭州分公司']
    rng, today = ctx.rng, ctx.today
    delivered_projects = [p for p in ctx.projects if p.delivery_start_date and p.delivery_start_date <= today]

    for project in delivered_projects:
        _repairs(ctx, project, [general, waterproofing, windows, decoration])
        _warranty(ctx, project, general, waterproofing, windows, decoration, lift)
    first = ctx.projects[0]
    forms = _contact_forms(ctx, first, departments)
    _complaints(ctx, first, departments, forms)
    for project in delivered_projects:
        if project.id != first.id:
            _complaint_history(ctx, project, departments)
    _surveys(ctx)


def _repairs(ctx, project, contractors):
    """Many orders (bulk): 交付验房 on the day, 集中维修 for 3 months, 日常报修 after."""
    rng, today = ctx.rng, ctx.today
    delivered_on = project.delivery_start_date
    units = [u for u in ctx.units[project.id] if u.status in ('已售', '已交付')]
    owner_by_unit = {c.unit_id: c.owner_id for c in ctx.contracts[project.id] if not c.cancelled}
    days_since = (today - delivered_on).days
    count = min(40 + days_since // 3, 220)
    rows = []
    for _ in range(count):
        unit = rng.choice(units)
        reported_on = delivered_on + DAY * int(min(days_since, 600) * rng.random() ** 2)
        category, text = rng.choice(REPAIR_TEXTS)
        source = ('交付验房' if reported_on == delivered_on else
                  rules.repair_source(None, reported_on, delivered_on))
        deadline = reported_on + DAY * rng.choice((3, 7, 15))
        done = reported_on + DAY * rng.randint(1, 20)
        completed_on = done if done <= today and rng.random() < 0.88 else None
        closed = bool(completed_on) and rng.random() < 0.93
        satisfaction = rng.choices((5, 4, 3, 2, 1), (45, 30, 14, 7, 4))[0] if closed and rng.random() < 0.8 else None
        rows.append(dict(project=project.id, unit=unit.id, owner=owner_by_unit.get(unit.id),
                         source=source, reported_on=reported_on, description=text, category=category,
                         contractor=rng.choice(contractors).id, deadline=deadline, completed_on=completed_on,
                         closed=closed, satisfaction=satisfaction,
                         revisited_on=completed_on + DAY * rng.randint(1, 5)
                         if satisfaction and completed_on + DAY * 5 <= today else None,
                         **_audit()))
    RepairOrder.insert_many(rows).execute()


def _warranty(ctx, project, general, waterproofing, windows, decoration, lift):
    """Items from the completion acceptance 60 days before delivery, plus a clubhouse fit-out accepted
    earlier, so one 2-year item expires next month and its owner notice is already due."""
    clerk, today = author(ctx, project), ctx.today
    accepted_on = project.delivery_start_date - DAY * 60
    items = [
        ('全部楼栋', rules.KIND_STRUCTURE, '地基基础和主体结构', general, dict(design_life_years=50)),
        ('全部楼栋', rules.KIND_WATERPROOFING, '屋面防水及卫生间、外墙防渗漏', waterproofing, dict(period_months=60)),
        ('全部楼栋', rules.KIND_ELECTRICAL, '户内电气管线', general, {}),
        ('全部楼栋', rules.KIND_PLUMBING, '给排水管道', general, {}),
        ('全部楼栋', rules.KIND_EQUIPMENT, '电梯设备安装', lift, dict(period_months=36)),
        ('全部楼栋', rules.KIND_DECORATION, '公共部位精装修', decoration, {}),
        ('全部楼栋', rules.KIND_OTHER, '铝合金门窗五金', windows, dict(period_months=24)),
    ]
    if project.region != '上海':
        items.append(('全部楼栋', rules.KIND_HEATING, '地暖系统', general, dict(period_seasons=2)))
    else:
        items.append(('全部楼栋', rules.KIND_COOLING, '中央空调（供冷）系统', general, dict(period_seasons=2)))
    for building, kind, item, contractor, extra in items:
        WarrantyItem.create_logged(clerk, project=project, building=building, kind=kind, item=item,
                                   contractor=contractor, contract_no='SG-%s-%02d' % (project.code, len(item)),
                                   starts_on=accepted_on, retention_amount=Decimal('300000.00'), **extra)
    # Clubhouse fit-out and landscape lighting accepted earlier: expiring next month, notice due.
    early_on = rules.add_months(today, -23) + DAY * 10
    WarrantyItem.create_logged(clerk, project=project, building='会所', kind=rules.KIND_DECORATION,
                               item='会所精装修', contractor=decoration, contract_no='SG-%s-HS' % project.code,
                               starts_on=early_on, retention_amount=Decimal('85000.00'))
    WarrantyItem.create_logged(clerk, project=project, building='室外景观', kind=rules.KIND_ELECTRICAL,
                               item='景观照明电气线路', contractor=general, contract_no='SG-%s-JG' % project.code,
                               starts_on=early_on + DAY * 5, retention_amount=Decimal('42000.00'))
    notified = WarrantyItem.create_logged(
        clerk, project=project, building='地下车库', kind=rules.KIND_PLUMBING, item='车库排水管道',
        contractor=general, contract_no='SG-%s-CK' % project.code, starts_on=early_on - DAY * 3,
        retention_amount=Decimal('36000.00'))
    notified.owners_notified_on = notified.notice_due_on + DAY * 2
    notified.issues_reported = 3
    notified.rectification_deadline = notified.owners_notified_on + DAY * 30
    notified.rectification_status = '整改中'
    notified.save_logged(clerk)


def _contact_forms(ctx, project, departments):
    clerk, today = ctx.users['clerk'], ctx.today
    plans = [
        ('工程管理部', '3栋2单元外墙渗水集中报修，请安排总包限期整改', -12, 7, -8, True),
        ('物业公司', '地下车库照明不足，请增设灯具', -9, 5, None, False),   # overdue, no reply
        ('营销管理部', '样板间地暖展示与交付标准不一致，请核实销售说辞', -6, 10, -2, False),
        ('工程管理部', '交付验房问题集中整改（首批）', -3, 15, None, False),
    ]
    forms = []
    for dept, subject, issued, days, replied, verified in plans:
        issued_on = today + DAY * issued
        form = WorkContactForm.create_logged(
            clerk, project=project, to_department=departments[dept], subject=subject,
            content=subject + '。请于期限内书面回复整改措施及完成时间。', issued_on=issued_on,
            deadline=issued_on + DAY * days)
        if replied is not None:
            form.replied_on = today + DAY * replied
            form.reply = '已安排责任单位整改，预计一周内完成。'
            if verified:
                form.verified_on = form.replied_on + DAY * 3
            form.save_logged(clerk)
        forms.append(form)
    return forms


def _advance(row, actor, status, **values):
    for name, value in values.items():
        setattr(row, name, value)
    row.status = status
    row.save_logged(actor)


def _follow_up(clerk, complaint, on, content, feedback=None):
    ComplaintFollowUp.create_logged(clerk, complaint=complaint, followed_on=on, method='电话',
                                    content=content, owner_feedback=feedback)


def _complaints(ctx, project, departments, forms):
    clerk, supervisor, today, rng = ctx.users['clerk'], ctx.users['supervisor'], ctx.today, ctx.rng
    contracts = [c for c in ctx.contracts[project.id] if not c.cancelled]
    received = [today - DAY * d for d in (4, 3, 9, 2, 20, 30)]
    rows = []
    for (category, channel, content), received_on in zip(COMPLAINT_TEXTS, received):
        contract = rng.choice(contracts)
        rows.append(Complaint.create_logged(
            clerk, project=project, unit=contract.unit_id, owner=contract.owner_id,
            received_on=received_on, channel=channel, category=category, content=content,
            severity='重大' if category in ('工程质量', '销售承诺') else '一般',
            deadline=received_on + DAY * (7 if category != '合同' else 15)))
    hollow, promise, garage, spacing, service, area = rows
    engineering = departments['工程管理部']
    # 重大 quality complaint: followed, checked, waiting for the authorised executive to close it.
    _advance(hollow, clerk, '分析', analysis='抹灰层与基层粘结不良，属施工质量问题')
    _advance(hollow, clerk, '转办', responsible_department=engineering,
             work_contact_form=forms[3] if len(forms) > 3 else None)
    _advance(hollow, clerk, '跟进')
    _follow_up(clerk, hollow, hollow.received_on + DAY, '已与业主约定上门查看空鼓范围', '同意先整改后收房')
    _follow_up(clerk, hollow, hollow.received_on + DAY * 3, '总包已铲除重做，待干燥后复查')
    _advance(hollow, clerk, '核查', resolution='空鼓墙面已铲除重做，业主初步认可')
    # 重大 sales-promise complaint: analysed and passed on, overdue.
    _advance(promise, clerk, '分析', analysis='销售说辞与交付标准不一致')
    _advance(promise, clerk, '转办', responsible_department=departments['营销管理部'],
             work_contact_form=forms[2] if len(forms) > 2 else None)
    # Garage lighting: passed on to the property company by contact form, overdue.
    _advance(garage, clerk, '分析')
    _advance(garage, clerk, '转办', responsible_department=departments['物业公司'],
             work_contact_form=forms[1] if len(forms) > 1 else None)
    _advance(garage, clerk, '跟进')
    _follow_up(clerk, garage, garage.received_on + DAY * 2, '物业已现场查看，待增设灯具')
    # Service complaint: closed by the clerk (一般).
    for status in ('分析', '转办', '跟进'):
        _advance(service, clerk, status, responsible_department=engineering)
    _follow_up(clerk, service, service.received_on + DAY, '已致歉并安排维修主管当日上门', '满意')
    _advance(service, clerk, '核查')
    _advance(service, clerk, '关闭', resolution='维修已完成，业主满意', closed_on=service.received_on + DAY * 3,
             satisfaction=4)
    # Area dispute: a 一般 complaint closed by the supervisor; a compensation follows.
    for status in ('分析', '转办', '跟进'):
        _advance(area, clerk, status, responsible_department=departments['法务部'])
    _follow_up(clerk, area, area.received_on + DAY * 5, '已提供实测报告并解释补差规则')
    _advance(area, clerk, '核查')
    _advance(area, supervisor, '关闭', resolution='按合同约定面积差异处理，减免物业费一年',
             closed_on=area.received_on + DAY * 12, satisfaction=3)
    Compensation.create_logged(
        clerk, project=project, complaint=area, unit=area.unit_id, owner=area.owner_id, kind='物业费减免',
        reason='面积差异协商处理，减免一年物业费', amount=Decimal('4860.00'),
        oa_approval_no='OA-%s-%d-0312' % (project.code, today.year), approved_on=area.closed_on - DAY,
        paid_on=area.closed_on)
    Compensation.create_logged(
        clerk, project=project, complaint=service, unit=service.unit_id, owner=service.owner_id,
        kind='现金赔付', reason='维修延误造成地板泡水，赔偿地板修复费用', amount=Decimal('2300.00'),
        oa_approval_no='OA-%s-%d-0298' % (project.code, today.year), approved_on=service.closed_on)
    Compensation.create_logged(
        clerk, project=project, complaint=hollow, unit=hollow.unit_id, owner=hollow.owner_id,
        kind='维修代偿', reason='空鼓整改期间延期收房，补偿租房费用（待OA审批）', amount=Decimal('6000.00'))


def _complaint_history(ctx, project, departments):
    """A project delivered long ago: a year and a half of complaints (bulk), nearly all closed and
    compensated through OA; two still open, one of them overdue."""
    rng, today = ctx.rng, ctx.today
    contracts = [c for c in ctx.contracts[project.id] if not c.cancelled]
    handlers = {'工程质量': '工程管理部', '设计': '设计管理部', '销售承诺': '营销管理部', '合同': '法务部',
                '物业': '物业公司', '服务': '客户关系部'}
    span = max((today - project.delivery_start_date).days, 30)
    rows = []
    for n in range(36):
        category, channel, content = rng.choice(COMPLAINT_TEXTS)
        contract = rng.choice(contracts)
        received_on = project.delivery_start_date + DAY * rng.randint(0, span - 20)
        still_open = n < 2
        closed_on = None if still_open else received_on + DAY * rng.randint(2, 18)
        rows.append(dict(
            project=project.id, unit=contract.unit_id, owner=contract.owner_id, received_on=received_on,
            channel=channel, category=category, content=content, severity='一般',
            status='跟进' if still_open else '关闭',
            responsible_department=departments[handlers[category]].id,
            deadline=(today - DAY * 6) if n == 0 else (today + DAY * 5) if n == 1 else received_on + DAY * 15,
            resolution=None if still_open else rng.choice(('已维修完毕，业主确认', '已解释说明，业主认可',
                                                          '协商一致，给予适当补偿')),
            closed_on=closed_on, satisfaction=None if still_open else rng.choice((3, 4, 4, 5, 5)),
            **_audit()))
    Complaint.insert_many(rows).execute()
    compensated = list(Complaint.select().where((Complaint.project == project.id) &
                                                (Complaint.resolution == '协商一致，给予适当补偿')))
    payments = []
    for n, complaint in enumerate(compensated):
        approved_on = complaint.closed_on - DAY
        payments.append(dict(
            project=project.id, complaint=complaint.id, unit=complaint.unit_id, owner=complaint.owner_id,
            kind=rng.choice(('现金赔付', '物业费减免', '维修代偿')), reason=complaint.content,
            amount=Decimal(rng.randint(5, 120) * 100), oa_approval_no='OA-%s-%04d' % (project.code, 100 + n),
            approved_on=approved_on, paid_on=min(today, approved_on + DAY * rng.randint(1, 10)), **_audit()))
    Compensation.insert_many(payments).execute()


def _surveys(ctx):
    """A valid signing survey on the selling project; on the delivered project an annual callback
    below the 25% line (invalid: the project stays due) and its questionnaires."""
    clerk, today, rng = ctx.users['clerk'], ctx.today, ctx.rng
    by_code = {p.code: p for p in ctx.projects}
    selling = by_code.get('HF-BH')
    if selling is not None:
        CallbackSurvey.create_logged(author(ctx, selling), project=selling, kind='签约满意度回访', period='%d年上半年' % today.year,
                                     surveyor='营销代理', planned_on=today - DAY * 60, population=100,
                                     issued=100, returned=64, report_no='HF-BH-QY-01',
                                     report_on=today - DAY * 40)
    first = ctx.projects[0]
    CallbackSurvey.create_logged(clerk, project=first, kind='交付回访', period='集中交付首周',
                                 surveyor='第三方', planned_on=today + DAY * 10,
                                 population=len([u for u in ctx.units[first.id] if u.status != '未售']))
    delivered = by_code.get('SH-JA')
    if delivered is None:
        return
    delivered_units = [u for u in ctx.units[delivered.id] if u.status == '已交付']
    population = len(delivered_units)
    issued = population
    returned = issued * 22 // 100          # 22% returned: below the 25% line, not valid
    survey = CallbackSurvey.create_logged(
        author(ctx, delivered), project=delivered, kind='年度回访', period='交付一周年', surveyor='营销代理',
        planned_on=rules.callback_due_from(delivered.delivery_start_date) + DAY * 20,
        population=population, issued=issued, returned=returned, report_no='SH-JA-HF-01',
        report_on=rules.callback_due_from(delivered.delivery_start_date) + DAY * 50)
    contracts = {c.unit_id: c.owner_id for c in ctx.contracts[delivered.id] if not c.cancelled}
    rows = []
    for unit in rng.sample(delivered_units, returned):
        scores = {field: rng.choices((5, 4, 3, 2, 1), weights)[0] for field, weights in (
            ('product_planning', (30, 40, 20, 7, 3)), ('construction_quality', (20, 35, 28, 12, 5)),
            ('sales_service', (40, 38, 15, 5, 2)), ('complaint_service', (15, 30, 30, 18, 7)),
            ('property_service', (25, 40, 22, 9, 4)))}
        rows.append(dict(project=delivered.id, survey=survey.id, unit=unit.id, owner=contracts.get(unit.id),
                         answered_on=survey.planned_on + DAY * rng.randint(0, 20),
                         comments=rng.choice((None, None, '希望加快维修响应', '小区绿化很好', '车位紧张')),
                         **scores, **_audit()))
    SurveyResponse.insert_many(rows).execute()
