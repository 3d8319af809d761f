-- Spans and errors per cohort, window and 5-minute bucket: error bursts
-- (hourly sums in the current window against the baseline rate) and
-- silences (empty stretches where the baseline rate expects traffic).
SELECT {{keys}}, t, COUNT(*) AS n, SUM(err) AS errors
FROM (
  SELECT {{keys}}, timebucket(start_ns, 300) AS t,
    CASE WHEN CAST(status AS VARCHAR) = 'error' THEN 1 ELSE 0 END AS err
  FROM {{spans}} s
  WHERE {{kind}}
) x
GROUP BY {{keys}}, t
