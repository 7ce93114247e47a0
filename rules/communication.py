"""Rules of the owner-communication registers (与业主沟通): owner quality groups, their members and
meetings, customer events.

Manual quoted: 003 = 地产公司顾客沟通控制程序 (shared/seeds/003_e045208f86833051.txt).
"""
from __future__ import annotations

from datetime import date
from typing import Iterable, Optional
from rules.workflow import Workflow

GROUP_DUE_CLAUSE = ('手册003 与业主工程质量监理小组的沟通：“当新建项目的销售比例超过百分之三十时(以户数计算),'
                    '项目公司应组织营销代理公司成立业主工程质量监理小组”')
GROUP_SIZE_CLAUSE = '手册003：“根据项目的规模,业主工程质量监理小组的数量应控制在5-10人左右。”'
PHASE_CLAUSE = ('手册003：“项目工程部应根据项目工程的实际进度情况,在基础、主体结构、装饰(含装修)、安装等重要分部工程的'
                '关键施工阶段组织召开业主工程质量监理小组会议。”')
FEEDBACK_CLAUSE = ('手册003：“由项目工程部组织落实业主提出的各项合理、可行的建议及要求,'
                   '必要时应将落实情况书面反馈给业主工程质量监理小组各成员。”')

QUALITY_GROUP = '业主工程质量监理小组'
SERVICE_GROUP = '客户服务质量监督小组'
GROUP_KINDS = (QUALITY_GROUP, SERVICE_GROUP)
GROUP_MIN_MEMBERS = 5
GROUP_MAX_MEMBERS = 10

CONSTRUCTION_PHASES = ('基础', '主体结构', '装饰装修', '安装')
MEETING_PHASES = CONSTRUCTION_PHASES + ('座谈',)


def group_due(sold_units: int, total_units: int) -> bool:
    """A project must form its owner quality group once MORE than 30% of its units are sold,
    counted in units (“以户数计算”, GROUP_DUE_CLAUSE). Exactly 30% is not due yet; integer
    arithmetic (sold × 10 > total × 3) keeps that edge exact.
    """
    return bool(total_units) and sold_units * 10 > total_units * 3


def member_is_active(joined_on: Optional[date], left_on: Optional[date], today: date) -> bool:
    """A member counts from the day they join until the day they leave (left_on excluded)."""
    if joined_on is not None and joined_on > today:
        return False
    return left_on is None or left_on > today


def group_size_warning(active_members: int) -> Optional[str]:
    """A warning when the group has fewer than 5 or more than 10 active members (GROUP_SIZE_CLAUSE);
    None inside the range. A warning, not a refusal: “5-10人左右” leaves room for the project's size.
    """
    if active_members < GROUP_MIN_MEMBERS:
        return (f'小组现有在册成员{active_members}人，少于5人：'
                f'业主工程质量监理小组的数量应控制在5-10人左右（手册003）')
    if active_members > GROUP_MAX_MEMBERS:
        return (f'小组现有在册成员{active_members}人，多于10人：'
                f'业主工程质量监理小组的数量应控制在5-10人左右（手册003）')
    return None


def missing_phases(held_phases: Iterable[Optional[str]]) -> list[str]:
    """The key construction phases (基础, 主体结构, 装饰装修, 安装) with no meeting held yet (PHASE_CLAUSE),
    in construction order."""
    held = set(held_phases)
    return [phase for phase in CONSTRUCTION_PHASES if phase not in held]


def feedback_pending(suggestions_accepted: bool, feedback_sent_on: Optional[date]) -> bool:
    """Accepted owner suggestions still waiting for the written feedback date (FEEDBACK_CLAUSE)."""
    return bool(suggestions_accepted) and feedback_sent_on is None


