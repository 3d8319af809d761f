-- Attribution of a spend spike: cost and spans per value of one dimension
-- ({{keys}}: the dimension, then arm) in the current window and the
-- baseline, restricted to the spike's cohort (span costs from the wrapped
-- query).
SELECT {{keys}}, SUM(span_cost) AS usd, COUNT(*) AS n
FROM ({{param:span_costs}}) c
GROUP BY {{keys}}
