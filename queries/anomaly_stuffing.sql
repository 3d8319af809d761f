-- LLM spans above their cohort's threshold ({{param:over}}: per cohort,
-- tokens above its baseline 99th percentile), largest first: the count
-- per cohort and the spans to open.
SELECT {{keys}}, trace_id, span_id, start_ns, tok
FROM (
  SELECT {{keys}}, trace_id, span_id, start_ns,
    COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) AS tok
  FROM {{spans}} s
  WHERE {{kind}}
) x
WHERE {{param:over}}
ORDER BY tok DESC, trace_id, span_id
LIMIT {{param:limit}}
