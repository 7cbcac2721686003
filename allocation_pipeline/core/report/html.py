"""The period report as one self-contained HTML page: inline CSS, inline SVG, a few lines of inline
JavaScript for the runs filters; details (run, journal entry, source document, cost object,
source transactions) are sections opened by plain `#anchor` links (CSS :target). A Content
Security Policy forbids every network fetch, so the file opens and stays offline.

Every money cell carries its exact cents in `data-cents`, and every summary figure in
`data-figure`, so tests (and anyone) can check the page against the warehouse.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from html import escape
from importlib import resources

import pandas as pd

from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.report.model import ReportData, anchor, cost_object_table, sankey_flows, summary_figures
from allocation_pipeline.core.report.sankey import render_svg

# Lines of runs outside the report's period are embedded only up to this many (the period's own
# runs always are), so a long history cannot blow up the file.
MAX_HISTORY_LINES = 20_000
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
STATUSES = ["draft", "calculated", "approved", "posted", "voided", "rejected"]


def _asset(name: str) -> str:
    return resources.files("allocation_pipeline.core.report").joinpath(name).read_text(encoding="utf-8")


def render_report(data: ReportData) -> str:
    """The report page for `data` (one entity, one period)."""
    figures = summary_figures(data)
    nodes, links = sankey_flows(data)
    costs = cost_object_table(data)
    sources = set(data.source_transactions["cost_center"]) if not data.source_transactions.empty else set()
    body = [
        _header(data),
        _nav(),
        "<main>",
        _summary(data, figures),
        _flow(data, nodes, links),
        _runs(data),
        _cost_objects(data, costs),
        _anomalies(data),
        _drivers(data),
        _profitability(data),
        _quarantine(data),
        '<section id="details"><h2>Details</h2><p class="note">Runs, journal entries, documents, cost objects and source '
        "transactions open here from the links above.</p>",
        _run_details(data, sources),
        _entry_details(data),
        _document_details(data),
        _cost_object_details(data, costs, sources),
        _source_details(data),
        "</section></main>",
    ]
    title = f"Period report {data.period} · {data.entity}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_asset('report.css')}</style></head>"
        f'<body data-period="{escape(data.period)}" data-entity="{escape(data.entity)}" data-currency="{escape(data.currency)}">'
        + "".join(body)
        + f"<script>{_asset('report.js')}</script></body></html>\n"
    )


# --- small helpers --------------------------------------------------------------------------------


def _rows(frame: pd.DataFrame) -> list:
    """The frame's rows as plain namedtuples (pandas' own row access is slow on Arrow columns)."""
    if frame is None or frame.empty:
        return []
    row = namedtuple("Row", list(frame.columns), rename=True)
    return [row(*values) for values in zip(*(frame[c].tolist() for c in frame.columns))]


def _group(rows: list, field: str) -> dict:
    groups: dict = defaultdict(list)
    for row in rows:
        groups[getattr(row, field)].append(row)
    return groups


def _present(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA or value is pd.NaT:
        return ""
    return escape(str(value))


def _money(cents: object, tag: str = "td") -> str:
    if cents is None or pd.isna(cents):
        return f'<{tag} class="num"></{tag}>'
    return f'<{tag} class="num" data-cents="{int(cents)}">{format_money(int(cents))}</{tag}>'


def _number(value: object, pattern: str = "{:,.2f}") -> str:
    if value is None or pd.isna(value):
        return '<td class="num"></td>'
    return f'<td class="num">{pattern.format(float(value))}</td>'


def _share(value: object) -> str:
    if value is None or pd.isna(value):
        return '<td class="num"></td>'
    return f'<td class="num" data-share="{float(value):.10g}">{float(value):.4%}</td>'


def _link(kind: str, value: object, text: object = None) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return ""
    return f'<a href="#{anchor(kind, value)}">{_text(value if text is None else text)}</a>'


def _table(headers: list[str], rows: list[str], table_id: str | None = None, foot: str = "", numeric: set[str] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f'<th class="num">{escape(h)}</th>' if h in numeric else f"<th>{escape(h)}</th>" for h in headers)
    ident = f' id="{table_id}"' if table_id else ""
    foot = f"<tfoot>{foot}</tfoot>" if foot else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>{foot}</table>"


def _count(n: object, noun: str) -> str:
    n = int(n)
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _badge(status: object) -> str:
    return f'<span class="badge status-{_text(status)}">{_text(status)}</span>'


def _empty(message: str) -> str:
    return f'<p class="empty">{escape(message)}</p>'


def _section(ident: str, title: str, content: str) -> str:
    return f'<section id="{ident}"><h2>{escape(title)}</h2>{content}</section>'


def _detail(ident: str, title: str, content: str, back: str) -> str:
    return (
        f'<section class="detail" id="{ident}"><a class="close" href="#{back}">close ×</a>'
        f"<h3>{title}</h3>{content}</section>"
    )


def _facts(pairs: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


# --- sections -------------------------------------------------------------------------------------


def _header(data: ReportData) -> str:
    status = f"fiscal period {data.period_status}" if data.period_status else "fiscal period not in the calendar"
    return (
        f'<header class="top"><h1>Period report {escape(data.period)} · {escape(data.entity)} {escape(data.entity_name)}</h1>'
        f"<p>Amounts in {escape(data.currency)} · {escape(status)} · generated {escape(data.generated_at)} from "
        f"{escape(data.source)}</p></header>"
    )


def _nav() -> str:
    items = [("summary", "Summary"), ("flow", "Flow"), ("runs", "Runs"), ("cost-objects", "Cost objects"), ("anomalies", "Anomalies"),
             ("drivers", "Driver analysis"), ("profitability", "Profitability"), ("quarantine", "Quarantine")]
    return '<nav class="sections">' + "".join(f'<a href="#{i}">{t}</a>' for i, t in items) + "</nav>"


FIGURES = [
    ("runs", "Allocation runs in the period", False),
    ("runs_posted", "Runs posted", False),
    ("allocated_cents", "Allocated by posted runs", True),
    ("entries", "Journal entries posted", False),
    ("entries_debit_cents", "Debits of those entries", True),
    ("reversals", "Reversing entries", False),
    ("direct_cost_cents", "Direct cost (expense GL lines)", True),
    ("moved_cents", "Cost moved in by allocation", True),
    ("cost_after_cents", "Cost after allocation", True),
    ("cost_objects", "Cost centers with cost", False),
    ("flags", "Anomaly flags", False),
    ("unprofitable", "Turned unprofitable", False),
    ("quarantined_rows", "Quarantined rows", False),
]


def _summary(data: ReportData, figures: dict[str, int]) -> str:
    cells = []
    for key, label, money in FIGURES:
        value = figures[key]
        shown = format_money(value) if money else f"{value:,}"
        cents = f' data-cents="{value}"' if money else f' data-count="{value}"'
        cells.append(f'<div class="figure" data-figure="{key}"{cents}><div class="label">{escape(label)}</div><div class="value">{shown}</div></div>')
    narratives = data.narratives
    if narratives.empty:
        text = [
            f"In {data.period}, {figures['runs_posted']} of {figures['runs']} allocation runs of {data.entity} are posted, "
            f"allocating {format_money(figures['allocated_cents'])} {data.currency}; {figures['entries']} journal entries were posted "
            f"in the period. (No narrative was stored for this period.)"
        ]
    else:
        text = [str(n) for n in narratives["narrative"]]
    paragraphs = "".join(f"<p>{escape(t)}</p>" for t in text)
    return _section("summary", "Summary", f'<div class="figures">{"".join(cells)}</div><div class="narrative">{paragraphs}</div>')


def _flow(data: ReportData, nodes: pd.DataFrame, links: pd.DataFrame) -> str:
    svg = render_svg(nodes, links, data.currency)
    skipped = links[links["cents"] <= 0]
    note = (
        f'<p class="note">{len(skipped)} non-positive amounts are not drawn; they are in the run details.</p>' if len(skipped) else ""
    )
    intro = (
        '<p class="note">Posted runs of the period: each pool (a rule or submitted run) to the cost objects it debits; '
        "service cost centers of the multi-level allocation to the final cost objects their cost reaches, by cost center "
        "of origin. Click a node for its run or cost object.</p>"
    )
    return _section("flow", "Where the cost went", intro + f'<div class="sankey-wrap">{svg}</div>' + note)


def _runs(data: ReportData) -> str:
    runs = _rows(data.runs)
    if not runs:
        return _section("runs", "Allocation runs", _empty("No allocation runs."))
    entry_dates = {e.entry_id: e.posting_date for e in _rows(data.entries)}
    statuses = {r.status for r in runs}
    options = {
        "entity": sorted({r.entity for r in runs}),
        "status": [s for s in STATUSES if s in statuses] + sorted(statuses - set(STATUSES)),
        "type": sorted({r.run_type for r in runs}),
        "period": sorted({r.period for r in runs}, reverse=True),
    }
    selects = []
    for name, values in options.items():
        chosen = data.period if name == "period" else None
        opts = '<option value="">all</option>' + "".join(
            f'<option value="{_text(v)}"{" selected" if v == chosen else ""}>{_text(v)}</option>' for v in values
        )
        selects.append(f'<label>{name}<select id="filter-{name}" data-filter="{name}">{opts}</select></label>')
    filters = (
        f'<div class="filters">{"".join(selects)}<button type="button" id="clear-filters">all runs</button> '
        '<span id="runs-count" class="note"></span></div>'
    )
    rows = []
    for run in runs:
        date = entry_dates.get(run.journal_entry_id) or str(run.created_at)[:10]
        rows.append(
            f'<tr data-run="{_text(run.run_id)}" data-run-anchor="{escape(anchor("run", run.run_id)[4:])}" data-entity="{_text(run.entity)}" '
            f'data-status="{_text(run.status)}" data-type="{_text(run.run_type)}" data-period="{_text(run.period)}">'
            f"<td>{_link('run', run.run_id)}</td><td>{_text(run.period)}</td><td>{_text(date)}</td>"
            f"<td>{_text(run.entity)}</td><td>{_text(run.run_type)}</td><td>{_text(run.rule_id if _present(run.rule_id) else run.origin)}</td>"
            f"<td>{_badge(run.status)}</td>{_money(run.total_debit_cents)}<td>{_text(run.currency)}</td><td>{_link('doc', run.source_document)}</td>"
            f"<td>{_link('je', run.journal_entry_id)}</td><td>{_link('je', run.reversal_entry_id)}</td></tr>"
        )
    table = _table(
        ["Run", "Period", "Date", "Entity", "Type", "Rule / origin", "Status", "Amount", "Currency", "Source document", "Journal entry", "Reversal"],
        rows, table_id="runs-table", numeric={"Amount"},
    )
    intro = (
        f'<p class="note">Runs of {escape(data.entity)} from {escape(data.first_period)} to {escape(data.period)}; '
        f"the list opens on {escape(data.period)}. Click a run for its document chain, lines and history.</p>"
    )
    return _section("runs", "Allocation runs", intro + filters + table)


def _cost_objects(data: ReportData, costs: pd.DataFrame) -> str:
    if costs.empty:
        return _section("cost-objects", "Cost objects after allocation", _empty("No cost in this period."))
    rows = [
        f'<tr data-cost-object="{_text(c.cost_center)}"><td>{_link("co", c.cost_center)}</td><td>{_text(c.cost_center_name)}</td>'
        f"<td>{_text(c.cost_center_kind)}</td>{_money(c.direct_cents)}{_money(c.allocated_cents)}{_money(c.after_cents)}</tr>"
        for c in _rows(costs)
    ]
    foot = (
        f'<tr><td colspan="3">Total</td>{_money(costs["direct_cents"].sum())}{_money(costs["allocated_cents"].sum())}'
        f'{_money(costs["after_cents"].sum())}</tr>'
    )
    intro = (
        '<p class="note">Direct cost is the expense GL lines of the period; allocated is every journal line posted in the period on an '
        "expense account (a voided run's entry and its reversal cancel). Click a cost center for the runs and source transactions "
        "behind its cost.</p>"
    )
    numeric = {"Direct", "Allocated", "After allocation"}
    headers = ["Cost center", "Name", "Kind", "Direct", "Allocated", "After allocation"]
    return _section("cost-objects", "Cost objects after allocation", intro + _table(headers, rows, "cost-objects-table", foot, numeric))


def _anomalies(data: ReportData) -> str:
    flags = _rows(data.flags)
    if not flags:
        return _section("anomalies", "Anomaly flags", _empty("No anomaly flags for this entity and period (or none computed)."))
    rows = [
        f'<tr><td class="severity-{_text(f.severity)}">{_text(f.severity)}</td><td>{_text(f.kind)}</td><td>{_text(f.rule_id)}</td>'
        f"<td>{_link('co', f.cost_object) if _present(f.cost_object) else ''}</td>{_money(f.amount_cents)}"
        f"{_number(f.value, '{:,.3g}')}{_number(f.threshold, '{:,.3g}')}<td>{'yes' if bool(f.blocking) else ''}</td><td>{_text(f.message)}</td></tr>"
        for f in flags
    ]
    headers = ["Severity", "Kind", "Rule", "Cost object", "Amount", "Value", "Threshold", "Blocking", "Message"]
    return _section("anomalies", "Anomaly flags", _table(headers, rows, "flags-table", numeric={"Amount", "Value", "Threshold"}))


def _drivers(data: ReportData) -> str:
    analysis = _rows(data.driver_analysis)
    if not analysis:
        return _section("drivers", "Driver analysis", _empty("No driver analysis for this period."))
    parts = []
    for pool_id, rows in sorted(_group(analysis, "pool_id").items()):
        head = rows[0]
        summary = (
            f"<p><strong>{_text(pool_id)}</strong> · consumption {_text(head.consumption)} · {_text(head.status)} · "
            f"{_text(head.periods_used)} periods ({_text(head.first_period)} to {_text(head.last_period)}), "
            f"{_text(head.cost_objects)} cost objects</p>"
        )
        if _present(head.recommendation):
            summary += f"<p>Recommendation: {_text(head.recommendation)}</p>"
        if _present(head.rationale):
            summary += f'<p class="note">{_text(head.rationale)}</p>'
        table_rows = [
            f"<tr><td>{_text(r.driver)}</td>{_number(r.correlation, '{:.3f}')}{_number(r.r2, '{:.3f}')}{_number(r.error_points, '{:.2f}')}"
            f"{_number(r.weight_percent, '{:.0f}%')}<td>{_text(r.note)}</td></tr>"
            for r in rows
        ]
        headers = ["Driver", "Correlation", "R²", "Error (points)", "Weight", "Note"]
        parts.append(summary + _table(headers, table_rows, numeric=set(headers[1:5])))
    return _section("drivers", "Driver analysis", "".join(parts))


def _profitability(data: ReportData) -> str:
    table = _rows(data.profitability)
    if not table:
        return _section("profitability", "Profitability after allocation", _empty("No cost center with revenue (or profitability not computed)."))
    rows = [
        f'<tr data-cost-object="{_text(p.cost_center)}"><td>{_link("co", p.cost_center)}</td>{_money(p.revenue_cents)}{_money(p.direct_cost_cents)}'
        f"{_money(p.allocated_cost_cents)}{_money(p.margin_before_cents)}{_money(p.margin_cents)}{_number(p.margin_percent, '{:.1f}%')}"
        f"<td>{_text(p.largest_rule)}</td>{_money(p.largest_rule_amount_cents)}<td>{'yes' if bool(p.turned_unprofitable) else ''}</td></tr>"
        for p in table
    ]
    headers = ["Cost center", "Revenue", "Direct cost", "Allocated cost", "Margin before", "Margin", "Margin %", "Largest rule", "Its amount", "Turned unprofitable"]
    return _section("profitability", "Profitability after allocation", _table(headers, rows, "profitability-table", numeric=set(headers[1:7]) | {"Its amount"}))


def _quarantine(data: ReportData) -> str:
    rows = _rows(data.quarantine)
    if not rows:
        return _section("quarantine", "Quarantined rows", _empty("No rows were quarantined for this period or the master data."))
    body = [
        f"<tr><td>{_text(q.extract)}</td><td>{_text(q.period)}</td><td>{_text(q.source_file)}</td><td>{_text(q.column_name)}</td>"
        f'<td>{_text(q.reason)}</td><td class="num">{int(q.problems):,}</td><td class="num">{int(q.rows_quarantined):,}</td></tr>'
        for q in rows
    ]
    headers = ["Extract", "Period", "File", "Column", "Reason", "Problems", "Rows"]
    return _section("quarantine", "Quarantined rows", _table(headers, body, "quarantine-table", numeric={"Problems", "Rows"}))


# --- details --------------------------------------------------------------------------------------


def _embedded_runs(data: ReportData) -> set[str]:
    """Runs whose lines are in the page: all of the period's, then older ones up to MAX_HISTORY_LINES."""
    runs = _rows(data.runs)
    keep = {r.run_id for r in runs if r.period >= data.period}
    counts = data.run_lines["run_id"].value_counts().to_dict() if not data.run_lines.empty else {}
    budget = MAX_HISTORY_LINES
    for run in sorted((r for r in runs if r.run_id not in keep), key=lambda r: r.period, reverse=True):
        lines = int(counts.get(run.run_id, 0))
        if lines > budget:
            break
        budget -= lines
        keep.add(run.run_id)
    return keep


