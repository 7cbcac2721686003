"""Insights of each fiscal month: driver analysis, anomaly flags, profitability and narratives; what-if scenarios."""
