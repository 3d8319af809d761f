-- Values of one categorical field ({{field}}) per cohort and window; a
-- missing value counts as its own category (NULL here, `(none)` in the
-- report).
SELECT {{keys}}, v, COUNT(*) AS n
FROM (
  SELECT {{keys}}, CAST({{field}} AS VARCHAR) AS v
  FROM {{spans}} s
  WHERE {{kind}}
) x
GROUP BY {{keys}}, v
