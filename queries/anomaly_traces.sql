-- Per trace and cohort (and window, with two): LLM calls and their tokens,
-- duration (first start to last end) and cost (from the wrapped per-trace
-- cost query, joined on the trace and its cohort: with --by model a
-- trace's cost is split by model), for the per-trace tail rules (anomaly_trace_tails). A
-- cohort's part of a trace without an LLM call is not an LLM trace of that
-- cohort (with --by model, a trace's tool and chain spans are model (none)).
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
  HAVING SUM(CASE WHEN CAST(span_type AS VARCHAR) = 'llm' THEN 1 ELSE 0 END) > 0
) t
LEFT JOIN ({{param:trace_costs}}) c ON t.trace_id = c.trace_id AND {{param:same_cohort}}
