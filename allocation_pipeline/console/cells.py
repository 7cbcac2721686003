"""Long tables' cells formatted a column at a time, so a template writes values instead of
calling a filter per cell (the cost of a page of a thousand lines)."""

from __future__ import annotations

import pandas as pd

from allocation_pipeline.core.report.rendering import money, number, rows, share, text


def shown_rows(frame: pd.DataFrame | None, texts=(), numbers=(), shares=()) -> list:
    """Rows like `rendering.rows`: each money column `x_cents` gains `x`, the amount as the
    `money` filter shows it; the columns named in `texts`, `numbers` and `shares` hold what the
    filters `text`, `number` and `share` show. Escaping stays the template's (autoescape)."""
    if frame is None or frame.empty:
        return []
    shown = frame.copy(deep=False)
    for column in [c for c in frame.columns if c.endswith("_cents")]:
        shown[column.removesuffix("_cents")] = [money(v) for v in frame[column].tolist()]
    for names, format_ in ((texts, text), (numbers, number), (shares, share)):
        for column in names:
            shown[column] = [format_(v) for v in frame[column].tolist()]
    return rows(shown)
