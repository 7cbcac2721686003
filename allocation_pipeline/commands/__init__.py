"""Subcommands of the `allocation` CLI, one module each."""
