"""The extract files' layout: pyarrow schemas, columns as the files hold them (money and ids as
text), and the writer of CSV and Parquet files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq


def take_nullable(values: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx, pa.int64(), mask=idx < 0))


def cents_text(cents: np.ndarray) -> pa.Array:
    """Non-negative cents as two-decimal text, vectorised: 12000 -> '120.00'."""
    if cents.size and cents.min() < 0:
        raise ValueError("negative amount in generated data")
    whole = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def numbered_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    padded = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), padded, "")


# --- schemas and writing ---------------------------------------------------------------------

_S = pa.string()
GL_SCHEMA = pa.schema(
    [
        ("entity", _S), ("document_id", _S), ("document_type", _S), ("line", pa.int64()), ("posting_date", _S),
        ("account", _S), ("cost_center", _S), ("product", _S), ("region", _S), ("debit", _S), ("credit", _S),
        ("currency", _S), ("description", _S),
    ]
)
AP_SCHEMA = pa.schema(
    [
        ("entity", _S), ("document_id", _S), ("line", pa.int64()), ("vendor", _S), ("invoice_date", _S), ("account", _S),
        ("cost_center", _S), ("amount", _S), ("currency", _S), ("description", _S),
    ]
)
TIMESHEET_SCHEMA = pa.schema(
    [("employee", _S), ("work_date", _S), ("cost_center", _S), ("activity", _S), ("project", _S), ("hours", pa.float64())]
)
HEADCOUNT_SCHEMA = pa.schema([("period", _S), ("cost_center", _S), ("headcount", pa.float64())])
USAGE_SCHEMA = pa.schema([("period", _S), ("metric", _S), ("dimension", _S), ("cost_object", _S), ("value", pa.float64())])
MATRIX_SCHEMA = pa.schema([("period", _S), ("entity", _S), ("source", _S), ("target", _S), ("percent", pa.float64())])


class Writer:
    """Writes one extract file, in one go or in chunks (one per month), as CSV or Parquet."""

    def __init__(self, path: Path, schema: pa.Schema, file_format: str) -> None:
        self.path = path
        self.file_format = file_format
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        if file_format == "csv":
            self._file = open(path, "wb")
            # pyarrow quotes header names; write a plain header and unquoted values ourselves.
            self._file.write((",".join(schema.names) + "\n").encode())
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            self._writer = pa_csv.CSVWriter(self._file, schema, write_options=options)
        else:
            self._file = None
            self._writer = pq.ParquetWriter(path, schema, compression="snappy")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        if self._file is not None:
            self._file.close()


def write_table(path: Path, table: pa.Table, file_format: str) -> int:
    writer = Writer(path, table.schema, file_format)
    try:
        writer.write(table)
    finally:
        writer.close()
    return table.num_rows
