"""Helpers that turn frames and figures into Dagster materialization metadata."""


import dagster as dg
import pandas as pd

from allocation_pipeline.core.money import format_money

MAX_TABLE_ROWS = 50


def markdown_table(frame: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS) -> dg.MarkdownMetadataValue:
    """A frame as a markdown table (first `max_rows` rows, and a line saying how many were left out)."""
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    shown = frame.head(max_rows).astype("string").fillna("")
    header = "| " + " | ".join(map(str, shown.columns)) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    rows = ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in shown.itertuples(index=False)]
    more = [f"\n_{len(frame) - max_rows} more rows not shown_"] if len(frame) > max_rows else []
    return dg.MetadataValue.md("\n".join([header, rule, *rows, *more]))


def totals_by_currency(frame: pd.DataFrame, cents: str, currency: str = "currency") -> dg.TextMetadataValue:
    """Money summed per currency, as text: `EUR 53,498.27; USD 153,838.78` (`-` when empty)."""
    if frame.empty:
        return dg.MetadataValue.text("-")
    sums = frame.groupby(currency)[cents].sum()
    return dg.MetadataValue.text("; ".join(f"{c} {format_money(int(v))}" for c, v in sums.items()))


def console_links(path: str, documents: dict[str, str] | None = None) -> dict[str, dg.MetadataValue]:
    """Links into the finance console when $ALLOCATION_CONSOLE_URL is set (else nothing): `path`
    (e.g. "/runs?period=2026-10") as `console`, and each named document as a markdown list of
    links (`documents` maps a run or entry id to its console path)."""
    from urllib.parse import quote

    from allocation_pipeline.settings import console_url

    base = console_url()
    if not base:
        return {}
    out: dict[str, dg.MetadataValue] = {"console": dg.MetadataValue.url(base + path)}
    if documents:
        shown = list(documents.items())[:MAX_TABLE_ROWS]
        out["console_documents"] = dg.MetadataValue.md("\n".join(f"- [{name}]({base}{quote(target)})" for name, target in shown))
    return out
