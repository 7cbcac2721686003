"""`allocation suggestions`: cost centers suggested for the month's GL and AP lines that lack a usable
one, from a model trained on the company's clean history, and the analyst's accept or reject.

Listing computes the period's suggestions from the extracts (cleaned as the pipeline cleans them),
stores them in the warehouse table cost_center_suggestions (replacing the period's open ones;
decisions stay) and prints them. Deciding writes only the decision; accepted lines re-enter the
month on its next run, through ingestion (`warehouse.suggestion_store.accepted_corrections`).
"""

from __future__ import annotations

import argparse
import getpass

import pandas as pd

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "suggestions",
        help="suggested cost centers for quarantined or suspense GL/AP lines; accept or reject them",
        description="With --period: find the month's GL and AP lines quarantined for a missing or unknown cost center, "
        "booked on a suspense cost center (insights.suggestions.suspense_cost_centers) or AP lines without one; train a "
        "model (scikit-learn) on the clean lines of the months up to PERIOD and the analysts' earlier decisions; store "
        "and list a suggested cost center per line with its confidence and the reason. `accept ID` (optionally "
        "--cost-center to correct it) or `reject ID` records who decided and when; nothing is applied without an "
        "accept, and accepted lines re-enter the month on its next run.",
    )
    parser.add_argument("action", nargs="?", choices=("accept", "reject"), help="decide on one suggestion (default: list the period's)")
    parser.add_argument("suggestion", nargs="?", metavar="ID", help="the suggestion id, as listed")
    parser.add_argument("--period", metavar="YYYY-MM", help="the fiscal month to suggest for and list")
    parser.add_argument("--cost-center", metavar="CC", help="accept: use this cost center instead of the suggested one")
    parser.add_argument("--by", help="accept/reject: who decides (default: the login name)")
    parser.add_argument("--note", help="accept/reject: a note kept with the decision")
    parser.add_argument("--limit", type=int, default=100, help="list at most this many suggestions (default 100)")
    parser.add_argument("--no-store", action="store_true", help="list only; store nothing")
    parser.add_argument("--extracts", metavar="DIR", help=f"(also where accept checks the cost center) extracts directory (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts; extracts that ${settings.SOURCES_FILE_ENV} names are read from their sources)")
    parser.add_argument("--rules", metavar="FILE", help=f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)")
    parser.set_defaults(func=_suggestions)


def _suggestions(args: argparse.Namespace) -> int:
    if args.action is None:
        if args.suggestion or args.cost_center or args.by or args.note:
            raise CommandError("give accept or reject before a suggestion id; to list, give only --period")
        if not args.period:
            raise CommandError("give --period YYYY-MM to list its suggestions, or accept|reject ID")
        return _list(args)
    if not args.suggestion:
        raise CommandError(f"{args.action}: name the suggestion id (as listed by `allocation suggestions --period YYYY-MM`)")
    return _decide(args)


