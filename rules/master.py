"""Rules of the master data (REGISTERS.md §1)."""
import datetime
import re

SPECIAL_KINDS = ('标准层', '首层', '二层', '边户', '非标层')
LOAN_METHODS = ('商业贷款', '公积金', '组合贷')

_ID18 = re.compile(r'^\d{17}[\dXx]$')
_PHONE = re.compile(r'^(1\d{10}|0\d{2,3}-?\d{7,8})$')


def id_number_looks_valid(value):
    """An 18-digit resident ID (last character may be X), with its GB 11643 check digit."""
    value = (value or '').strip()
    if not _ID18.match(value):
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return '10X98765432'[total % 11] == value[17].upper()


def phone_looks_valid(value):
    return bool(_PHONE.match((value or '').replace(' ', '')))


def mask_id_number(value):
    """3301**********1234: keep the region prefix and the last four digits."""
    if not value:
        return value
    value = str(value)
    if len(value) <= 8:
        return '*' * len(value)
    return value[:4] + '*' * (len(value) - 8) + value[-4:]


def mask_phone(value):
    """138****5678."""
    if not value:
        return value
    value = str(value)
    if len(value) <= 7:
        return '*' * len(value)
    return value[:3] + '*' * (len(value) - 7) + value[-4:]


MASKS = {'id_number': mask_id_number, 'phone': mask_phone}


def unit_counts(unit_model, project_id):
    """(total units, sold units) of a project; delivered units count as sold."""
    from peewee import fn, Case
    row = (unit_model
           .select(fn.COUNT(unit_model.id),
                   fn.SUM(Case(None, [(unit_model.status.in_(('已售', '已交付')), 1)], 0)))
           .where((unit_model.project == project_id) & unit_model.deleted_at.is_null())
           .tuples().first())
    return int(row[0] or 0), int(row[1] or 0)


UNSOLD, SOLD, HANDED_OVER = '未售', '已售', '已交付'
SOLD_STATUSES = (SOLD, HANDED_OVER)
UNIT_STATUS_CLAUSE = ('手册003 与业主工程质量监理小组的沟通：“当新建项目的销售比例超过百分之三十时(以户数计算)”；'
                      '手册001 钥匙移交：“保证已售出的房间钥匙全部移交”')


def unit_status_from_contracts(status, has_valid_contract):
    """A unit's status as its contracts make it (UNIT_STATUS_CLAUSE: the 30% sold by count and the
    sales keys of every sold unit count sold units).

    A live, valid (not cancelled, not in the recycle bin) contract makes the unit 已售, and a unit
    already handed over stays 已交付; without one the unit is 未售 — a cancelled sale is not a sale.
    """
    if has_valid_contract:
        return status if status in SOLD_STATUSES else SOLD
    return UNSOLD


def contract_problems(*, payment_method, mortgage_bank, mortgage_status, loan_amount,
                      total_price, disbursed_date, sign_date, cancelled, cancel_date,
                      cancel_reason, filing_status, filed_date, late_penalty_rate):
    """The consistency a contract register needs before it feeds the handover roster."""
    if total_price is not None and total_price <= 0:
        yield 'total_price', '「总价」必须大于 0。'
    if payment_method in LOAN_METHODS:
        if not mortgage_bank:
            yield 'mortgage_bank', '按揭付款须填写「按揭银行」。'
        if loan_amount is not None and total_price is not None and loan_amount > total_price:
            yield 'loan_amount', '「贷款金额」不能大于合同总价。'
    elif payment_method == '一次性' and (mortgage_status or loan_amount):
        yield 'payment_method', '一次性付款的合同不应填写按揭状态或贷款金额。'
    if mortgage_status == '已放款' and not disbursed_date:
        yield 'disbursed_date', '按揭状态为「已放款」时须填写「放款日期」。'
    if disbursed_date and sign_date and disbursed_date < sign_date:
        yield 'disbursed_date', '「放款日期」不能早于签约日期。'
    if cancelled:
        if not cancel_date:
            yield 'cancel_date', '作废的合同须填写「作废日期」。'
        if not cancel_reason:
            yield 'cancel_reason', '作废的合同须填写「作废原因」。'
    if cancel_date and sign_date and cancel_date < sign_date:
        yield 'cancel_date', '「作废日期」不能早于签约日期。'
    if filing_status == '已备案' and not filed_date:
        yield 'filed_date', '网签备案状态为「已备案」时须填写「备案日期」。'
    if late_penalty_rate is not None and not (0 <= late_penalty_rate < 1):
        yield 'late_penalty_rate', '「延期交房违约金日费率」应在 0 与 1 之间（如 0.0001）。'


def days_between(start, end):
    if not isinstance(start, datetime.date) or not isinstance(end, datetime.date):
        return None
    return (end - start).days


# --------------------------------------------------------------------------- signing documents

HOUSEHOLDS = ('本地', '外地')
NONLOCAL_CLAUSE = ('手册002 签约操作流程 资料一：“外地户口身份证、户口簿、结婚证、一年的社保证明、'
                   '地税出具的个人一年纳税证明。”')


def nonlocal_buyer_problems(household, social_security_proof, tax_proof):
    """(field, message): a buyer from elsewhere signs with one year of social-security and tax
    records on the contract's document checklist (NONLOCAL_CLAUSE)."""
    if household != '外地':
        return []
    missing = [(name, label) for name, label, have in (
        ('social_security_proof', '一年社保证明', social_security_proof),
        ('tax_proof', '一年纳税证明', tax_proof)) if not have]
    return [(name, '外地户籍购房须提供%s（%s）' % (label, NONLOCAL_CLAUSE)) for name, label in missing]
