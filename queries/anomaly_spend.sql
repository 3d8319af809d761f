-- Cost per cohort and window over the per-trace costs ({{param:trace_costs}}:
-- every priced LLM and embedding span, summed per cohort and trace): the
-- sum, the priced traces and the sum of squared trace costs. A spend spike
-- is a current daily cost above 1.5x the baseline's daily mean and beyond
-- what the baseline's traffic and cost spread allow (traces, not spans,
-- are the independent units: an agent's calls cost together).
SELECT {{keys}}, SUM(cost) AS usd, COUNT(cost) AS priced, SUM(cost * cost) AS usd2
FROM ({{param:trace_costs}}) x
GROUP BY {{keys}}
