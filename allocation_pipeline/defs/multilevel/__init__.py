"""Multi-level allocation between service cost centers for a fiscal month."""
