-- Up to 5 spans to open for one anomaly ({{param:cond}} selects them,
-- {{param:order}} ranks them).
SELECT trace_id, span_id
FROM {{spans}} s
WHERE {{param:cond}}
ORDER BY {{param:order}}
LIMIT 5
