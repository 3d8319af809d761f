-- The costliest traces of one cohort ({{param:cond}} on the cohort
-- columns) of anomaly_traces (wrapped), listed with a spend spike on
-- engines that return only the outlying traces.
SELECT trace_id, cost
FROM ({{param:traces}}) t
WHERE {{param:cond}} AND cost IS NOT NULL
ORDER BY cost DESC, trace_id
LIMIT {{param:limit}}
