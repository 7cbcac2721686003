SELECT entity, name, currency
FROM dim_entities
ORDER BY entity
