-- Attribution of a categorical drift: spans per value of one dimension
-- ({{keys}}: the dimension, then arm) in the drifted cohort, and how many
-- have a category of {{field}} that grew ({{param:hits}}, over the
-- category v; NULL is a category).
SELECT {{keys}}, COUNT(*) AS n,
  SUM(CASE WHEN {{param:hits}} THEN 1 ELSE 0 END) AS hits
FROM (
  SELECT {{keys}}, CAST({{field}} AS VARCHAR) AS v
  FROM {{spans}} s
  WHERE {{kind}}
) x
GROUP BY {{keys}}
