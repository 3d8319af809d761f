-- Cost per trace per cohort with exact percentiles (type 7), the sum for
-- the mean, and the traces that hold an unpriced span. Engines without
-- exact quantiles run cost_trace_histograms.sql instead.
SELECT {{keys}}, COUNT(*) AS n, SUM(cost) AS usd,
  SUM(CASE WHEN unpriced_spans > 0 THEN 1 ELSE 0 END) AS incomplete,
  QUANTILE_CONT(cost, 0.5) AS p50, QUANTILE_CONT(cost, 0.95) AS p95, QUANTILE_CONT(cost, 0.99) AS p99
FROM ({{param:trace_costs}}) tc
WHERE cost IS NOT NULL
GROUP BY {{keys}}
