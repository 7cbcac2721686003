SELECT entity, name, currency
FROM dim_entities
WHERE entity = :entity
