"""Demo master data: three projects in three cities, their units, owners and contracts, and the
departments and contractors the manuals name."""
import datetime
from decimal import Decimal

from models.base import now
from models.master import Contract, Contractor, Department, Owner, Project, Unit

DEPARTMENTS = (
    ('客户关系部', '客户风险审图、风险检查、投诉处理、交付组织、回访'),
    ('工程管理部', '工程质量、内部模拟验收整改、维修'),
    ('设计管理部', '设计图纸、设计变更'),
    ('技术管理部', '技术标准、交楼标准'),
    ('营销管理部', '销售资料、销售说辞、销售钥匙'),
    ('法务部', '合同与补充协议审核、催告函'),
    ('项目部', '施工组织、施工钥匙移交'),
    ('物业公司', '前期物业服务、交付现场、钥匙接收'),
    ('企业发展部', '品牌与客户活动'),
    ('总工办', '业主工程质量监理小组会议纪要'),
    ('财务部', '房款结清核对、赔付支付'),
    ('成本管理部', '赔付与质保金核算'),
)

CONTRACTORS = (
    ('浙江宏远建设集团有限公司', '总包', '陈建国', '13905710001'),
    ('中建八局第三建设有限公司', '总包', '刘伟', '13905510002'),
    ('上海申达防水工程有限公司', '分包', '孙立', '13801710003'),
    ('杭州金盾门窗幕墙有限公司', '分包', '周涛', '13605710004'),
    ('安徽华美装饰工程有限公司', '分包', '吴静', '13905510005'),
    ('通力电梯有限公司杭州分公司', '分包', '郑凯', '13805710006'),
    ('绿城景观工程有限公司', '分包', '冯晓', '13705710007'),
    ('浙江求是工程监理有限公司', '监理', '何平', '13905710008'),
    ('世联行营销代理（杭州）', '营销代理', '马丽', '13605710009'),
    ('绿城物业服务集团有限公司', '物业', '朱敏', '13905710010'),
    ('零点有数市场调查有限公司', '第三方', '胡杨', '13801010011'),
)

SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢'
GIVEN = ('伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明',
         '超', '秀英', '霞', '平', '刚', '桂英', '建华', '文', '华', '红', '建国', '志强', '晓东', '海燕',
         '雪梅', '子涵', '浩然', '欣怡', '宇航', '梓萱', '思远', '佳怡', '俊杰', '雨桐')
BANKS = ('中国工商银行', '中国建设银行', '中国农业银行', '中国银行', '招商银行', '杭州银行',
         '徽商银行', '上海浦东发展银行')
LAYOUTS = ('A1-89㎡三房', 'B2-105㎡三房', 'C1-128㎡四房', 'D3-143㎡四房')
AREAS = {'A1-89㎡三房': Decimal('89.36'), 'B2-105㎡三房': Decimal('105.12'),
         'C1-128㎡四房': Decimal('128.45'), 'D3-143㎡四房': Decimal('143.80')}
REGION_CODES = {'杭州': '330106', '合肥': '340104', '上海': '310106'}


