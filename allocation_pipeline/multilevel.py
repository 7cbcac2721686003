"""Public API of the multi-level solver: `from allocation_pipeline.multilevel import solve`."""

from allocation_pipeline.core.multilevel import (
    METHODS,
    ClosedCycleError,
    MultilevelError,
    MultilevelResult,
    MultilevelWarning,
    Problem,
    solve,
)
from allocation_pipeline.core.multilevel_files import (
    MultilevelFileError,
    origin_frame,
    read_costs,
    read_matrix,
    result_frame,
    solve_files,
)

__all__ = [
    "METHODS",
    "ClosedCycleError",
    "MultilevelError",
    "MultilevelFileError",
    "MultilevelResult",
    "MultilevelWarning",
    "Problem",
    "origin_frame",
    "read_costs",
    "read_matrix",
    "result_frame",
    "solve",
    "solve_files",
]
