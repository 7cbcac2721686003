"""Ledger commands: submit, approve, reject, post, void, and reading runs and the document chain."""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import contextmanager

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError, program
from allocation_pipeline.core.allocation.rules import RUN_TYPES
from allocation_pipeline.core.ledger.lifecycle import STATUSES


def register(subparsers: argparse._SubParsersAction) -> None:
    by = {"default": None, "help": "who acts (default: the login name); recorded in the run's history"}

    submit = subparsers.add_parser("submit", help="submit a run's lines from a CSV or JSON file")
    submit.add_argument("file", help="lines as CSV (role,account,cost_center,debit,credit,...) or JSON")
    submit.add_argument("--source-document", help="the source document the run allocates, e.g. EE-BILL000527")
    submit.add_argument("--entity", help="entity (default: from the file or the source document)")
    submit.add_argument("--period", help="fiscal month YYYY-MM (default: from the file or the source document)")
    submit.add_argument("--type", choices=RUN_TYPES, help="run type (default: from the file, else cost_allocation)")
    submit.add_argument("--by", **by)
    submit.set_defaults(func=_submit)

    run = {"metavar": "RUN", "help": "the allocation run id, e.g. ALLOC-0004 (any case)"}

    approve = subparsers.add_parser("approve", help="approve a calculated run")
    approve.add_argument("run", **run)
    approve.add_argument("--by", **by)
    approve.add_argument("--reason", help="why it is approved (optional); recorded in the run's history")
    approve.set_defaults(func=_approve)

    reject = subparsers.add_parser("reject", help="reject a calculated run")
    reject.add_argument("run", **run)
    reject.add_argument("--by", **by)
    reject.add_argument("--reason", required=True, help="why it is rejected; recorded in the run's history")
    reject.set_defaults(func=_reject)

    post = subparsers.add_parser("post", help="post an approved run now (the pipeline and its sensor also post)")
    post.add_argument("run", **run)
    post.add_argument("--by", **by)
    post.set_defaults(func=_post)

    void = subparsers.add_parser("void", help="void a posted run with a reversing journal entry")
    void.add_argument("run", **run)
    void.add_argument("--by", **by)
    void.add_argument("--reason", required=True, help="why it is voided; recorded in the run's history")
    void.add_argument("--period", help="open fiscal month for the reversing entry (default: the run's own)")
    void.set_defaults(func=_void)

    runs = subparsers.add_parser("runs", help="list allocation runs")
    runs.add_argument("--entity", help="only runs of this entity")
    runs.add_argument("--status", choices=STATUSES, help="only runs in this status")
    runs.add_argument("--type", choices=RUN_TYPES, help="only runs of this type")
    runs.add_argument("--period", metavar="YYYY-MM", help="only runs of this fiscal month")
    runs.set_defaults(func=_runs)

    show = subparsers.add_parser("show", help="a run's details, lines, history and document chain")
    show.add_argument("run", **run)
    show.set_defaults(func=_show)

    chain = subparsers.add_parser("chain", help="the document chain through any of its documents")
    chain.add_argument("document", help="a source document, run id or journal entry id (any case)")
    chain.set_defaults(func=_chain)


