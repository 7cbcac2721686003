"""The code location: `dagster dev -w workspace.yaml` loads this file."""

import dagster as dg

from allocation_pipeline.defs.definitions import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
