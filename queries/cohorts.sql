-- Spans per cohort. Phase 1 of every report: --top and --min-count pick
-- the cohorts kept; the rest is grouped as __other__ in later queries.
SELECT {{keys}}, COUNT(*) AS spans
FROM {{spans}} s
WHERE {{kind}}
GROUP BY {{keys}}
