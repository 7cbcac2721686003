"""The period report as one self-contained HTML page, rendered from the Jinja2 templates the
console's period page uses too (templates/report): inline CSS, inline SVG, a few lines of inline
JavaScript for the runs filters; details open from plain `#anchor` links (CSS :target). A
Content Security Policy forbids every network fetch, so the file opens and stays offline.

Every money cell carries its exact cents in `data-cents`, and every summary figure in
`data-figure`, so tests (and anyone) can check the page against the warehouse.
"""

from __future__ import annotations

from collections import defaultdict
from importlib import resources

from markupsafe import Markup

from allocation_pipeline.core.report.model import (
    ReportData,
    cost_object_table,
    figure_rows,
    insight_figures,
    report_narrative,
    sankey_flows,
    summary_figures,
)
from allocation_pipeline.core.report.rendering import present, render, rows
from allocation_pipeline.core.report.sankey import diagram

# Lines of runs outside the report's period are embedded only up to this many (the period's own
# runs always are), so a long history cannot blow up the file.
MAX_HISTORY_LINES = 20_000
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
STATUSES = ["draft", "calculated", "approved", "posted", "voided", "rejected"]
SECTIONS = [("summary", "Summary"), ("flow", "Flow"), ("runs", "Runs"), ("cost-objects", "Cost objects"), ("anomalies", "Anomalies"),
            ("drivers", "Driver analysis"), ("profitability", "Profitability"), ("quarantine", "Quarantine"),
            ("confidence", "Driver confidence"), ("forecasts", "Forecasts"), ("suggestions", "Suggestions")]


def _asset(name: str) -> str:
    return resources.files("allocation_pipeline.core.report").joinpath(name).read_text(encoding="utf-8")


def render_report(data: ReportData) -> str:
    """The static report page for `data` (one entity, one period)."""
    context = report_context(data, links="static")
    return render("report/page.html", css=Markup(_asset("report.css")), js=Markup(_asset("report.js")), csp=Markup(CSP), sections=SECTIONS, **context)


def report_context(data: ReportData, links: str = "static") -> dict:
    """What templates/report/body.html shows. `links` "static": runs, entries and documents are
    sections of the page; "console": they link to the console's own pages."""
    figures = summary_figures(data)
    nodes, flow_links = sankey_flows(data)
    costs = cost_object_table(data)
    sources = set(data.source_transactions["cost_center"]) if not data.source_transactions.empty else set()
    runs = rows(data.runs)
    statuses = {r.status for r in runs}
    analysis = rows(data.driver_analysis)
    context = {
        "data": data, "links": links, "figure_rows": figure_rows(figures), "narrative": report_narrative(data, figures),
        "sankey": diagram(nodes, flow_links, data.currency), "skipped": int((flow_links["cents"] <= 0).sum()),
        "runs": runs, "entry_dates": {e.entry_id: e.posting_date for e in rows(data.entries)},
        "run_options": {
            "entity": sorted({r.entity for r in runs}),
            "status": [s for s in STATUSES if s in statuses] + sorted(statuses - set(STATUSES)),
            "type": sorted({r.run_type for r in runs}),
            "period": sorted({r.period for r in runs}, reverse=True),
        },
        "costs": rows(costs),
        "cost_totals": {k: int(costs[f"{k}_cents"].sum()) for k in ("direct", "allocated", "after")},
        "flags": rows(data.flags), "profitability": rows(data.profitability), "quarantine": rows(data.quarantine),
        "driver_pools": sorted(_group(analysis, "pool_id").items()),
        "driver_empty": "No driver analysis for this period.",
        "sources": sources, "documents": {r.source_document for r in runs if present(r.source_document)},
        "cost_object_details": _cost_object_details(data, rows(costs)),
        "source_details": _source_details(data),
        **insight_context(data),
    }
    if links == "static":
        context.update(run_details=_run_details(data, runs), entry_details=_entry_details(data), document_details=_document_details(data, runs))
    return context


def insight_context(data: ReportData) -> dict:
    """The issue 13 insights of templates/report/extra_sections.html: confidence per pool, forecast
    series (money rounded to whole cents for pools and cost objects), suggestions, their counts."""
    series = []
    for (kind, name, entity), months in _group(rows(data.forecasts), "kind", "series", "entity").items():
        head = months[0]
        money = kind != "driver"
        series.append({
            "kind": kind, "series": name, "entity": entity, "head": head, "money": money,
            "months": [{"period": m.period, **{k: int(round(float(getattr(m, k)))) if money else float(getattr(m, k)) for k in ("mean", "lower", "upper")}} for m in months],
        })
    order = {"pool": 0, "cost_object": 1, "driver": 2}
    return {
        "confidence": rows(data.driver_confidence),
        "confidence_by_pool": {c.pool_id: c for c in rows(data.driver_confidence)},
        "forecast_series": sorted(series, key=lambda s: (order.get(s["kind"], 3), s["series"], s["entity"] or "")),
        "suggestions": rows(data.suggestions),
        "insights": insight_figures(data),
    }


