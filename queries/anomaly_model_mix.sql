-- Traces per cohort, window and response model: a model-mix change is
-- judged on traces, the independent units (an agent's calls share a
-- model), not on spans.
SELECT {{keys}}, v, COUNT(*) AS n
FROM (
  SELECT {{keys}}, trace_id, CAST(response_model AS VARCHAR) AS v
  FROM {{spans}} s
  WHERE {{kind}}
  GROUP BY {{keys}}, trace_id, CAST(response_model AS VARCHAR)
) x
GROUP BY {{keys}}, v