def _chain(run, links: list) -> str:
    """Source document -> run -> journal entry -> reversal, as document_links recorded it (the
    run's own columns fill in a link that is missing)."""
    recorded = {link.relation: link for link in links}
    source = recorded["allocated_by"].document if "allocated_by" in recorded else run.source_document
    entry = recorded["posted_as"].related_document if "posted_as" in recorded else run.journal_entry_id
    reversal = recorded["reversed_by"].related_document if "reversed_by" in recorded else run.reversal_entry_id
    items = []
    if _present(source):
        items.append(f'<li><span class="kind">source document</span>{_link("doc", source)}</li>')
    else:
        items.append(f'<li><span class="kind">source</span>GL balances ({_text(run.rule_id if _present(run.rule_id) else run.origin)})</li>')
    items.append(f'<li class="current"><span class="kind">allocation run</span><a href="#{anchor("run", run.run_id)}">{_text(run.run_id)}</a></li>')
    if _present(entry):
        items.append(f'<li><span class="kind">journal entry</span>{_link("je", entry)}</li>')
    else:
        items.append('<li><span class="kind">journal entry</span><span class="muted">not posted</span></li>')
    if _present(reversal):
        items.append(f'<li><span class="kind">reversal</span>{_link("je", reversal)}</li>')
    return f'<ol class="chain" data-run="{_text(run.run_id)}">{"".join(items)}</ol>'


