"""Drivers and allocation runs for a fiscal month."""
