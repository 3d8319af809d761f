-- Cost per span: the reported cost when present and preferred, else the
-- table price joined from `prices` by model, prompt-size class and service
-- tier (NULL when the model is unpriced). The 1-hour cache writes are a
-- part of the cache writes, billed at their own rate. Not
-- run on its own: cost_trace_costs.sql and drift_costs.sql wrap it.
SELECT {{keys}}, trace_id, start_ns,
  CASE WHEN {{param:use_reported}} AND rep IS NOT NULL THEN rep
       ELSE (i - cr - cw) * p.r_in + cr * p.r_cr + (cw - cw1h) * p.r_cw + cw1h * p.r_cw1h
         + (o - rs) * p.r_out + rs * p.r_reas
  END AS span_cost
FROM (
  SELECT {{keys}}, trace_id, start_ns, modelkey() AS mkey, {{param:tier_class}} AS tclass,
    {{param:service_tier}} AS stier,
    COALESCE(input_tokens, 0) AS i, COALESCE(output_tokens, 0) AS o,
    COALESCE(cache_read_tokens, 0) AS cr, COALESCE(cache_write_tokens, 0) AS cw,
    CASE WHEN COALESCE(cache_write_1h_tokens, 0) > COALESCE(cache_write_tokens, 0)
      THEN COALESCE(cache_write_tokens, 0) ELSE COALESCE(cache_write_1h_tokens, 0) END AS cw1h,
    COALESCE(reasoning_tokens, 0) AS rs, reported_cost_usd AS rep
  FROM {{spans}} s
  WHERE {{kind}}
    AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR reported_cost_usd IS NOT NULL)
) x
LEFT JOIN prices p ON x.mkey = p.mkey AND x.tclass = p.tclass AND x.stier = p.stier