def _run_details(data: ReportData, sources: set) -> str:
    embedded = _embedded_runs(data)
    lines_by_run = _group(_rows(data.run_lines), "run_id")
    history_by_run = _group(_rows(data.history), "run_id")
    links_by_run = _group(_rows(data.links), "run_id")
    out = []
    for run in _rows(data.runs):
        facts = _facts([
            ("Status", _badge(run.status)), ("Entity", _text(run.entity)),
            ("Period", _text(run.period)), ("Type", _text(run.run_type)),
            ("Rule", _text(run.rule_id)), ("Method", _text(run.method)),
            ("Origin", _text(run.origin)), ("Currency", _text(run.currency)),
            ("Pool", format_money(int(run.pool_cents))),
            ("Debits / credits", f"{format_money(int(run.total_debit_cents))} / {format_money(int(run.total_credit_cents))}"),
            ("Created", _text(run.created_at)), ("Updated", _text(run.updated_at)),
            ("Dagster run", _text(run.dagster_run_id)), ("Notes", "<br>".join(_text(n) for n in (run.notes if _present(run.notes) else "").splitlines())),
        ])
        lines = lines_by_run.get(run.run_id)
        if run.run_id not in embedded:
            lines_html = _empty(f"Lines not embedded (older period); see the report of {run.period}.")
        elif not lines:
            lines_html = _empty("No lines.")
        else:
            rows = [
                f"<tr><td>{int(l.line_no)}</td><td>{_text(l.role)}</td><td>{_text(l.account)} {_text(l.account_name)}</td>"
                f"<td>{_source_link(l.cost_center, sources) if l.role == 'source' else _link('co', l.cost_center)} {_text(l.cost_center_name)}</td>"
                f"<td>{_text(l.product)}</td><td>{_text(l.region)}</td>{_money(l.debit_cents)}{_money(l.credit_cents)}"
                f"<td>{_text(l.driver)}</td>{_number(l.driver_value)}{_share(l.share)}<td>{_text(l.explanation)}</td></tr>"
                for l in lines
            ]
            foot = (
                f'<tr><td colspan="6">Total</td>{_money(sum(l.debit_cents for l in lines))}'
                f'{_money(sum(l.credit_cents for l in lines))}<td colspan="4"></td></tr>'
            )
            lines_html = _table(
                ["Line", "Role", "Account", "Cost center", "Product", "Region", "Debit", "Credit", "Driver", "Driver value", "Share", "Explanation"],
                rows, f"lines-{anchor('run', run.run_id)}", foot, {"Debit", "Credit", "Driver value", "Share"},
            )
        history = history_by_run.get(run.run_id)
        history_html = _table(
            ["#", "From", "To", "When", "By", "Reason", "Reversed"],
            [
                f"<tr><td>{int(h.seq)}</td><td>{_text(h.from_status)}</td><td>{_text(h.to_status)}</td><td>{_text(h.changed_at)}</td>"
                f"<td>{_text(h.changed_by)}</td><td>{_text(h.reason)}</td><td>{'reversed' if bool(h.reversed) else ''}</td></tr>"
                for h in history
            ],
        ) if history else _empty("No history.")
        content = "<h4>Document chain</h4>" + _chain(run, links_by_run.get(run.run_id, [])) + facts + "<h4>Lines</h4>" + lines_html + "<h4>History</h4>" + history_html
        out.append(_detail(anchor("run", run.run_id), f"Allocation run {_text(run.run_id)} {_badge(run.status)}", content, "runs"))
    return "".join(out)


