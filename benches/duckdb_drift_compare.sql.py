"""DuckDB doing drift and a prompt-version comparison by hand (a peer of benches/RESULTS.md,
peer: "PSI in SQL, pass rate per prompt version"), threads = 2.

usage: python duckdb_drift_compare.sql.py parquet INPUT BASELINE_START CURRENT_START CURRENT_END

Over the canonical Parquet spanlens ingest writes, LLM spans, per route:
* drift, baseline window vs current window: for input tokens, output
  tokens, duration and TTFT, decile edges of the baseline (quantile_cont),
  bin counts in both windows, PSI with the 1e-4 floor; for model, response
  model, provider, finish reason and error type, value counts and PSI;
* compare, each route's newest prompt version against the one before it:
  error rate of both arms, p50/p95 latency and mean tokens per call.
This is the SQL a user writes without spanlens: no chi-squared p, no
Mann-Whitney, no bootstrap intervals, no Holm step (DuckDB has none of
them built in), so it is less work than what spanlens computes.
"""
import sys

import duckdb

kind, src, b0, c0, c1 = sys.argv[1:6]
assert kind == "parquet"
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute(f"""
CREATE TEMP TABLE s AS
SELECT route, prompt_version, start_ns, status, duration_ms, ttft_ms, input_tokens, output_tokens,
       coalesce(CAST(request_model AS VARCHAR), CAST(response_model AS VARCHAR)) AS model,
       CAST(response_model AS VARCHAR) AS response_model, CAST(provider AS VARCHAR) AS provider,
       CAST(finish_reason AS VARCHAR) AS finish_reason, CAST(error_type AS VARCHAR) AS error_type,
       CASE WHEN start_ns < epoch_ns(TIMESTAMP '{c0}') THEN 'b' ELSE 'c' END AS w
FROM read_parquet('{src}')
WHERE span_type = 'llm' AND start_ns >= epoch_ns(TIMESTAMP '{b0}') AND start_ns < epoch_ns(TIMESTAMP '{c1}')
""")
psi_rows = 0
for f in ["input_tokens", "output_tokens", "duration_ms", "ttft_ms"]:
    psi_rows += len(con.execute(f"""
    WITH e AS (SELECT route, quantile_cont({f}, [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]) AS edges
               FROM s WHERE w = 'b' AND {f} IS NOT NULL GROUP BY route),
    b AS (SELECT s.route, w, len(list_filter(edges, lambda x: x < {f})) AS bin, count(*) AS n
          FROM s JOIN e USING (route) WHERE {f} IS NOT NULL GROUP BY ALL),
    t AS (SELECT route, w, sum(n) AS tot FROM b GROUP BY ALL),
    p AS (SELECT b.route, bin,
                 coalesce(sum(CASE WHEN b.w = 'b' THEN n / tot END), 0) AS pb,
                 coalesce(sum(CASE WHEN b.w = 'c' THEN n / tot END), 0) AS pc
          FROM b JOIN t USING (route, w) GROUP BY ALL)
    SELECT route, sum((greatest(pc, 1e-4 * (pc = 0)::INT + pc) - greatest(pb, 1e-4 * (pb = 0)::INT + pb))
                      * ln(greatest(pc, 1e-4 * (pc = 0)::INT + pc) / greatest(pb, 1e-4 * (pb = 0)::INT + pb))) AS psi
    FROM p GROUP BY route ORDER BY route
    """).fetchall())
for f in ["model", "response_model", "provider", "finish_reason", "error_type"]:
    psi_rows += len(con.execute(f"""
    WITH c AS (SELECT route, w, coalesce({f}, '(none)') AS v, count(*) AS n FROM s GROUP BY ALL),
    t AS (SELECT route, w, sum(n) AS tot FROM c GROUP BY ALL),
    p AS (SELECT c.route, v,
                 coalesce(sum(CASE WHEN c.w = 'b' THEN n / tot END), 1e-4) AS pb,
                 coalesce(sum(CASE WHEN c.w = 'c' THEN n / tot END), 1e-4) AS pc
          FROM c JOIN t USING (route, w) GROUP BY ALL)
    SELECT route, sum((pc - pb) * ln(pc / pb)) FROM p GROUP BY route ORDER BY route
    """).fetchall())
cmp = con.execute(f"""
WITH v AS (SELECT route, prompt_version, min(start_ns) AS first_ns
           FROM read_parquet('{src}') WHERE span_type = 'llm' AND prompt_version IS NOT NULL GROUP BY ALL),
r AS (SELECT *, row_number() OVER (PARTITION BY route ORDER BY first_ns DESC) AS k FROM v),
a AS (SELECT x.*, CASE r.k WHEN 1 THEN 'candidate' ELSE 'baseline' END AS arm
      FROM read_parquet('{src}') x JOIN r USING (route, prompt_version)
      WHERE x.span_type = 'llm' AND r.k <= 2)
SELECT route, arm, count(*) AS n, avg(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS error_rate,
       quantile_cont(duration_ms, [0.5, 0.95]) AS latency, avg(input_tokens), avg(output_tokens)
FROM a GROUP BY ALL ORDER BY ALL
""").fetchall()
print(psi_rows, "psi rows,", len(cmp), "compare rows")
