-- The per-trace robust z of statistics.md "Anomalies" computed where the
-- data is, for engines that cap the rows a query returns: only the traces
-- of anomaly_traces ({{param:traces}} reads them, staged once as a table:
-- t is read three times below) past |robust z| 3.5 on cost, tokens, LLM
-- calls or duration come back, each with its cohort's trace count and, per
-- metric, the values counted, the median, the MAD (median absolute
-- deviation) and the mean absolute deviation from the median. Rust
-- recomputes each z from these (with the MAD = 0 fallbacks); the bound here
-- is 1e-9 wider so rounding never drops a trace. Costs are rounded to 1e-12
-- as the local path rounds them. {{param:on}} joins aliases a and b on the
-- cohort columns; a trace is kept when its deviation exceeds {{param:mad_k}}
-- MADs (3.5 / 0.6745), or {{param:mean_k}} mean deviations (3.5 * 1.253314)
-- where the MAD is 0.
WITH t AS (
  SELECT {{keys}}, trace_id, start_ns, llm_calls, tokens, duration_ms,
    CASE WHEN ABS(cost) < 1000000 THEN ROUND(cost * CAST(1000000000000 AS DOUBLE))
      / CAST(1000000000000 AS DOUBLE) ELSE cost END AS cost
  FROM ({{param:traces}}) x
),
m AS (
  SELECT {{keys}},
    QUANTILE_CONT(cost, 0.5) AS cost_med,
    QUANTILE_CONT(tokens, 0.5) AS tokens_med,
    QUANTILE_CONT(llm_calls, 0.5) AS calls_med,
    QUANTILE_CONT(duration_ms, 0.5) AS duration_med
  FROM t
  GROUP BY {{keys}}
),
d AS (
  SELECT a.*, b.cost_med, b.tokens_med, b.calls_med, b.duration_med,
    ABS(a.cost - b.cost_med) AS cost_dev,
    ABS(a.tokens - b.tokens_med) AS tokens_dev,
    ABS(a.llm_calls - b.calls_med) AS calls_dev,
    ABS(a.duration_ms - b.duration_med) AS duration_dev
  FROM t a JOIN m b ON {{param:on}}
),
r AS (
  SELECT {{keys}}, COUNT(*) AS traces,
    COUNT(cost) AS cost_n, QUANTILE_CONT(cost_dev, 0.5) AS cost_mad, AVG(cost_dev) AS cost_mean_dev,
    COUNT(tokens) AS tokens_n, QUANTILE_CONT(tokens_dev, 0.5) AS tokens_mad, AVG(tokens_dev) AS tokens_mean_dev,
    COUNT(llm_calls) AS calls_n, QUANTILE_CONT(calls_dev, 0.5) AS calls_mad, AVG(calls_dev) AS calls_mean_dev,
    COUNT(duration_ms) AS duration_n, QUANTILE_CONT(duration_dev, 0.5) AS duration_mad,
    AVG(duration_dev) AS duration_mean_dev
  FROM d
  GROUP BY {{keys}}
)
SELECT a.*, b.traces,
  b.cost_n, b.cost_mad, b.cost_mean_dev,
  b.tokens_n, b.tokens_mad, b.tokens_mean_dev,
  b.calls_n, b.calls_mad, b.calls_mean_dev,
  b.duration_n, b.duration_mad, b.duration_mean_dev
FROM d a JOIN r b ON {{param:on}}
WHERE a.cost_dev > 0.999999999 * CASE WHEN b.cost_mad > 0 THEN {{param:mad_k}} * b.cost_mad
    ELSE {{param:mean_k}} * b.cost_mean_dev END
  OR a.tokens_dev > 0.999999999 * CASE WHEN b.tokens_mad > 0 THEN {{param:mad_k}} * b.tokens_mad
    ELSE {{param:mean_k}} * b.tokens_mean_dev END
  OR a.calls_dev > 0.999999999 * CASE WHEN b.calls_mad > 0 THEN {{param:mad_k}} * b.calls_mad
    ELSE {{param:mean_k}} * b.calls_mean_dev END
  OR a.duration_dev > 0.999999999 * CASE WHEN b.duration_mad > 0 THEN {{param:mad_k}} * b.duration_mad
    ELSE {{param:mean_k}} * b.duration_mean_dev END
