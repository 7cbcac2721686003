"""Insights on allocations: driver analysis, anomaly flags, narratives, what-if scenarios and profitability.

Pure core on pandas, numpy and scipy (no Dagster, no SQL): each function takes frames and the
`insights:` section of the rules file and returns frames, records or text, so every figure an
analyst defends can be reproduced from literal inputs.
"""
