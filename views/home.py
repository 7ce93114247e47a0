"""首页 — one card per visible project, the per-project chart page, and the health check.

Each figure on a card is computed by the register (and its rules) that holds it; a register that
does not exist yet simply leaves its figure off. Every figure is one grouped query over all the
visible projects at once, so the page costs the same for one project as for twenty, and a
million-row punch list is counted by its indexes rather than loaded.

Charts are drawn here as SVG on the server (no script, no CDN: the portal runs on an offline
intranet under a CSP without inline script).
"""
import datetime
from collections import OrderedDict

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from peewee import SQL, Case, ModelIndex, fn

from models.base import db
from models.master import Project
from models import due as engine
from views.base import scope_query
from views import params
from views.pages import render_page

bp = Blueprint('home', __name__)

WARRANTY_NOTICE_DAYS = 60       # warranties whose owner notice falls due within two months


# --------------------------------------------------------------------------- SVG charts

PALETTE = ('#2e86de', '#10ac84', '#ee5253', '#ff9f43', '#8395a7', '#5f27cd', '#01a3a4')


def _num(value):
    return ('%.2f' % value).rstrip('0').rstrip('.') if isinstance(value, float) else str(value)


def bar_chart(pairs, max_value=None, suffix='', title='', width=340):
    """Horizontal bars: [(label, value)] → an SVG element (escaped labels)."""
    pairs = [(str(label), value or 0) for label, value in pairs]
    if not pairs:
        return Markup('')
    top = max_value or max(v for _, v in pairs) or 1
    row, label_w, bar_w = 20, 96, width - 96 - 44
    height = row * len(pairs) + 6
    parts = ['<svg class="chart chart-bar" role="img" viewBox="0 0 %d %d" width="100%%" '
             'aria-label="%s">' % (width, height, escape(title))]
    for i, (label, value) in enumerate(pairs):
        y = 3 + i * row
        length = max(0.0, min(1.0, float(value) / float(top))) * bar_w
        parts.append('<text x="%d" y="%d" class="chart-label" text-anchor="end">%s</text>'
                     % (label_w - 4, y + 13, escape(label[:10])))
        parts.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s：%s%s</title></rect>'
                     % (label_w, y + 2, length, row - 6, PALETTE[i % len(PALETTE)], escape(label),
                        _num(value), escape(suffix)))
        parts.append('<text x="%.1f" y="%d" class="chart-value">%s%s</text>'
                     % (label_w + length + 3, y + 13, _num(value), escape(suffix)))
    parts.append('</svg>')
    return Markup(''.join(parts))


def stacked_bars(rows, legend, title='', width=340):
    """[(label, [value per legend entry])] → horizontal stacked bars with a legend."""
    if not rows:
        return Markup('')
    top = max(sum(values) for _, values in rows) or 1
    row, label_w, bar_w = 20, 70, width - 70 - 40
    height = row * len(rows) + 22
    parts = ['<svg class="chart chart-stacked" role="img" viewBox="0 0 %d %d" width="100%%" '
             'aria-label="%s">' % (width, height, escape(title))]
    for i, (label, values) in enumerate(rows):
        y, x = 3 + i * row, float(label_w)
        parts.append('<text x="%d" y="%d" class="chart-label" text-anchor="end">%s</text>'
                     % (label_w - 4, y + 13, escape(str(label))))
        for j, value in enumerate(values):
            length = float(value) / top * bar_w
            if length > 0:
                parts.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">'
                             '<title>%s %s：%s</title></rect>'
                             % (x, y + 2, length, row - 6, PALETTE[j % len(PALETTE)],
                                escape(str(label)), escape(legend[j]), value))
            x += length
        parts.append('<text x="%.1f" y="%d" class="chart-value">%s</text>'
                     % (x + 3, y + 13, sum(values)))
    x, y = float(label_w), height - 6
    for j, name in enumerate(legend):
        parts.append('<rect x="%.1f" y="%d" width="9" height="9" fill="%s"></rect>'
                     '<text x="%.1f" y="%d" class="chart-label">%s</text>'
                     % (x, y - 8, PALETTE[j % len(PALETTE)], x + 12, y, escape(name)))
        x += 14 + 12 * len(name)
    parts.append('</svg>')
    return Markup(''.join(parts))


