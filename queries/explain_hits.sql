-- Attribution: spans per value of one dimension ({{keys}}: the dimension,
-- then arm) in a finding's cohort, and how many of them the finding counts
-- ({{param:hits}}, SQL over span columns: its errors, its traces, its spans
-- past a bound).
SELECT {{keys}}, COUNT(*) AS n,
  SUM(CASE WHEN {{param:hits}} THEN 1 ELSE 0 END) AS hits
FROM {{spans}} s
WHERE {{kind}}
GROUP BY {{keys}}
