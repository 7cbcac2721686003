"""Where extracts are read from: files (the default), SQL tables and queries, FOCUS cloud billing
exports and Excel workbooks, declared per extract in a sources file."""
