"""Demo rows of the risk-control registers: the two knowledge bases, and per demo project its
inspections (some done on time, some late, some overdue, some not yet due), findings, scripts,
boards, countersigned documents, promises, floor-plan checks and design changes.

Rows are built as models, derived with their own `derive()` (so due dates and flags are what the
portal would compute), then bulk-inserted.
"""
import datetime

from models.base import now
from models.master import Department
from models.risk import (DesignChange, DesignDefect, DrawingReviewPoint, FloorPlanCheck,
                         RiskDisclosure, RiskFinding, RiskInspection, SalesDocumentReview,
                         SalesPromise, SalesScript)
from rules import risk as rules
from seeds import insert_derived

D = datetime.timedelta

REVIEW_POINTS = [
    ('精装修', '卫生间门槛石与地面高差不大于5mm，防止绊倒及积水外溢', '西溪云庐'),
    ('精装修', '厨房吊柜高度与抽油烟机位置须避开燃气表，预留检修口', '滨江悦府'),
    ('精装修', '入户玄关须预留鞋柜及穿衣镜位置，不得被强电箱占用', '钱塘印'),
    ('给排水', '卫生间同层排水时须复核降板深度及二次排水', '城西雅苑'),
    ('给排水', '阳台须设洗衣机专用地漏及冷水龙头，位置与插座同侧', '滨江悦府'),
    ('给排水', '首层排水须单独排出，防止返水', '运河府'),
    ('强弱电', '主卧床头两侧各设一组五孔插座及双控开关', '西溪云庐'),
    ('强弱电', '客厅电视墙预留穿线管及网络面板，弱电箱位置便于检修', '钱塘印'),
    ('强弱电', '空调插座位置须与空调室内机位对应，避免明线', '城西雅苑'),
    ('暖通', '地暖分集水器须设在便于检修的位置，不得置于橱柜内', '北苑华庭'),
    ('暖通', '空调外机位尺寸须满足一拖三机型，并预留检修通道', '滨江悦府'),
    ('土建', '飘窗台高度与窗户开启扇位置须复核，防止儿童攀爬', '运河府'),
    ('土建', '顶层屋面须复核保温防水构造，避免渗漏投诉', '钱塘印'),
    ('门窗', '卫生间窗户须设置磨砂玻璃或百叶，兼顾通风与隐私', '西溪云庐'),
    ('门窗', '外窗开启扇须设限位器，高层住宅开启角度受限', '北苑华庭'),
    ('户型', '卧室窗前不得正对相邻楼栋阳台，视线干扰须提示', '城西雅苑'),
    ('户型', '户内结构柱、梁不得明显凸出影响家具摆放', '运河府'),
    ('景观', '首层私家花园与公共绿地高差及围挡形式须在图纸中明确', '滨江悦府'),
    ('景观', '消防登高面不得种植高大乔木，防止后期移栽引发投诉', '钱塘印'),
    ('公共部位', '电梯厅须预留快递柜、信报箱位置', '北苑华庭'),
    ('公共部位', '地下室入户大堂须做无障碍坡道及雨棚', '西溪云庐'),
    ('车库', '车位尺寸不小于2.4m×5.3m，柱距影响开门的车位须在销售时提示', '运河府'),
    ('车库', '地下车库排水沟及集水井位置须避开车位', '城西雅苑'),
    ('规划', '垃圾站、变电站位置与住宅间距须满足规范并在沙盘中如实标示', '滨江悦府'),
    ('规划', '小区出入口与城市道路的关系须在总平图中明确', '钱塘印'),
]