def _list(args: argparse.Namespace) -> int:
    from allocation_pipeline.commands.insights import _check_period, _rules_document
    from allocation_pipeline.core.insights.config import InsightsConfigError, parse_insights
    from allocation_pipeline.core.insights.suggestions import SUGGESTION_COLUMNS, SuggestionError, suggestions_for_period
    from allocation_pipeline.warehouse import suggestion_store as store

    _check_period(args.period)
    rules_path = args.rules or settings.rules_file()
    try:
        config = parse_insights(_rules_document(rules_path), rules_path).suggestions
    except InsightsConfigError as exc:
        raise CommandError(str(exc)) from None
    candidates, examples, notes = _from_extracts(args.extracts or settings.extracts_dir(), args.period, config)
    engine, url = _engine()
    try:
        with engine.connect() as conn:
            decided = store.decided_suggestions(conn)
        decisions, rejected = store.training_decisions(decided)
        settled = {store.line_id(s) for s in decided.loc[decided["status"] == store.ACCEPTED, "suggestion_id"]} if not decided.empty else set()
        if candidates.empty:
            fresh = pd.DataFrame(columns=SUGGESTION_COLUMNS)
        else:
            try:
                fresh = suggestions_for_period(candidates, examples, config, decisions, rejected, settled)
            except SuggestionError as exc:
                raise CommandError(f"{args.period}: {exc}") from None
        if not args.no_store:
            with engine.begin() as conn:
                store.store_suggestions(conn, args.period, fresh)
            with engine.connect() as conn:
                shown = store.period_suggestions(conn, args.period)
        else:
            shown = fresh.assign(status="open (not stored)")
    finally:
        engine.dispose()
    for note in notes:
        print(f"Note: {note}")
    trained = int(fresh["trained_lines"].iloc[0]) if not fresh.empty else len(examples)
    print(
        f"Suggestions for {args.period}: {len(fresh)} line(s) need a cost center; model trained on {trained:,} clean line(s) "
        f"and {len(decisions)} accepted decision(s). Nothing is applied until someone accepts."
    )
    _print(shown, args.limit)
    if not args.no_store:
        from allocation_pipeline.warehouse.engine import describe

        print(f"Stored in {describe(url)} (cost_center_suggestions). Decide with `allocation suggestions accept|reject ID --by NAME`.")
    return 0


def _print(frame: pd.DataFrame, limit: int) -> None:
    from allocation_pipeline.core.money import format_money

    if frame.empty:
        print("  none")
        return
    for row in frame.head(max(limit, 0)).to_dict("records"):
        where = f"{row['source_file']} row {row['row_number']}"
        what = ", ".join(x for x in (str(row["document_id"]), str(row["vendor"] or ""), f"account {row['account']}") if x)
        print(
            f"  {row['suggestion_id']}  [{row['status']}]  {where}: {what}, {format_money(int(row['amount_cents']))}; {row['problem']}"
        )
        decided = ""
        if row["status"] == "accepted":
            decided = f" -> accepted {row['decided_cost_center']} by {row['decided_by']} at {row['decided_at']}; {_applied(row)}"
        elif row["status"] == "rejected":
            decided = f" -> rejected by {row['decided_by']} at {row['decided_at']}"
        print(f"      {row['sentence']}{decided}")
    if len(frame) > limit:
        print(f"  ... and {len(frame) - limit} more (--limit)")


def _applied(row: dict) -> str:
    """What the month's last run did with an accepted suggestion (cost_center_corrections)."""
    outcome = row.get("applied_outcome")
    if outcome is None or pd.isna(outcome):
        return f"re-enters {row['period']} on its next run"
    run = str(row["applied_run_id"])[:8]
    if outcome.startswith("not applied"):
        return f"run {run} of {row['period']}: {outcome}"
    return f"{outcome} in {row['period']} since run {run}"


def _decide(args: argparse.Namespace) -> int:
    from allocation_pipeline.warehouse import suggestion_store as store

    engine, url = _engine()
    try:
        with engine.begin() as conn:
            message = decide_suggestion(
                conn, args.suggestion, args.action, args.by or getpass.getuser(), args.cost_center, args.note, args.extracts or settings.extracts_dir()
            )
    except store.SuggestionDecisionError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    print(message)
    return 0


def decide_suggestion(
    conn, suggestion_id: str, action: str, by: str, cost_center: str | None = None, note: str | None = None, extracts: str | None = None
) -> str:
    """Record `action` ("accept" or "reject") on one open suggestion in the caller's transaction, the
    accepted cost center checked against the known ones; return the sentence saying what was
    recorded. The CLI and the console both decide through this; refusals raise
    `suggestion_store.SuggestionDecisionError`."""
    from allocation_pipeline.warehouse import suggestion_store as store

    decisions = {"accept": store.ACCEPTED, "reject": store.REJECTED}
    if action not in decisions:
        raise store.SuggestionDecisionError(f"{suggestion_id}: the decision is accept or reject, not {action!r}")
    known = _known_cost_centers(conn, extracts or settings.extracts_dir())
    row = store.decide(conn, suggestion_id, decisions[action], by, (cost_center or "").strip() or None, (note or "").strip() or None, known)
    when = f"{row['decided_at']:%Y-%m-%d %H:%M:%S} UTC"
    if row["status"] == store.ACCEPTED:
        changed = "" if row["decided_cost_center"] == row["suggested_cost_center"] else f" (instead of the suggested {row['suggested_cost_center']})"
        return (
            f"{suggestion_id}: accepted {row['decided_cost_center']}{changed} for {row['source_file']} row {row['row_number']} "
            f"by {row['decided_by']} at {when}; the line re-enters {row['period']} on its next run."
        )
    return f"{suggestion_id}: rejected {row['suggested_cost_center']} by {row['decided_by']} at {when}; the next listing suggests another cost center for the line."


