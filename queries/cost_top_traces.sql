-- The most expensive traces, with their cohort and span count.
SELECT {{keys}}, trace_id, cost, spans, unpriced_spans, start_ns
FROM ({{param:trace_costs}}) tc
WHERE cost IS NOT NULL
ORDER BY cost DESC, trace_id
LIMIT {{param:limit}}
