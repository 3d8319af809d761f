-- Per cohort: spans, distinct traces, errors, refusals (finish reason in
-- the refusal list, or an evaluation labelled "refusal" on the span).
-- Traces are counted as the groups of a per-trace GROUP BY, not with
-- COUNT(DISTINCT trace_id): the same number, and on polars' streaming
-- engine a distinct count held every span of the window in memory.
SELECT {{keys}},
  SUM(spans) AS spans,
  COUNT(*) AS traces,
  SUM(errors) AS errors,
  SUM(refusals) AS refusals,
  MIN(first_ns) AS first_ns,
  MAX(last_ns) AS last_ns
FROM (
  SELECT {{keys}}, trace_id,
    COUNT(*) AS spans,
    SUM(CASE WHEN CAST(status AS VARCHAR) = 'error' THEN 1 ELSE 0 END) AS errors,
    SUM(CASE WHEN CAST(finish_reason AS VARCHAR) IN ({{refusal_reasons}}) OR r_span IS NOT NULL
        THEN 1 ELSE 0 END) AS refusals,
    MIN(start_ns) AS first_ns,
    MAX(start_ns) AS last_ns
  FROM {{spans}} s
  LEFT JOIN (
    SELECT DISTINCT trace_id AS r_trace, span_id AS r_span
    FROM evals WHERE LOWER(label) = 'refusal'
  ) r ON s.trace_id = r.r_trace AND s.span_id = r.r_span
  WHERE {{kind}}
  GROUP BY {{keys}}, trace_id
) t
GROUP BY {{keys}}