def _known_cost_centers(conn, extracts: str) -> set[str] | None:
    """Cost centers of the warehouse's master data, else of the cost centers extract (None when
    neither has any: the cost center cannot be checked)."""
    from allocation_pipeline.core.ingestion.extracts import ExtractError
    from allocation_pipeline.core.sources.config import SourcesError
    from allocation_pipeline.core.sources.reader import ExtractReader
    from allocation_pipeline.warehouse.insights_store import master_data

    cost_centers, _, _ = master_data(conn)
    if cost_centers.empty:
        try:
            cost_centers = ExtractReader.from_file(settings.sources_file(), extracts).clean("cost_centers").kept
        except (ExtractError, SourcesError):
            return None
    return set(cost_centers["cost_center"].astype(str)) if not cost_centers.empty else None


def _engine():
    from allocation_pipeline.warehouse.engine import WarehouseError, ensure_schema, make_engine

    url = settings.warehouse_url()
    engine = make_engine(url)
    try:
        ensure_schema(engine)
    except WarehouseError as exc:
        engine.dispose()
        raise CommandError(str(exc)) from None
    return engine, url


def _from_extracts(extracts: str, period: str, config) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The period's candidate lines and the clean examples of the months up to it, from the extracts
    (read from the sources file's sources, as the pipeline reads them)."""
    from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, clean_extract
    from allocation_pipeline.core.ingestion.extracts import ExtractError
    from allocation_pipeline.core.insights.config import shift_period
    from allocation_pipeline.core.insights.suggestions import candidates_from_extract, examples_from_lines
    from allocation_pipeline.core.sources.config import SourcesError
    from allocation_pipeline.core.sources.reader import ExtractReader

    first = shift_period(period, -(config.history_periods - 1))
    notes: list[str] = []
    candidates, examples = [], []
    try:
        reader = ExtractReader.from_file(settings.sources_file(), extracts)
        entities = reader.clean("entities")
        accounts = reader.clean("accounts")
        cost_centers = reader.clean("cost_centers", {"entity": entities.kept["entity"]})
        references = {"entity": entities.kept["entity"], "account": accounts.kept["account"], "cost center": cost_centers.kept["cost_center"]}
        for name in ("gl_lines", "ap_invoices"):
            try:
                raw = reader.read(name, period)
            except ExtractError as exc:
                if name == "ap_invoices" and "not found" in str(exc):
                    notes.append("no ap_invoices extract: GL lines only")
                    continue
                raise
            result = clean_extract(raw, EXTRACT_SPECS[name], references, period=period)
            candidates.append(candidates_from_extract(name, period, raw.frame, result.quarantine, result.kept, config.suspense_cost_centers, references))
            history = reader.clean(name, references)
            kept = history.kept[(history.kept["period"] >= first) & (history.kept["period"] <= period)]
            examples.append(examples_from_lines(kept, name, config.suspense_cost_centers))
    except (ExtractError, SourcesError) as exc:
        raise CommandError(str(exc)) from None
    found = [c for c in candidates if not c.empty]
    return (pd.concat(found, ignore_index=True) if found else candidates[0] if candidates else pd.DataFrame()), pd.concat(examples, ignore_index=True), notes