def meeting_problems(*, kind: Optional[str], phase: Optional[str], held_on: Optional[date],
                     owner_suggestions: Optional[str], suggestions_accepted: bool,
                     feedback_sent_on: Optional[date], today: date):
    """(field, message) for a group meeting (PHASE_CLAUSE, FEEDBACK_CLAUSE)."""
    problems = []
    if phase not in MEETING_PHASES:
        problems.append(('phase', '请选择会议阶段'))
    elif kind == QUALITY_GROUP and phase == '座谈':
        problems.append(('phase', '业主工程质量监理小组按施工阶段（基础、主体结构、装饰装修、安装）召开会议；座谈会属于客户服务质量监督小组'))
    elif kind == SERVICE_GROUP and phase != '座谈':
        problems.append(('phase', '客户服务质量监督小组召开的是座谈会，请选择“座谈”'))
    if held_on and held_on > today:
        problems.append(('held_on', '会议日期不能晚于今天：未召开的会议请勿登记'))
    if suggestions_accepted and not (owner_suggestions or '').strip():
        problems.append(('owner_suggestions', '标记“建议已采纳”时须记录业主提出的建议'))
    if feedback_sent_on and not suggestions_accepted:
        problems.append(('feedback_sent_on', '只有已采纳的建议才需书面反馈；请先勾选“建议已采纳”'))
    if feedback_sent_on and held_on and feedback_sent_on < held_on:
        problems.append(('feedback_sent_on', '书面反馈日期不能早于会议日期'))
    return problems


def member_problems(*, joined_on: Optional[date], left_on: Optional[date]):
    """(field, message): a member cannot leave before joining."""
    if joined_on and left_on and left_on < joined_on:
        return [('left_on', '退出日期不能早于加入日期')]
    return []


# A group runs from its founding day; a dissolved one keeps it and is locked for clerks.
GROUP_WORKFLOW = Workflow(field='status', initial='筹建中', final=('已解散',),
                          requires={'运行中': ('formed_on',), '已解散': ('formed_on',)},
                          reopen_to='运行中')


def group_problems(*, kind: Optional[str], formed_on: Optional[date], region: Optional[str],
                   has_project: bool):
    """(field, message): a quality group belongs to a project; a service group to a region
    (手册003：“客户服务质量监督小组应在小区建成交付后,按区域设立”)."""
    problems = []
    if kind not in GROUP_KINDS:
        problems.append(('kind', '请选择小组类型'))
    if kind == SERVICE_GROUP and not (region or '').strip():
        problems.append(('region', '客户服务质量监督小组按区域设立，请填写区域（如浙江区域、上海区域）'))
    if kind == QUALITY_GROUP and not has_project:
        problems.append(('project', '业主工程质量监理小组须属于一个项目'))
    return problems


DELIVERED_STAGES = ('已交付', '出保')


def group_due_projects(projects: Iterable[tuple]) -> list:
    """Projects that must form their owner quality group and have not, from
    (project, stage, sold, total, has_group): more than 30% sold (group_due), still a new project
    under construction (“新建项目” — not 已交付/出保), and no quality group formed yet (a group later
    dissolved still counts as formed)."""
    return [project for project, stage, sold, total, has_group in projects
            if stage not in DELIVERED_STAGES and group_due(sold, total) and not has_group]


SERVICE_GROUP_CLAUSE = ('手册003 与客户服务质量监督小组的沟通：“客户服务质量监督小组应在小区建成交付后,按区域设立'
                        '(目前暂分浙江区域、上海区域、北京区域和安徽区域)。”')


def region_name(text: Optional[str]) -> str:
    """'上海区域' and '上海' name one region."""
    text = (text or '').strip()
    return text[:-2] if text.endswith('区域') else text


def service_group_problems(*, kind: Optional[str], formed_on: Optional[date],
                           delivered_on: Optional[date], region: Optional[str],
                           project_region: Optional[str], region_taken: bool = False):
    """(field, message): a service group is set up only after its (lead) project was handed over,
    for the region of that project, one running group per region (SERVICE_GROUP_CLAUSE)."""
    if kind != SERVICE_GROUP:
        return []
    problems = []
    if formed_on is not None and (delivered_on is None or formed_on < delivered_on):
        problems.append(('formed_on', '客户服务质量监督小组须在小区建成交付后设立：%s（%s）' % (
            '牵头项目尚未交付' if delivered_on is None else
            '成立日期早于牵头项目的交付日期 %s' % delivered_on.isoformat(), SERVICE_GROUP_CLAUSE)))
    if region and project_region and region_name(region) != region_name(project_region):
        problems.append(('region', '区域「%s」与牵头项目所在区域「%s」不一致：监督小组按区域设立，'
                                   '请登记在本区域的项目下。' % (region, project_region)))
    if region_taken:
        problems.append(('region', '「%s」已有运行中的客户服务质量监督小组（%s）' % (region, SERVICE_GROUP_CLAUSE)))
    return problems
