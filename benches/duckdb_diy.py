"""The nightly job done by hand in DuckDB (issue 23's peer), threads = 2:
read the export once, then SLO, cost, PSI and a prompt-version comparison,
as a user without spanlens would write them.

usage: python duckdb_diy.py flat|otlp|parquet INPUT BASELINE_START CURRENT_START CURRENT_END

flat: newline-delimited spans (attributes as an object); otlp: OTLP/JSON
lines (resourceSpans -> scopeSpans -> spans, attributes as key/value
lists); parquet: the canonical table `spanlens ingest` writes. On JSON the
route is taken from each trace's root span (a join), the prompt version
from `app.prompt.version`. Then, LLM spans only:
* SLO per (route, model): spans, traces, error rate, quantile_cont
  p50/p95/p99 of latency and TTFT, over the current window;
* cost per route from a price table (cache reads at their rate), cost per
  trace p50/p95, over the current window;
* PSI per route, baseline vs current, for 4 numeric fields (baseline
  deciles) and 5 categorical ones;
* each route's newest prompt version against the one before: error rate,
  p50/p95 latency, mean tokens.
No p-values, intervals, Holm, anomalies, charts, deduplication or
inheritance beyond the root join: less than spanlens' report computes.
"""
import sys

import duckdb

kind, src, b0, c0, c1 = sys.argv[1:6]
con = duckdb.connect()
con.execute("SET threads = 2")
JSON = f"read_json('{src}', format = 'newline_delimited', maximum_object_size = 1073741824)"
if kind == "flat":
    con.execute(f"""
    CREATE TEMP TABLE raw AS
    SELECT trace_id, span_id, parent_span_id, start_time_unix_nano AS start_ns,
           (end_time_unix_nano - start_time_unix_nano) / 1e6 AS duration_ms,
           lower(status.code) AS status,
           attributes."gen_ai.operation.name" AS op,
           attributes."http.route" AS http_route,
           attributes."app.prompt.version" AS prompt_version,
           attributes."gen_ai.provider.name" AS provider,
           attributes."gen_ai.request.model" AS request_model,
           attributes."gen_ai.response.model" AS response_model,
           attributes."gen_ai.response.finish_reasons"[1] AS finish_reason,
           attributes."error.type" AS error_type,
           attributes."gen_ai.response.time_to_first_chunk" * 1000 AS ttft_ms,
           attributes."gen_ai.usage.input_tokens" AS input_tokens,
           attributes."gen_ai.usage.output_tokens" AS output_tokens,
           attributes."gen_ai.usage.cache_read.input_tokens" AS cache_read_tokens
    FROM {JSON}
    """)
elif kind == "otlp":
    def attr(k, t="stringValue"):
        return f"list_filter(s.attributes, lambda a: a.key = '{k}')[1].value.{t}"
    con.execute(f"""
    CREATE TEMP TABLE raw AS
    WITH rs AS (SELECT unnest(resourceSpans) AS rs FROM {JSON}),
         ss AS (SELECT unnest(rs.scopeSpans) AS ss FROM rs),
         sp AS (SELECT unnest(ss.spans) AS s FROM ss)
    SELECT s.traceId AS trace_id, s.spanId AS span_id, nullif(s.parentSpanId, '') AS parent_span_id,
           CAST(s.startTimeUnixNano AS BIGINT) AS start_ns,
           (CAST(s.endTimeUnixNano AS BIGINT) - CAST(s.startTimeUnixNano AS BIGINT)) / 1e6 AS duration_ms,
           CASE s.status.code WHEN 2 THEN 'error' WHEN 1 THEN 'ok' ELSE 'unset' END AS status,
           {attr('gen_ai.operation.name')} AS op,
           {attr('http.route')} AS http_route,
           {attr('app.prompt.version')} AS prompt_version,
           {attr('gen_ai.provider.name')} AS provider,
           {attr('gen_ai.request.model')} AS request_model,
           {attr('gen_ai.response.model')} AS response_model,
           {attr('gen_ai.response.finish_reasons', 'arrayValue')}.values[1].stringValue AS finish_reason,
           {attr('error.type')} AS error_type,
           {attr('gen_ai.response.time_to_first_chunk', 'doubleValue')} * 1000 AS ttft_ms,
           CAST({attr('gen_ai.usage.input_tokens', 'intValue')} AS BIGINT) AS input_tokens,
           CAST({attr('gen_ai.usage.output_tokens', 'intValue')} AS BIGINT) AS output_tokens,
           CAST({attr('gen_ai.usage.cache_read.input_tokens', 'intValue')} AS BIGINT) AS cache_read_tokens
    FROM sp
    """)
if kind in ("flat", "otlp"):
    con.execute("""
    CREATE TEMP TABLE s AS
    SELECT x.*, r.http_route AS route, coalesce(x.request_model, x.response_model) AS model,
           CASE WHEN x.op IN ('chat', 'text_completion', 'generate_content') THEN 'llm'
                WHEN x.op = 'embeddings' THEN 'embedding' ELSE 'other' END AS span_type
    FROM raw x LEFT JOIN (SELECT trace_id, http_route FROM raw WHERE parent_span_id IS NULL) r
      USING (trace_id)
    """)
