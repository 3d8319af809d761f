-- Cost per cohort and window over the per-trace figures of anomaly_traces
-- ({{param:traces}}, staged): the sum, the priced traces and the sum of
-- squared trace costs. A spend spike is a current daily cost above 1.5x
-- the baseline's daily mean and beyond what the baseline's traffic and
-- cost spread allow (traces, not spans, are the independent units: an
-- agent's calls cost together).
SELECT {{keys}}, SUM(cost) AS usd, COUNT(cost) AS priced, SUM(cost * cost) AS usd2
FROM ({{param:traces}}) x
GROUP BY {{keys}}
