"""The pure core, one package per stage of the dataflow (as `defs/` is): plain pandas/numpy
functions with no Dagster and no warehouse import.

`ingestion`, `allocation`, `multilevel`, `ledger`, `insights` and `report` are the stages;
`money` (exact cents and the largest-remainder split) is shared by all of them.
"""
