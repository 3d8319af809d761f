-- Is an attribute field numeric? It is when every present value parses
-- as a number.
SELECT COUNT(v) AS present, COUNT(TRY_CAST(v AS DOUBLE)) AS numeric
FROM (
  SELECT CAST({{field}} AS VARCHAR) AS v
  FROM {{spans}} s
  WHERE {{kind}}
) x
