-- Spend per cohort and UTC day from the wrapped span costs: the report's
-- daily spend chart.
SELECT {{keys}}, day, SUM(span_cost) AS usd
FROM (
  SELECT {{keys}}, timebucket(start_ns, 86400) AS day, span_cost
  FROM ({{param:span_costs}}) c
) x
GROUP BY {{keys}}, day
