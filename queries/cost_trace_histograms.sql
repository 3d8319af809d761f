-- Histogram of cost per trace per cohort (percentiles in Rust), with the
-- sum for the mean and the traces that hold an unpriced span.
SELECT {{keys}}, pbucket(cost) AS b, COUNT(*) AS n, SUM(cost) AS usd,
  SUM(CASE WHEN unpriced_spans > 0 THEN 1 ELSE 0 END) AS incomplete
FROM ({{param:trace_costs}}) tc
WHERE cost IS NOT NULL
GROUP BY {{keys}}, b
