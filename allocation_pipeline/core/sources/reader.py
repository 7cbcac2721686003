"""Reading an extract from the sources the sources file names for it, into the RawExtract the
cleaning takes; and putting each source's place (workbook cell) into the quarantine reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocation_pipeline.core.ingestion.cleaning import EXTRACT_SPECS, CleanResult, clean_extract
from allocation_pipeline.core.ingestion.extracts import RawExtract, read_extract
from allocation_pipeline.core.sources.config import ExcelSource, FilesSource, FocusSource, SourcesError, SourcesFile, SqlSource, load_sources
from allocation_pipeline.core.sources.excel import name_cells, read_excel_extract
from allocation_pipeline.core.sources.focus import read_focus
from allocation_pipeline.core.sources.sql import read_sql_extract


@dataclass
class SourcedExtract(RawExtract):
    """A RawExtract read from one or more sources, with what the asset reports besides rows.

    `cells` maps a workbook sheet (`book.xlsx!Sheet`, its rows' source_file) to the column letter
    of each extract column; `facts` are plain values for the materialization metadata (FOCUS
    spend with no cost object, say); `warnings` are sentences to log as warnings.
    """

    cells: dict[str, dict[str, str]] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_sourced_extract(
    sources: SourcesFile | None,
    extracts_dir: Path | str,
    extract: str,
    required: list[str],
    optional: list[str] = (),
    period: str | None = None,
) -> SourcedExtract:
    """Every source of `extract` read in full (files when `sources` is None or does not name it),
    rows put together in the order the file lists the sources. Any source failing raises before
    anything is returned, so a failed source never leaves part of the extract behind."""
    parts: list[RawExtract] = []
    result = SourcedExtract(extract=extract, frame=pd.DataFrame(), files=[])
    chosen = sources.sources_of(extract) if sources is not None else [FilesSource(kind="files")]
    for source in chosen:
        if isinstance(source, FilesSource):
            parts.append(read_extract(extracts_dir, extract, required, optional, period=period))
        elif isinstance(source, SqlSource):
            parts.append(read_sql_extract(source, extract, required, optional, period=period))
        elif isinstance(source, ExcelSource):
            raw, letters = read_excel_extract(source, extracts_dir, extract, required, optional)
            result.cells[raw.files[0]] = letters
            parts.append(raw)
        elif isinstance(source, FocusSource):
            read = read_focus(source, extracts_dir, extract, period=period)
            key = f"focus_{len([p for p in chosen[: chosen.index(source)] if isinstance(p, FocusSource)]) + 1}"
            result.facts.update(
                {
                    f"{key}_files": ", ".join(read.raw.files),
                    f"{key}_cost_column": read.cost,
                    f"{key}_currency": read.currency or "",
                    f"{key}_spend": round(read.total, 2),
                    f"{key}_unmapped_spend": round(read.unmapped, 2),
                    f"{key}_unmapped_share": round(read.unmapped_share, 6),
                    f"{key}_unmapped_by": read.unmapped_by.assign(amount=read.unmapped_by["amount"].round(2)),
                }
            )
            warning = read.summary(f"{extract} (focus {source.files})")
            if warning:
                result.warnings.append(warning)
            parts.append(_conform(read.raw, required, optional))
        else:  # pragma: no cover - the config models admit no other kind
            raise TypeError(f"unknown source {source!r}")
    columns = list(required) + list(optional) + ["source_file", "row_number"]
    result.frame = pd.concat([_conform(p, required, optional).frame[columns] for p in parts], ignore_index=True)
    result.files = [name for p in parts for name in p.files]
    result.unreadable = pd.concat([p.unreadable for p in parts], ignore_index=True)
    return result


class ExtractReader:
    """Extracts read and cleaned in pandas from the sources a sources file names (files when there
    is none), as the pipeline's assets read them: for the command line, the console, the MCP
    server and the driver history. A bad source raises SourcesError naming it."""

    def __init__(self, sources: SourcesFile | None, extracts_dir: Path | str):
        self.sources = sources
        self.extracts_dir = extracts_dir

    @classmethod
    def from_file(cls, sources_path: str | Path | None, extracts_dir: Path | str) -> "ExtractReader":
        """With the sources file at `sources_path` (none when empty); SourcesError when it cannot be used."""
        return cls(load_sources(sources_path) if sources_path else None, extracts_dir)

    def read(self, extract: str, period: str | None = None) -> SourcedExtract:
        required, optional = EXTRACT_SPECS[extract].file_columns()
        return read_sourced_extract(self.sources, self.extracts_dir, extract, required, optional, period=period)

    def clean(self, extract: str, references: dict | None = None, period: str | None = None, current: str | None = None) -> CleanResult:
        """`extract` cleaned (all of its months when `period` is None). A source read one month at a
        time (a FOCUS file pattern holding {period}) cannot give every month: with `current`, it
        gives that month alone."""
        try:
            raw = self.read(extract, period)
        except SourcesError:
            if period is not None or current is None:
                raise
            period = current
            raw = self.read(extract, period)
        return name_places(clean_extract(raw, EXTRACT_SPECS[extract], references, period=period), raw)


def name_places(result: CleanResult, raw: RawExtract) -> CleanResult:
    """The cleaning's result with each workbook cell named in its quarantine reasons."""
    cells = getattr(raw, "cells", None)
    if not cells or result.quarantine.empty:
        return result
    quarantine = result.quarantine
    for place, letters in cells.items():
        quarantine = name_cells(quarantine, place, letters)
    return CleanResult(extract=result.extract, kept=result.kept, quarantine=quarantine, rows_in=result.rows_in)


def _conform(raw: RawExtract, required: list[str], optional: list[str]) -> RawExtract:
    """Optional columns a source lacks, as missing values, so every part has the same columns."""
    for column in list(required) + list(optional):
        if column not in raw.frame:
            raw.frame[column] = pd.Series(pd.NA, index=raw.frame.index, dtype="string")
    return raw
