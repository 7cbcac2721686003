"""`allocation mcp`: the MCP server through which an agent prepares allocation runs (never approves them)."""

from __future__ import annotations

import argparse
import os

from allocation_pipeline import settings
from allocation_pipeline.cli import CommandError

AGENT_ENV = "ALLOCATION_MCP_AS"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="serve the ledger to an AI assistant over the Model Context Protocol, acting as a preparer",
        description="Start an MCP server (stdio by default, for a client that launches it; --http for streamable HTTP). "
        "Its tools list and show runs, walk the document chain, read a pool's GL balances, preview a rule, analyse a "
        "pool's drivers, run what-if scenarios and submit a run's lines; approve, post and void are not offered. "
        "It acts as the user given with --as, who must have the role preparer: that name is recorded in the history "
        "of every run it submits, and the four-eyes rule keeps it from approving them.",
    )
    parser.add_argument(
        "--as", dest="agent", metavar="USER", default=os.environ.get(AGENT_ENV),
        help=f"the user the agent acts as, with the role preparer (default ${AGENT_ENV}); "
        "create it with `allocation users add USER --role preparer --sso`",
    )
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765); the endpoint is /mcp")
    parser.add_argument("--extracts", metavar="DIR", help=f"extracts directory (default ${settings.EXTRACTS_DIR_ENV} or <data>/extracts)")
    parser.add_argument("--rules", metavar="FILE", help=f"rules file (default ${settings.RULES_FILE_ENV} or <data>/rules.yaml)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from allocation_pipeline.agents.server import AgentIdentityError, build_server
    from allocation_pipeline.warehouse.engine import WarehouseError

    if not args.agent:
        raise CommandError(f"give the user the agent acts as: --as USER (or ${AGENT_ENV}), a user with the role preparer")
    if not 0 < args.port < 65536:
        raise CommandError(f"--port {args.port} is not a TCP port")
    try:
        server = build_server(args.agent, rules=args.rules, extracts=args.extracts)
    except (AgentIdentityError, WarehouseError) as exc:
        raise CommandError(str(exc)) from exc
    if args.http:
        server.run("streamable-http", host=args.host, port=args.port)
    else:
        server.run("stdio")
    return 0