def _source_link(cost_center: object, sources: set) -> str:
    return _link("src", cost_center) if cost_center in sources else _text(cost_center)


def _entry_details(data: ReportData) -> str:
    entries = _rows(data.entries)
    lines_by_entry = _group(_rows(data.entry_lines), "entry_id")
    reversed_by = {e.reverses_entry_id: e.entry_id for e in entries if _present(e.reverses_entry_id)}
    out = []
    for entry in entries:
        badges = [f'<span class="badge">Created by allocation {_link("run", entry.run_id)}</span>']
        if _present(entry.reverses_entry_id):
            badges.append(f'<span class="badge">Reverses {_link("je", entry.reverses_entry_id)}</span>')
        if entry.entry_id in reversed_by:
            badges.append(f'<span class="badge status-voided">Reversed by {_link("je", reversed_by[entry.entry_id])}</span>')
        facts = _facts([
            ("Entity", _text(entry.entity)), ("Period", _text(entry.period)),
            ("Posting date", _text(entry.posting_date)), ("Transaction type", _text(entry.transaction_type)),
            ("Currency", _text(entry.currency)),
            ("Debits / credits", f"{format_money(int(entry.total_debit_cents))} / {format_money(int(entry.total_credit_cents))}"),
            ("Description", _text(entry.description)), ("Dagster run", _text(entry.dagster_run_id)),
        ])
        lines = lines_by_entry.get(entry.entry_id)
        if not lines:
            lines_html = _empty("No lines.")
        else:
            rows = [
                f"<tr><td>{int(l.line_no)}</td><td>{_text(l.account)} {_text(l.account_name)}</td><td>{_link('co', l.cost_center)} {_text(l.cost_center_name)}</td>"
                f"<td>{_text(l.product)}</td><td>{_text(l.region)}</td>{_money(l.debit_cents)}{_money(l.credit_cents)}<td>{_text(l.description)}</td></tr>"
                for l in lines
            ]
            foot = f'<tr><td colspan="5">Total</td>{_money(sum(l.debit_cents for l in lines))}{_money(sum(l.credit_cents for l in lines))}<td></td></tr>'
            headers = ["Line", "Account", "Cost center", "Product", "Region", "Debit", "Credit", "Description"]
            lines_html = _table(headers, rows, f"lines-{anchor('je', entry.entry_id)}", foot, {"Debit", "Credit"})
        content = " ".join(badges) + facts + "<h4>Lines</h4>" + lines_html
        out.append(_detail(anchor("je", entry.entry_id), f"Journal entry {_text(entry.entry_id)}", content, "runs"))
    return "".join(out)


