"""Demo data of owner communication: the first project's owner quality group with only 4 active
members (warned) and meetings at 基础 and 主体结构 only (装饰装修, 安装 missing), one accepted
suggestion still without written feedback; a regional service group on the delivered project; the
selling project just past 30% sold has no group yet (it shows on the groups-due list); customer
events between signing and move-in.
"""
import datetime

from models.communication import CustomerEvent, GroupMeeting, GroupMember, SupervisionGroup
from rules import communication as rules
from seeds.aftercare import author

DAY = datetime.timedelta(days=1)


def seed(ctx):
    clerk, today = ctx.users['clerk'], ctx.today
    by_code = {p.code: p for p in ctx.projects}
    first = ctx.projects[0]
    owners = ctx.owners[first.id]
    launched = first.launch_date or today - DAY * 700
    formed_on = launched + DAY * 120
    group = SupervisionGroup.create_logged(
        clerk, project=first, kind=rules.QUALITY_GROUP, name='%s业主工程质量监理小组' % first.name,
        formed_on=formed_on, status='运行中')
    # Six joined, two left: four active members — below the 5–10 the manual asks for.
    for n, owner in enumerate(owners[:6]):
        member = GroupMember.create_logged(clerk, group=group, owner=owner,
                                           role='组长' if n == 0 else '成员', joined_on=formed_on)
        if n >= 4:
            member.left_on = formed_on + DAY * (150 + 30 * n)
            member.remarks = '房屋转让，退出小组' if n == 4 else '工作调动，退出小组'
            member.save_logged(clerk)
    GroupMeeting.create_logged(
        clerk, group=group, phase='基础', held_on=formed_on + DAY * 20, chair='项目总经理 陈立',
        attendees='工程分管副总、工程部经理、营销代理公司负责人、小组成员4人',
        minutes='通报桩基检测结果和基础施工进度；业主查看钢筋隐蔽验收资料。',
        minutes_sent_on=formed_on + DAY * 25, owner_suggestions='希望公开桩基检测报告',
        suggestions_accepted=True, feedback_sent_on=formed_on + DAY * 35)
    GroupMeeting.create_logged(
        clerk, group=group, phase='主体结构', held_on=formed_on + DAY * 200, chair='项目总经理 陈立',
        attendees='工程分管副总、工程部经理、监理单位总监、小组成员5人',
        minutes='主体结构封顶，业主参观标准层实体样板；对外墙保温做法提出疑问。',
        minutes_sent_on=formed_on + DAY * 204,
        owner_suggestions='外墙窗边增加一道防水附加层；楼层公共走道增设照明',
        suggestions_accepted=True)          # accepted, written feedback still missing
    delivered = by_code.get('SH-JA')
    if delivered is not None:
        keeper = author(ctx, delivered)
        _finished_quality_group(keeper, delivered, ctx.owners[delivered.id])
        service_group = SupervisionGroup.create_logged(
            keeper, project=delivered, kind=rules.SERVICE_GROUP, name='上海区域客户服务质量监督小组',
            region='上海区域', formed_on=delivered.delivery_start_date + DAY * 60, status='运行中')
        for n, owner in enumerate(ctx.owners[delivered.id][:7]):
            GroupMember.create_logged(keeper, group=service_group, owner=owner,
                                      role='组长' if n == 0 else '成员', joined_on=service_group.formed_on)
        GroupMeeting.create_logged(
            keeper, group=service_group, phase='座谈', held_on=service_group.formed_on + DAY * 90,
            chair='上海区域客服负责人 沈洁', attendees='物业项目经理、客服专员、小组成员7人',
            minutes='业主反映车库渗水、快递柜不足；物业承诺一个月内整改。',
            minutes_sent_on=service_group.formed_on + DAY * 93)
    events = [
        (first, '客户通讯', '《云栖家书》第6期：主体结构封顶', launched + DAY * 330, None),
        (first, '工地开放日', '秋季工地开放日', today - DAY * 120, 86),
        (first, '模拟验房', '业主模拟验房活动', today - DAY * 40, 132),
    ]
    selling = by_code.get('HF-BH')
    if selling is not None:
        events += [(selling, '客户通讯', '《滨湖家书》第1期：项目开工', today - DAY * 90, None),
                   (selling, '工地开放日', '春季工地开放日', today - DAY * 20, 54)]
    for project, kind, title, held_on, participants in events:
        CustomerEvent.create_logged(author(ctx, project), project=project, kind=kind, title=title, held_on=held_on,
                                    participants=participants,
                                    summary='活动顺利举行，收集业主意见已转相关部门。')


def _finished_quality_group(keeper, project, owners):
    """The delivered project's quality group: met at all four phases, dissolved after handover."""
    formed_on = (project.launch_date or project.delivery_start_date - DAY * 700) + DAY * 90
    group = SupervisionGroup.create_logged(
        keeper, project=project, kind=rules.QUALITY_GROUP, name='%s业主工程质量监理小组' % project.name,
        formed_on=formed_on, status='运行中')
    for n, owner in enumerate(owners[10:17]):
        GroupMember.create_logged(keeper, group=group, owner=owner, role='组长' if n == 0 else '成员',
                                  joined_on=formed_on, left_on=project.delivery_start_date + DAY * 30)
    for offset, phase in ((30, '基础'), (200, '主体结构'), (420, '装饰装修'), (560, '安装')):
        held_on = formed_on + DAY * offset
        GroupMeeting.create_logged(
            keeper, group=group, phase=phase, held_on=held_on, chair='项目总经理 顾明',
            attendees='工程分管副总、工程部经理、营销代理公司负责人、小组成员', minutes='%s阶段质量、进度通报。' % phase,
            minutes_sent_on=held_on + DAY * 3, owner_suggestions='加强%s阶段成品保护' % phase,
            suggestions_accepted=True, feedback_sent_on=held_on + DAY * 15)
    group.status = '已解散'
    group.remarks = '项目交付后监理小组完成使命，转由客户服务质量监督小组联系业主。'
    group.save_logged(keeper)