def line_chart(points, y_max=None, percent=False, title='', width=340, height=120):
    """[(date, value)] → a line with its first and last dates and its last value."""
    if len(points) < 1:
        return Markup('')
    top = y_max or max(v for _, v in points) or 1
    left, right, top_pad, bottom = 34, 10, 8, 18
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)

    def xy(day, value):
        return (left + (day - first).days / span * plot_w,
                top_pad + plot_h - min(float(value) / top, 1.0) * plot_h)
    label = (lambda v: '%d%%' % round(v * 100)) if percent else _num
    coords = ' '.join('%.1f,%.1f' % xy(d, v) for d, v in points)
    parts = ['<svg class="chart chart-line" role="img" viewBox="0 0 %d %d" width="100%%" '
             'aria-label="%s">' % (width, height, escape(title)),
             '<line x1="%d" y1="%d" x2="%d" y2="%d" class="chart-axis"></line>'
             % (left, top_pad + plot_h, left + plot_w, top_pad + plot_h),
             '<line x1="%d" y1="%d" x2="%d" y2="%d" class="chart-axis"></line>'
             % (left, top_pad, left, top_pad + plot_h),
             '<text x="%d" y="%d" class="chart-label" text-anchor="end">%s</text>'
             % (left - 3, top_pad + 8, label(top)),
             '<text x="%d" y="%d" class="chart-label" text-anchor="end">0</text>'
             % (left - 3, top_pad + plot_h),
             '<polyline points="%s" fill="none" stroke="%s" stroke-width="2"></polyline>'
             % (coords, PALETTE[0])]
    for d, v in points:
        x, y = xy(d, v)
        parts.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s：%s</title></circle>'
                     % (x, y, PALETTE[0], d.isoformat(), label(v)))
    parts.append('<text x="%d" y="%d" class="chart-label">%s</text>'
                 % (left, height - 4, first.strftime('%m-%d')))
    parts.append('<text x="%d" y="%d" class="chart-label" text-anchor="end">%s</text>'
                 % (left + plot_w, height - 4, last.strftime('%m-%d')))
    parts.append('</svg>')
    return Markup(''.join(parts))


# --------------------------------------------------------------------------- figures

def _reg(table):
    return engine.registers().get(table)


def _grouped(model, ids, *columns, where=None):
    """{project id: (values…)} of one grouped aggregate over the live rows of `ids`."""
    query = model.select(model.project, *columns).where(
        model.deleted_at.is_null() & model.project.in_(ids or [0]))
    if where is not None:
        query = query.where(where)
    return {row[0]: tuple(int(v or 0) for v in row[1:])
            for row in query.group_by(model.project).tuples()}


def _count_when(cond):
    return fn.SUM(Case(None, [(cond, 1)], 0))


def milestone_figures(ids, today):
    milestones = _reg('delivery_milestone')
    if milestones is None:
        return None
    m = milestones
    counts = _grouped(m, ids, fn.COUNT(m.id), _count_when(m.done_on.is_null(False)),
                      _count_when(m.done_on.is_null() & (m.due_on < today)))
    nexts = {}
    upcoming = (m.select(m.project, fn.MIN(m.due_on))
                .where(m.deleted_at.is_null() & m.project.in_(ids or [0]) & m.done_on.is_null() &
                       (m.due_on >= today)).group_by(m.project).tuples())
    for pid, due_on in upcoming:
        row = (m.select(m.code, m.name, m.due_on)
               .where(m.deleted_at.is_null() & (m.project == pid) & m.done_on.is_null() &
                      (m.due_on == due_on)).order_by(m.code).first())
        nexts[pid] = row
    return {pid: {'total': counts.get(pid, (0, 0, 0))[0], 'done': counts.get(pid, (0, 0, 0))[1],
                  'overdue': counts.get(pid, (0, 0, 0))[2], 'next': nexts.get(pid)}
            for pid in ids}


def punch_figures(ids, today):
    """Open and overdue punch-list issues (rules.delivery: open = neither closed nor decided),
    counted from the partial index of the register's deadline (models.due.open_condition)."""
    issues = _reg('inspection_issue')
    if issues is None:
        return None
    i = issues
    deadline = next((d for d in getattr(i._meta, 'deadlines', ()) if d.due_field == 'deadline'),
                    None)
    if deadline is not None:
        open_ = engine.open_condition(i, deadline)
    else:
        from rules import delivery as rules
        open_ = i.deleted_at.is_null() & i.status.not_in(rules.SETTLED_STATUSES)
    counts = {row[0]: row[1:] for row in
              i.select(i.project, fn.COUNT(i.id), _count_when(i.deadline < today))
              .where(open_ & i.project.in_(ids or [0])).group_by(i.project).tuples()}
    return {pid: {'open': int(counts.get(pid, (0, 0))[0] or 0),
                  'overdue': int(counts.get(pid, (0, 0))[1] or 0)} for pid in ids}


