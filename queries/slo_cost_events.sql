-- Good and bad traces per cohort and 5-minute bucket (of the trace's
-- first span) for a cost objective: a trace over {{param:max_usd}} is bad.
SELECT {{keys}}, timebucket(start_ns - {{param:offset}}, 300) AS t,
  COUNT(*) AS valid,
  SUM(CASE WHEN cost > {{param:max_usd}} THEN 1 ELSE 0 END) AS bad
FROM ({{param:trace_costs}}) tc
WHERE cost IS NOT NULL
GROUP BY {{keys}}, timebucket(start_ns - {{param:offset}}, 300)