else:
    con.execute(f"""
    CREATE TEMP TABLE s AS
    SELECT trace_id, span_id, start_ns, duration_ms, status, route, ttft_ms, span_type, prompt_version,
           CAST(provider AS VARCHAR) AS provider,
           coalesce(CAST(request_model AS VARCHAR), CAST(response_model AS VARCHAR)) AS model,
           CAST(response_model AS VARCHAR) AS response_model,
           CAST(finish_reason AS VARCHAR) AS finish_reason, CAST(error_type AS VARCHAR) AS error_type,
           input_tokens, output_tokens, cache_read_tokens
    FROM read_parquet('{src}')
    """)
B0, C0, C1 = (f"epoch_ns(TIMESTAMP '{d}')" for d in (b0, c0, c1))
cur = f"span_type = 'llm' AND start_ns >= {C0} AND start_ns < {C1}"
slo = con.execute(f"""
SELECT route, model, count(*) AS spans, count(DISTINCT trace_id) AS traces,
       avg(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS error_rate,
       quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS latency,
       quantile_cont(ttft_ms, [0.5, 0.95, 0.99]) AS ttft
FROM s WHERE {cur} GROUP BY ALL ORDER BY ALL
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
  FROM s JOIN {prices} USING (model)
  WHERE span_type IN ('llm', 'embedding') AND start_ns >= {C0} AND start_ns < {C1}),
t AS (SELECT route, trace_id, sum(usd) AS usd FROM c GROUP BY ALL)
SELECT route, sum(usd), count(*), quantile_cont(usd, [0.5, 0.95]) FROM t GROUP BY ALL ORDER BY ALL
""").fetchall()
con.execute(f"""
CREATE TEMP TABLE w AS
SELECT *, CASE WHEN start_ns < {C0} THEN 'b' ELSE 'c' END AS win FROM s
WHERE span_type = 'llm' AND start_ns >= {B0} AND start_ns < {C1}
""")
psi_rows = 0
for f in ["input_tokens", "output_tokens", "duration_ms", "ttft_ms"]:
    psi_rows += len(con.execute(f"""
    WITH e AS (SELECT route, quantile_cont({f}, [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]) AS edges
               FROM w WHERE win = 'b' AND {f} IS NOT NULL GROUP BY route),
    b AS (SELECT w.route, win, len(list_filter(edges, lambda x: x < {f})) AS bin, count(*) AS n
          FROM w JOIN e USING (route) WHERE {f} IS NOT NULL GROUP BY ALL),
    t AS (SELECT route, win, sum(n) AS tot FROM b GROUP BY ALL),
    p AS (SELECT b.route, bin,
                 greatest(coalesce(sum(CASE WHEN b.win = 'b' THEN n / tot END), 0), 1e-4) AS pb,
                 greatest(coalesce(sum(CASE WHEN b.win = 'c' THEN n / tot END), 0), 1e-4) AS pc
          FROM b JOIN t USING (route, win) GROUP BY ALL)
    SELECT route, sum((pc - pb) * ln(pc / pb)) AS psi FROM p GROUP BY route ORDER BY route
    """).fetchall())
for f in ["model", "response_model", "provider", "finish_reason", "error_type"]:
    psi_rows += len(con.execute(f"""
    WITH c AS (SELECT route, win, coalesce({f}, '(none)') AS v, count(*) AS n FROM w GROUP BY ALL),
    t AS (SELECT route, win, sum(n) AS tot FROM c GROUP BY ALL),
    p AS (SELECT c.route, v,
                 coalesce(sum(CASE WHEN c.win = 'b' THEN n / tot END), 1e-4) AS pb,
                 coalesce(sum(CASE WHEN c.win = 'c' THEN n / tot END), 1e-4) AS pc
          FROM c JOIN t USING (route, win) GROUP BY ALL)
    SELECT route, sum((pc - pb) * ln(pc / pb)) FROM p GROUP BY route ORDER BY route
    """).fetchall())
cmp = con.execute("""
WITH v AS (SELECT route, prompt_version, min(start_ns) AS first_ns
           FROM s WHERE span_type = 'llm' AND prompt_version IS NOT NULL GROUP BY ALL),
r AS (SELECT *, row_number() OVER (PARTITION BY route ORDER BY first_ns DESC) AS k FROM v),
a AS (SELECT x.*, CASE r.k WHEN 1 THEN 'candidate' ELSE 'baseline' END AS arm
      FROM s x JOIN r USING (route, prompt_version) WHERE x.span_type = 'llm' AND r.k <= 2)
SELECT route, arm, count(*) AS n, avg(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS error_rate,
       quantile_cont(duration_ms, [0.5, 0.95]) AS latency, avg(input_tokens), avg(output_tokens)
FROM a GROUP BY ALL ORDER BY ALL
""").fetchall()
print(len(slo), "slo rows,", len(cost), "cost rows,", psi_rows, "psi rows,", len(cmp), "compare rows")
