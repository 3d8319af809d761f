-- Each span's billable tokens by kind, clamped as pricing::Tokens::by_kind
-- clamps them: cache reads and writes within the input (reads first),
-- 1-hour writes within the writes, reasoning within the output. Keys, the
-- model key, the prompt-size class and the service tier select the price.
-- Not run on its own: cost_span_costs.sql and cost_tokens.sql wrap it.
SELECT {{keys}}, trace_id, start_ns, mkey, tclass, stier, rep,
  i, o, i - cached AS unc, crc, cached - crc - cw1hc AS cw5c, cw1hc, o - rsc AS outc, rsc
FROM (
  SELECT {{keys}}, trace_id, start_ns, mkey, tclass, stier, rep, i, o, cached, crc, rsc,
    CASE WHEN cw1h > cached - crc THEN cached - crc ELSE cw1h END AS cw1hc
  FROM (
    SELECT {{keys}}, trace_id, start_ns, mkey, tclass, stier, rep, i, o, cached, cw1h,
      CASE WHEN cr > cached THEN cached ELSE cr END AS crc,
      CASE WHEN rs > o THEN o ELSE rs END AS rsc
    FROM (
      SELECT {{keys}}, trace_id, start_ns, mkey, tclass, stier, rep, i, o, cr, cw1h, rs,
        CASE WHEN cr + cw > i THEN i ELSE cr + cw END AS cached
      FROM (
        SELECT {{keys}}, trace_id, start_ns, modelkey() AS mkey,
          {{param:tier_class}} AS tclass, {{param:service_tier}} AS stier,
          COALESCE(input_tokens, 0) AS i, COALESCE(output_tokens, 0) AS o,
          COALESCE(cache_read_tokens, 0) AS cr, COALESCE(cache_write_tokens, 0) AS cw,
          COALESCE(cache_write_1h_tokens, 0) AS cw1h,
          COALESCE(reasoning_tokens, 0) AS rs, reported_cost_usd AS rep
        FROM {{spans}} s
        WHERE {{kind}}
          AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL OR reported_cost_usd IS NOT NULL)
      ) raw
    ) c1
  ) c2
) c3
