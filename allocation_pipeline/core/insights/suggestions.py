"""Cost-center suggestions for GL and AP lines that have none the ledger can use: quarantined for a
missing or unknown cost center, or booked on a suspense cost center named in the configuration.

A scikit-learn model learns from the company's clean lines (account, vendor, document type,
description words, amount) and from the analysts' earlier decisions; each suggestion carries the
model's probability, a label, the runner-up, the history behind it and one plain sentence.
Nothing is applied here: a person accepts or rejects each suggestion (`warehouse.suggestion_store`),
and only accepted ones re-enter the month (`suggestion_store.accepted_corrections`).

Training is on distinct lines, not every line: lines with the same features and cost center are
one example weighted by their count (digits in descriptions are folded, so invoice numbers do not
make every line distinct), which keeps a month of a million lines to seconds. A vendor the history
has never seen gets a low label whatever the model says: the model can only be guessing from the
account and words, and the sentence says so.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocation_pipeline.core.insights.config import SuggestionSettings

FEATURES = ["entity", "account", "vendor", "document_type", "description", "amount_cents"]
EXAMPLE_COLUMNS = [*FEATURES, "cost_center"]
# An analyst's decision counts as this many ordinary lines in the next training.
DECISION_WEIGHT = 5
HIGH, MEDIUM, LOW = "high", "medium", "low"
SUGGESTION_COLUMNS = [
    "suggestion_id", "period", "extract", "source_file", "row_number", "entity", "document_id", "line", "account", "vendor",
    "document_type", "description", "amount_cents", "original_cost_center", "problem", "suggested_cost_center", "confidence",
    "label", "runner_up", "runner_up_confidence", "support_lines", "support_share", "trained_lines", "sentence", "raw_row",
]


class SuggestionError(ValueError):
    """Suggestions that cannot be made; the message says why."""


def examples_from_lines(lines: pd.DataFrame, extract: str, exclude_cost_centers: tuple[str, ...] = ()) -> pd.DataFrame:
    """Training examples (EXAMPLE_COLUMNS) from clean GL lines (debit_cents, credit_cents,
    document_type) or AP invoice lines (vendor, amount_cents): lines without a cost center or on
    an excluded (suspense) cost center teach nothing and are left out."""
    frame = features_of(lines, extract)
    centers = lines["cost_center"] if "cost_center" in lines else pd.Series("", index=lines.index)
    frame["cost_center"] = centers.where(centers.notna(), "").astype(str).to_numpy(dtype=object)
    frame = frame[(frame["cost_center"] != "") & ~frame["cost_center"].isin(list(exclude_cost_centers))]
    return frame.reset_index(drop=True)


def features_of(lines: pd.DataFrame, extract: str) -> pd.DataFrame:
    """The model's features of GL (`gl_lines`) or AP (`ap_invoices`) lines, typed or raw text."""
    n = len(lines)

    def text(column: str, default: str = "") -> np.ndarray:
        if column not in lines:
            return np.full(n, default, dtype=object)
        values = lines[column]
        return values.where(values.notna(), default).astype(str).to_numpy(dtype=object)

    if extract == "gl_lines":
        debit = _cents(lines, "debit_cents", "debit")
        credit = _cents(lines, "credit_cents", "credit")
        amount = np.abs(debit - credit)
        document_type = text("document_type")
    elif extract == "ap_invoices":
        amount = np.abs(_cents(lines, "amount_cents", "amount"))
        document_type = np.full(n, "AP_INVOICE", dtype=object)
    else:
        raise SuggestionError(f"suggestions are made for gl_lines and ap_invoices, not {extract}")
    frame = pd.DataFrame(
        {
            "entity": text("entity"), "account": text("account"), "vendor": text("vendor"), "document_type": document_type,
            "description": text("description"),
        },
        dtype=object,
    )
    return frame.assign(amount_cents=amount.astype(np.int64))


