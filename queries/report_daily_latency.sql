-- Log-bucket histograms of latency per cohort and day: the report's
-- p95-per-day chart (percentiles from the counts in Rust, 1% accuracy;
-- {{param:day}}: the start of a span's day in the --tz zone).
SELECT {{keys}}, day, b, COUNT(*) AS n
FROM (
  SELECT {{keys}}, {{param:day}} AS day, logbucket(duration_ms) AS b
  FROM {{spans}} s
  WHERE {{kind}} AND duration_ms IS NOT NULL
) x
GROUP BY {{keys}}, day, b
