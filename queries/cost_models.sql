-- The distinct models that carry tokens or a cost (phase 1 of the cost
-- report): Rust looks each one up in the price table and registers the
-- resolved rates as the small table `prices`. By service tier too, so the
-- models table can say which tiers each model ran on.
SELECT provider, request_model, response_model, stier,
  COUNT(*) AS spans,
  SUM(COALESCE(input_tokens, 0)) AS input_tokens,
  SUM(COALESCE(output_tokens, 0)) AS output_tokens,
  SUM(CASE WHEN reported_cost_usd IS NULL THEN 0 ELSE 1 END) AS reported_spans
FROM (
  SELECT CAST(provider AS VARCHAR) AS provider,
    CAST(request_model AS VARCHAR) AS request_model,
    CAST(response_model AS VARCHAR) AS response_model,
    {{param:service_tier}} AS stier,
    input_tokens, output_tokens, reported_cost_usd
  FROM {{spans}} s
  WHERE {{kind}}
    AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR reported_cost_usd IS NOT NULL)
) m
GROUP BY provider, request_model, response_model, stier
