-- Log-bucket histogram of one numeric field ({{field}}: a canonical column
-- or an attribute cast to a number) per cohort and window. Drift bins are
-- the baseline's deciles over these buckets (computed in Rust).
SELECT {{keys}}, logbucket(v) AS b, COUNT(*) AS n
FROM (
  SELECT {{keys}}, TRY_CAST({{field}} AS DOUBLE) AS v
  FROM {{spans}} s
  WHERE {{kind}}
) x
WHERE v IS NOT NULL
GROUP BY {{keys}}, b
