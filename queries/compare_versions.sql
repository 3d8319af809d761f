-- The values of a field ({{field}}, e.g. prompt_version) per cohort with
-- their first appearance: `latest:FIELD` compares each cohort's newest
-- value with the one before it.
SELECT {{keys}}, v, MIN(start_ns) AS first_ns, COUNT(*) AS n
FROM (
  SELECT {{keys}}, CAST({{field}} AS VARCHAR) AS v, start_ns
  FROM {{spans}} s
  WHERE {{kind}}
) x
WHERE v IS NOT NULL
GROUP BY {{keys}}, v
