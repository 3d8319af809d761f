-- Cost per span: the reported cost when present and preferred, else the
-- table price joined from `prices` (NULL when the model is unpriced). Not
-- run on its own: cost_trace_costs.sql and drift_costs.sql wrap it.
SELECT {{keys}}, trace_id, start_ns,
  CASE WHEN {{param:use_reported}} AND rep IS NOT NULL THEN rep
       ELSE (i - cr - cw) * p.r_in + cr * p.r_cr + cw * p.r_cw + (o - rs) * p.r_out + rs * p.r_reas
  END AS span_cost
FROM (
  SELECT {{keys}}, trace_id, start_ns, modelkey() AS mkey, {{param:tier_class}} AS tclass,
    COALESCE(input_tokens, 0) AS i, COALESCE(output_tokens, 0) AS o,
    COALESCE(cache_read_tokens, 0) AS cr, COALESCE(cache_write_tokens, 0) AS cw,
    COALESCE(reasoning_tokens, 0) AS rs, reported_cost_usd AS rep
  FROM {{spans}} s
  WHERE {{kind}}
    AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR reported_cost_usd IS NOT NULL)
) x
LEFT JOIN prices p ON x.mkey = p.mkey AND x.tclass = p.tclass
