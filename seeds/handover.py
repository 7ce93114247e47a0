"""Demo handover roster of the first project, mid-way through its handover (T was five days ago):
notices mailed ten days before, owners phoned three days before, bookings spread over ten days,
arrivals, keys, refusals and no-shows on every day so far, a few demand letters.

Rows are built as models and derived with their own `derive()` (eligibility from the contract,
due dates, late days and penalties), then bulk-inserted.
"""
import datetime

from models.base import now
from models.handover import HandoverEntry
from rules import handover as rules
from seeds import insert_derived

D = datetime.timedelta
REFUSALS = ('卫生间渗水，要求修复后再收房', '实测面积与合同面积差异超过3%', '入户门与样板间不一致',
            '外窗有裂纹', '小区景观未按销售承诺完成')
GIFTS = ('抽奖：扫地机器人', '抽奖：电饭煲', '礼品：定制餐具', '礼品：绿植', '礼品：定制餐具')


def seed(ctx):
    if not ctx.projects:
        return
    project = ctx.projects[0]
    t = project.delivery_date
    if t is None or t > ctx.today:
        return
    clerk = ctx.users.get('clerk')
    stamp = now()
    audit = dict(created_at=stamp, updated_at=stamp, version=1,
                 created_by=clerk.id if clerk else None, updated_by=clerk.id if clerk else None)
    insert_derived(HandoverEntry, roster_rows(ctx, project, t), audit)
    # The roster's last scheduled day completes the handover: the +3/+15 nodes count from it.
    from models.delivery import follow_handover_completion
    follow_handover_completion(project.id)


def roster_rows(ctx, project, t):
    rng, today = ctx.rng, ctx.today
    contracts = {}
    for c in sorted(ctx.contracts.get(project.id, []), key=lambda c: (not c.cancelled, c.id)):
        contracts[c.unit_id] = c                       # a valid contract wins over a cancelled one
    units = [u for u in ctx.units[project.id] if u.status in ('已售', '已交付') or u.id in contracts]
    units.sort(key=lambda u: (u.building, u.entrance, int(u.room) if u.room.isdigit() else 0))
    booking_days = [t + D(days=n) for n in range(10)]
    rows = []
    for index, unit in enumerate(units):
        contract = contracts.get(unit.id)
        row = HandoverEntry(project=project.id, unit=unit.id,
                            contract=contract.id if contract else None,
                            owner=contract.owner_id if contract else None)
        eligible = bool(contract and not contract.cancelled and contract.paid_in_full)
        row.phoned_on = t - D(days=rng.choice((3, 3, 3, 4))) if rng.random() < 0.96 else None
        if not eligible:
            row.remarks = '电话通知时已说明不符合交楼资格的原因。'
            rows.append(row)
            continue
        row.notice_mailed_on = t - D(days=rng.choice((10, 10, 10, 11)))
        row.tracking_no = 'SF%010d' % rng.randint(0, 9999999999)
        row.notice_confirmed = rng.random() < 0.86
        day = booking_days[min(len(booking_days) - 1, index * len(booking_days) // max(1, len(units)))]
        row.appointment_on = day
        if day > today:
            rows.append(row)
            continue
        fate = rng.random()
        if day == today and fate < 0.4:
            rows.append(row)                           # booked for later today
            continue
        if fate < 0.10:
            row.status = rules.STATUS_ABSENT
            if day <= today - D(days=3) and rng.random() < 0.5:
                row.demand_letter_sent_on = today - D(days=1)
            rows.append(row)
            continue
        arrived = datetime.datetime.combine(day, datetime.time(rng.randint(8, 16), rng.choice((0, 15, 30, 45))))
        row.arrived_at = arrived
        row.issues_found = rng.choices((0, 1, 2, 3, 4, 5, 6, 8), (18, 22, 20, 15, 10, 7, 5, 3))[0]
        row.gift_or_lottery = rng.choice(GIFTS)
        if fate < 0.16:
            row.status = rules.STATUS_REFUSED
            row.refusal_reason = rng.choice(REFUSALS)
        elif fate < 0.22:
            row.status = rules.STATUS_POSTPONED
            row.remarks = '验房问题较多，业主同意整改完成后再交钥匙。'
        else:
            keys_on = day + D(days=1) if (fate > 0.96 and day < today) else day
            row.keys_handed_on = keys_on
            row.status = rules.STATUS_HANDED
        rows.append(row)
    return rows