def key_figures(ids, projects, punch, today):
    """Key-transfer readiness: transferred, or the reasons it is blocked (rules.delivery gates)."""
    keys = _reg('key_transfer')
    if keys is None:
        return None
    from rules import delivery as rules
    done = {}
    for row in (keys.select(keys.project, keys.kind, fn.MAX(keys.transferred_on))
                .where(keys.deleted_at.is_null() & keys.project.in_(ids or [0]))
                .group_by(keys.project, keys.kind).tuples()):
        done[(row[0], row[1])] = row[2]
    found = {}
    for project in projects:
        move_in_on = project.delivery_date
        if project.stage in ('已交付', '出保') and not any(k[0] == project.id for k in done):
            found[project.id] = None       # handed over before the portal: nothing to get ready
            continue
        entries = []
        for kind in rules.KEY_KINDS:
            entry = {'kind': kind, 'due_on': rules.key_due_on(kind, move_in_on),
                     'transferred_on': done.get((project.id, kind)), 'reasons': []}
            if entry['transferred_on'] is None:
                if kind == rules.KEY_CONSTRUCTION:
                    open_count = (punch or {}).get(project.id, {}).get('open', 0)
                    entry['reasons'] = [m for _, m in rules.construction_key_problems(open_count)]
                else:
                    probe = keys(project=project.id, kind=kind, scope='')
                    without = probe.sold_units_without_keys()
                    if without:
                        entry['reasons'] = ['已售 %d 户的销售钥匙待移交（%s）' % (
                            len(without), rules.KEY_CLAUSES[kind])]
            entries.append(entry)
        found[project.id] = entries
    return found


def handover_figures(ids, today):
    """Handover progress from the roster (rules.handover.daily_figures), and its curve: the
    cumulative share of owners due for handover who have their keys, day by day."""
    roster = _reg('handover_entry')
    if roster is None:
        return None
    from rules import handover as rules
    by_project = {pid: [] for pid in ids}
    names = ('project', 'eligible', 'status', 'appointment_on', 'arrived_at', 'keys_handed_on',
             'issues_found', 'refused_on')
    fields = [roster._meta.fields[n] for n in names if n in roster._meta.fields]
    for row in roster.select(*fields).where(roster.deleted_at.is_null() &
                                           roster.project.in_(ids or [0])):
        by_project[row.__data__['project']].append(row)
    found = {}
    for pid, rows in by_project.items():
        if not rows:
            found[pid] = None
            continue
        figures = rules.daily_figures(rows, today)
        handed_by_day = {}
        for row in rows:
            day = rules.handed_on(row)
            if day is not None and day <= today:
                handed_by_day[day] = handed_by_day.get(day, 0) + 1
        curve, running = [], 0
        for day in sorted(handed_by_day):
            running += handed_by_day[day]
            curve.append((day, running / figures.units_due if figures.units_due else 0.0))
        found[pid] = {'figures': figures, 'curve': curve}
    return found


def complaint_figures(ids, today):
    complaints = _reg('complaint')
    if complaints is None:
        return None
    c = complaints
    open_ = c.closed_on.is_null() if 'closed_on' in c._meta.fields else (c.status != '关闭')
    counts = _grouped(c, ids, fn.COUNT(c.id), _count_when(open_))
    by_category = {}
    if 'category' in c._meta.fields:
        for pid, category, n in (c.select(c.project, c.category, fn.COUNT(c.id))
                                 .where(c.deleted_at.is_null() & c.project.in_(ids or [0]))
                                 .group_by(c.project, c.category).order_by(fn.COUNT(c.id).desc())
                                 .tuples()):
            by_category.setdefault(pid, []).append((category or '未分类', n))
    overdue = {}
    if 'deadline' in c._meta.fields:
        overdue = _grouped(c, ids, fn.COUNT(c.id), where=open_ & (c.deadline < today))
    return {pid: {'total': counts.get(pid, (0, 0))[0], 'open': counts.get(pid, (0, 0))[1],
                  'overdue': overdue.get(pid, (0,))[0], 'by_category': by_category.get(pid, [])}
            for pid in ids}


