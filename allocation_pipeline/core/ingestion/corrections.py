"""Accepted cost-center suggestions re-entering their month: before cleaning, each raw row an analyst
corrected is replaced by the corrected row (same `source_file` and `row_number`), unless the row
is gone or changed since the suggestion was made (then nothing is applied to it, and it is said)."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd
import pyarrow as pa

from allocation_pipeline.core.ingestion.extracts import ROW_KEY_COLUMNS

APPLIED = "applied"
KEPT = "kept"
NOT_APPLIED = "not applied"
ROW_CHANGED = f"{NOT_APPLIED}: the row changed since the suggestion was made"
ROW_GONE = f"{NOT_APPLIED}: the extract has no such row any more"
OUTCOME_COLUMNS = ["suggestion_id", "source_file", "row_number", "outcome"]
_THEN = "then__"  # prefix of the correction's columns in the comparison join


@dataclass(frozen=True)
class Corrected:
    """`table`: the raw rows with the applicable corrections in place. `outcomes`: one row per
    accepted correction (OUTCOME_COLUMNS), `outcome` APPLIED, ROW_CHANGED or ROW_GONE."""

    table: ibis.Table
    outcomes: pd.DataFrame

    @property
    def applied(self) -> int:
        return applied_count(self.outcomes)


def applied_count(outcomes: pd.DataFrame) -> int:
    """How many corrections were applied (kept or quarantined again), of OUTCOME_COLUMNS rows."""
    return int((~outcomes["outcome"].astype(str).str.startswith(NOT_APPLIED)).sum())


def apply_corrections(raw: ibis.Table, corrections: pd.DataFrame, execute, upload) -> Corrected:
    """Replace in `raw` (a raw line table: text columns plus the row key) the rows that `corrections`
    (`suggestion_store.accepted_corrections`: the extract's columns with the accepted cost center,
    plus provenance) correct. A correction applies when the raw row at its key still holds what
    the suggestion was made from (every column, the cost center as it was); the comparison runs in
    the engine and returns one small row per correction. `execute(expr) -> DataFrame` runs an
    expression in the engine; `upload(arrow) -> ibis.Table` puts rows into it."""
    if corrections.empty:
        return Corrected(raw, pd.DataFrame(columns=OUTCOME_COLUMNS))
    layout = [c for c in raw.columns if c not in ROW_KEY_COLUMNS]
    then = corrections[layout].assign(cost_center=corrections["original_cost_center"])
    compared = upload(_arrow(then.add_prefix(_THEN), corrections, [f"{_THEN}{c}" for c in layout]))
    keyed = raw.inner_join(compared, list(ROW_KEY_COLUMNS))
    same = ibis.literal(True)
    for column in layout:
        same &= keyed[column].identical_to(keyed[f"{_THEN}{column}"])
    found = execute(keyed.select(*ROW_KEY_COLUMNS, same=same))
    outcomes = corrections[["suggestion_id", *ROW_KEY_COLUMNS]].merge(
        found.astype({"row_number": "int64"}), on=list(ROW_KEY_COLUMNS), how="left"
    )
    outcomes["outcome"] = [ROW_GONE if pd.isna(s) else APPLIED if s else ROW_CHANGED for s in outcomes["same"]]
    outcomes = outcomes[OUTCOME_COLUMNS]
    applied = corrections[(outcomes["outcome"] == APPLIED).to_numpy()]
    if applied.empty:
        return Corrected(raw, outcomes)
    rows = upload(_arrow(applied[layout], applied, layout))
    replaced = raw.anti_join(rows, list(ROW_KEY_COLUMNS))
    return Corrected(ibis.union(replaced, rows.select(*raw.columns), distinct=False), outcomes)


def settle(outcomes: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """The outcomes once the month is cleaned: an applied correction is KEPT, or `quarantined again:
    <reasons>` when the corrected row still has a problem (its other columns, say)."""
    if outcomes.empty:
        return outcomes
    reasons = quarantine.groupby(list(ROW_KEY_COLUMNS))["reason"].agg("; ".join) if not quarantine.empty else pd.Series(dtype=str)
    settled = outcomes.copy()
    for index, row in settled[settled["outcome"] == APPLIED].iterrows():
        reason = reasons.get((row["source_file"], row["row_number"]))
        settled.at[index, "outcome"] = KEPT if reason is None else f"quarantined again: {reason}"
    return settled


def _arrow(values: pd.DataFrame, keys: pd.DataFrame, columns: list[str]) -> pa.Table:
    """Text columns (missing values as nulls) followed by the row key, as raw tables hold them."""
    arrays = [pa.array([None if pd.isna(v) else str(v) for v in values[c]], pa.string()) for c in columns]
    arrays += [pa.array(keys["source_file"].astype(str).tolist(), pa.string()), pa.array(keys["row_number"].astype("int64").tolist(), pa.int64())]
    return pa.table(arrays, names=[*columns, *ROW_KEY_COLUMNS])
