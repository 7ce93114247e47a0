"""Demo rows before delivery.

First project (handover started five days ago): the three rounds of mock acceptance inside their
windows, about 1,200 punch-list issues over its units in every status (the late ones found at the
joint acceptance and on handover days, after the construction keys moved), both key transfers and
the countdown with most milestones done and one overdue. Second project (delivery in ~130 days):
round 1 under way with its open punch list, and the countdown not yet started.

Rows are built as models and derived with their own `derive()` (windows, due dates, flags are
what the portal computes), then bulk-inserted.
"""
import datetime

from models.base import now
from models.delivery import (ROUND_LABELS, AcceptanceRound, DeliveryMilestone, InspectionIssue, KeyTransfer,
                             handover_completed_on)
from rules import delivery as rules
from seeds import insert_derived

D = datetime.timedelta

DESCRIPTIONS = {
    '交楼标准': ('入户门猫眼未安装', '厨房橱柜台面品牌与交楼标准不符', '卫生间地漏规格与交楼标准不一致',
              '入户门锁具型号与交楼标准不符', '户内开关面板品牌与交楼标准不符'),
    '施工图与现场符合': ('客厅外窗洞口尺寸与施工图不符（现场1.5m，图纸1.8m）', '次卧门洞位置与施工图偏差15cm',
                 '厨房排烟道位置与施工图不符', '阳台栏杆高度低于施工图要求'),
    '重大质量问题': ('卫生间闭水试验渗漏至楼下', '外窗窗框周边渗水', '客厅楼板裂缝宽度约0.3mm',
               '屋面防水层局部空鼓渗漏'),
    '系统性风险': ('消防喷淋末端试水压力不足', '户内弱电箱未接入光纤', '单元门禁对讲系统未调试',
              '楼栋配电箱漏电保护动作异常'),
    '设计缺陷': ('空调外机位尺寸不足，无法安装一拖三机型', '生活阳台未设地漏', '主卧床头未设双控开关'),
    '销售承诺': ('样板间展示的入户花园栏杆样式与实楼不符', '销售承诺的智能门锁未安装', '承诺的地暖分集水器位置与实际不符'),
    '使用功能': ('主卧外窗开启扇关闭不严', '厨房排烟道止逆阀缺失', '入户门开启时与鞋柜位冲突', '卫生间排风扇不工作'),
    '成品保护': ('入户门面板划伤', '木地板表面污染', '楼梯不锈钢扶手凹陷', '铝合金窗框保护膜未撕、有划痕'),
    '完整性': ('卧室插座面板缺失', '卫生间五金挂件未安装', '阳台灯具缺失', '户内门吸未安装'),
    '水电': ('厨房冷水管通水后接头渗水', '次卧插座不通电', '热水器预留电源漏电保护跳闸', '卫生间热水出水缓慢'),
    '景观': ('单元入口绿化带苗木枯死', '消防登高面铺装破损', '儿童游乐场塑胶地面开裂', '景观灯不亮'),
    '观感色差卫生': ('客厅墙面乳胶漆色差明显', '地砖勾缝污染', '窗台石材有水渍', '户内建筑垃圾未清理'),
}
PUBLIC_PLACES = ('单元入户大堂', '电梯厅', '地下车库B1层', '屋面', '消防楼梯间', '小区主入口', '中心景观区')
ROUND_CATEGORIES = {
    1: ('交楼标准', '施工图与现场符合', '重大质量问题', '系统性风险', '设计缺陷', '销售承诺'),
    2: ('使用功能', '成品保护', '完整性', '水电', '景观', '重大质量问题'),
    3: ('观感色差卫生', '成品保护', '完整性', '水电', '景观'),
}
SCRIPTS = ('该做法符合国家规范及交楼标准，已在《交楼标准》中载明，请业主谅解。',
           '该处为结构需要，无法调整；公司已在销售附图中标示，现场将做美化处理。',
           '经设计复核不影响使用及安全，按统一口径答复业主，并提供延长保修。')
