-- Evaluation scores (as log buckets; NULL when the evaluation has no
-- score) and labels per cohort, window and evaluation name. An evaluation
-- on a span takes that span's cohort and window; one without a span id
-- takes its trace's root span's.
SELECT {{keys}}, evaluation, b, label, COUNT(*) AS n
FROM (
  SELECT {{keys}}, evaluation, label,
    CASE WHEN score IS NULL THEN NULL ELSE logbucket(score) END AS b
  FROM (
    SELECT {{keys}}, e_name AS evaluation, e_score AS score, e_label AS label
    FROM {{spans}} s
    JOIN (
      SELECT trace_id AS e_trace, span_id AS e_span, name AS e_name, score AS e_score, label AS e_label
      FROM evals WHERE span_id IS NOT NULL
    ) e ON s.trace_id = e.e_trace AND s.span_id = e.e_span
    UNION ALL
    SELECT {{keys}}, e_name AS evaluation, e_score AS score, e_label AS label
    FROM {{spans}} s
    JOIN (
      SELECT trace_id AS e_trace, name AS e_name, score AS e_score, label AS e_label
      FROM evals WHERE span_id IS NULL
    ) e ON s.trace_id = e.e_trace
    WHERE s.parent_span_id IS NULL
  ) j
) x
GROUP BY {{keys}}, evaluation, b, label
