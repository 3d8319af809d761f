-- Histograms per cohort and arm of latency, time to first token, and input
-- and output tokens per call: v = pbucket(x) is the exact value on the
-- local engine (Mann-Whitney and the bootstrap then see every value) and
-- the log bucket on a remote engine.
SELECT {{keys}}, metric, v, COUNT(*) AS n
FROM (
  SELECT {{keys}}, 'latency_ms' AS metric, pbucket(duration_ms) AS v
  FROM {{spans}} s WHERE {{kind}} AND duration_ms IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'ttft_ms' AS metric, pbucket(ttft_ms) AS v
  FROM {{spans}} s WHERE {{kind}} AND ttft_ms IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'input_tokens' AS metric, pbucket(input_tokens) AS v
  FROM {{spans}} s WHERE {{kind}} AND input_tokens IS NOT NULL
  UNION ALL
  SELECT {{keys}}, 'output_tokens' AS metric, pbucket(output_tokens) AS v
  FROM {{spans}} s WHERE {{kind}} AND output_tokens IS NOT NULL
) h
GROUP BY {{keys}}, metric, v
