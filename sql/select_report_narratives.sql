SELECT scope, rule_id, entity, narrative
FROM narratives
WHERE period = :period AND (entity IS NULL OR entity = :entity)
ORDER BY CASE WHEN scope = 'period' THEN 0 ELSE 1 END, rule_id
