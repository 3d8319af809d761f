-- Good and bad events per cohort and 5-minute bucket for a quality
-- objective: judged evaluations named {{param:evaluation}} (a failed one is
-- bad), timed by the span they are attached to (or the trace's root span).
SELECT {{keys}}, t, COUNT(outcome) AS valid, SUM(1 - outcome) AS bad
FROM (
  SELECT {{keys}}, timebucket(start_ns - {{param:offset}}, 300) AS t, outcome
  FROM {{spans}} s
  JOIN (
    SELECT trace_id AS e_trace, span_id AS e_span,
      {{eval_outcome}} AS outcome
    FROM evals WHERE span_id IS NOT NULL AND name = {{param:evaluation}}
  ) e ON s.trace_id = e.e_trace AND s.span_id = e.e_span
  UNION ALL
  SELECT {{keys}}, timebucket(start_ns - {{param:offset}}, 300) AS t, outcome
  FROM {{spans}} s
  JOIN (
    SELECT trace_id AS e_trace,
      {{eval_outcome}} AS outcome
    FROM evals WHERE span_id IS NULL AND name = {{param:evaluation}}
  ) e ON s.trace_id = e.e_trace
  WHERE s.parent_span_id IS NULL
) j
WHERE outcome IS NOT NULL
GROUP BY {{keys}}, t
