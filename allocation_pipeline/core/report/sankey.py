"""A Sankey diagram's geometry: nodes in columns (layers), links as bands whose width is the
amount, labels placed so they never overlap. Laid out in Python, so the report needs no script to
draw it and tests can read it; report/sankey.html draws it as inline SVG."""

from __future__ import annotations

from dataclasses import dataclass
import pandas as pd

from allocation_pipeline.core.money import format_money

WIDTH = 1100
NODE_WIDTH = 14
MARGIN_LEFT = 250
MARGIN_RIGHT = 290
MARGIN_TOP = 24
NODE_GAP = 10
ROW_HEIGHT = 22  # vertical room per node, so labels stay legible
LAYER_TITLES = {0: "Cost pools", 1: "Service cost centers", 2: "Final cost objects"}


@dataclass(frozen=True)
class PlacedNode:
    key: str
    layer: int
    label: str
    detail: str
    href: str
    cents: int
    x: float
    y: float
    height: float


def layout(nodes: pd.DataFrame, links: pd.DataFrame) -> tuple[dict[str, PlacedNode], list[tuple], float]:
    """Node positions and link band coordinates. A node is as tall as the larger of what flows in
    and out; one scale (pixels per cent) for all columns, so bands keep their width end to end."""
    drawn = links[links["cents"] > 0]
    inflow = drawn.groupby("target")["cents"].sum()
    outflow = drawn.groupby("source")["cents"].sum()
    nodes = nodes[nodes["key"].isin(set(drawn["source"]) | set(drawn["target"]))].copy()
    nodes["cents"] = [int(max(inflow.get(k, 0), outflow.get(k, 0))) for k in nodes["key"]]
    layers = sorted(nodes["layer"].unique())
    columns = {layer: nodes[nodes["layer"] == layer].sort_values(["cents", "label"], ascending=[False, True], kind="stable") for layer in layers}
    tallest = max((len(c) for c in columns.values()), default=0)
    height = max(360.0, tallest * ROW_HEIGHT)
    scale = min(
        ((height - NODE_GAP * (len(c) - 1)) / c["cents"].sum() for c in columns.values() if c["cents"].sum() > 0),
        default=1.0,
    )
    inner = WIDTH - MARGIN_LEFT - MARGIN_RIGHT - NODE_WIDTH
    xs = {layer: MARGIN_LEFT + inner * (i / max(len(layers) - 1, 1)) for i, layer in enumerate(layers)}
    placed: dict[str, PlacedNode] = {}
    for layer, column in columns.items():
        used = sum(max(c * scale, 1.0) for c in column["cents"]) + NODE_GAP * (len(column) - 1)
        y = MARGIN_TOP + (height - used) / 2
        for node in column.itertuples(index=False):
            h = max(node.cents * scale, 1.0)
            placed[node.key] = PlacedNode(node.key, int(layer), node.label, node.detail, node.href, int(node.cents), xs[layer], y, h)
            y += h + NODE_GAP
    # Bands leave a node top-down in the order of their targets, and enter in the order of their sources.
    out_offset = {k: 0.0 for k in placed}
    in_offset = {k: 0.0 for k in placed}
    bands = []
    ordered = drawn.assign(
        _ty=[placed[t].y for t in drawn["target"]], _sy=[placed[s].y for s in drawn["source"]]
    ).sort_values(["_sy", "_ty"], kind="stable")
    for link in ordered.itertuples(index=False):
        band = link.cents * scale
        source, target = placed[link.source], placed[link.target]
        y0 = source.y + out_offset[link.source]
        out_offset[link.source] += band
        bands.append([link, source, target, y0, band])
    for band in sorted(bands, key=lambda b: (b[2].y, b[1].y)):
        link, source, target = band[0], band[1], band[2]
        band.append(target.y + in_offset[link.target])
        in_offset[link.target] += band[4]
    return placed, [tuple(b) for b in bands], height + 2 * MARGIN_TOP