def warranty_figures(ids, today):
    """Warranties whose owner notice (expiry − 2 months, 手册002) is due or falls due soon."""
    items = _reg('warranty_item')
    if items is None or 'notice_due_on' not in items._meta.fields:
        return None
    w = items
    pending = w.owners_notified_on.is_null() & w.notice_due_on.is_null(False)
    soon = today + datetime.timedelta(days=WARRANTY_NOTICE_DAYS)
    counts = _grouped(w, ids, _count_when(pending & (w.notice_due_on <= soon)),
                      _count_when(pending & (w.notice_due_on < today)), where=pending)
    return {pid: dict(zip(('due', 'overdue'), counts.get(pid, (0, 0)))) for pid in ids}


def survey_figures(ids, today):
    """The latest callback survey: valid only above 25% returned (手册003), its averages."""
    surveys = _reg('callback_survey')
    if surveys is None:
        return None
    from rules import aftercare as care
    s = surveys
    date_field = next((getattr(s, n) for n in ('report_on', 'returned_on', 'issued_on')
                       if n in s._meta.fields), s.id)
    responses = _reg('survey_response')
    found = {}
    for pid in ids:
        latest = (s.select().where(s.deleted_at.is_null() & (s.project == pid))
                  .order_by(date_field.desc(nulls='LAST'), s.id.desc()).first())
        if latest is None:
            found[pid] = None
            continue
        averages = OrderedDict()
        if responses is not None and 'survey' in responses._meta.fields:
            fields = [responses._meta.fields[f] for f, _ in care.SURVEY_DIMENSIONS
                      if f in responses._meta.fields]
            rows = [{f.name: r.__data__.get(f.name) for f in fields}
                    for r in responses.select(*fields).where(
                        responses.deleted_at.is_null() & (responses.survey == latest.id))]
            averages = care.dimension_averages(rows)
        rate = care.response_rate(latest.issued, latest.returned)
        found[pid] = {'survey': latest, 'valid': care.survey_is_valid(latest.issued, latest.returned),
                      'rate': None if rate is None else float(rate),
                      'averages': averages}
    return found


def risk_figures(ids):
    """Open risk findings and unfulfilled sales promises (models.risk counts them)."""
    try:
        from models import risk
    except ImportError:
        return None
    return {pid: {'open_findings': risk.open_findings_count(pid),
                  'open_promises': risk.open_promises_count(pid)} for pid in ids}


def countdown_label(delivery_on, today):
    """T−45 forty-five days before delivery, T日 on it, T+10 after."""
    if delivery_on is None:
        return None
    days = (today - delivery_on).days
    return 'T日' if days == 0 else 'T%s%d' % ('+' if days > 0 else '−', abs(days))


def project_cards(projects, today, user):
    ids = [p.id for p in projects]
    punch = punch_figures(ids, today)
    figures = {
        'milestones': milestone_figures(ids, today),
        'punch': punch,
        'keys': key_figures(ids, projects, punch, today),
        'handover': handover_figures(ids, today),
        'complaints': complaint_figures(ids, today),
        'warranties': warranty_figures(ids, today),
        'survey': survey_figures(ids, today),
        'risk': risk_figures(ids),
    }
    due = engine.counts_by_project(today, engine.DueFilter(project_ids=ids, days=engine.DEFAULT_DAYS))
    cards = []
    for project in projects:
        card = {'project': project, 'delivery_on': project.delivery_date,
                'countdown': countdown_label(project.delivery_date, today),
                'due': due.get(project.id)}
        for name, by_project in figures.items():
            card[name] = None if by_project is None else by_project.get(project.id)
        charts = {}
        if card['handover'] and card['handover']['curve']:
            charts['handover'] = line_chart(card['handover']['curve'], y_max=1.0, percent=True,
                                            title='累计交付比例')
        if card['complaints'] and card['complaints']['by_category']:
            charts['complaints'] = bar_chart(card['complaints']['by_category'][:6],
                                             suffix='件', title='投诉按类别')
        if card['survey'] and card['survey']['averages']:
            charts['survey'] = bar_chart([(k, float(v)) for k, v in card['survey']['averages'].items()
                                          if v is not None], max_value=5, suffix='分',
                                         title='回访各维度平均分')
        card['charts'] = charts
        cards.append(card)
    return cards


# --------------------------------------------------------------------------- pages

def _visible_projects():
    return list(scope_query(Project, Project.select(), current_user).order_by(Project.code))


def _today():
    return params.date_arg('on') or datetime.date.today()


@bp.route('/')
@login_required
def index():
    today = _today()
    cards = project_cards(_visible_projects(), today, current_user)
    return render_page('home.html', cards=cards, today=today, title='首页')


def _settled_on(i):
    """The day an issue was settled: verified (已关闭), decided (让步接收/不整改), else rectified."""
    return fn.COALESCE(i.verified_on, i.decision_approved_on, i.rectified_on, i.found_on)