VERIFIERS = ('李专员', '张敏', '陈晓东')
FOUND_BY = ('项目部 王工', '客户关系部 李专员', '物业公司 刘主管', '工程管理部 周工', '监理 何工')
PERSONS = ('陈建国', '刘伟', '孙立', '周涛', '吴静', '郑凯', '冯晓')


def seed(ctx):
    if not ctx.projects:
        return
    clerk = ctx.users.get('clerk')
    audit = dict(created_at=now(), updated_at=now(), version=1,
                 created_by=clerk.id if clerk else None, updated_by=clerk.id if clerk else None)
    builders = [c for c in ctx.contractors if c.kind in ('总包', '分包')] or ctx.contractors
    main = ctx.projects[0]
    seed_handover_ready_project(ctx, main, builders, audit)
    if len(ctx.projects) > 1:
        seed_round_one_project(ctx, ctx.projects[1], builders, audit)



def _rounds(project, plans, audit):
    rows = [AcceptanceRound(project=project.id, **plan) for plan in plans]
    insert_derived(AcceptanceRound, rows, audit)
    return {r.round_no: r for r in AcceptanceRound.select().where(AcceptanceRound.project == project.id)}


def _issue(ctx, project, units, builders, found_on, category, status, today, round_id=None):
    rng = ctx.rng
    public = rng.random() < 0.12 or category == '景观'
    unit = None if public else rng.choice(units)
    severity = '重大' if category == '重大质量问题' else ('重大' if rng.random() < 0.02 else '一般')
    deadline = found_on + D(days=rng.choice((3, 5, 7, 10, 15)))
    row = InspectionIssue(
        project=project.id, round=round_id, unit=unit.id if unit else None,
        location=('%s %s' % (rng.choice(('1栋', '2栋', '3栋', '5栋', 'A1栋', 'B1栋')), rng.choice(PUBLIC_PLACES))
                  if public else None),
        category=category, description=rng.choice(DESCRIPTIONS[category]), severity=severity,
        found_on=found_on, found_by=rng.choice(FOUND_BY), contractor=rng.choice(builders).id,
        responsible_person=rng.choice(PERSONS), deadline=deadline, status=status)
    if severity == '重大':
        row.rectification_plan = '总包、监理、工程管理部制定整改方案：查明原因后返工处理，复验合格后关闭。'
        row.penalty = '按总包合同处罚条款扣款%d元' % rng.choice((2000, 5000, 10000))
    if status in (rules.STATUS_TO_VERIFY, rules.STATUS_CLOSED):
        row.rectified_on = min(today, found_on + D(days=rng.randint(1, 12)))
    if status == rules.STATUS_CLOSED:
        row.verified_on = min(today, row.rectified_on + D(days=rng.randint(0, 3)))
        row.verified_by = rng.choice(VERIFIERS)
    if status in rules.DECISION_STATUSES:
        row.decision_approved_by = '王经理'
        row.decision_approved_on = min(today, found_on + D(days=rng.randint(3, 15)))
        row.unified_script = rng.choice(SCRIPTS)
    return row


def _pick_status(rng, weights):
    return rng.choices(list(weights), list(weights.values()))[0]


