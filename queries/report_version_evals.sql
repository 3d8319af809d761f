-- Evaluation outcomes per cohort, prompt version and evaluation name (the
-- rule of slo_evals.sql), with the version's first evaluated span: the
-- report's pass-rate-per-version chart.
SELECT {{keys}}, version, evaluation, SUM(outcome) AS passed, COUNT(outcome) AS judged,
  MIN(start_ns) AS first_ns
FROM (
  SELECT {{keys}}, CAST(prompt_version AS VARCHAR) AS version, start_ns, e_name AS evaluation, outcome
  FROM {{spans}} s
  JOIN (
    SELECT trace_id AS e_trace, span_id AS e_span, name AS e_name,
      {{eval_outcome}} AS outcome
    FROM evals WHERE span_id IS NOT NULL
  ) e ON s.trace_id = e.e_trace AND s.span_id = e.e_span
  UNION ALL
  SELECT {{keys}}, CAST(prompt_version AS VARCHAR) AS version, start_ns, e_name AS evaluation, outcome
  FROM {{spans}} s
  JOIN (
    SELECT trace_id AS e_trace, name AS e_name,
      {{eval_outcome}} AS outcome
    FROM evals WHERE span_id IS NULL
  ) e ON s.trace_id = e.e_trace
  WHERE s.parent_span_id IS NULL
) j
WHERE version IS NOT NULL
GROUP BY {{keys}}, version, evaluation