def _document_details(data: ReportData) -> str:
    lines_by_document = _group(_rows(data.source_documents), "document_id")
    runs_by_document = _group([r for r in _rows(data.runs) if _present(r.source_document)], "source_document")
    out = []
    for document_id in sorted(runs_by_document):
        lines = lines_by_document.get(document_id, [])
        badges = [
            f'<span class="badge">Allocated by {_link("run", r.run_id)} {_badge(r.status)}'
            + (f" → {_link('je', r.journal_entry_id)}" if _present(r.journal_entry_id) else "")
            + "</span>"
            for r in runs_by_document[document_id]
        ]
        if not lines:
            table = _empty("The document's GL lines are not in the warehouse.")
        else:
            rows = [
                f"<tr><td>{int(l.line)}</td><td>{_text(l.posting_date)}</td><td>{_text(l.account)} {_text(l.account_name)}</td><td>{_text(l.cost_center)}</td>"
                f"<td>{_text(l.product)}</td><td>{_text(l.region)}</td>{_money(l.debit_cents)}{_money(l.credit_cents)}<td>{_text(l.description)}</td></tr>"
                for l in lines
            ]
            headers = ["Line", "Date", "Account", "Cost center", "Product", "Region", "Debit", "Credit", "Description"]
            table = _table(headers, rows, numeric={"Debit", "Credit"})
        kind = _text(lines[0].document_type) if lines else "document"
        title = f'Source document {_text(document_id)} <span class="muted">{kind}</span>'
        out.append(_detail(anchor("doc", document_id), title, " ".join(badges) + table, "runs"))
    return "".join(out)


