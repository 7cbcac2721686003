"""The sources resource: the optional sources file saying where each extract is read from."""

from __future__ import annotations

import os

import dagster as dg

from allocation_pipeline import settings
from allocation_pipeline.core.ingestion.cleaning import CleanResult
from allocation_pipeline.core.ingestion.extracts import RawExtract
from allocation_pipeline.core.sources.config import SourcesFile, load_sources
from allocation_pipeline.core.sources.reader import SourcedExtract, name_places, read_sourced_extract
from allocation_pipeline.defs.metadata import markdown_table


class SourcesResource(dg.ConfigurableResource):
    """The sources file (YAML). Empty path: the file $ALLOCATION_SOURCES_FILE names when the asset
    runs, if any; otherwise every extract is read from the extracts directory."""

    path: str = ""

    def load(self) -> SourcesFile | None:
        # The variable is read when the asset runs, not when the definitions were imported: a
        # process that set it later (a command run in a long-lived process, a test) is honoured.
        path = self.path or settings.sources_file()
        return load_sources(path) if path else None

    def read(self, extracts_dir: str, extract: str, required: list[str], optional: list[str], period: str | None) -> SourcedExtract:
        """The extract from its sources, read in full (SourcesError names the source that failed)."""
        return read_sourced_extract(self.load(), extracts_dir, extract, required, optional, period=period)

    @staticmethod
    def name_places(result: CleanResult, raw: RawExtract) -> CleanResult:
        return name_places(result, raw)

    @staticmethod
    def report(context: dg.AssetExecutionContext, raw: RawExtract) -> dict[str, dg.MetadataValue]:
        """Log the sources' warnings and give their facts as materialization metadata."""
        for warning in getattr(raw, "warnings", []):
            context.log.warning(warning)
        metadata: dict[str, dg.MetadataValue] = {}
        for name, value in getattr(raw, "facts", {}).items():
            if hasattr(value, "columns"):
                metadata[name] = markdown_table(value)
            elif isinstance(value, float):
                metadata[name] = dg.MetadataValue.float(value)
            elif isinstance(value, int):
                metadata[name] = dg.MetadataValue.int(value)
            else:
                metadata[name] = dg.MetadataValue.text(str(value))
        return metadata


def sources_resource() -> SourcesResource:
    # dg.EnvVar fails when the variable is unset; no sources file then.
    if os.environ.get(settings.SOURCES_FILE_ENV):
        return SourcesResource(path=dg.EnvVar(settings.SOURCES_FILE_ENV))
    return SourcesResource()


defs = dg.Definitions(resources={"sources": sources_resource()})
