-- Exact percentiles per cohort of latency, time to first token and time
-- per output token: QUANTILE_CONT is type 7 (= DuckDB quantile_cont).
-- Engines without exact quantiles run slo_histograms.sql instead.
SELECT {{keys}}, metric, COUNT(v) AS n,
  QUANTILE_CONT(v, 0.5) AS p50, QUANTILE_CONT(v, 0.95) AS p95, QUANTILE_CONT(v, 0.99) AS p99
FROM (
  SELECT {{keys}}, 'latency_ms' AS metric, duration_ms AS v
  FROM {{spans}} s WHERE {{kind}} AND duration_ms IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'ttft_ms' AS metric, ttft_ms AS v
  FROM {{spans}} s WHERE {{kind}} AND ttft_ms IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'tpot_ms' AS metric, (duration_ms - ttft_ms) / (output_tokens - 1) AS v
  FROM {{spans}} s
  WHERE {{kind}} AND ttft_ms IS NOT NULL AND duration_ms IS NOT NULL
    AND output_tokens > 1 AND duration_ms >= ttft_ms
) h
GROUP BY {{keys}}, metric
