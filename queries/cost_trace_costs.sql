-- Cost per trace and cohort: the span costs of cost_span_costs.sql summed,
-- with the spans left unpriced. Not run on its own: the cost_trace_*
-- templates and cost_top_traces wrap it.
SELECT {{keys}}, trace_id,
  SUM(span_cost) AS cost,
  SUM(CASE WHEN span_cost IS NULL THEN 1 ELSE 0 END) AS unpriced_spans,
  COUNT(*) AS spans,
  MIN(start_ns) AS start_ns
FROM ({{param:span_costs}}) c
GROUP BY {{keys}}, trace_id
