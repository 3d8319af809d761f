-- Median tokens (input + output) per LLM span per cohort: a span above 3x
-- its cohort's median is context stuffing.
SELECT {{keys}}, COUNT(*) AS n, QUANTILE_CONT(tok, 0.5) AS median
FROM (
  SELECT {{keys}}, COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) AS tok
  FROM {{spans}} s
  WHERE {{kind}} AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
) x
GROUP BY {{keys}}
