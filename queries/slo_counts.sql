-- Per cohort: spans, distinct traces, errors, refusals (finish reason in
-- the refusal list, or an evaluation labelled "refusal" on the span).
SELECT {{keys}},
  COUNT(*) AS spans,
  COUNT(DISTINCT trace_id) AS traces,
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
GROUP BY {{keys}}