def _cost_object_details(data: ReportData, costs: pd.DataFrame, sources: set) -> str:
    allocated_parts = _group([p for p in _rows(data.cost_objects) if p.component == "allocated"], "cost_center")
    received_by = _group(_rows(data.allocations), "cost_center")
    pool_lines = _group([l for l in _rows(data.run_lines) if l.role == "source"], "run_id")
    origins = defaultdict(list)
    for o in _rows(data.origins):
        origins[(o.run_id, o.cost_center)].append(o)
    out = []
    for cost in _rows(costs):
        cc = cost.cost_center
        facts = _facts([
            ("Name", _text(cost.cost_center_name)), ("Kind", _text(cost.cost_center_kind)),
            ("Direct cost", format_money(int(cost.direct_cents))), ("Allocated", format_money(int(cost.allocated_cents))),
            ("After allocation", format_money(int(cost.after_cents))),
            ("Its own GL lines", _link("src", cc, "source transactions") if cc in sources else "none"),
        ])
        mine = allocated_parts.get(cc, [])
        by_origin = _table(
            ["Run", "Rule", "Cost center of origin", "Amount"],
            [
                f"<tr><td>{_link('run', p.run_id)}</td><td>{_text(p.rule_id)}</td>"
                f"<td>{_source_link(p.origin, sources) if _present(p.origin) else '<span class=muted>several</span>'}</td>{_money(p.amount_cents)}</tr>"
                for p in mine
            ],
            f"by-origin-{anchor('co', cc)}",
            f'<tr><td colspan="3">Allocated</td>{_money(sum(p.amount_cents for p in mine))}</tr>',
            {"Amount"},
        ) if mine else _empty("Nothing allocated to or from this cost center in the period.")
        received = received_by.get(cc, [])
        lines = _table(
            ["Run", "Pool", "Account", "Product", "Region", "Driver", "Driver value", "Share", "Amount", "Explanation"],
            [
                f"<tr><td>{_link('run', a.run_id)}</td><td>{_text(a.pool)}</td><td>{_text(a.account)}</td><td>{_text(a.product)}</td><td>{_text(a.region)}</td>"
                f"<td>{_text(a.driver)}</td>{_number(a.driver_value)}{_share(a.share)}{_money(a.amount_cents)}<td>{_text(a.explanation)}</td></tr>"
                for a in received
            ],
            numeric={"Driver value", "Share", "Amount"},
        ) if received else _empty("No posted allocation lines to this cost center.")
        behind = []
        for run_id in sorted({a.run_id for a in received}):
            run_origins = origins.get((run_id, cc))
            if run_origins:
                items = ", ".join(f"{_source_link(o.origin, sources)} {format_money(int(o.amount_cents))}" for o in run_origins)
                behind.append(f"<li>{_link('run', run_id)} (multi-level) by cost center of origin: {items}</li>")
                continue
            items = ", ".join(
                f"{format_money(int(p.credit_cents) - int(p.debit_cents))} from {_source_link(p.cost_center, sources)} (credited on {_text(p.account)})"
                for p in pool_lines.get(run_id, [])
            )
            behind.append(f"<li>{_link('run', run_id)} took its pool: {items or 'no source lines'}</li>")
        behind_html = f"<ul>{''.join(behind)}</ul>" if behind else _empty("No allocated cost to trace.")
        content = (
            facts + "<h4>Allocated cost by run and cost center of origin</h4>" + by_origin
            + "<h4>Allocation lines received</h4>" + lines
            + "<h4>Source transactions behind the allocated cost</h4>" + behind_html
        )
        out.append(_detail(anchor("co", cc), f"Cost object {_text(cc)} {_text(cost.cost_center_name)}", content, "cost-objects"))
    return "".join(out)


