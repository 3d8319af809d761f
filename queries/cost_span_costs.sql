-- Cost per span: the reported cost when present and preferred, else the
-- table price of its clamped tokens (cost_span_tokens.sql), joined from
-- `prices` by model, prompt-size class and service tier (NULL when the
-- model is unpriced). Not run on its own: cost_trace_costs.sql and
-- drift_costs.sql wrap it.
SELECT {{keys}}, trace_id, start_ns,
  CASE WHEN {{param:use_reported}} AND rep IS NOT NULL THEN rep
       ELSE unc * p.r_in + crc * p.r_cr + cw5c * p.r_cw + cw1hc * p.r_cw1h
         + outc * p.r_out + rsc * p.r_reas
  END AS span_cost
FROM ({{param:span_tokens}}) x
LEFT JOIN prices p ON x.mkey = p.mkey AND x.tclass = p.tclass AND x.stier = p.stier
