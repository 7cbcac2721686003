"""The one Jinja2 template set of the period report and the console (allocation_pipeline/templates).

Autoescaping is on for every template, so a cost center or description holding markup is shown
as text everywhere; the filters turn cents, shares and missing values into what people read.
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple

import jinja2
import pandas as pd

from allocation_pipeline.core.money import format_money
from allocation_pipeline.core.report.model import anchor


def present(value: object) -> bool:
    """A value worth showing: not None, NaN, NA or the empty string."""
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return value != ""


def text(value: object) -> str:
    return str(value) if present(value) else ""


def money(cents: object) -> str:
    return format_money(int(cents)) if present(cents) else ""


def number(value: object, pattern: str = "{:,.2f}") -> str:
    return pattern.format(float(value)) if present(value) else ""


def share(value: object) -> str:
    return f"{float(value):.4%}" if present(value) else ""


def rows(frame: pd.DataFrame | None) -> list:
    """The frame's rows as plain namedtuples (pandas' own row access is slow on Arrow columns)."""
    if frame is None or frame.empty:
        return []
    row = namedtuple("Row", list(frame.columns), rename=True)
    return [row(*values) for values in zip(*(frame[c].tolist() for c in frame.columns))]


def plural(n: object, noun: str) -> str:
    n = int(n)
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("allocation_pipeline", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, text=text, number=number, share=share, anchor=lambda value, kind: anchor(kind, value), plural=plural)
    env.tests["present"] = present
    env.globals.update(present=present, anchor=anchor)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
