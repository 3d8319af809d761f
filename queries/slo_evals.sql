-- Evaluation outcomes per cohort and evaluation name. An evaluation on a
-- span takes that span's cohort; one without a span id takes its trace's
-- root span. A pass label passes, a fail label fails, otherwise a score
-- passes at >= the threshold; anything else is not judged.
SELECT {{keys}}, evaluation, SUM(outcome) AS passed, COUNT(outcome) AS judged
FROM (
  SELECT {{keys}}, e_name AS evaluation, outcome
  FROM {{spans}} s
  JOIN (
    SELECT trace_id AS e_trace, span_id AS e_span, name AS e_name,
      {{eval_outcome}} AS outcome
    FROM evals WHERE span_id IS NOT NULL
  ) e ON s.trace_id = e.e_trace AND s.span_id = e.e_span
  UNION ALL
  SELECT {{keys}}, e_name AS evaluation, outcome
  FROM {{spans}} s
  JOIN (
    SELECT trace_id AS e_trace, name AS e_name,
      {{eval_outcome}} AS outcome
    FROM evals WHERE span_id IS NULL
  ) e ON s.trace_id = e.e_trace
  WHERE s.parent_span_id IS NULL
) j
GROUP BY {{keys}}, evaluation
