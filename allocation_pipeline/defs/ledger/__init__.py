"""Posting approved allocation runs as journal entries."""