DEFECTS = [
    ('精装修', '卫生间墙砖与浴室柜交接处未做防水收口', '柜体受潮变形，业主集中投诉', '墙砖铺贴至地面，浴室柜后增加防水涂层', '西溪云庐'),
    ('给排水', '厨房排水立管未做隔音处理', '夜间排水噪音大，影响休息', '立管外包隔音棉，选用螺旋消音管', '滨江悦府'),
    ('给排水', '空调冷凝水管未接入专用立管，直接排至外墙', '外墙污染，楼下业主投诉滴水', '每个空调板设冷凝水立管', '运河府'),
    ('强弱电', '入户强电箱设置在鞋柜位置', '业主无法安装鞋柜，需改箱位', '强电箱移至门后侧墙', '钱塘印'),
    ('强弱电', '阳台未设置插座', '洗衣机、晾衣机无法使用', '阳台设防溅插座两组', '城西雅苑'),
    ('暖通', '新风主机位于次卧吊顶内', '噪音大，检修需拆吊顶', '新风主机移至卫生间或走道吊顶并设检修口', '北苑华庭'),
    ('土建', '地下室顶板后浇带渗漏', '车位顶部滴水，车辆受损', '后浇带加强防水并设置导水槽', '运河府'),
    ('土建', '外墙保温层空鼓', '保温层脱落存在安全隐患', '加强锚栓设置及隐蔽验收', '滨江悦府'),
    ('门窗', '推拉门下轨高出地面20mm', '易绊倒，打扫困难', '采用下沉式轨道', '钱塘印'),
    ('门窗', '入户门与电梯厅墙面距离不足，门扇无法完全打开', '搬家及日常通行不便', '复核入户门开启方向', '西溪云庐'),
    ('户型', '次卧开间仅2.6m', '无法摆放1.5m床及衣柜', '次卧开间不小于2.9m', '城西雅苑'),
    ('户型', '餐厅与厨房之间无直接通道', '动线不合理，影响使用', '厨房门开向餐厅侧', '北苑华庭'),
    ('景观', '首层花园排水坡度不足', '雨后积水，蚊虫滋生', '花园设排水盲沟及雨水口', '运河府'),
    ('景观', '儿童活动场地紧邻地库出入口', '安全隐患，业主要求改造', '儿童场地与车行出入口间距不小于15m', '滨江悦府'),
    ('公共部位', '单元门禁与快递柜未联动', '快递员滞留单元门口', '单元门设快递员临时授权', '钱塘印'),
    ('公共部位', '楼梯间未设照明感应', '夜间通行安全隐患', '楼梯间设声光控照明', '西溪云庐'),
    ('车库', '地库坡道坡度过大且未做防滑', '雨天车辆打滑', '坡道坡度≤15%，表面做防滑处理', '城西雅苑'),
    ('车库', '车位被结构柱遮挡，车门无法开启', '车位无法正常使用，退车位纠纷', '销售前逐一核对车位尺寸并提示', '运河府'),
    ('规划', '变电站紧邻住宅楼，未在销售现场公示', '业主以隐瞒不利因素为由投诉', '不利因素纳入销售风险特别提示', '北苑华庭'),
    ('规划', '小区围墙外规划道路未公示', '交房后噪音投诉', '红线外规划在售楼处公示', '滨江悦府'),
]

FINDINGS = [
    ('项目背景资料', '预售许可证未在售楼处显著位置公示', '营销管理部'),
    ('项目背景资料', '规划批复总平图与沙盘不一致（幼儿园位置）', '设计管理部'),
    ('销售签约资料', '认购书未载明车位另售条款', '营销管理部'),
    ('销售签约资料', '补充协议第八条交房日期表述与主合同不一致', '法务'),
    ('广告宣传资料', '海报使用“绝版”“最”等违禁用语', '营销管理部'),
    ('广告宣传资料', '户型图未标注“以实际交付为准”及面积口径', '营销管理部'),
    ('广告宣传资料', '售楼书效果图外立面材质与施工图不一致', '设计管理部'),
    ('销售现场', '沙盘绿化比例与规划不符，乔木数量夸大', '营销管理部'),
    ('销售现场', '示范单位精装标准未与交房标准逐项对应标注', '设计管理部'),
    ('销售现场', '不利因素公示牌缺少高压线走廊内容', '营销管理部'),
    ('销售现场', '置业顾问口头承诺赠送地下储藏室', '营销管理部'),
    ('合同法规', '前期物业服务合同收费标准未经备案', '物业公司'),
    ('合同法规', '合同附图未标明套内结构柱位置', '设计管理部'),
    ('设计变更', '3号楼外立面涂料改真石漆未告知已签约业主', '设计管理部'),
    ('销售承诺', '承诺的小区泳池在图纸中未体现', '营销管理部'),
    ('工程质量', '样板间卫生间闭水试验未通过', '工程管理部'),
    ('工程质量', '样板间入户门与实楼型号不一致', '工程管理部'),
    ('工程质量', '地库顶板渗水点3处', '工程管理部'),
    ('工程质量', '外墙涂料色差明显', '工程管理部'),
    ('工程质量', '单元大堂地砖空鼓', '工程管理部'),
]

