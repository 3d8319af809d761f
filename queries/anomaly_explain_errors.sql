-- Who caused an error burst: spans and errors per value of one dimension
-- ({{keys}}: the dimension, then arm), in the burst's hour (the current
-- arm) and in the baseline, restricted to the burst's cohort.
SELECT {{keys}}, COUNT(*) AS n,
  SUM(CASE WHEN CAST(status AS VARCHAR) = 'error' THEN 1 ELSE 0 END) AS errors
FROM {{spans}} s
WHERE {{kind}}
GROUP BY {{keys}}
