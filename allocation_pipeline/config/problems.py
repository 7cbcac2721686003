"""Problems found in a configuration file: safe YAML loading that remembers each field's line, and
pydantic's validation errors turned into short sentences naming the entry and the field."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml
from pydantic import ValidationError

# Where an entry of a list gets a name instead of a path: the list's path (keys only) -> the word.
Labels = Mapping[tuple[str, ...], str]
Location = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong. `where` names the entry (`rule 'it_split'`, `insights: pool 'a'`, empty at
    the top), `field` the dotted path inside it (empty: the entry itself); `line` is the file line
    (None when the document did not come from a file)."""

    where: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        head = ": ".join(p for p in (self.where, self.field) if p)
        text = f"{head}: {self.message}" if head else self.message
        return f"{text} (line {self.line})" if self.line else text


class ConfigError(ValueError):
    """A configuration that cannot be used. `problems` lists every problem found (may be empty when
    the error is one sentence, such as a missing file)."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def of(cls, location: str, problems: Sequence[Problem]) -> "ConfigError":
        return cls(f"{location}: " + "; ".join(map(str, problems)), problems)


@dataclass(frozen=True)
class YamlDocument:
    """A YAML file, safe-loaded: the data, the line of each path in it, and its text."""

    data: Any
    text: str
    lines: Mapping[Location, int] = field(default_factory=dict)
    duplicate_keys: tuple[tuple[Location, str, int, int], ...] = ()

    def line_of(self, loc: Location) -> int | None:
        """The line of `loc`, or of the nearest enclosing path the file has."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


def read_yaml(path: str | Path, error: type[ConfigError], what: str = "rules file") -> YamlDocument:
    """Safe-load a YAML file, recording the line of every key and list item."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_yaml(text, str(path), error)


def parse_yaml(text: str, location: str, error: type[ConfigError]) -> YamlDocument:
    loader = yaml.SafeLoader(text)
    loader.name = location
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = ": ".join(p for p in (exc.context, exc.problem) if p)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{location}: not valid YAML ({what}{place})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{location}: not valid YAML ({' '.join(str(exc).split())})") from exc
    finally:
        loader.dispose()
    lines: dict[Location, int] = {}
    duplicates: list[tuple[Location, str, int, int]] = []
    if node is not None:
        _record_lines(node, (), lines, duplicates)
    return YamlDocument(data, text, lines, tuple(duplicates))


def _record_lines(node: yaml.Node, path: Location, lines: dict, duplicates: list) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen and key != "<<":
                duplicates.append((path, key, seen[key], line))
            seen[key] = line
            lines[path + (key,)] = line
            _record_lines(value_node, path + (key,), lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, path + (index,), lines, duplicates)


# --- pydantic errors in the project's words ----------------------------------------------------

_WORDS = {
    "string_type": "must be text",
    "int_type": "'{input}' is not a whole number",
    "int_parsing": "'{input}' is not a whole number",
    "int_from_float": "'{input}' is not a whole number",
    "float_type": "'{input}' is not a number",
    "float_parsing": "'{input}' is not a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "too_short": "must not be empty",
    "literal_error": "'{input}' is not one of {expected}",
    "extra_forbidden": "unknown field(s) {names}",
}


def show(value: Any) -> str:
    """A value as a message quotes it: text as it stands, anything else as YAML would write it."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def error_entries(error: ValidationError, prefix: Location = ()) -> list[tuple[Location, str]]:
    """(location, message) per problem; unknown fields of one mapping are named together."""
    entries: list[tuple[Location, str]] = []
    grouped: dict[tuple[Location, str], list[str]] = {}
    for err in error.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        ctx = err.get("ctx") or {}
        kind = err["type"]
        if "problems" in ctx:
            base = loc[: len(loc) - ctx.get("up", 0)]
            entries += [(base + tuple(path), message) for path, message in ctx["problems"]]
        elif kind == "missing":
            entries.append((loc[:-1], f"'{loc[-1]}' is missing"))
        elif kind == "extra_forbidden" or "group" in ctx:
            template = ctx.get("group", _WORDS["extra_forbidden"])
            key = (loc[:-1], template)
            if key not in grouped:
                grouped[key] = []
                entries.append(key)  # replaced by the grouped sentence below
            grouped[key].append(str(loc[-1]))
        elif "message" in ctx:
            entries.append((loc, str(ctx["message"])))
        else:
            template = _WORDS.get(kind)
            text = template.format(input=show(err.get("input")), **ctx) if template else err["msg"][:1].lower() + err["msg"][1:]
            entries.append((loc, text))
    return [(loc, template.format(names=", ".join(grouped[(loc, template)]))) if (loc, template) in grouped else (loc, template) for loc, template in entries]


def locate(
    entries: Iterable[tuple[Location, str]], document: Any, source: YamlDocument | None = None,
    labels: Labels = {}, sections: Iterable[tuple[str, ...]] = (),
) -> list[Problem]:
    """Problems from (location, message) pairs: list entries named by their id (`rule 'x'`) or
    position (`rule #2`), sections (`insights`) set apart, the rest a dotted field path."""
    sections = set(sections)
    problems = []
    for loc, message in entries:
        where, fields = _split(loc, document, labels, sections)
        problems.append(Problem(": ".join(where), ".".join(fields), message, source.line_of(loc) if source else None))
    return sorted(problems, key=lambda p: p.line or 0)


def _split(loc: Location, document: Any, labels: Labels, sections: set) -> tuple[list[str], list[str]]:
    where: list[str] = []
    fields: list[str] = []
    keys: tuple[str, ...] = ()
    node = document
    position = 0
    while position < len(loc):
        part = loc[position]
        node = _child(node, part)
        if isinstance(part, str):
            keys += (part,)
        following = loc[position + 1] if position + 1 < len(loc) else None
        if isinstance(part, str) and keys in labels and isinstance(following, int):
            item = _child(node, following)
            identifier = item.get("id") if isinstance(item, dict) else None
            name = f"'{identifier.strip()}'" if isinstance(identifier, str) and identifier.strip() else f"#{following + 1}"
            where += [".".join(fields)] if fields else []
            where.append(f"{labels[keys]} {name}")
            fields, node = [], item
            position += 2
            continue
        if keys in sections and following is not None and not fields:
            where.append(part)
        else:
            fields.append(str(part))
        position += 1
    return where, fields


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def did_you_mean(name: str, known: Iterable[str], quoted: bool = True) -> str:
    """` (did you mean 'x'?)` for the known name closest to a misspelled `name` (difflib, case
    ignored: alloc-001 finds ALLOC-0001), or '' when none is close. `quoted=False` gives the command
    line's ` (did you mean x?)` for ids and codes."""
    by_case = {str(k).lower(): str(k) for k in known}
    close = difflib.get_close_matches(str(name).lower(), list(by_case), n=1, cutoff=0.6)
    if not close:
        return ""
    match = by_case[close[0]]
    return f" (did you mean '{match}'?)" if quoted else f" (did you mean {match}?)"