SCRIPTS = [
    ('销售说辞', '景观', '开盘区域绿化', '小区绿化率以规划批复为准，示范区景观仅供参考，实际以交付为准。'),
    ('销售说辞', '车位', '车位配比及销售', '本项目车位配比1:1.2，车位另行销售，价格以届时公示为准。'),
    ('销售说辞', '规划', '周边不利因素', '项目东侧规划有110kV变电站，距离最近住宅约60米，详见特别提示。'),
    ('销售说辞', '暖通', '地暖及新风', '客厅、卧室铺设地暖，新风系统仅覆盖卧室及客厅，厨卫不覆盖。'),
    ('销售说辞', '机电', '电梯配置', '每单元两台电梯，其中一台为担架梯，品牌以交付时为准。'),
    ('销售说辞', '给排水', '同层排水', '卫生间采用同层排水，检修口位于墙排地漏处。'),
    ('销售说辞', '土建', '层高', '标准层层高3.0米，首层层高3.3米，净高以实测为准。'),
    ('交付统一答词', '综合', '交付时间', '本项目按合同约定时间交付，集中交付期为15天，逾期按合同约定办理。'),
    ('交付统一答词', '精装修', '精装标准差异', '交付标准以合同附件《交房标准》为准，样板间展示物品不在交付范围内。'),
    ('不整改问题统一说辞', '土建', '次卧开间偏小', '次卧开间符合设计规范及合同附图，已在户型图中标注尺寸，不予整改。'),
    ('不整改问题统一说辞', '景观', '儿童活动场地位置', '儿童活动场地位置与规划批复一致，已增设隔离护栏及警示标识。'),
    ('不整改问题统一说辞', '机电', '变电站噪音', '变电站已采取降噪措施，噪音检测满足国家标准，检测报告可供查阅。'),
]

DISCLOSURES = [
    ('红线外', '项目东侧约60米规划有110kV变电站', '售楼处入口展板'),
    ('红线外', '项目北侧规划城市主干道，车流噪音可能影响北向房间', '售楼处沙盘区'),
    ('红线外', '项目西南侧现有垃圾中转站，规划期内不迁移', '售楼处签约区'),
    ('红线外', '项目南侧地块规划为商业用地，建筑高度以规划为准', '售楼处入口展板'),
    ('红线内', '小区内设地下车库出入口两处，临近5号、8号楼', '沙盘区'),
    ('红线内', '3号楼首层设公共配电房及燃气调压箱', '沙盘区'),
    ('红线内', '小区垃圾收集点位于7号楼东侧', '签约区'),
    ('红线内', '部分车位受结构柱影响，购买前请现场确认', '车位销售区'),
]

PROMISES = [
    ('广告', '小区绿化率不低于35%', '全体业主', '设计管理部'),
    ('广告', '双语幼儿园随首期交付', '全体业主', '营销管理部'),
    ('广告', '小区配建恒温泳池', '全体业主', '设计管理部'),
    ('说辞', '交付时入户门为指纹锁', '全体业主', '工程管理部'),
    ('说辞', '地下车库全部车位预留充电桩', '全体业主', '工程管理部'),
    ('说辞', '首层赠送私家花园，面积不小于30㎡', '部分房源', '营销管理部'),
    ('合同', '交付时小区主干道及景观全部完工', '全体业主', '工程管理部'),
    ('合同', '燃气、有线电视交付即开通', '全体业主', '工程管理部'),
    ('客户提出的变更', '业主要求厨房取消吊柜', '单户', '工程管理部'),
    ('客户提出的变更', '业主要求主卧增加一组插座', '单户', '工程管理部'),
    ('说辞', '单元大堂精装修标准与示范区一致', '全体业主', '设计管理部'),
    ('广告', '物业服务由一级资质物业公司提供', '全体业主', '物业公司'),
]

