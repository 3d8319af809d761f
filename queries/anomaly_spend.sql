-- Cost per cohort and window (span costs from the wrapped query): a
-- spend spike is a current daily cost above 1.5x the baseline's daily mean.
SELECT {{keys}}, SUM(span_cost) AS usd, COUNT(span_cost) AS priced
FROM ({{param:span_costs}}) c
GROUP BY {{keys}}
