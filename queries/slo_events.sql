-- Good and bad events per cohort and 5-minute bucket for one objective
-- over spans; {{param:valid}} and {{param:bad}} are the objective's SLI.
-- Burn rates for every window (5m..3d) and the period are summed in Rust.
-- Buckets are aligned to the report's end ({{param:offset}} = end mod 300 s),
-- so every burn window is whole buckets ending exactly at the end.
SELECT {{keys}}, t, SUM(valid) AS valid, SUM(bad) AS bad
FROM (
  SELECT {{keys}}, timebucket(start_ns - {{param:offset}}, 300) AS t,
    CASE WHEN {{param:valid}} THEN 1 ELSE 0 END AS valid,
    CASE WHEN ({{param:valid}}) AND ({{param:bad}}) THEN 1 ELSE 0 END AS bad
  FROM {{spans}} s WHERE {{kind}}
) e
GROUP BY {{keys}}, t
