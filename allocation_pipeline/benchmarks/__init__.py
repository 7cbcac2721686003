"""Benchmarks run by `allocation benchmark ...`: one module per subject, each exposing `register(subparsers)`."""
