"""`allocation rules check`: the whole rules file (rules, multi-level, insights) validated at once,
and the cost centers, dimension members and drivers it names checked against the extracts' master
data and usage metrics where those are at hand (small files only; GL lines are never read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from allocation_pipeline.config.insights import check_insights
from allocation_pipeline.config.multilevel import check_multilevel
from allocation_pipeline.config.problems import Problem, did_you_mean, locate, read_yaml
from allocation_pipeline.config.rules import LABELS, SECTIONS, check_rules
from allocation_pipeline.config.schema import RulesFileModel
from allocation_pipeline.core.allocation.methods import PRODUCT_OF_SHARES, AllocationMethod, available_methods
from allocation_pipeline.core.allocation.rules import RulesError

# Drivers computed from the headcount and timesheet extracts; usage metrics add the others.
COMPUTED_DRIVERS = ("headcount", "hours")
# Master data larger than this is not read by a check (it would not be master data).
MAX_EXTRACT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class KnownNames:
    """Names found in the extracts; None: not checked (the note says why)."""

    cost_centers: frozenset[str] | None = None
    members: Mapping[str, frozenset[str]] | None = None
    drivers: frozenset[str] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    problems: tuple[Problem, ...]
    counts: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def check_rules_file(path: str | Path, extracts_dir: str | Path | None = None, methods: Mapping[str, AllocationMethod] | None = None) -> CheckResult:
    """Every problem of the rules file at `path`; with `extracts_dir`, names are checked against its
    master data and usage metrics. Raises RulesError only when the file cannot be read as YAML."""
    source = read_yaml(path, RulesError)
    document = source.data
    if not isinstance(document, dict):
        return CheckResult((Problem("", "", "expected a mapping with a 'rules' list", 1),))
    entries: list[tuple[tuple, str]] = []
    unknown = [str(k) for k in document if k not in RulesFileModel.model_fields]
    if unknown:
        entries.append(((), f"unknown field(s) {', '.join(unknown)} (a rules file has {', '.join(RulesFileModel.model_fields)})"))
    entries += [(parent + (key,), f"given twice (lines {first} and {again}); only the last counts") for parent, key, first, again in source.duplicate_keys]
    rules, rule_problems = check_rules(document, methods if methods is not None else available_methods(), source)
    specs, multilevel_problems = check_multilevel(document, source)
    insights, insights_problems = check_insights(document, source)
    entries += _pools_without_rules(document)
    known = known_names(extracts_dir) if extracts_dir is not None else KnownNames(notes=("names not checked against data (no extracts directory)",))
    entries += name_problems(document, known)
    problems = locate(entries, document, source, LABELS, SECTIONS)
    counts = {"rules": len(rules), "multi-level allocations": len(specs), "insights pools": len(insights.pools) if insights else 0}
    every = sorted(problems + rule_problems + multilevel_problems + insights_problems, key=lambda p: p.line or 0)
    return CheckResult(tuple(every), counts, known.notes)


def _pools_without_rules(document: dict) -> list[tuple[tuple, str]]:
    insights = document.get("insights")
    pools = insights.get("pools") if isinstance(insights, dict) else None
    rule_ids = [r["id"] for r in document.get("rules") or [] if isinstance(r, dict) and isinstance(r.get("id"), str)]
    entries = []
    for index, pool in enumerate(pools if isinstance(pools, list) else []):
        if isinstance(pool, dict) and isinstance(pool.get("id"), str) and pool["id"] not in rule_ids and pool.get("proposal") is None:
            entries.append(
                (("insights", "pools", index, "id"), f"no rule has this id and the pool has no proposal to build one from{did_you_mean(pool['id'], rule_ids)}")
            )
    return entries


# --- names against the extracts ------------------------------------------------------------------


def known_names(extracts_dir: str | Path) -> KnownNames:
    """Cost centers, dimension members and drivers in the extracts' small files (each None when its
    extract is absent, unreadable or too large to be master data)."""
    from allocation_pipeline.core.ingestion.extracts import ExtractError, find_extract_files, read_extract

    root = Path(extracts_dir)
    if not root.is_dir():
        return KnownNames(notes=(f"names not checked against data: no extracts directory {root}",))
    notes: list[str] = []

    def column_values(extract: str, columns: list[str]):
        try:
            size = sum(p.stat().st_size for p in find_extract_files(root, extract))
            if size > MAX_EXTRACT_BYTES:
                notes.append(f"{extract}: not read ({size // 2**20} MiB is more than master data); its names are not checked")
                return None
            return read_extract(root, extract, columns).frame
        except ExtractError as exc:
            notes.append(f"{exc}; its names are not checked")
            return None

    centers = column_values("cost_centers", ["cost_center"])
    members = column_values("dimension_members", ["dimension", "member"])
    metrics = column_values("usage_metrics", ["metric"])
    return KnownNames(
        cost_centers=None if centers is None else frozenset(centers["cost_center"].dropna().astype(str)),
        members=None if members is None else {
            str(d): frozenset(group["member"].dropna().astype(str)) for d, group in members.groupby("dimension")
        },
        drivers=None if metrics is None else frozenset(COMPUTED_DRIVERS) | frozenset(metrics["metric"].dropna().astype(str)),
        notes=tuple(notes),
    )


def name_problems(document: dict, known: KnownNames) -> list[tuple[tuple, str]]:
    """(location, message) for each name the file gives that the extracts do not have."""
    entries = []
    for loc, kind, name in references(document):
        names, what = _names_of(kind, known)
        if names is not None and name not in names:
            listing = "" if did_you_mean(name, names) or len(names) > 12 else f" (known: {', '.join(sorted(names))})"
            entries.append((loc, f"'{name}' is not {what} in the extracts{did_you_mean(name, names)}{listing}"))
    return entries


def _names_of(kind: str, known: KnownNames) -> tuple[frozenset[str] | None, str]:
    if kind == "cost_center":
        return known.cost_centers, "a cost center"
    if kind == "driver":
        return known.drivers, "a driver"
    return (None if known.members is None else known.members.get(kind)), f"a {kind} member"


def references(document: dict) -> Iterator[tuple[tuple, str, str]]:
    """(location, kind, name) of every cost center, dimension member and driver the file names;
    kind is cost_center, driver or a dimension. Entries of the wrong shape are skipped (their
    problems are the models')."""
    for index, rule in _items(document.get("rules")):
        yield from _rule_references(("rules", index), rule)
    for index, spec in _items(document.get("multilevel")):
        yield from _source_references(("multilevel", index, "source"), spec.get("source"))
        yield from _listed(("multilevel", index, "order"), spec.get("order"), "cost_center")
    insights = document.get("insights")
    for index, pool in _items(insights.get("pools") if isinstance(insights, dict) else None):
        loc = ("insights", "pools", index)
        if isinstance(pool.get("consumption"), str):
            yield loc + ("consumption",), "driver", pool["consumption"]
        yield from _listed(loc + ("candidates",), pool.get("candidates"), "driver")
        if isinstance(pool.get("proposal"), dict):
            yield from _rule_references(loc + ("proposal",), pool["proposal"])


def _items(value: Any) -> Iterator[tuple[int, dict]]:
    return ((i, item) for i, item in enumerate(value if isinstance(value, list) else []) if isinstance(item, dict))


def _listed(loc: tuple, values: Any, kind: str) -> Iterator[tuple[tuple, str, str]]:
    for position, value in enumerate(values if isinstance(values, list) else []):
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            yield loc + (position,), kind, str(value)


def _rule_references(loc: tuple, rule: dict) -> Iterator[tuple[tuple, str, str]]:
    yield from _source_references(loc + ("source",), rule.get("source"))
    target = rule.get("target") if isinstance(rule.get("target"), dict) else {}
    dimensions = target.get("dimensions") if isinstance(target.get("dimensions"), list) else [target.get("dimension") or "cost_center"]
    members = target.get("members")
    if isinstance(members, list) and len(dimensions) == 1:
        yield from _listed(loc + ("target", "members"), members, str(dimensions[0]))
    elif isinstance(members, dict):
        for dimension, listed in members.items():
            yield from _listed(loc + ("target", "members", dimension), listed, str(dimension))
    if isinstance(target.get("cost_center"), str):
        yield loc + ("target", "cost_center"), "cost_center", target["cost_center"]
    single = str(dimensions[0]) if len(dimensions) == 1 else None
    yield from _method_references(loc, rule.get("method"), rule.get("parameters"), single, dimensions)
    fallback = rule.get("fallback")
    fallback = {"method": fallback} if isinstance(fallback, str) else fallback
    if isinstance(fallback, dict):
        yield from _method_references(loc + ("fallback",), fallback.get("method"), fallback.get("parameters"), single, dimensions)


def _source_references(loc: tuple, source: Any) -> Iterator[tuple[tuple, str, str]]:
    if not isinstance(source, dict):
        return
    yield from _listed(loc + ("cost_centers",), source.get("cost_centers"), "cost_center")
    for dimension, members in (source.get("dimensions") or {}).items() if isinstance(source.get("dimensions"), dict) else ():
        yield from _listed(loc + ("dimensions", dimension), members, str(dimension))


def _method_references(loc: tuple, method: Any, parameters: Any, dimension: str | None, dimensions: list) -> Iterator[tuple[tuple, str, str]]:
    """Drivers (and fixed-percentage targets) in a method's parameters: those of the shipped
    methods, and any plugin's `driver` parameter."""
    if not isinstance(parameters, dict):
        return
    at = loc + ("parameters",)
    if method == PRODUCT_OF_SHARES:
        for shared in dimensions:
            spec = parameters.get(shared)
            if isinstance(spec, dict):
                yield from _method_references(at + (shared,), spec.get("method"), spec.get("parameters"), str(shared), [shared])
    elif method == "weighted_drivers" and isinstance(parameters.get("weights"), dict):
        yield from ((at + ("weights", name), "driver", str(name)) for name in parameters["weights"])
    elif method == "activity_based" and isinstance(parameters.get("activities"), dict):
        for activity, spec in parameters["activities"].items():
            if isinstance(spec, dict) and isinstance(spec.get("driver"), str):
                yield at + ("activities", activity, "driver"), "driver", spec["driver"]
    elif method == "fixed_percentages" and isinstance(parameters.get("percentages"), dict) and dimension is not None:
        yield from ((at + ("percentages", name), dimension, str(name)) for name in parameters["percentages"])
    elif isinstance(parameters.get("driver"), str):
        yield at + ("driver",), "driver", parameters["driver"]
