-- Cost per span (reported cost when present and preferred, else the
-- table price joined from `prices`), summed per trace and cohort. Not run
-- on its own: the cost_traces and cost_top_traces templates wrap it.
SELECT {{keys}}, trace_id,
  SUM(span_cost) AS cost,
  SUM(CASE WHEN span_cost IS NULL THEN 1 ELSE 0 END) AS unpriced_spans,
  COUNT(*) AS spans,
  MIN(start_ns) AS start_ns
FROM (
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
) c
GROUP BY {{keys}}, trace_id