def _group(items: list, *fields: str) -> dict:
    """Items by the value of one field (or a tuple of several), in first-seen order."""
    groups: dict = defaultdict(list)
    for item in items:
        key = getattr(item, fields[0]) if len(fields) == 1 else tuple(getattr(item, f) for f in fields)
        groups[key].append(item)
    return groups


def _embedded_runs(data: ReportData, runs: list) -> set[str]:
    """Runs whose lines are in the page: all of the period's, then older ones up to MAX_HISTORY_LINES."""
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


def _run_details(data: ReportData, runs: list) -> list[dict]:
    embedded = _embedded_runs(data, runs)
    lines_by_run = _group(rows(data.run_lines), "run_id")
    history_by_run = _group(rows(data.history), "run_id")
    links_by_run = _group(rows(data.links), "run_id")
    out = []
    for run in runs:
        # The chain as document_links recorded it; the run's own columns fill in a missing link.
        recorded = {link.relation: link for link in links_by_run.get(run.run_id, [])}
        lines = lines_by_run.get(run.run_id, [])
        out.append({
            "run": run,
            "source": recorded["allocated_by"].document if "allocated_by" in recorded else run.source_document,
            "entry": recorded["posted_as"].related_document if "posted_as" in recorded else run.journal_entry_id,
            "reversal": recorded["reversed_by"].related_document if "reversed_by" in recorded else run.reversal_entry_id,
            "notes": Markup("<br>").join((run.notes if present(run.notes) else "").splitlines()),
            "embedded": run.run_id in embedded, "lines": lines,
            "debit": sum(int(l.debit_cents) for l in lines), "credit": sum(int(l.credit_cents) for l in lines),
            "history": history_by_run.get(run.run_id, []),
        })
    return out


def _entry_details(data: ReportData) -> list[dict]:
    entries = rows(data.entries)
    lines_by_entry = _group(rows(data.entry_lines), "entry_id")
    reversed_by = {e.reverses_entry_id: e.entry_id for e in entries if present(e.reverses_entry_id)}
    out = []
    for entry in entries:
        lines = lines_by_entry.get(entry.entry_id, [])
        out.append({
            "entry": entry, "lines": lines, "reversed_by": reversed_by.get(entry.entry_id),
            "debit": sum(int(l.debit_cents) for l in lines), "credit": sum(int(l.credit_cents) for l in lines),
        })
    return out


def _document_details(data: ReportData, runs: list) -> list[dict]:
    lines_by_document = _group(rows(data.source_documents), "document_id")
    runs_by_document = _group([r for r in runs if present(r.source_document)], "source_document")
    out = []
    for document_id in sorted(runs_by_document):
        lines = lines_by_document.get(document_id, [])
        kind = lines[0].document_type if lines and present(lines[0].document_type) else "document"
        out.append({"document_id": document_id, "kind": kind, "lines": lines, "runs": runs_by_document[document_id]})
    return out


def _cost_object_details(data: ReportData, costs: list) -> list[dict]:
    allocated_parts = _group([p for p in rows(data.cost_objects) if p.component == "allocated"], "cost_center")
    received_by = _group(rows(data.allocations), "cost_center")
    pool_lines = _group([l for l in rows(data.run_lines) if l.role == "source"], "run_id")
    origins = defaultdict(list)
    for o in rows(data.origins):
        origins[(o.run_id, o.cost_center)].append(o)
    out = []
    for cost in costs:
        cc = cost.cost_center
        mine = allocated_parts.get(cc, [])
        received = received_by.get(cc, [])
        behind = []
        for run_id in sorted({a.run_id for a in received}):
            run_origins = origins.get((run_id, cc))
            if run_origins:
                items = [{"cost_center": o.origin, "cents": int(o.amount_cents)} for o in run_origins]
                behind.append({"run_id": run_id, "multilevel": True, "parts": items})
            else:
                items = [
                    {"cost_center": p.cost_center, "cents": int(p.credit_cents) - int(p.debit_cents), "account": p.account}
                    for p in pool_lines.get(run_id, [])
                ]
                behind.append({"run_id": run_id, "multilevel": False, "parts": items})
        out.append({
            "cost": cost, "by_origin": mine, "by_origin_total": sum(int(p.amount_cents) for p in mine),
            "received": received, "behind": behind,
        })
    return out


def _source_details(data: ReportData) -> list[dict]:
    out = []
    for cc, items in sorted(_group(rows(data.source_transactions), "cost_center").items()):
        accounts = []
        total = 0
        for account, docs in sorted(_group(items, "account").items()):
            head = docs[0]
            total += int(head.account_total_cents)
            rest = int(head.account_documents) - len(docs)
            accounts.append({
                "account": account, "head": head, "documents": docs, "rest": rest,
                "rest_cents": int(head.account_total_cents) - sum(int(d.amount_cents) for d in docs),
            })
        out.append({"cost_center": cc, "accounts": accounts, "total": total})
    return out