def _id_number(rng, region_code, born):
    body = '%s%s%03d' % (region_code, born.strftime('%Y%m%d'), rng.randint(1, 999))
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = '10X98765432'[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    return body + check


def project_plans(today):
    """Three projects at three stages, dated from today so the demo always has live deadlines."""
    return [
        dict(code='HZ-YQ', name='杭州·云栖雅苑', region='浙江', city='杭州',
             company='杭州云栖置业有限公司', launch_date=today - datetime.timedelta(days=700),
             contract_delivery_date=today - datetime.timedelta(days=3),
             delivery_start_date=today - datetime.timedelta(days=5), stage='交付准备',
             buildings=('1栋', '2栋', '3栋', '5栋'), floors=18, per_floor=(('1', '01'), ('1', '02'),
                                                                         ('2', '01'), ('2', '02'),
                                                                         ('2', '03')),
             sold_share=0.95, city_key='杭州'),
        dict(code='HF-BH', name='合肥·滨湖印象', region='安徽', city='合肥',
             company='合肥滨湖印象房地产开发有限公司', launch_date=today - datetime.timedelta(days=240),
             contract_delivery_date=today + datetime.timedelta(days=130),
             delivery_start_date=None, stage='在售',
             buildings=('A1栋', 'A2栋', 'B1栋', 'B2栋'), floors=16, per_floor=(('1', '01'), ('1', '02'),
                                                                             ('2', '01'), ('2', '02'),
                                                                             ('2', '03')),
             sold_share=0.3125, city_key='合肥'),
        dict(code='SH-JA', name='上海·静安臻园', region='上海', city='上海',
             company='上海静安臻园置业有限公司', launch_date=today - datetime.timedelta(days=1300),
             contract_delivery_date=today - datetime.timedelta(days=560),
             delivery_start_date=today - datetime.timedelta(days=550), stage='已交付',
             buildings=('8号楼', '9号楼', '10号楼'), floors=20, per_floor=(('1', '01'), ('1', '02'),
                                                                         ('1', '03'), ('2', '01'),
                                                                         ('2', '02')),
             sold_share=1.0, city_key='上海'),
    ]


def seed(ctx):
    rng, stamp = ctx.rng, now()
    audit = dict(created_at=stamp, updated_at=stamp, version=1)
    for name, duties in DEPARTMENTS:
        ctx.departments[name] = Department.create(name=name, duties=duties, **audit)
    for name, kind, contact, phone in CONTRACTORS:
        ctx.contractors.append(Contractor.create(name=name, kind=kind, contact=contact,
                                                 phone=phone, **audit))
    for plan in project_plans(ctx.today):
        plan = dict(plan)
        buildings, floors, per_floor = plan.pop('buildings'), plan.pop('floors'), plan.pop('per_floor')
        sold_share, city_key = plan.pop('sold_share'), plan.pop('city_key')
        project = Project.create(**plan, **audit)
        ctx.projects.append(project)
        unit_rows = []
        for building in buildings:
            edge_rooms = {per_floor[0][1], per_floor[-1][1]}
            for floor in range(1, floors + 1):
                for entrance, suffix in per_floor:
                    layout = LAYOUTS[(int(suffix) + (0 if entrance == '1' else 2)) % len(LAYOUTS)]
                    if floor == 1:
                        special = '首层'
                    elif floor == 2:
                        special = '二层'
                    elif floor == floors:
                        special = '非标层'      # top floor with a roof terrace
                    elif suffix in edge_rooms and entrance == per_floor[-1][0]:
                        special = '边户'
                    else:
                        special = '标准层'
                    area = AREAS[layout]
                    unit_rows.append(dict(
                        project=project.id, building=building, entrance=entrance,
                        room='%d%s' % (floor, suffix), floor=floor, layout=layout,
                        special_kind=special, contract_area=area,
                        measured_area=area + Decimal(rng.randint(-60, 40)) / 100,
                        heating_area=(area * Decimal('0.82')).quantize(Decimal('0.01'))
                        if city_key != '上海' else None,
                        status='未售', **audit))
        Unit.insert_many(unit_rows).execute()
        units = list(Unit.select().where(Unit.project == project).order_by(Unit.id))
        ctx.units[project.id] = units
        sold_count = int(round(len(units) * sold_share))
        sold = rng.sample(units, sold_count) if sold_share < 1 else list(units)
        sold.sort(key=lambda u: u.id)
        owners, contracts = [], []
        for n, unit in enumerate(sold):
            born = datetime.date(rng.randint(1960, 1998), rng.randint(1, 12), rng.randint(1, 28))
            owner = Owner.create(
                project=project, name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                phone='1%d%09d' % (rng.choice((3, 5, 7, 8, 9)), rng.randint(0, 999999999)),
                id_number=_id_number(rng, REGION_CODES[city_key], born),
                mailing_address='%s市%s路%d号%d室' % (
                    project.city, rng.choice(('文一西', '学院', '延安', '长江', '淮河', '南京西')),
                    rng.randint(1, 999), rng.randint(101, 2802)), **audit)
            owners.append(owner)
            method = rng.choices(('一次性', '商业贷款', '公积金', '组合贷'), (2, 5, 2, 2))[0]
            sign_date = project.launch_date + datetime.timedelta(days=rng.randint(0, 200))
            price = (unit.contract_area * Decimal(rng.randint(21000, 43000) if city_key != '合肥'
                                                 else rng.randint(14000, 19000))).quantize(Decimal('1'))
            loan = None if method == '一次性' else (price * Decimal('0.6')).quantize(Decimal('1'))
            mortgage = None
            disbursed = None
            if loan is not None:
                mortgage = rng.choices(('资料收集', '已递交', '已审批', '已放款'), (1, 1, 2, 10))[0]
                if mortgage == '已放款':
                    disbursed = sign_date + datetime.timedelta(days=rng.randint(20, 90))
            paid = method == '一次性' or mortgage == '已放款'
            if paid and rng.random() < 0.04:
                paid = False            # a tail of unpaid balance (房款未结清)
            cancelled = rng.random() < 0.02
            filed = sign_date + datetime.timedelta(days=rng.randint(3, 20))
            contracts.append(dict(
                project=project.id, contract_no='%s-%s-%05d' % (project.code, sign_date.year, n + 1),
                unit=unit.id, owner=owner.id, sign_date=sign_date, total_price=price,
                payment_method=method, mortgage_bank=rng.choice(BANKS) if loan else None,
                mortgage_status=mortgage, loan_amount=loan, disbursed_date=disbursed,
                filing_status='已备案', filed_date=filed,
                pre_registration_date=filed + datetime.timedelta(days=rng.randint(10, 40)),
                cancelled=cancelled,
                cancel_date=sign_date + datetime.timedelta(days=30) if cancelled else None,
                cancel_reason=rng.choice(('客户资金原因退房', '按揭未获批准，协商解除', '客户换房'))
                if cancelled else None,
                certificate_status=('已领取' if project.stage == '已交付' and rng.random() < 0.7
                                    else '办理中' if project.stage == '已交付' else '未办'),
                certificate_date=None, paid_in_full=paid and not cancelled,
                agreed_delivery_date=project.contract_delivery_date,
                late_penalty_rate=Decimal('0.0001'), **audit))
        Contract.insert_many(contracts).execute()
        valid_units = [c['unit'] for c in contracts if not c['cancelled']]
        delivered = project.stage == '已交付'
        Unit.update(status='已交付' if delivered else '已售').where(Unit.id.in_(valid_units)).execute()
        if delivered:
            # Some owners never took over: the occupancy rule of manual 003 needs a real ratio.
            keep = [u for u in valid_units if rng.random() < 0.12]
            Unit.update(status='已售').where(Unit.id.in_(keep)).execute()
        project.refresh_unit_counts()
        ctx.owners[project.id] = owners
        ctx.contracts[project.id] = list(Contract.select().where(Contract.project == project)
                                         .order_by(Contract.id))
        ctx.units[project.id] = list(Unit.select().where(Unit.project == project).order_by(Unit.id))
    ctx.projects = list(Project.select().order_by(Project.id))
