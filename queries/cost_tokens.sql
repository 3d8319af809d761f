-- Token sums per cohort, model, prompt-size tier class and service tier.
-- Cost is linear in tokens within a tier, so Rust prices these sums exactly. The r_*
-- sums cover the spans that carry a reported cost (for the delta column).
SELECT {{keys}}, mkey, tclass, stier,
  COUNT(*) AS spans,
  SUM(i) AS input, SUM(o) AS output, SUM(cr) AS cache_read, SUM(cw) AS cache_write,
  SUM(cw1h) AS cache_write_1h, SUM(rs) AS reasoning,
  SUM(rep) AS reported_usd, COUNT(rep) AS reported_spans,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE i END) AS r_input,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE o END) AS r_output,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE cr END) AS r_cache_read,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE cw END) AS r_cache_write,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE cw1h END) AS r_cache_write_1h,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE rs END) AS r_reasoning
FROM (
  SELECT {{keys}}, modelkey() AS mkey, {{param:tier_class}} AS tclass,
    {{param:service_tier}} AS stier,
    COALESCE(input_tokens, 0) AS i, COALESCE(output_tokens, 0) AS o,
    COALESCE(cache_read_tokens, 0) AS cr, COALESCE(cache_write_tokens, 0) AS cw,
    CASE WHEN COALESCE(cache_write_1h_tokens, 0) > COALESCE(cache_write_tokens, 0)
      THEN COALESCE(cache_write_tokens, 0) ELSE COALESCE(cache_write_1h_tokens, 0) END AS cw1h,
    COALESCE(reasoning_tokens, 0) AS rs, reported_cost_usd AS rep
  FROM {{spans}} s
  WHERE {{kind}}
    AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR reported_cost_usd IS NOT NULL)
) t
GROUP BY {{keys}}, mkey, tclass, stier