@contextmanager
def _transaction():
    """One warehouse transaction; ledger and lifecycle errors become clear command errors."""
    from allocation_pipeline.core.ledger.lifecycle import LifecycleError
    from allocation_pipeline.warehouse.engine import WarehouseError, ensure_schema, make_engine
    from allocation_pipeline.warehouse.ledger_store import PostingError, RunNotFound

    engine = make_engine(settings.warehouse_url())
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            yield conn
    except (LifecycleError, PostingError, RunNotFound, WarehouseError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        engine.dispose()


def _who(args) -> str:
    """The person acting: --by, else the operating-system user. The four-eyes rule compares it
    with who prepared the run, so the pipeline's own names are refused here."""
    from allocation_pipeline.core.ledger.people import is_system_actor

    if args.by:
        if is_system_actor(args.by):
            raise CommandError(f"--by {args.by}: that name is reserved for the pipeline; give your own name")
        return args.by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _submit(args) -> int:
    from allocation_pipeline.core.money import format_money
    from allocation_pipeline.core.ledger.submission import SubmissionError, read_submission
    from allocation_pipeline.warehouse.ledger_store import submit_submission

    try:
        submission = read_submission(args.file)
    except SubmissionError as exc:
        raise CommandError("the file cannot be used:\n  " + "\n  ".join(exc.problems)) from exc
    try:
        with _transaction() as conn:
            result = submit_submission(
                conn, submission, submitted_by=_who(args), source_name=str(args.file), source_document=args.source_document,
                entity=args.entity, period=args.period, run_type=args.type,
            )
    except SubmissionError as exc:
        raise CommandError("; ".join(exc.problems)) from exc
    if result.errors:
        print(f"Submission refused; nothing was written. {len(result.errors)} problem(s):", file=sys.stderr)
        for error in result.errors:
            print(f"  - {error.message}", file=sys.stderr)
        return 1
    draft = result.draft
    print(f"{result.run_id} calculated: {len(draft.lines)} lines, {format_money(draft.total_debit_cents)} {draft.currency}, {draft.entity} {draft.period}"
          + (f", source document {draft.source_document}" if draft.source_document else ""))
    for note in result.notes:
        print(f"  note: {note}")
    print(f"Next: {program()} approve {result.run_id} --by NAME  (or reject it with a reason)")
    return 0


def _approve(args) -> int:
    from allocation_pipeline.warehouse.ledger_store import approve_run

    with _transaction() as conn:
        args.run = resolve_run_id(conn, args.run)
        approve_run(conn, args.run, _who(args), args.reason)
    print(f"{args.run} approved; it is posted by the next materialization of its period, the approved-runs sensor, or `{program()} post {args.run}`")
    return 0


def _reject(args) -> int:
    from allocation_pipeline.warehouse.ledger_store import reject_run

    with _transaction() as conn:
        args.run = resolve_run_id(conn, args.run)
        reject_run(conn, args.run, _who(args), args.reason)
    print(f"{args.run} rejected")
    return 0


def _post(args) -> int:
    from allocation_pipeline.warehouse.ledger_store import post_run

    with _transaction() as conn:
        posted = post_run(conn, resolve_run_id(conn, args.run), _who(args))
    print(f"{posted.run_id} posted as {posted.entry_id}")
    return 0


def _void(args) -> int:
    from allocation_pipeline.warehouse.ledger_store import void_run

    with _transaction() as conn:
        args.run = resolve_run_id(conn, args.run)
        reversal = void_run(conn, args.run, _who(args), args.reason, period=args.period)
    print(f"{args.run} voided; reversing entry {reversal}; its source amounts are free to allocate again")
    return 0


def _runs(args) -> int:
    from allocation_pipeline.reporting import format_table, money_columns
    from allocation_pipeline.warehouse.ledger_store import list_runs

    with _transaction() as conn:
        runs = list_runs(conn, entity=args.entity, status=args.status, run_type=args.type, period=args.period)
    if runs.empty:
        print("no allocation runs match")
        return 0
    shown = money_columns(runs, {"total_debit_cents": "amount"})
    print(format_table(shown[["run_id", "entity", "period", "run_type", "status", "rule_id", "source_document", "amount", "currency", "journal_entry_id", "reversal_entry_id"]]))
    return 0


def _show(args) -> int:
    from allocation_pipeline.reporting import describe_run

    with _transaction() as conn:
        print(describe_run(conn, resolve_run_id(conn, args.run)))
    return 0


def _chain(args) -> int:
    from allocation_pipeline.reporting import describe_chain

    with _transaction() as conn:
        text = describe_chain(conn, resolve_document_id(conn, args.document))
    print(text)
    return 0


def resolve_run_id(conn, typed: str) -> str:
    """The stored id of the run the user typed, in any case (alloc-0004 is ALLOC-0004); an unknown id
    is a command error with the closest existing id suggested."""
    from allocation_pipeline.config.problems import did_you_mean
    from allocation_pipeline.warehouse.bulk import read_frame
    from allocation_pipeline.warehouse.engine import sql_text

    ids = list(read_frame(conn, sql_text("select_run_ids"))["run_id"])
    by_case = {i.lower(): i for i in ids}
    if typed.lower() in by_case:
        return by_case[typed.lower()]
    raise CommandError(f"no allocation run {typed}{did_you_mean(typed, ids, quoted=False)}")


def resolve_document_id(conn, typed: str) -> str:
    """The stored id of a document the user typed in any case: a run, a journal entry, a linked
    document or a GL document. A document the warehouse does not know is a command error (with the
    closest known id suggested), not an empty chain."""
    from allocation_pipeline.config.problems import did_you_mean
    from allocation_pipeline.warehouse.bulk import read_frame
    from allocation_pipeline.warehouse.engine import sql_text
    from allocation_pipeline.warehouse.lines import gl_document_ids, ledger_lines

    known = [str(i) for i in read_frame(conn, sql_text("select_document_ids"))["document_id"]]
    by_case = {i.lower(): i for i in known}
    if typed.lower() in by_case:
        return by_case[typed.lower()]
    with ledger_lines(conn) as engine:
        in_gl = gl_document_ids(engine, typed)
    if in_gl:
        return typed if typed in in_gl else in_gl[0]
    raise CommandError(
        f"document {typed} does not exist in the warehouse (no allocation run, journal entry or GL document has that id)"
        + did_you_mean(typed, known, quoted=False)
    )
