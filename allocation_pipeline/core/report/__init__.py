"""The finance period report: its data, the figures derived from it, the Sankey and the HTML.

Pure core on pandas (no Dagster, no SQL): `model` holds the frames a report is made of and the
figures, flows and drill-downs computed from them; `sankey` lays out and draws the flow diagram as
inline SVG; `html` renders one self-contained HTML file (inline CSS, JS and SVG; nothing fetched).
The frames are read from the warehouse by `allocation_pipeline.warehouse.report_store`.
"""