CHANGES = [
    ('3号楼外立面涂料改为真石漆', '3号楼', '中'),
    ('地下车库出入口由北侧调整至东侧', '地下车库、5号楼', '高'),
    ('标准层卫生间窗户尺寸由900×1200调整为900×1000', '1–6号楼标准层', '高'),
    ('入户门品牌由A品牌调整为同档次B品牌', '全部房源', '中'),
    ('首层花园围墙形式由铁艺改为绿篱', '首层房源', '高'),
    ('小区南侧景观水系取消，改为下沉草坪', '小区景观', '高'),
    ('电梯厅墙面材质由石材改为瓷砖', '全部单元', '中'),
    ('空调外机位百叶颜色调整', '全部房源', '低'),
    ('7号楼增设一部消防电梯', '7号楼', '低'),
    ('地库照明改为LED感应灯', '地下车库', '低'),
    ('主卧飘窗取消，改为落地窗', 'C户型', '高'),
    ('信报箱位置由单元门口调整至大堂内', '全部单元', '低'),
]

DEPARTMENTS = ('客户关系部', '设计管理部', '工程管理部', '营销管理部', '法务', '物业公司')


def _department_ids():
    found = {}
    for name in DEPARTMENTS:
        dept = Department.get_or_none(Department.name == name)
        found[name] = dept.id if dept else None
    return found


def _stamp(row, clerk_id):
    stamp = now()
    row.created_at = row.updated_at = stamp
    row.created_by = row.updated_by = clerk_id
    row.version = 1
    return row



def _seed_knowledge_bases(ctx, clerk_id):
    if DrawingReviewPoint.select().exists():
        return
    quarters = ['2023Q3', '2023Q4', '2024Q1', '2024Q2', '2024Q3', '2024Q4', '2025Q1']
    insert_derived(DrawingReviewPoint, [
        _stamp(DrawingReviewPoint(category=c, point=p, source_project=s,
                                  added_quarter=quarters[i % len(quarters)]), clerk_id)
        for i, (c, p, s) in enumerate(REVIEW_POINTS)])
    insert_derived(DesignDefect, [
        _stamp(DesignDefect(category=c, description=d, consequence=q, prevention=p,
                            source_project=s, added_quarter=quarters[i % len(quarters)]), clerk_id)
        for i, (c, d, q, p, s) in enumerate(DEFECTS)])


def _done_or_not(rng, window, today, late_share=0.2):
    """A completion date: on time for most past windows, late for some, none for open ones."""
    if window is None or window.due_on > today:
        return None
    roll = rng.random()
    if roll < 0.5 and window.due_on >= today - D(120):
        return None                                   # still overdue (recent windows only)
    if roll < 0.25 + late_share:
        return min(today, window.due_on + D(rng.randint(1, 12)))
    start = window.start_on or (window.due_on - D(10))
    span = max(0, (window.due_on - start).days)
    return start + D(rng.randint(0, span))


