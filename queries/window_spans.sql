-- Spans of the report's kind in the current window that pass --where: a
-- report over a window with none exits 3 instead of printing empty tables.
SELECT COUNT(trace_id) AS n
FROM {{spans}} s
WHERE {{kind}}