def burndown_indexes(i):
    """Two partial indexes the burn-down reads instead of the table: issues found per round and
    day, and issues settled per round and day. A million-row punch list is then grouped from
    the indexes alone."""
    from rules import delivery as rules
    live = i.deleted_at.is_null()
    # `found_on IS NOT NULL` keeps the first index out of reach of the deadline counts, which
    # do not say it: without table statistics SQLite would otherwise take it for them.
    return (ModelIndex(i, (i.project, i.round, i.found_on), name='board_ix_issue_found_v2',
                       where=live & i.found_on.is_null(False), safe=True),
            ModelIndex(i, (i.project, i.round, _settled_on(i)), name='board_ix_issue_settled',
                       where=live & i.status.in_(rules.SETTLED_STATUSES), safe=True))


def _index_where(index):
    """The partial index's WHERE as SQL text with its constants written out: SQLite uses a
    partial index only when the query repeats that WHERE with the same constants."""
    sql, params = db.get_sql_context().sql(index).query()
    return SQL(engine.inline_sql(sql.split(') WHERE ', 1)[1], params))


def install_burndown_indexes():
    """init-db hook (models.schema.SCHEMA_HOOKS): build the burn-down's indexes; idempotent."""
    import logging
    issues = _reg('inspection_issue')
    if issues is None:
        return
    for index in burndown_indexes(issues):
        sql, params = db.get_sql_context().sql(index).query()
        try:
            with db.atomic():
                db.execute_sql(engine.inline_sql(sql, params))
        except Exception as exc:   # peewee's OperationalError / ProgrammingError, by backend
            logging.getLogger(__name__).warning('burn-down index not built: %s', exc)


def _register_schema_hook():
    from models import schema
    if install_burndown_indexes not in schema.SCHEMA_HOOKS:
        schema.SCHEMA_HOOKS.append(install_burndown_indexes)


_register_schema_hook()


def punch_burndown(issue_model, project_id, today):
    """Open punch-list issues per round over time: found up to each day minus settled by then."""
    i = issue_model
    found_index, settled_index = burndown_indexes(i)
    rounds = {}
    found = (i.select(i.round, i.found_on, fn.COUNT(i.id))
             .where(_index_where(found_index) & (i.project == project_id))
             .group_by(i.round, i.found_on).tuples())
    for round_id, day, n in found:
        rounds.setdefault(round_id, {}).setdefault(day, 0)
        rounds[round_id][day] += n
    settled_on = _settled_on(i)
    settled = (i.select(i.round, settled_on, fn.COUNT(i.id))
               .where(_index_where(settled_index) & (i.project == project_id))
               .group_by(i.round, settled_on).tuples())
    for round_id, day, n in settled:
        if isinstance(day, str):
            day = datetime.date.fromisoformat(day[:10])
        rounds.setdefault(round_id, {}).setdefault(day, 0)
        rounds[round_id][day] -= n
    names, order = {}, {}
    round_model = i._meta.fields['round'].rel_model
    for r in round_model.select().where(round_model.id.in_([k for k in rounds if k] or [0])):
        names[r.id] = r.round_no
        order[r.id] = getattr(r, 'round_number', None) or 9
    curves = []
    for round_id in sorted(rounds, key=lambda k: (order.get(k, 10), names.get(k, ''))):
        running, points = 0, []
        for day in sorted(rounds[round_id]):
            if day > today:
                break
            running += rounds[round_id][day]
            points.append((day, running))
        if points:
            curves.append((names.get(round_id, '未分轮次'), points))
    return curves


@bp.route('/project/<int:project_id>')
@login_required
def project_page(project_id):
    """One project's charts: punch-list burn-down by round, handover, complaints, survey."""
    project = scope_query(Project, Project.select(), current_user) \
        .where(Project.id == project_id).first()
    if project is None:
        abort(404)
    today = _today()
    card = project_cards([project], today, current_user)[0]
    burndown = []
    issues = _reg('inspection_issue')
    if issues is not None:
        for name, points in punch_burndown(issues, project.id, today):
            burndown.append((name, line_chart(points, title='%s未整改问题数' % name), points[-1][1]))
    return render_page('home.html', cards=[card], board=True, burndown=burndown, today=today,
                       title='%s · 项目看板' % project.name)


@bp.route('/healthz')
def healthz():
    try:
        db.execute_sql('SELECT 1')
    except Exception:  # the database is not reachable: say so, do not crash
        return jsonify(status='error', database='unreachable'), 503
    return jsonify(status='ok', database='ok')
