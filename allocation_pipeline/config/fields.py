"""Field types of the configuration models, each failing with the project's words.

`hint(message)` gives a field the sentence a user reads when its value has the wrong shape (and,
for a required field, when it is missing); `invalid(...)` raises problems from validators, with
paths relative to the field or, with `up=1`, to the model holding it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Iterable, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError, WrapValidator, model_validator
from pydantic_core import PydanticCustomError

from allocation_pipeline.core.money import decimal_to_cents
from allocation_pipeline.core.ingestion.schemas import PERIOD_PATTERN
from allocation_pipeline.config.problems import show


class _Missing:
    """Stands for a required field the document leaves out, so the field's hint can name it."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def invalid(message: str | None = None, *, at: tuple = (), up: int = 0, problems: Iterable[tuple[tuple, str]] = ()) -> PydanticCustomError:
    """An error for pydantic to report: `message` at path `at`, or several `problems` (path, message).
    Paths are relative to the value validated, or to the model holding it with `up=1`."""
    listed = [(tuple(path), text) for path, text in problems]
    if message is not None:
        listed.insert(0, (tuple(at), message))
    return PydanticCustomError("config", "{message}", {"message": "; ".join(m for _, m in listed), "problems": listed, "up": up})


class _Hint(WrapValidator):
    """A WrapValidator marking a field whose missing value its hint names (see ConfigModel)."""


def hint(message: str, *, missing: str | None = None, up: int = 0) -> _Hint:
    """Replace a value's shape errors (wrong type, empty list, ...) by `message`; `{value}` in it is
    the value given. `missing` is said when a required field is left out (default: `message`)."""

    def validate(value: Any, handler):
        if value is MISSING:
            raise invalid(missing or message.replace("'{value}' ", "").replace("{value}", ""), up=up)
        try:
            return handler(value)
        except ValidationError as exc:
            if any(e["loc"] or e["type"] == "config" for e in exc.errors()):
                raise
            raise invalid(message.replace("{value}", show(value)), up=up) from None

    return _Hint(validate)


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown fields are errors, types are taken as YAML gives
    them (no silent conversion), and a required field left out is reported by its hint."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)

    @model_validator(mode="before")
    @classmethod
    def _name_missing_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        absent = {
            info.alias or name: MISSING
            for name, info in cls.model_fields.items()
            if info.is_required() and (info.alias or name) not in data and any(isinstance(m, _Hint) for m in info.metadata)
        }
        return {**data, **absent} if absent else data


def _strip_required(value: str) -> str:
    if not value.strip():
        raise invalid("required text is missing")
    return value.strip()


def _scalar_text(value: Any) -> Any:
    """Member and account ids may be written as numbers in YAML; they are text."""
    return str(value) if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else value


def text(message: str = "required text is missing") -> Any:
    """Required, non-blank text (stripped)."""
    return Annotated[str, AfterValidator(_strip_required), hint(message)]


Text = text()
Name = Annotated[str, BeforeValidator(_scalar_text, json_schema_input_type=str | int)]


def _account(value: str) -> str:
    if not value.strip().isdigit():
        raise invalid(f"'{value}' is not an account number")
    return value.strip()


Account = Annotated[
    str, BeforeValidator(_scalar_text, json_schema_input_type=str | int), AfterValidator(_account),
    Field(json_schema_extra={"pattern": r"^\s*\d+\s*$"}),
    hint("'{value}' is not an account number", missing="required account is missing"),
]


def _period(value: Any) -> str:
    if re.fullmatch(PERIOD_PATTERN, show(value)) is None:
        raise invalid(f"'{show(value)}' is not a period YYYY-MM")
    return show(value)


Period = Annotated[str, PlainValidator(_period, json_schema_input_type=str), Field(json_schema_extra={"pattern": PERIOD_PATTERN})]


def _money(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise invalid(f"'{show(value)}' is not an amount")
    try:
        return decimal_to_cents(str(value))
    except ValueError as exc:
        raise invalid(str(exc)) from None


# An amount of money as written ("1000.00", 1000): cents.
Money = Annotated[int, PlainValidator(_money, json_schema_input_type=str | float)]


def parse_percent(raw: Any) -> Decimal | None:
    """A percent as an exact Decimal, or None if it is not a finite, non-negative number."""
    if isinstance(raw, bool):
        return None
    try:
        percent = Decimal(str(raw))
    except InvalidOperation:
        return None
    return percent if percent.is_finite() and percent >= 0 else None


def percent(message: str = "'{value}' is not a number of 0 or more") -> Any:
    """A percent (a number or numeric text, 0 or more) as an exact Decimal."""

    def validate(value: Any) -> Decimal:
        parsed = parse_percent(value) if value is not MISSING else None
        if parsed is None:
            raise invalid(message.replace("{value}", show(value)))
        return parsed

    return Annotated[Decimal, PlainValidator(validate, json_schema_input_type=Annotated[float, Field(ge=0)] | str), hint(message)]


def number(message: str = "'{value}' is not a number of 0 or more", *, missing: str | None = None, up: int = 0) -> Any:
    """A number of 0 or more (YAML int or float)."""
    return Annotated[float, Field(ge=0), hint(message, missing=missing, up=up)]


def one_of(values: tuple[str, ...]) -> Any:
    """One of `values`, listed in the message when it is not."""
    return Annotated[Literal[values], hint(f"'{{value}}' is not one of {', '.join(values)}")]


def unique(values: list[str]) -> list[str]:
    """`values` unchanged, or an error naming the first one listed twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise invalid(f"'{value}' is listed twice")
        seen.add(value)
    return values
