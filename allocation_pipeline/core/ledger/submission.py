"""Runs submitted from outside (a plugin, an agent, a person): a CSV or JSON file of lines.

CSV: one line per row with columns role (source or target), account, cost_center, debit,
credit, and optionally product, region, driver, driver_value, share, explanation; run-level
fields (entity, period, type, source document) come from the command line.
JSON: {"entity": "EE", "period": "2026-10", "type": "cost_allocation", "source_document": "...",
"description": "...", "lines": [{"role": "source", "account": "60002", ...}, ...]}; command-line
values fill what the file leaves out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocation_pipeline.core.allocation.allocate import LINE_COLUMNS
from allocation_pipeline.core.money import decimal_to_cents

REQUIRED = ("role", "account", "cost_center", "debit", "credit")
OPTIONAL = ("product", "region", "driver", "driver_value", "share", "explanation")
ROLES = ("source", "target")
HEADER_FIELDS = ("entity", "period", "type", "source_document", "description")


class SubmissionError(ValueError):
    """A submission file that cannot be read; every problem is listed, each naming file and row."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Submission:
    """The lines (LINE_COLUMNS, cents) and whatever run-level fields the file gave."""

    lines: pd.DataFrame
    header: dict


def read_submission(path: str | Path) -> Submission:
    path = Path(path)
    if not path.is_file():
        raise SubmissionError([f"{path}: file not found"])
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SubmissionError([f"{path.name}: not valid JSON ({exc})"]) from exc
        return parse_submission(document, path.name)
    if path.suffix.lower() != ".csv":
        raise SubmissionError([f"{path.name}: expected a .csv or .json file"])
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SubmissionError([f"{path.name}: not a readable CSV file ({exc})"]) from exc
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SubmissionError([f"{path.name}: missing column(s) {', '.join(missing)}"])
    return Submission(lines=_parse_lines(frame.to_dict("records"), path.name, "row"), header={})


def parse_submission(document: Any, name: str) -> Submission:
    """A submission given as the JSON form's object (a .json file's content, or an agent's tool
    arguments); `name` is what the messages call it."""
    if not isinstance(document, dict) or not isinstance(document.get("lines"), list):
        raise SubmissionError([f"{name}: expected an object with a 'lines' list"])
    header = {k: document[k] for k in HEADER_FIELDS if document.get(k) is not None}
    return Submission(lines=_parse_lines(document["lines"], name, "line"), header=header)


def _parse_lines(rows: list, name: str, where: str) -> pd.DataFrame:
    problems: list[str] = []
    parsed = []
    for number, row in enumerate(rows, start=1):
        at = f"{name} {where} {number}"
        if not isinstance(row, dict):
            problems.append(f"{at}: expected an object with {', '.join(REQUIRED)}")
            continue
        missing = [c for c in REQUIRED if c not in row]
        if missing:
            problems.append(f"{at}: missing {', '.join(missing)}")
            continue
        role = str(row["role"]).strip().lower()
        if role not in ROLES:
            problems.append(f"{at}: role '{row['role']}' is not source or target")
        line = {"line_no": number, "role": role}
        for field in ("account", "cost_center"):
            value = str(row[field]).strip()
            if not value:
                problems.append(f"{at}: {field} is empty")
            line[field] = value
        for field in ("debit", "credit"):
            raw = row[field]
            text = "0" if raw is None or str(raw).strip() == "" else str(raw).strip()
            try:
                line[f"{field}_cents"] = decimal_to_cents(text)
            except ValueError as exc:
                problems.append(f"{at}: {field} {exc}")
                line[f"{field}_cents"] = 0
        for field in ("product", "region", "driver", "explanation"):
            value = row.get(field)
            line[field] = None if value is None or str(value).strip() == "" else str(value).strip()
        for field in ("driver_value", "share"):
            value = row.get(field)
            if value is None or str(value).strip() == "":
                line[field] = np.nan
                continue
            try:
                line[field] = float(value)
            except (TypeError, ValueError):
                problems.append(f"{at}: {field} '{value}' is not a number")
                line[field] = np.nan
        parsed.append(line)
    if not rows:
        problems.append(f"{name}: no lines")
    if problems:
        raise SubmissionError(problems)
    frame = pd.DataFrame(parsed)
    for column in LINE_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[LINE_COLUMNS].astype({"line_no": "int64", "debit_cents": "int64", "credit_cents": "int64"})
