-- Per trace and cohort in the report window: LLM calls and their tokens,
-- duration (first start to last end) and cost (from the wrapped per-trace
-- cost query), for the robust z of statistics.md "Anomalies".
SELECT t.*, c.cost
FROM (
  SELECT {{keys}}, trace_id,
    SUM(CASE WHEN CAST(span_type AS VARCHAR) = 'llm' THEN 1 ELSE 0 END) AS llm_calls,
    SUM(CASE WHEN CAST(span_type AS VARCHAR) = 'llm'
        THEN COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) ELSE 0 END) AS tokens,
    (MAX(end_ns) - MIN(start_ns)) / 1000000.0 AS duration_ms,
    MIN(start_ns) AS start_ns
  FROM {{spans}} s
  GROUP BY {{keys}}, trace_id
) t
LEFT JOIN (
  SELECT trace_id AS c_trace, SUM(cost) AS cost FROM ({{param:trace_costs}}) tc GROUP BY trace_id
) c ON t.trace_id = c.c_trace
