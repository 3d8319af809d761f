-- Log-bucket histograms of latency per cohort and UTC day: the report's
-- p95-per-day chart (percentiles from the counts in Rust, 1% accuracy).
SELECT {{keys}}, day, b, COUNT(*) AS n
FROM (
  SELECT {{keys}}, timebucket(start_ns, 86400) AS day, logbucket(duration_ms) AS b
  FROM {{spans}} s
  WHERE {{kind}} AND duration_ms IS NOT NULL
) x
GROUP BY {{keys}}, day, b
