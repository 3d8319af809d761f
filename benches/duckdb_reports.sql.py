"""DuckDB doing the SLO and cost reports by hand (a peer of benches/RESULTS.md), threads = 2.

usage: python duckdb_reports.sql.py flat|parquet INPUT

flat: read the flat JSONL export with read_json, take route from each
trace's root span, model and tokens from the LLM spans' attributes.
parquet: the canonical table spanlens ingest writes (route already there).
Then, as spanlens slo --by route,model and spanlens cost --by route do:
per (route, model) spans, traces, error rate, quantile_cont p50/p95/p99 of
latency and TTFT; per route tokens and USD from a price table (cache
reads at their rate), cost per trace p50/p95.
"""
import sys

import duckdb

kind, src = sys.argv[1:3]
con = duckdb.connect()
con.execute("SET threads = 2")
if kind == "flat":
    con.execute(f"""
    CREATE TEMP TABLE raw AS
    SELECT trace_id, span_id, parent_span_id, start_time_unix_nano AS start_ns,
           (end_time_unix_nano - start_time_unix_nano) / 1e6 AS duration_ms,
           lower(status.code) AS status,
           attributes."gen_ai.operation.name" AS op,
           attributes."http.route" AS http_route,
           attributes."gen_ai.provider.name" AS provider,
           coalesce(attributes."gen_ai.request.model", attributes."gen_ai.response.model") AS model,
           attributes."gen_ai.response.time_to_first_chunk" * 1000 AS ttft_ms,
           attributes."gen_ai.usage.input_tokens" AS input_tokens,
           attributes."gen_ai.usage.output_tokens" AS output_tokens,
           attributes."gen_ai.usage.cache_read.input_tokens" AS cache_read_tokens
    FROM read_json('{src}', format = 'newline_delimited', maximum_object_size = 1073741824)
    """)
    con.execute("""
    CREATE TEMP TABLE spans AS
    SELECT s.*, coalesce(r.http_route, r.route_name) AS route,
           CASE WHEN s.op IN ('chat', 'text_completion', 'generate_content') THEN 'llm'
                WHEN s.op = 'embeddings' THEN 'embedding' ELSE 'other' END AS span_type
    FROM raw s LEFT JOIN (SELECT trace_id, http_route, NULL AS route_name FROM raw WHERE parent_span_id IS NULL) r
      USING (trace_id)
    """)
else:
    con.execute(f"""
    CREATE TEMP TABLE spans AS
    SELECT trace_id, span_id, start_ns, duration_ms, status, route, ttft_ms, span_type,
           CAST(provider AS VARCHAR) AS provider,
           coalesce(CAST(request_model AS VARCHAR), CAST(response_model AS VARCHAR)) AS model,
           input_tokens, output_tokens, cache_read_tokens
    FROM read_parquet('{src}')
    """)
slo = con.execute("""
SELECT route, model, count(*) AS spans, count(DISTINCT trace_id) AS traces,
       avg(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS error_rate,
       quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS latency,
       quantile_cont(ttft_ms, [0.5, 0.95, 0.99]) AS ttft
FROM spans WHERE span_type = 'llm' GROUP BY ALL ORDER BY ALL
""").fetchall()
prices = """(VALUES ('claude-sonnet-4-6', 3e-6, 1.5e-5, 3e-7), ('claude-haiku-4-5', 1e-6, 5e-6, 1e-7),
                    ('gpt-4o', 2.5e-6, 1e-5, 1.25e-6), ('gpt-4o-mini', 1.5e-7, 6e-7, 7.5e-8),
                    ('gpt-4o-mini-2024-07-18', 1.5e-7, 6e-7, 7.5e-8), ('gpt-5.4-mini', 7.5e-7, 4.5e-6, 7.5e-8),
                    ('gemini-2.5-flash', 3e-7, 2.5e-6, 3e-8), ('text-embedding-3-small', 2e-8, 0.0, 2e-8))
            p(model, r_in, r_out, r_cr)"""
cost = con.execute(f"""
WITH c AS (
  SELECT s.route, s.trace_id,
         (coalesce(input_tokens, 0) - coalesce(cache_read_tokens, 0)) * r_in
         + coalesce(cache_read_tokens, 0) * r_cr + coalesce(output_tokens, 0) * r_out AS usd
  FROM spans s JOIN {prices} USING (model)
  WHERE span_type IN ('llm', 'embedding')),
t AS (SELECT route, trace_id, sum(usd) AS usd FROM c GROUP BY ALL)
SELECT route, sum(usd), count(*), quantile_cont(usd, [0.5, 0.95]) FROM t GROUP BY ALL ORDER BY ALL
""").fetchall()
print(len(slo), "slo rows,", len(cost), "cost rows")