LABEL_STEP = 16.0  # label boxes of one column sit at least this far apart (12px text)
CHAR_WIDTH = 6.6  # estimated advance of one character of the 12px label font
LABEL_PAD = 6


@dataclass(frozen=True)
class Diagram:
    """What the template draws: column titles, bands (path geometry) and nodes with their label
    position and the label's box (x, y, width, height) for overlap checks."""

    width: int
    height: float
    node_width: int
    titles: list[dict]
    bands: list[dict]
    nodes: list[dict]


def diagram(nodes: pd.DataFrame, links: pd.DataFrame, currency: str) -> Diagram | None:
    """The laid-out diagram, or None when nothing positive flows."""
    if links.empty or not (links["cents"] > 0).any():
        return None
    placed, bands, height = layout(nodes, links)
    titles = []
    for layer in sorted({n.layer for n in placed.values()}):
        x = min(n.x for n in placed.values() if n.layer == layer)
        anchor = "end" if layer == 0 else "start"
        titles.append({"x": x + NODE_WIDTH if anchor == "start" else x, "anchor": anchor, "text": LAYER_TITLES.get(layer, "")})
    drawn = []
    for link, source, target, y0, band, y1 in bands:
        x0, x1 = source.x + NODE_WIDTH, target.x
        xm = (x0 + x1) / 2
        d = (
            f"M{x0:.1f},{y0:.2f} C{xm:.1f},{y0:.2f} {xm:.1f},{y1:.2f} {x1:.1f},{y1:.2f} "
            f"L{x1:.1f},{y1 + band:.2f} C{xm:.1f},{y1 + band:.2f} {xm:.1f},{y0 + band:.2f} {x0:.1f},{y0 + band:.2f} Z"
        )
        drawn.append({
            "layer": source.layer, "d": d, "source": link.source, "target": link.target, "run_id": link.run_id, "cents": int(link.cents),
            "title": f"{source.label} → {target.label}: {format_money(int(link.cents))} {currency} ({link.run_id})",
        })
    label_y = place_labels(placed, height)
    shown = []
    for node in placed.values():
        amount = format_money(node.cents)
        mid = node.y + node.height / 2
        if node.layer == 0:
            x, anchor, leader = node.x - LABEL_PAD, "end", node.x
        else:
            x, anchor, leader = node.x + NODE_WIDTH + LABEL_PAD, "start", node.x + NODE_WIDTH
        y = label_y[node.key]
        width = CHAR_WIDTH * (len(node.label) + 1 + len(amount))
        box = (x - width if anchor == "end" else x, y - LABEL_STEP / 2 + 1, width, LABEL_STEP - 2)
        shown.append({
            "key": node.key, "layer": node.layer, "href": node.href, "x": node.x, "y": node.y, "height": node.height, "cents": node.cents,
            "title": f"{node.label} ({node.detail}): {amount} {currency}", "label": node.label, "amount": amount,
            "label_x": x, "label_y": y, "anchor": anchor, "box": box, "mid": mid, "leader_x": leader, "label_line": abs(y - mid) > 2,
        })
    return Diagram(WIDTH, height, NODE_WIDTH, titles, drawn, shown)


def place_labels(placed: dict[str, PlacedNode], height: float) -> dict[str, float]:
    """Each label's vertical centre: at its node's middle where there is room, else pushed just
    far enough (down, then up from the bottom edge) that labels of one column never overlap."""
    out: dict[str, float] = {}
    for layer in {n.layer for n in placed.values()}:
        column = sorted((n for n in placed.values() if n.layer == layer), key=lambda n: n.y)
        ys = [n.y + n.height / 2 for n in column]
        top, bottom = MARGIN_TOP + LABEL_STEP / 2, height - LABEL_STEP / 2
        for i in range(len(ys)):
            ys[i] = max(ys[i], top if i == 0 else ys[i - 1] + LABEL_STEP)
        for i in range(len(ys) - 1, -1, -1):
            ys[i] = min(ys[i], bottom if i == len(ys) - 1 else ys[i + 1] - LABEL_STEP)
        out.update({n.key: y for n, y in zip(column, ys)})
    return out
