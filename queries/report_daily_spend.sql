-- Spend per cohort and day from the wrapped span costs: the report's
-- daily spend chart ({{param:day}}: the start of a span's day in the --tz
-- zone, from start_ns).
SELECT {{keys}}, day, SUM(span_cost) AS usd
FROM (
  SELECT {{keys}}, {{param:day}} AS day, span_cost
  FROM ({{param:span_costs}}) c
) x
GROUP BY {{keys}}, day
