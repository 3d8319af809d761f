-- Log-bucket histograms per cohort of latency, time to first token and time per
-- output token (engines without exact quantiles; slo_quantiles.sql otherwise):
-- b = pbucket(x) is the log-bucket index; percentiles are computed from
-- these counts in Rust (stats::quantile).
SELECT {{keys}}, metric, b, COUNT(*) AS n
FROM (
  SELECT {{keys}}, 'latency_ms' AS metric, pbucket(duration_ms) AS b
  FROM {{spans}} s WHERE {{kind}} AND duration_ms IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'ttft_ms' AS metric, pbucket(ttft_ms) AS b
  FROM {{spans}} s WHERE {{kind}} AND ttft_ms IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'tpot_ms' AS metric,
    pbucket((duration_ms - ttft_ms) / (output_tokens - 1)) AS b
  FROM {{spans}} s
  WHERE {{kind}} AND ttft_ms IS NOT NULL AND duration_ms IS NOT NULL
    AND output_tokens > 1 AND duration_ms >= ttft_ms
) h
GROUP BY {{keys}}, metric, b
