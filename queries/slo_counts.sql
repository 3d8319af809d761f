-- Per cohort: spans, distinct traces, errors, refusals (finish reason in
-- the refusal list, or an evaluation labelled "refusal" on the span).
-- Two branches summed per cohort: the span counts (few groups), and the
-- traces counted as the groups of a GROUP BY cohort, trace_id that carries
-- nothing else. The same numbers as COUNT(DISTINCT trace_id), and on
-- polars' streaming engine the per-trace state holds only the keys (a
-- distinct count held every span of the window; a per-trace group-by with
-- the span counts in it, a third more than this).
SELECT {{keys}},
  SUM(spans) AS spans,
  SUM(traces) AS traces,
  SUM(errors) AS errors,
  SUM(refusals) AS refusals,
  MIN(first_ns) AS first_ns,
  MAX(last_ns) AS last_ns
FROM (
  SELECT {{keys}},
    COUNT(*) AS spans,
    CAST(0 AS BIGINT) AS traces,
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
  UNION ALL
  SELECT {{keys}},
    CAST(0 AS BIGINT) AS spans,
    COUNT(*) AS traces,
    CAST(0 AS BIGINT) AS errors,
    CAST(0 AS BIGINT) AS refusals,
    CAST(NULL AS BIGINT) AS first_ns,
    CAST(NULL AS BIGINT) AS last_ns
  FROM (
    SELECT {{keys}}, trace_id FROM {{spans}} s WHERE {{kind}} GROUP BY {{keys}}, trace_id
  ) t
  GROUP BY {{keys}}
) u
GROUP BY {{keys}}
