-- Log-bucket histogram of the cost of each span (reported or priced from
-- `prices`; unpriced spans left out) per cohort and window.
SELECT {{keys}}, logbucket(span_cost) AS b, COUNT(*) AS n
FROM ({{param:span_costs}}) c
WHERE span_cost IS NOT NULL
GROUP BY {{keys}}, b
