-- Tool spans of the traces in which one tool was called 3 or more times
-- with equal arguments ({{field}}: `gen_ai.tool.call.arguments`), in start
-- order per trace: agent loops are runs of 3+ such calls in a row, found in
-- Rust. Only traces with a repeated (tool, arguments) pair come back.
SELECT {{keys}}, t.trace_id, t.span_id, t.start_ns, t.tool, t.args
FROM (
  SELECT {{keys}}, trace_id, span_id, start_ns, CAST(tool AS VARCHAR) AS tool,
    CAST({{field}} AS VARCHAR) AS args
  FROM {{spans}} s
  WHERE CAST(span_type AS VARCHAR) = 'tool' AND tool IS NOT NULL
) t
JOIN (
  SELECT DISTINCT trace_id AS r_trace
  FROM (
    SELECT trace_id, CAST(tool AS VARCHAR) AS tool, CAST({{field}} AS VARCHAR) AS args
    FROM {{spans}} s
    WHERE CAST(span_type AS VARCHAR) = 'tool' AND tool IS NOT NULL
  ) x
  WHERE args IS NOT NULL
  GROUP BY trace_id, tool, args
  HAVING COUNT(*) >= 3
) r ON t.trace_id = r.r_trace
ORDER BY t.trace_id, t.start_ns, t.span_id
