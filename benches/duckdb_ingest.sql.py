"""DuckDB doing the ingest job by hand (a peer of benches/RESULTS.md): read the export
with read_json and write Parquet, threads = 2.

usage: python duckdb_ingest.sql.py otlp|flat INPUT OUTPUT.parquet
"""
import sys

import duckdb

kind, src, dst = sys.argv[1:4]
con = duckdb.connect()
con.execute("SET threads = 2")
if kind == "otlp":
    sql = f"""
    COPY (
      WITH rs AS (SELECT unnest(resourceSpans) AS rs
                  FROM read_json('{src}', format = 'newline_delimited', maximum_object_size = 1073741824)),
           ss AS (SELECT rs.resource AS resource, unnest(rs.scopeSpans) AS ss FROM rs),
           sp AS (SELECT resource, unnest(ss.spans) AS s FROM ss)
      SELECT s.traceId AS trace_id, s.spanId AS span_id, s.parentSpanId AS parent_span_id, s.name AS name,
             s.kind AS kind, CAST(s.startTimeUnixNano AS BIGINT) AS start_ns,
             CAST(s.endTimeUnixNano AS BIGINT) AS end_ns, s.status.code AS status,
             s.attributes AS attributes, s.events AS events, resource.attributes AS resource
      FROM sp
    ) TO '{dst}' (FORMAT parquet, COMPRESSION zstd)
    """
else:
    sql = f"""
    COPY (SELECT * FROM read_json('{src}', format = 'newline_delimited', maximum_object_size = 1073741824))
    TO '{dst}' (FORMAT parquet, COMPRESSION zstd)
    """
con.execute(sql)
print(con.execute(f"SELECT count(*) FROM '{dst}'").fetchone()[0], "rows")