def _cents(lines: pd.DataFrame, typed: str, raw: str) -> np.ndarray:
    if typed in lines:
        return pd.to_numeric(lines[typed], errors="coerce").fillna(0).to_numpy(np.float64)
    if raw in lines:
        return (pd.to_numeric(lines[raw], errors="coerce").fillna(0) * 100).round().to_numpy(np.float64)
    return np.zeros(len(lines))


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical keys the model and the counts use: descriptions lower-cased with digits folded,
    amounts in half-decades (so 1,200.00 and 1,900.00 share a bucket). Distinct values are
    normalised once each, which keeps a million lines to a second."""

    def text(column: str) -> np.ndarray:
        values = frame[column]
        return values.where(values.notna(), "").astype(str).to_numpy(dtype=object)

    codes, distinct = pd.factorize(text("description"))
    folded = pd.Series(distinct, dtype=object).str.lower().str.replace(r"\d+", "#", regex=True).str.strip().to_numpy(dtype=object)
    description = folded[codes] if len(distinct) else np.full(len(frame), "", dtype=object)
    amount = np.abs(frame["amount_cents"].to_numpy(np.float64)) / 100
    bucket = np.where(amount > 0, np.floor(np.log10(np.maximum(amount, 1e-2)) * 2) / 2, -9.0)
    bucket_codes, buckets = pd.factorize(bucket)
    labels = np.array([f"{b:.1f}" for b in buckets], dtype=object)[bucket_codes] if len(buckets) else np.full(len(frame), "", dtype=object)
    vendor = text("vendor")
    return pd.DataFrame(
        {
            "entity": text("entity"), "account": text("account"), "vendor": vendor, "document_type": text("document_type"),
            "description": description, "amount_bucket": labels, "pair": vendor + "\x1f" + description,
        },
        dtype=object,  # plain Python strings: Arrow-backed ones cost more to build than the model takes to fit
    )


KEYS = ["entity", "account", "vendor", "document_type", "description", "amount_bucket"]
# One-hot columns: the categories, and vendor and description together (the two decide together,
# which a linear model of each alone cannot express).
CATEGORIES = ["entity", "account", "vendor", "document_type", "amount_bucket", "pair"]


@dataclass
class SuggestionModel:
    """A trained model: the scikit-learn pipeline, its classes (cost centers), how many lines it
    learnt from, the vendors it has seen and, per (vendor, description), the lines per cost center."""

    pipeline: object
    classes: np.ndarray
    trained_lines: int
    decisions: int
    vendors: frozenset
    support: pd.DataFrame  # entity, vendor, description, cost_center, lines, total
    entities: pd.DataFrame  # (entity x classes) booleans: the cost centers seen with each entity


def train(examples: pd.DataFrame, settings: SuggestionSettings, decisions: pd.DataFrame | None = None) -> SuggestionModel:
    """Fit the model on clean examples (EXAMPLE_COLUMNS) and the analysts' accepted decisions
    (the same columns), the latter weighted DECISION_WEIGHT times. Needs two cost centers at least."""
    from sklearn.compose import ColumnTransformer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from threadpoolctl import threadpool_limits

    parts = [examples[EXAMPLE_COLUMNS].assign(weight=1)]
    decided = 0
    if decisions is not None and not decisions.empty:
        decided = len(decisions)
        parts.append(decisions[EXAMPLE_COLUMNS].assign(weight=DECISION_WEIGHT))
    frame = pd.concat(parts, ignore_index=True)
    keys = _normalised(frame)
    keys["cost_center"] = frame["cost_center"].astype(str).to_numpy(dtype=object)
    keys["weight"] = frame["weight"].to_numpy()
    grouped = keys.groupby([*KEYS, "cost_center"], sort=True, observed=True)["weight"].sum().reset_index()
    classes = np.unique(grouped["cost_center"])
    if len(classes) < 2:
        raise SuggestionError(
            f"the history has {len(classes)} cost center(s) on clean lines; a suggestion needs at least 2 to choose from"
        )
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
                        ("words", TfidfVectorizer(token_pattern=r"(?u)\b[^\W\d_][\w&.-]+\b", sublinear_tf=True), "description"),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(C=20, max_iter=300, random_state=settings.seed)),
        ]
    )
    grouped["pair"] = grouped["vendor"] + "\x1f" + grouped["description"]
    # Weights averaging one keep the regularisation (C) the same whatever the number of lines.
    weights = grouped["weight"].to_numpy(np.float64)
    # One BLAS thread: the model is small, and threads fighting over a busy machine's cores made
    # the fit 25 times slower when measured.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # the last iterations change probabilities in the third decimal
        model.fit(grouped[[*KEYS, "pair"]], grouped["cost_center"], classifier__sample_weight=weights / weights.mean())
    support = grouped.groupby(["entity", "vendor", "description", "cost_center"], sort=True)["weight"].sum().rename("lines").reset_index()
    support["total"] = support.groupby(["entity", "vendor", "description"])["lines"].transform("sum")
    seen = pd.crosstab(grouped["entity"], grouped["cost_center"]).reindex(columns=model.classes_, fill_value=0) > 0
    return SuggestionModel(
        model, model.classes_, int(frame["weight"].sum()), decided, frozenset(keys["vendor"][keys["vendor"] != ""]),
        support, seen,
    )


def suggest(
    model: SuggestionModel, candidates: pd.DataFrame, settings: SuggestionSettings, rejected: dict[str, set[str]] | None = None
) -> pd.DataFrame:
    """A suggestion per candidate line (candidates carry FEATURES and `suggestion_id`): the most
    probable cost center not rejected for that line before, its probability, label, the runner-up,
    the history behind it and a sentence. Identical lines are scored once."""
    rejected = rejected or {}
    if candidates.empty:
        return candidates.assign(
            suggested_cost_center=pd.Series(dtype=str), confidence=pd.Series(dtype=float), label=pd.Series(dtype=str),
            runner_up=pd.Series(dtype=str), runner_up_confidence=pd.Series(dtype=float), support_lines=pd.Series(dtype="int64"),
            support_share=pd.Series(dtype=float), trained_lines=pd.Series(dtype="int64"), sentence=pd.Series(dtype=str),
        )
    keys = _normalised(candidates)
    joined = keys["entity"] + "\x1f" + keys["account"] + "\x1f" + keys["document_type"] + "\x1f" + keys["pair"] + "\x1f" + keys["amount_bucket"]
    inverse, distinct = pd.factorize(joined.to_numpy(dtype=object))
    first = pd.Series(np.arange(len(keys))).groupby(inverse).first().to_numpy()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        probabilities = model.pipeline.predict_proba(keys.iloc[first][[*KEYS, "pair"]])[inverse]
    # A line's cost center belongs to its entity: only cost centers seen with the entity are offered.
    allowed = model.entities.reindex(keys["entity"].to_numpy()).fillna(True).to_numpy(bool)
    probabilities = np.where(allowed, probabilities, 0.0)
    totals = probabilities.sum(axis=1, keepdims=True)
    probabilities = np.divide(probabilities, totals, out=probabilities, where=totals > 0)
    ids = candidates["suggestion_id"].astype(str).to_numpy()
    for i, sid in enumerate(ids):
        for cc in rejected.get(sid, ()):
            j = np.searchsorted(model.classes, cc)
            if j < len(model.classes) and model.classes[j] == cc:
                probabilities[i, j] = 0.0
    order = np.argsort(-probabilities, axis=1, kind="stable")
    best, second = order[:, 0], order[:, 1]
    rows = np.arange(len(keys))
    confidence = probabilities[rows, best]
    runner = probabilities[rows, second]
    suggested = model.classes[best]
    label = np.where(confidence >= settings.high_confidence, HIGH, np.where(confidence >= settings.medium_confidence, MEDIUM, LOW)).astype(object)
    vendors = keys["vendor"].to_numpy(dtype=object)
    unseen = np.array([v != "" and v not in model.vendors for v in vendors])
    label[unseen] = LOW
    support_lines, support_total = _support(model, keys, suggested)
    sentences = [
        _sentence(model, suggested[i], confidence[i], label[i], model.classes[second[i]], runner[i], vendors[i], keys["description"].iat[i],
                  support_lines[i], support_total[i], bool(unseen[i]), len(rejected.get(ids[i], ())))
        for i in rows
    ]
    return candidates.assign(
        suggested_cost_center=suggested, confidence=np.round(confidence, 6), label=label, runner_up=model.classes[second],
        runner_up_confidence=np.round(runner, 6), support_lines=support_lines, support_share=np.divide(
            support_lines, support_total, out=np.zeros(len(rows)), where=support_total > 0
        ), trained_lines=model.trained_lines, sentence=sentences,
    )


def _support(model: SuggestionModel, keys: pd.DataFrame, suggested: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Earlier lines of the entity with the same vendor and description: to the suggested cost center, and in all."""
    table = model.support
    on = ["entity", "vendor", "description"]
    lookup = pd.DataFrame({c: keys[c].to_numpy() for c in on}).assign(cost_center=suggested)
    same = lookup.merge(table, on=[*on, "cost_center"], how="left")["lines"].fillna(0).to_numpy(np.int64)
    totals = table.drop_duplicates(on)[[*on, "total"]]
    total = lookup.merge(totals, on=on, how="left")["total"].fillna(0).to_numpy(np.int64)
    return same, total


