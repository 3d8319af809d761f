-- Tokens (input + output) per LLM span, per cohort and window: the count,
-- the median, the 99th percentile and the largest. Context stuffing is a
-- current window with more spans above its cohort's baseline 99th
-- percentile than chance allows, or a span above twice the baseline's
-- largest.
SELECT {{keys}}, COUNT(*) AS n, QUANTILE_CONT(tok, 0.5) AS median,
  QUANTILE_CONT(tok, 0.99) AS bound, MAX(tok) AS top
FROM (
  SELECT {{keys}}, COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) AS tok
  FROM {{spans}} s
  WHERE {{kind}} AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)
) x
GROUP BY {{keys}}
