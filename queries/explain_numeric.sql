-- Attribution of a numeric drift: spans with a value of {{field}} per value
-- of one dimension ({{keys}}: the dimension, then arm) in the drifted
-- cohort, and how many fall where the distribution grew ({{param:hits}},
-- over the value v).
SELECT {{keys}}, COUNT(*) AS n,
  SUM(CASE WHEN {{param:hits}} THEN 1 ELSE 0 END) AS hits
FROM (
  SELECT {{keys}}, TRY_CAST({{field}} AS DOUBLE) AS v
  FROM {{spans}} s
  WHERE {{kind}}
) x
WHERE v IS NOT NULL
GROUP BY {{keys}}