def _sentence(model, cc, p, label, runner, runner_p, vendor, description, same, total, unseen, rejected) -> str:
    source = f"vendor {vendor} with this description" if vendor else "this description"
    history = (
        f"{same:,} of {total:,} earlier lines from {source} went to {cc}" if total else f"no earlier line from {source}"
    )
    text = (
        f"Suggested {cc} ({p:.0%}, {label} confidence): {history}; the model, trained on {model.trained_lines:,} clean lines"
        f"{f' and {model.decisions} analyst decision(s)' if model.decisions else ''} (account, vendor, document type, description "
        f"words, amount), gives {runner} {runner_p:.0%} next."
    )
    if unseen:
        text += f" Vendor {vendor} has never been seen in the history, so the confidence is low whatever the model says."
    if rejected:
        text += f" {rejected} cost center(s) rejected for this line before are not offered again."
    return text


def suggestion_id(extract: str, period: str, source_file: str, row_number: int) -> str:
    """A stable id for a line's suggestion: the same line of the same file gets the same id in every run."""
    digest = hashlib.sha1(f"{extract}:{source_file}:{row_number}".encode()).hexdigest()[:8]
    return f"{'GL' if extract == 'gl_lines' else 'AP'}-{period}-{digest}"


def candidates_from_extract(
    extract: str, period: str, raw: pd.DataFrame, quarantine: pd.DataFrame, kept: pd.DataFrame, suspense: tuple[str, ...] = (),
    references: dict | None = None,
) -> pd.DataFrame:
    """The lines of one extract and period that need a cost center: raw rows whose only problems
    are a missing or unknown cost center (any other problem would keep them out even with one),
    kept rows on a suspense cost center, and kept AP lines without a cost center. Carries FEATURES,
    the row's identity, its problem and the raw row as JSON (what re-enters once accepted).

    Cleaning checks references only on rows that parse, so a row without a cost center may hide
    another problem (an unknown account): with `references` (as `clean_extract` takes them), the
    rows are cleaned again with a known cost center written in, and those that still fail are
    left out, since accepting a cost center would not let them in."""
    file_columns = [c for c in raw.columns if c not in ("source_file", "row_number")]
    parts = []
    if not quarantine.empty:
        problems = quarantine.assign(on_cc=quarantine["column"].astype("string").fillna("") == "cost_center")
        problems["reason"] = problems["reason"].replace({"missing value": "cost center missing"})
        per_row = problems.groupby(["source_file", "row_number"], sort=True).agg(only_cc=("on_cc", "all"), problem=("reason", "first"))
        wanted = per_row[per_row["only_cc"]].reset_index()
        rows = raw.merge(wanted, on=["source_file", "row_number"], how="inner")
        parts.append(_passing_with_a_cost_center(extract, rows, references, period) if references else rows)
    if not kept.empty:
        on_suspense = kept["cost_center"].isin(list(suspense)) if suspense else pd.Series(False, index=kept.index)
        missing = kept["cost_center"].isna() | (kept["cost_center"].astype("string") == "")
        flagged = kept[on_suspense | missing][["source_file", "row_number", "cost_center"]]
        if not flagged.empty:
            flagged = flagged.assign(
                problem=np.where(flagged["cost_center"].isna(), "no cost center", "booked on suspense cost center '" + flagged["cost_center"].astype("string").fillna("") + "'")
            )[["source_file", "row_number", "problem"]]
            parts.append(raw.merge(flagged.astype({"source_file": str}), on=["source_file", "row_number"], how="inner"))
    if not parts:
        return pd.DataFrame(columns=[c for c in SUGGESTION_COLUMNS if c not in ("suggested_cost_center",)])
    rows = pd.concat(parts, ignore_index=True).drop_duplicates(["source_file", "row_number"]).sort_values(["source_file", "row_number"], ignore_index=True)
    features = features_of(rows, extract)
    raw_rows = [json.dumps({c: (None if pd.isna(v) else str(v)) for c, v in zip(file_columns, values)}) for values in rows[file_columns].itertuples(index=False)]
    return pd.DataFrame(
        {
            "suggestion_id": [suggestion_id(extract, period, f, int(r)) for f, r in zip(rows["source_file"], rows["row_number"])],
            "period": period, "extract": extract, "source_file": rows["source_file"].astype(str).to_numpy(),
            "row_number": rows["row_number"].astype("int64").to_numpy(),
            "entity": rows["entity"].astype("string").fillna("").to_numpy(dtype=object) if "entity" in rows else "",
            "document_id": rows["document_id"].astype("string").fillna("").to_numpy(dtype=object),
            "line": pd.to_numeric(rows["line"], errors="coerce").fillna(0).astype("int64").to_numpy(),
            **{c: features[c].to_numpy() for c in FEATURES},
            "original_cost_center": rows["cost_center"].astype("string").to_numpy(dtype=object) if "cost_center" in rows else None,
            "problem": rows["problem"].astype(str).to_numpy(),
            "raw_row": raw_rows,
        }
    )


