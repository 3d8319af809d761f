"""Reference values for tests/integration/reports.rs, computed by DuckDB.

The SLO numbers spanlens prints for the bundled example export must equal
DuckDB's on the same canonical table: counts and rates exactly, percentiles
(quantile_cont = type 7) to 1e-9 relative. Run from the repository root:

    pip install duckdb==2.0.0
    SPANLENS=target/debug/spanlens python3 tests/reference/duckdb_slo.py

It ingests fixtures/example/export.otlp.jsonl.gz with spanlens (the reader
under test elsewhere), then computes every number with the SQL below and
writes tests/reference/example_slo_by_route.json.
"""
import json
import os
import subprocess
import sys
import tempfile

import duckdb

SPANLENS = os.environ.get("SPANLENS", "target/debug/spanlens")
# the window the test passes as --current
START = "2026-01-01"
END = "2026-01-09"

with tempfile.TemporaryDirectory() as d:
    spans = os.path.join(d, "spans.parquet")
    evals = os.path.join(d, "spans.evals.parquet")
    subprocess.run(
        [SPANLENS, "--config", "fixtures/example/spanlens.toml", "--quiet", "ingest",
         "fixtures/example/export.otlp.jsonl.gz", "-o", spans],
        check=True,
    )
    con = duckdb.connect()
    con.execute("SET threads = 2")
    window = (f"start_ns >= epoch_ns(TIMESTAMP '{START}') "
              f"AND start_ns < epoch_ns(TIMESTAMP '{END}')")
    cohorts = con.execute(f"""
        WITH s AS (SELECT * FROM read_parquet('{spans}') WHERE {window} AND span_type = 'llm'),
             r AS (SELECT DISTINCT trace_id, span_id FROM read_parquet('{evals}')
                   WHERE lower(label) = 'refusal')
        SELECT coalesce(route, '(none)') AS route,
               count(*) AS spans,
               count(DISTINCT s.trace_id) AS traces,
               sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) / count(*) AS error_rate,
               sum(CASE WHEN finish_reason IN ('content_filter', 'refusal')
                         OR r.span_id IS NOT NULL THEN 1 ELSE 0 END) / count(*) AS refusal_rate,
               count(duration_ms) AS latency_n,
               quantile_cont(duration_ms, 0.5) AS latency_p50_ms,
               quantile_cont(duration_ms, 0.95) AS latency_p95_ms,
               quantile_cont(duration_ms, 0.99) AS latency_p99_ms,
               count(ttft_ms) AS ttft_n,
               quantile_cont(ttft_ms, 0.5) AS ttft_p50_ms,
               quantile_cont(ttft_ms, 0.95) AS ttft_p95_ms,
               quantile_cont(ttft_ms, 0.99) AS ttft_p99_ms
        FROM s LEFT JOIN r ON s.trace_id = r.trace_id AND s.span_id = r.span_id
        GROUP BY 1 ORDER BY 1
    """).fetchall()
    cols = ["route", "spans", "traces", "error_rate", "refusal_rate", "latency_n",
            "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_n",
            "ttft_p50_ms", "ttft_p95_ms", "ttft_p99_ms"]
    outcome = """CASE WHEN lower(label) IN ('pass','passed','correct','true','yes','good','relevant','factual','ok') THEN 1
                      WHEN lower(label) IN ('fail','failed','incorrect','false','no','bad','irrelevant','hallucinated','refusal') THEN 0
                      WHEN score IS NOT NULL AND score >= 0.5 THEN 1
                      WHEN score IS NOT NULL THEN 0 END"""
    evals_rows = con.execute(f"""
        WITH s AS (SELECT * FROM read_parquet('{spans}') WHERE {window}),
             e AS (SELECT trace_id, span_id, name, {outcome} AS outcome FROM read_parquet('{evals}')),
             j AS (SELECT coalesce(s.route, '(none)') AS route, e.name AS evaluation, e.outcome
                   FROM e JOIN s ON e.trace_id = s.trace_id AND e.span_id = s.span_id
                   UNION ALL
                   SELECT coalesce(s.route, '(none)'), e.name, e.outcome
                   FROM e JOIN s ON e.trace_id = s.trace_id
                   WHERE e.span_id IS NULL AND s.parent_span_id IS NULL)
        SELECT route, evaluation, count(outcome) AS judged, sum(outcome) AS passed
        FROM j GROUP BY 1, 2 HAVING count(outcome) > 0 ORDER BY 1, 2
    """).fetchall()

out = {
    "source": "tests/reference/duckdb_slo.py, DuckDB " + duckdb.__version__,
    "window": f"{START}..{END}",
    "cohorts": [dict(zip(cols, r)) for r in cohorts],
    "evals": [dict(zip(["route", "evaluation", "judged", "passed"], r)) for r in evals_rows],
}
with open("tests/reference/example_slo_by_route.json", "w") as f:
    json.dump(out, f, indent=1, default=float)
    f.write("\n")
print(f"wrote {len(cohorts)} cohorts, {len(evals_rows)} eval rows", file=sys.stderr)