def _seed_project(ctx, project, clerk_id, dept):
    rng, today = ctx.rng, ctx.today
    launch_on = project.launch_date or (today - D(120))
    delivery_on = project.delivery_date or add_days(launch_on, 540)

    # Inspections: drawing reviews per batch, show units, countersign, launch and listing checks,
    # and the three delivery ones.
    inspections = []
    plans = [('审图评估', launch_on - D(300), None, '一期施工图'),
             ('审图评估', launch_on - D(200), None, '二期施工图'),
             ('审图评估', launch_on - D(150), None, '精装修施工图'),
             ('样板间检查', launch_on - D(60), None, 'A户型样板间'),
             ('样板间检查', launch_on - D(45), None, 'C户型样板间'),
             ('销售资料会签', None, None, '首开'),
             ('开盘及上市前检查', None, None, '首开'),
             ('开盘及上市前检查', None, launch_on + D(150), '二批次上市'),
             ('开盘及上市前检查', None, launch_on + D(240), '人防/非人防车位上市'),
             ('交付前风险检查', None, None, ''),
             ('交付联合验收', None, None, ''),
             ('交付后客户体验评估', None, None, '')]
    leads = {'审图评估': '设计管理部', '样板间检查': '营销管理部', '销售资料会签': '营销管理部',
             '交付联合验收': '工程管理部'}
    reports = {'审图评估': '审图评估报告', '样板间检查': '开盘前样板间风险检查报告',
               '销售资料会签': '销售资料会签单', '开盘及上市前检查': '开盘及上市风险评估报告',
               '交付前风险检查': '项目交付风险自评估报告', '交付联合验收': '交付产品品质检查报告',
               '交付后客户体验评估': '交付后客户体验评估报告'}
    for n, (kind, anchor_on, listing_on, batch) in enumerate(plans, 1):
        row = RiskInspection(project=project.id, kind=kind, anchor_on=anchor_on,
                             listing_on=listing_on,
                             lead_department=dept.get(leads.get(kind, '客户关系部')),
                             participants='工程、设计、营销、客服、法务',
                             legal_joined=kind == '开盘及上市前检查' and listing_on is None)
        window = row.window(launch_on, delivery_on)
        row.completed_on = _done_or_not(rng, window, today)
        if row.completed_on:
            row.report_no = '%s-FX-%02d' % (project.code, n)
            row.report_title = '《%s》%s' % (reports[kind], batch)
            row.conclusion = rng.choice(['基本符合要求，提出问题已落实整改责任人。',
                                         '存在若干风险点，详见问题清单。',
                                         '整体风险可控，需重点关注销售现场不利因素公示。'])
        inspections.append(_stamp(row, clerk_id))
    insert_derived(RiskInspection, inspections)
    saved = list(RiskInspection.select().where(RiskInspection.project == project.id)
                 .order_by(RiskInspection.id))

    # Scripts (some effective, one superseded by its v2, some still in review).
    scripts = []
    for n, (kind, specialty, topic, content) in enumerate(SCRIPTS):
        drafted_on = launch_on - D(rng.randint(25, 45)) if kind == '销售说辞' else \
            delivery_on - D(rng.randint(70, 100))
        row = SalesScript(project=project.id, kind=kind, specialty=specialty, topic=topic,
                          content=content, drafted_on=drafted_on)
        if drafted_on + D(12) <= today and n % 5 != 4:
            row.specialty_lead_signed_on = drafted_on + D(3)
            row.legal_reviewed_on = drafted_on + D(6)
            row.cs_reviewed_on = drafted_on + D(8)
            row.oa_countersign_no = 'OA-%s-SC%03d' % (project.code, n + 1)
            row.effective_on = drafted_on + D(10)
        scripts.append(_stamp(row, clerk_id))
    insert_derived(SalesScript, scripts)
    script_rows = list(SalesScript.select().where(SalesScript.project == project.id)
                       .order_by(SalesScript.id))
    parking = next(s for s in script_rows if s.topic == '车位配比及销售')
    if parking.effective_on:
        newer = _stamp(SalesScript(
            project=project.id, kind=parking.kind, specialty=parking.specialty, topic=parking.topic,
            content='本项目车位配比1:1.2，其中人防车位只售使用权，车位价格以届时公示为准。',
            script_version=2, replaces=parking.id, drafted_on=parking.effective_on + D(30),
            listing_on=launch_on + D(240), reconfirmed_on=launch_on + D(220),
            specialty_lead_signed_on=parking.effective_on + D(32),
            legal_reviewed_on=parking.effective_on + D(34),
            cs_reviewed_on=parking.effective_on + D(35),
            oa_countersign_no='OA-%s-SC101' % project.code,
            effective_on=parking.effective_on + D(36)), clerk_id)
        if newer.effective_on <= today:
            insert_derived(SalesScript, [newer])
            new_id = SalesScript.select(SalesScript.id).where(
                (SalesScript.project == project.id) & (SalesScript.replaces == parking.id)).scalar()
            SalesScript.update(superseded_by=new_id).where(SalesScript.id == parking.id).execute()
    unified = [s for s in script_rows if s.kind == rules.UNFIXABLE_SCRIPT_KIND and s.effective_on]

    # Findings of the inspections already done: most closed, some open, a few overdue.
    findings = []
    done = [i for i in saved if i.completed_on]
    for n in range(min(len(FINDINGS), 6 + 3 * len(done))):
        if not done:
            break
        inspection = done[n % len(done)]
        category, description, owner = FINDINGS[(n * 7 + project.id) % len(FINDINGS)]
        row = RiskFinding(project=project.id, inspection=inspection.id, category=category,
                          description=description, found_on=inspection.completed_on,
                          responsible_department=dept.get(owner),
                          rectification_plan='由%s牵头制定整改方案，客服跟进至整改完毕。' % owner)
        row.derive()
        if row.due_on is None:
            row.due_on = inspection.completed_on + D(30)
        roll = rng.random()
        if n % 6 == 5 and unified:
            row.fixable = False
            row.status = '已关闭'
            row.unified_script = unified[n % len(unified)].id
            row.verified_by = '客服 陈静'
            row.closed_on = min(today, row.found_on + D(20))
        elif (roll < 0.6 and row.found_on + D(10) <= today) or row.found_on < today - D(365):
            row.status = '已关闭'
            row.verified_by = rng.choice(['客服 陈静', '客服 刘洋', '工程 王磊'])
            row.closed_on = min(today, row.found_on + D(rng.randint(5, 25)))
        else:
            row.status = rng.choice(['待整改', '整改中', '待验证'])
        findings.append(_stamp(row, clerk_id))
    insert_derived(RiskFinding, findings)
    for inspection in saved:
        inspection.refresh_open_findings()

    # Boards before launch (one late, one not yet reviewed by legal).
    boards = []
    for n, (scope, content, location) in enumerate(DISCLOSURES):
        displayed_on = launch_on - D(rng.randint(3, 15))
        if n == 3:
            displayed_on = launch_on + D(5)
        row = RiskDisclosure(project=project.id, scope=scope, content=content,
                             display_location=location,
                             displayed_on=displayed_on if displayed_on <= today else None,
                             legal_reviewed_on=None if n == 6 else displayed_on - D(5),
                             in_contract_attachment=scope == '红线外')
        boards.append(_stamp(row, clerk_id))
    insert_derived(RiskDisclosure, boards)

    # Sales documents: countersigned ≥20 days before launch, a couple late, a couple pending.
    documents = []
    for n, kind in enumerate(rules.DOCUMENT_KINDS):
        due = launch_on - D(20)
        signed = due - D(rng.randint(0, 10))
        if n in (2, 7):
            signed = due + D(rng.randint(1, 6))
        if n == 11 and launch_on > today:
            signed = None                         # still waiting for the OA countersign
        elif n == 11:
            signed = due + D(8)
        if signed is not None and signed > today:
            signed = None
        row = SalesDocumentReview(project=project.id, doc_kind=kind,
                                  title='%s%s' % (project.name, kind), doc_version='V1.%d' % (n % 3),
                                  drafted_by='营销管理部', oa_no=None,
                                  drafted_on=(min(today, (signed or launch_on - D(10)) - D(6))
                                              if kind in rules.CONTRACT_DOC_KINDS else None),
                                  legal_reviewed_on=(signed - D(4)) if signed else None,
                                  cs_reviewed_on=(signed - D(3)) if signed else None,
                                  countersigned_on=signed, archived=bool(signed) and n % 4 != 0)
        if signed:
            row.oa_no = 'OA-%s-HQ%03d' % (project.code, n + 1)
        documents.append(_stamp(row, clerk_id))
    special_standard = SalesDocumentReview(
        project=project.id, doc_kind='交房标准', title='%s非标层交房标准' % project.name,
        applies_to='非标层', doc_version='V1.0', drafted_by='设计管理部',
        drafted_on=min(today, launch_on - D(30)))
    if launch_on - D(22) <= today:
        special_standard.legal_reviewed_on = launch_on - D(28)
        special_standard.cs_reviewed_on = launch_on - D(27)
        special_standard.countersigned_on = launch_on - D(22)
        special_standard.oa_no = 'OA-%s-HQ101' % project.code
        special_standard.archived = True
    documents.append(_stamp(special_standard, clerk_id))
    insert_derived(SalesDocumentReview, documents)

    # Promises: fulfilled, still pending, unfulfillable with and without a unified script.
    units = list(ctx.units.get(project.id, []))
    promises = []
    for n, (source, content, scope, owner) in enumerate(PROMISES):
        row = SalesPromise(project=project.id, source=source, content=content, scope=scope,
                           responsible_department=dept.get(owner))
        if scope == '单户' and units:
            row.unit = units[(n * 13) % len(units)].id
        elif scope == '单户':
            row.scope = '全体业主'
        if scope == '部分房源':
            row.scope_note = '全部首层房源'
        roll = n % 4
        if roll in (0, 1) and launch_on + D(60) <= today:
            row.status, row.checked_on = '已兑现', min(today, launch_on + D(60 + n))
        elif roll == 2 and launch_on + D(90) <= today:
            row.status, row.checked_on = '无法兑现', min(today, launch_on + D(90))
            if unified and n % 8 == 2:
                row.unified_script = unified[0].id
        promises.append(_stamp(row, clerk_id))
    insert_derived(SalesPromise, promises)

    # Floor-plan checks: every special unit and about a third of standard ones — except the
    # second demo project, which is still short (its coverage panel shows the gap).
    checks = []
    short = ctx.projects.index(project) == 1 if project in ctx.projects else False
    check_day = launch_on - D(90)
    standard = [u for u in units if rules.unit_category(u.special_kind) == rules.STANDARD]
    special = [u for u in units if rules.unit_category(u.special_kind) != rules.STANDARD]
    chosen = special[:-2] if short else special
    chosen += standard[::3] if not short else standard[::6]
    for n, unit in enumerate(chosen):
        mismatch = n % 11 == 4
        row = FloorPlanCheck(project=project.id, unit=unit.id,
                             checked_on=min(today, check_day + D(n % 20)),
                             matches_dm=not mismatch,
                             discrepancy=rng.choice(['客厅开间比DM单少15cm', '卫生间门洞位置与DM单不符',
                                                     '阳台进深比DM单少10cm', '厨房窗户尺寸与DM单不符'])
                             if mismatch else None,
                             checker=rng.choice(['客服 陈静', '客服 刘洋']),
                             structure_progress=min(60, 20 + n % 35))
        checks.append(_stamp(row, clerk_id))
    insert_derived(FloorPlanCheck, checks)

    # Design changes before and after launch; some told to owners, some not.
    changes = []
    for n, (content, scope, risk_level) in enumerate(CHANGES):
        issued_on = launch_on + D(-60 + n * 25)
        if issued_on > today:
            issued_on = today - D(n)
        row = DesignChange(project=project.id, change_no='%s-BG-%03d' % (project.code, n + 1),
                           issued_on=issued_on, issuing_department=dept.get('设计管理部'),
                           content=content, affected_scope=scope, complaint_risk=risk_level)
        if issued_on >= launch_on:
            if n % 5 != 3:
                row.cs_notified_on = issued_on + D(2)
                row.sales_notified_on = issued_on + D(2)
                row.legal_notified_on = issued_on + D(3) if n % 7 != 2 else None
            if risk_level in ('高', '中'):
                row.customer_notice_required = True
                row.notice_basis = '变更涉及已售房源的使用功能/外观，依《商品房买卖合同》约定须书面告知。'
                row.owners_to_notify = rng.randint(40, 200)
                if n % 3 != 1 and issued_on + D(10) <= today:
                    row.notice_method = '函件'
                    row.letters_sent_on = issued_on + D(10)
                    row.owners_notified = row.owners_to_notify - (0 if n % 2 == 0 else rng.randint(3, 20))
                    row.customer_feedback = '多数业主表示理解，个别业主要求补偿。'
            if risk_level == '高':
                row.impact = '影响%s，已售业主可能以与宣传不符为由投诉。' % scope
                row.suggestion = '交付前由客服、销售联合上门沟通，准备统一说辞。'
        for name in ('cs_notified_on', 'sales_notified_on', 'legal_notified_on', 'letters_sent_on'):
            if getattr(row, name) and getattr(row, name) > today:
                setattr(row, name, None)
        if row.letters_sent_on is None:
            row.notice_method, row.owners_notified = None, 0
        changes.append(_stamp(row, clerk_id))
    insert_derived(DesignChange, changes)


def add_days(day, n):
    return day + D(n)


def seed(ctx):
    clerk = ctx.users.get('clerk') if hasattr(ctx.users, 'get') else None
    clerk_id = getattr(clerk, 'id', None)
    _seed_knowledge_bases(ctx, clerk_id)
    dept = _department_ids()
    for project in ctx.projects:
        _seed_project(ctx, project, clerk_id, dept)