def _passing_with_a_cost_center(extract: str, rows: pd.DataFrame, references: dict, period: str) -> pd.DataFrame:
    from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
    from allocation_pipeline.core.ingestion.extracts import RawExtract

    known = list(references.get("cost center", []))
    if rows.empty or not known:
        return rows
    trial = rows.drop(columns=["only_cc", "problem"]).assign(cost_center=str(known[0]))
    result = clean_extract(RawExtract(extract, trial, sorted(set(trial["source_file"]))), EXTRACT_SPECS[extract], references, period=period)
    passing = result.kept[["source_file", "row_number"]].astype({"source_file": str})
    return rows.merge(passing, on=["source_file", "row_number"], how="inner")


def suggestions_for_period(
    candidates: pd.DataFrame,
    examples: pd.DataFrame,
    settings: SuggestionSettings,
    decisions: pd.DataFrame | None = None,
    rejected: dict[str, set[str]] | None = None,
    settled: set[str] | frozenset = frozenset(),
) -> pd.DataFrame:
    """The period's suggestions (SUGGESTION_COLUMNS) for `candidates` (from `candidates_from_extract`):
    lines already settled (an accepted suggestion; ids in `settled`) are left out; a line with
    rejected suggestions (`rejected`: line id -> cost centers) is suggested again under a new id
    `<line id>-r<n>` without those cost centers. The model learns from `examples` and `decisions`."""
    rejected = rejected or {}
    todo = candidates[~candidates["suggestion_id"].isin(list(settled))].copy()
    if todo.empty:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS)
    base = todo["suggestion_id"].astype(str)
    todo["suggestion_id"] = [f"{b}-r{len(rejected[b])}" if b in rejected else b for b in base]
    by_new_id = {new: rejected[b] for new, b in zip(todo["suggestion_id"], base) if b in rejected}
    model = train(examples, settings, decisions)
    return suggest(model, todo, settings, by_new_id)[SUGGESTION_COLUMNS].reset_index(drop=True)
