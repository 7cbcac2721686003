"""The finance console in the browser (`allocation console`): runs, documents, periods and
quarantine on the ledger, with approvals by named users under the four-eyes rule."""
