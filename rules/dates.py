"""Calendar arithmetic shared by every stage's rules."""
import calendar
import datetime


def add_months(day, months):
    """`day` shifted by `months` calendar months, clamped to the end of a shorter month.

    民法典 第二百零二条 counts a period in months or years to "the corresponding day of the last
    month; where there is no corresponding day, the last day of that month": so 01-31 + 1 month is
    02-28 (02-29 in a leap year), 2024-02-29 + 12 months is 2025-02-28, and "交付前三个月" from
    31 May is 28 (or 29) February, not 3 March.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
