"""The line extracts (GL, AP, timesheets) from the sources the sources file names, as one raw table in
the engine: files read as `read_extract_table` reads them, SQL tables and queries read where they
are when they live in the engine's own database, otherwise streamed into it first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS
from allocation_pipeline.core.ingestion.extracts import RawTable, read_extract_table
from allocation_pipeline.core.sources.config import FilesSource, SourcesError, SourcesFile, SqlSource
from allocation_pipeline.core.sources.sql import connect, copy_into, describe_source, drop_table, raw_table


@dataclass
class SourcedTable(RawTable):
    """A RawTable put together from one or more sources. `copies` names the engine tables holding
    rows streamed in from another database (drop them with `drop_copies` once the month is
    stored); `copied_from` describes those sources and `rows_copied` counts their rows;
    `in_place` describes the sources read where they are (the engine's own database, no copy)."""

    copies: list[str] = field(default_factory=list)
    copied_from: list[str] = field(default_factory=list)
    rows_copied: int = 0
    in_place: list[str] = field(default_factory=list)


def read_line_sources(backend, engine_url: str, sources: SourcesFile | None, extracts_dir: Path | str, extract: str, period: str) -> SourcedTable:
    """Every source of a line extract's month in the engine `backend` (an Ibis backend whose URL is
    `engine_url`), rows put together in the order the sources file lists them. A SQL source in
    the engine's own database is read in place; any other is copied into the engine as
    `<extract>_raw_<period>` (`_<n>` after it for a second SQL source). A source that fails raises
    (ExtractError, SourcesError naming the source) and leaves no copy behind."""
    chosen = line_sources(sources, extract)
    required, optional = EXTRACT_SPECS[extract].file_columns()
    result = SourcedTable(extract=extract, table=None, files=[])
    parts, unreadable = [], []
    try:
        for source in chosen:
            if isinstance(source, FilesSource):
                read = read_extract_table(backend, extracts_dir, extract, required, optional, period=period)
                parts.append(read.table)
                result.files += read.files
                unreadable.append(read.unreadable)
            elif isinstance(source, SqlSource):
                parts.append(_sql_part(backend, engine_url, source, extract, required, optional, period, result))
            else:  # the sources file admits only files and sql for line extracts
                raise SourcesError(extract, f"a {source.kind} source cannot hold {extract}; use files or sql")
    except BaseException:
        drop_copies(backend, result)
        raise
    result.table = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    if unreadable:
        import pandas as pd

        result.unreadable = pd.concat(unreadable, ignore_index=True)
    return result


def line_sources(sources: SourcesFile | None, extract: str) -> list:
    """The sources a line extract is read from: the sources file's, else the extract's files."""
    return sources.sources_of(extract) if sources is not None else [FilesSource(kind="files")]


def drop_copies(backend, table: SourcedTable) -> None:
    """Drop the engine tables a SourcedTable's copied sources were streamed into."""
    for name in table.copies:
        drop_table(backend, name)
    table.copies.clear()


def same_database(source_url: str, engine_url: str) -> bool:
    """Whether a source's URL names the engine's own database: the same DuckDB file, or the same
    server, database, user and options (search path) whatever the driver. Spark engines hold no
    SQL sources."""
    try:
        source, engine = make_url(source_url), make_url(engine_url)
    except ArgumentError:
        return False
    if source.get_backend_name() != engine.get_backend_name():
        return False
    if source.get_backend_name() == "duckdb":
        names = [url.database or ":memory:" for url in (source, engine)]
        if ":memory:" in names:
            return False
        return Path(names[0]).resolve() == Path(names[1]).resolve()
    default_port = {"postgresql": 5432}.get(source.get_backend_name())
    return (
        (source.host or "localhost", source.port or default_port, source.database, source.username, dict(source.query))
        == (engine.host or "localhost", engine.port or default_port, engine.database, engine.username, dict(engine.query))
    )


def _sql_part(backend, engine_url: str, source: SqlSource, extract: str, required, optional, period, result: SourcedTable):
    where = f"{extract} (sql {describe_source(source)})"
    result.files.append(describe_source(source))
    if same_database(source.url, engine_url):
        result.in_place.append(describe_source(source))
        return raw_table(source, extract, required, optional, period, con=backend)
    con = connect(source, extract)
    try:
        expression = raw_table(source, extract, required, optional, period, con=con)
        name = f"{extract}_raw" + (f"_{period.replace('-', '_')}" if period else "")
        copies = len(result.copies)
        name += f"_{copies + 1}" if copies else ""
        result.rows_copied += copy_into(expression, backend, name, where)
        result.copies.append(name)
        result.copied_from.append(describe_source(source))
    finally:
        con.disconnect()
    return backend.table(name)
