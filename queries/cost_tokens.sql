-- Token sums per cohort, model, prompt-size tier class and service tier,
-- by kind, each span's clamped as pricing::Tokens::by_kind does
-- (cost_span_tokens.sql). Cost is linear in tokens within a tier, so Rust
-- prices these sums exactly. The r_* sums cover the spans that carry a
-- reported cost (for the delta column).
SELECT {{keys}}, mkey, tclass, stier,
  COUNT(*) AS spans,
  SUM(i) AS input, SUM(o) AS output, SUM(crc) AS cache_read, SUM(cw5c + cw1hc) AS cache_write,
  SUM(cw1hc) AS cache_write_1h, SUM(rsc) AS reasoning,
  SUM(rep) AS reported_usd, COUNT(rep) AS reported_spans,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE i END) AS r_input,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE o END) AS r_output,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE crc END) AS r_cache_read,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE cw5c + cw1hc END) AS r_cache_write,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE cw1hc END) AS r_cache_write_1h,
  SUM(CASE WHEN rep IS NULL THEN 0 ELSE rsc END) AS r_reasoning
FROM ({{param:span_tokens}}) t
GROUP BY {{keys}}, mkey, tclass, stier
