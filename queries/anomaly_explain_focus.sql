-- Who an outlier finding is: LLM spans per value of one dimension
-- ({{keys}}: the dimension, then arm) in the finding's cohort, and how many
-- of them are the finding's own ({{param:focus}}: its traces, or its spans
-- above the bound); the current arm is read.
SELECT {{keys}}, COUNT(*) AS n,
  SUM(CASE WHEN {{param:focus}} THEN 1 ELSE 0 END) AS hits
FROM {{spans}} s
WHERE {{kind}}
GROUP BY {{keys}}
