"""A Sankey diagram as inline SVG: nodes in columns (layers), links as bands whose width is the
amount. Laid out in Python, so the report needs no script to draw it and tests can read it."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

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


def render_svg(nodes: pd.DataFrame, links: pd.DataFrame, currency: str) -> str:
    """The diagram as an `<svg>` element (no namespace URL needed inline in HTML5)."""
    if links.empty or not (links["cents"] > 0).any():
        return '<p class="empty" id="sankey-empty">No posted allocations in this period.</p>'
    placed, bands, height = layout(nodes, links)
    parts = [f'<svg id="sankey" class="sankey" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" role="img" aria-label="Cost flow">']
    for layer in sorted({n.layer for n in placed.values()}):
        x = min(n.x for n in placed.values() if n.layer == layer)
        anchor = "end" if layer == 0 else "start"
        tx = x + NODE_WIDTH if anchor == "start" else x
        parts.append(f'<text class="layer-title" x="{tx:.1f}" y="14" text-anchor="{anchor}">{escape(LAYER_TITLES.get(layer, ""))}</text>')
    for link, source, target, y0, band, y1 in bands:
        x0, x1 = source.x + NODE_WIDTH, target.x
        xm = (x0 + x1) / 2
        d = (
            f"M{x0:.1f},{y0:.2f} C{xm:.1f},{y0:.2f} {xm:.1f},{y1:.2f} {x1:.1f},{y1:.2f} "
            f"L{x1:.1f},{y1 + band:.2f} C{xm:.1f},{y1 + band:.2f} {xm:.1f},{y0 + band:.2f} {x0:.1f},{y0 + band:.2f} Z"
        )
        title = f"{source.label} → {target.label}: {format_money(int(link.cents))} {currency} ({link.run_id})"
        parts.append(
            f'<path class="link layer-{source.layer}" d="{d}" data-source="{escape(link.source)}" data-target="{escape(link.target)}" '
            f'data-run="{escape(link.run_id)}" data-cents="{int(link.cents)}"><title>{escape(title)}</title></path>'
        )
    for node in placed.values():
        amount = format_money(node.cents)
        parts.append(
            f'<a href="{escape(node.href)}" class="node-link"><rect class="node layer-{node.layer}" x="{node.x:.1f}" y="{node.y:.2f}" '
            f'width="{NODE_WIDTH}" height="{node.height:.2f}" data-node="{escape(node.key)}" data-layer="{node.layer}" '
            f'data-cents="{node.cents}"><title>{escape(f"{node.label} ({node.detail}): {amount} {currency}")}</title></rect>'
        )
        mid = node.y + node.height / 2
        if node.layer == 0:
            x, anchor = node.x - 6, "end"
        else:
            x, anchor = node.x + NODE_WIDTH + 6, "start"
        parts.append(
            f'<text class="node-label" x="{x:.1f}" y="{mid:.2f}" dy="0.35em" text-anchor="{anchor}">'
            f'{escape(node.label)} <tspan class="amount">{amount}</tspan></text></a>'
        )
    parts.append("</svg>")
    return "".join(parts)
