DROP VIEW IF EXISTS v_posted_journal_lines
