"""Demo of the department's own fields and registers (models/custom.py), defined as an
administrator would in the browser: 业主微信号 on the punch list, 回访满意度 on complaints, and
a register of its own, 业主生日关怀台账, with its units, its deadline and a few rows."""
import datetime

from models import custom


def seed(ctx):
    admin = ctx.users['admin']
    field = custom.CustomField.create_logged
    field(admin, register='inspection_issue', name='业主微信号', kind='文本', searchable=True,
          help='业主同意时填写，便于整改完成后微信通知。', position=1)
    field(admin, register='complaint', name='回访满意度', kind='单选',
          options='满意\n基本满意\n不满意', position=1)
    register = custom.CustomRegister.create_logged(
        admin, name='业主生日关怀台账', stage='业主沟通', project_scoped=True, unit_link=True)
    table = register.table_name
    # The demo is loaded in one transaction before the portal serves: the register and its
    # fields are needed now, not after the commit.
    custom.apply(custom.load_definitions())
    columns = {}
    for position, (name, kind, extra) in enumerate((
            ('业主姓名', '文本', {'required': True, 'in_list': True, 'searchable': True}),
            ('生日', '日期', {'in_list': True}),
            ('关怀方式', '单选', {'options': '电话\n上门\n短信', 'in_list': True}),
            ('关怀状态', '单选', {'options': '待关怀\n已关怀', 'in_list': True}),
            ('负责人', '人员', {}),
            ('关怀记录', '多行文本', {'searchable': True})), 1):
        columns[name] = field(admin, register=table, name=name, kind=kind, position=position,
                              **extra).column
    custom.apply(custom.load_definitions())
    register = custom.CustomRegister.get_by_id(register.id)
    register.title_field, register.sort_field = '业主姓名', '生日'
    register.deadline_field, register.status_field, register.done_values = '生日', '关怀状态', '已关怀'
    register.deadline_clause = '业主生日前三天内完成电话或上门关怀（本部门制度）。'
    register.save_logged(admin)
    model = custom._classes[table]
    project = ctx.projects[0]
    rows = [(c.unit_id, c.owner.name) for c in ctx.contracts.get(project.id, [])][:4]
    plans = ((3, '电话', '待关怀', ''), (12, '上门', '待关怀', ''),
             (-20, '电话', '已关怀', '已电话祝福，业主表示感谢。'), (-40, '短信', '已关怀', '短信祝福。'))
    for (unit, owner), (days, way, status, note) in zip(rows, plans):
        model.create_logged(ctx.users['clerk'], project=project.id, unit=unit, **{
            columns['业主姓名']: owner,
            columns['生日']: ctx.today + datetime.timedelta(days=days),
            columns['关怀方式']: way, columns['关怀状态']: status,
            columns['负责人']: ctx.users['clerk'].id, columns['关怀记录']: note or None})
