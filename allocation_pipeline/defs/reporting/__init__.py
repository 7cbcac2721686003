"""The finance period report of each fiscal month, written as HTML files and linked from the UI."""
