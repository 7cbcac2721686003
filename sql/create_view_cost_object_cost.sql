CREATE VIEW v_cost_object_cost AS
WITH origin_runs AS (
    SELECT DISTINCT run_id
    FROM multilevel_origins
    WHERE run_id IS NOT NULL
),
run_pools AS (
    SELECT run_id,
           CASE WHEN MIN(cost_center) = MAX(cost_center) THEN MIN(cost_center) END AS source_cost_center
    FROM allocation_lines
    WHERE role = 'source'
    GROUP BY run_id
),
parts AS (
    SELECT g.period,
           g.entity,
           g.currency,
           g.cost_center,
           g.product,
           g.region,
           'direct' AS component,
           CAST(NULL AS VARCHAR) AS run_id,
           CAST(NULL AS VARCHAR) AS rule_id,
           g.cost_center AS origin,
           g.balance AS amount
    FROM gl_balances AS g
    JOIN dim_accounts AS a ON a.account = g.account
    WHERE a.type = 'expense'
    UNION ALL
    SELECT e.period,
           e.entity,
           e.currency,
           l.cost_center,
           l.product,
           l.region,
           'allocated' AS component,
           e.run_id,
           r.rule_id,
           CASE WHEN o.run_id IS NULL AND al.role = 'target' THEN p.source_cost_center
                WHEN o.run_id IS NULL AND al.role IS NULL
                     AND (l.debit > l.credit) = (e.reverses_entry_id IS NULL) THEN p.source_cost_center
                ELSE l.cost_center END AS origin,
           l.debit - l.credit AS amount
    FROM journal_entries AS e
    JOIN journal_lines AS l ON l.entry_id = e.entry_id
    JOIN dim_accounts AS a ON a.account = l.account
    LEFT JOIN allocation_runs AS r ON r.run_id = e.run_id
    LEFT JOIN allocation_lines AS al
           ON al.run_id = e.run_id AND al.line_no = l.line_no AND al.account = l.account AND al.cost_center = l.cost_center
    LEFT JOIN run_pools AS p ON p.run_id = e.run_id
    LEFT JOIN origin_runs AS o ON o.run_id = e.run_id
    WHERE a.type = 'expense'
    UNION ALL
    SELECT e.period,
           e.entity,
           e.currency,
           m.cost_center,
           CAST(NULL AS VARCHAR) AS product,
           CAST(NULL AS VARCHAR) AS region,
           'allocated' AS component,
           e.run_id,
           r.rule_id,
           m.origin,
           CASE WHEN e.reverses_entry_id IS NULL THEN m.amount ELSE -m.amount END AS amount
    FROM journal_entries AS e
    JOIN multilevel_origins AS m ON m.run_id = e.run_id AND m.origin <> m.cost_center
    LEFT JOIN allocation_runs AS r ON r.run_id = e.run_id
    UNION ALL
    SELECT e.period,
           e.entity,
           e.currency,
           m.cost_center,
           CAST(NULL AS VARCHAR) AS product,
           CAST(NULL AS VARCHAR) AS region,
           'allocated' AS component,
           e.run_id,
           r.rule_id,
           m.cost_center AS origin,
           CASE WHEN e.reverses_entry_id IS NULL THEN -m.amount ELSE m.amount END AS amount
    FROM journal_entries AS e
    JOIN multilevel_origins AS m ON m.run_id = e.run_id AND m.origin <> m.cost_center
    LEFT JOIN allocation_runs AS r ON r.run_id = e.run_id
)
SELECT parts.period,
       parts.entity,
       parts.currency,
       parts.cost_center,
       c.name AS cost_center_name,
       c.kind AS cost_center_kind,
       parts.product,
       parts.region,
       parts.component,
       parts.run_id,
       parts.rule_id,
       parts.origin,
       SUM(parts.amount) AS amount
FROM parts
LEFT JOIN dim_cost_centers AS c ON c.cost_center = parts.cost_center
GROUP BY parts.period, parts.entity, parts.currency, parts.cost_center, c.name, c.kind,
         parts.product, parts.region, parts.component, parts.run_id, parts.rule_id, parts.origin
HAVING SUM(parts.amount) <> 0