def seed_handover_ready_project(ctx, project, builders, audit):
    rng, today = ctx.rng, ctx.today
    t = project.delivery_date
    units = [u for u in ctx.units[project.id]]
    rounds = _rounds(project, [
        dict(round_no='第一轮', organizer='项目部', leader='项目总经理 吴建军', started_on=t - D(days=150),
             cleared_on=t - D(days=66), summary_meeting_on=t - D(days=64)),
        dict(round_no='第二轮', organizer='客户关系部', leader='项目总经理 吴建军', started_on=t - D(days=58),
             cleared_on=t - D(days=32), summary_meeting_on=t - D(days=31)),
        dict(round_no='第三轮', organizer='物业公司', leader='物业项目经理 朱敏', started_on=t - D(days=30),
             cleared_on=t - D(days=17), summary_meeting_on=t - D(days=17), utilities_commissioned=True,
             landscaping_done=True, completion_filing_obtained=True),
    ], audit)
    issues = []
    settled = {'已关闭': 88, '让步接收': 7, '不整改': 5}
    for label, count, span in (('第一轮', 450, 60), ('第二轮', 380, 22), ('第三轮', 260, 12)):
        row = rounds[label]
        number = ROUND_LABELS[label]
        for _ in range(count):
            found_on = row.started_on + D(days=rng.randint(0, span))
            issues.append(_issue(ctx, project, units, builders, found_on,
                                 rng.choice(ROUND_CATEGORIES[number]), _pick_status(rng, settled), today,
                                 round_id=row.id))
    # Found after the construction keys moved (joint acceptance T-7, handover days): still open.
    late = {'待整改': 30, '整改中': 30, '待验证': 20, '已关闭': 15, '让步接收': 3, '不整改': 2}
    for _ in range(140):
        found_on = min(today, t - D(days=7) + D(days=rng.randint(0, 10)))
        issues.append(_issue(ctx, project, units, builders, found_on,
                             rng.choice(('观感色差卫生', '使用功能', '水电', '成品保护', '完整性')),
                             _pick_status(rng, late), today))
    insert_derived(InspectionIssue, issues, audit)

    sold = [u for u in units if u.status in ('已售', '已交付')]
    keys = [
        KeyTransfer(project=project.id, kind=rules.KEY_CONSTRUCTION, scope='1栋、2栋、3栋、5栋',
                    from_party='浙江宏远建设集团有限公司', to_party='物业公司', keys_count=len(units) * 3,
                    transferred_on=t - D(days=16), handed_by='陈建国', received_by='朱敏',
                    remarks='项目部组织移交，三轮内部验收问题均已关闭或经审批让步接收。'),
        KeyTransfer(project=project.id, kind=rules.KEY_SALES, scope='全部',
                    from_party='营销管理部', to_party='物业公司', keys_count=len(sold) * 2,
                    transferred_on=t - D(days=4), handed_by='马丽', received_by='朱敏',
                    missing_or_damaged='2栋1单元1502入户门钥匙1把丢失', replaced=True,
                    remarks='丢失钥匙已由锁具厂家更换锁芯并补配。'),
    ]
    insert_derived(KeyTransfer, keys, audit)
    _milestones(ctx, project, audit, done_until=today, skip_done=('T+3',))


def seed_round_one_project(ctx, project, builders, audit):
    rng, today = ctx.rng, ctx.today
    t = project.delivery_date
    if t is None:
        return
    started = max(rules.add_months(t, -6), min(today - D(days=10), rules.add_months(t, -3)))
    rounds = _rounds(project, [dict(round_no='第一轮', organizer='项目部', leader='项目总经理 钱志远',
                                    started_on=started)], audit)
    units = list(ctx.units[project.id])
    weights = {'待整改': 30, '整改中': 30, '待验证': 15, '已关闭': 20, '让步接收': 3, '不整改': 2}
    issues = []
    for _ in range(180):
        found_on = min(today, started + D(days=rng.randint(0, 10)))
        issues.append(_issue(ctx, project, units, builders, found_on, rng.choice(ROUND_CATEGORIES[1]),
                             _pick_status(rng, weights), today, round_id=rounds['第一轮'].id))
    insert_derived(InspectionIssue, issues, audit)
    _milestones(ctx, project, audit, done_until=today)


def _milestones(ctx, project, audit, done_until, skip_done=()):
    rng = ctx.rng
    rows = []
    for values in rules.missing_milestones(project.delivery_date, [], handover_completed_on(project)):
        row = DeliveryMilestone(project=project.id, **values)
        if row.due_on is not None and row.due_on <= done_until and row.code not in skip_done:
            row.done_on = min(done_until, row.due_on + D(days=rng.choice((-3, -2, -1, 0, 0, 0, 1))))
        rows.append(row)
    insert_derived(DeliveryMilestone, rows, audit)