def _source_details(data: ReportData) -> str:
    documents = {r.source_document for r in _rows(data.runs) if _present(r.source_document)}
    out = []
    for cc, rows in sorted(_group(_rows(data.source_transactions), "cost_center").items()):
        body = []
        total = 0
        for account, docs in sorted(_group(rows, "account").items()):
            head = docs[0]
            total += int(head.account_total_cents)
            body.append(
                f'<tr class="subtotal" data-account="{_text(account)}"><td colspan="2">{_text(account)} {_text(head.account_name)}</td>'
                f'<td class="num">{_count(head.account_documents, "document")}</td><td class="num">{_count(head.account_lines, "line")}</td><td></td>'
                f"{_money(head.account_total_cents)}</tr>"
            )
            for d in docs:
                name = _link("doc", d.document_id) if d.document_id in documents else _text(d.document_id)
                body.append(
                    f"<tr><td>{name}</td><td>{_text(d.document_type)}</td><td>{_text(d.posting_date)}</td><td class=\"num\">{int(d.lines):,}</td>"
                    f"<td>{_text(d.description)}</td>{_money(d.amount_cents)}</tr>"
                )
            rest = int(head.account_documents) - len(docs)
            if rest > 0:
                body.append(
                    f'<tr class="more"><td colspan="5">… {rest:,} more {"document" if rest == 1 else "documents"}</td>'
                    f"{_money(int(head.account_total_cents) - sum(int(d.amount_cents) for d in docs))}</tr>"
                )
        foot = f'<tr><td colspan="5">Total expense GL lines</td>{_money(total)}</tr>'
        note = (
            f'<p class="note">Expense GL lines of {_text(cc)} in {escape(data.period)} by account: the {data.top_documents} '
            "largest documents of each, and what the others add up to.</p>"
        )
        table = _table(["Document", "Type", "Date", "Lines", "Description", "Amount"], body, f"sources-{anchor('src', cc)}", foot, {"Lines", "Amount"})
        out.append(_detail(anchor("src", cc), f"Source transactions of {_text(cc)}", note + table, "cost-objects"))
    return "".join(out)
