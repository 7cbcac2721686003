DROP VIEW IF EXISTS v_quarantine_summary
