"""The pure core: plain pandas/numpy functions with no Dagster and no warehouse import."""
