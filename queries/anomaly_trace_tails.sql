-- The per-trace tail rules of the anomaly statistics (cost, tokens, LLM
-- calls and duration per trace) judged against each cohort's own baseline:
-- {{param:traces}} is anomaly_traces over the baseline and the current
-- window (staged once as a table: t is read three times below; its
-- {{keys}} end with arm). Per cohort ({{param:cohort}}, joined on
-- {{param:on}}): the baseline's trace count and 99th percentile of each
-- metric and its largest value (tb), and the current window's counts (tr). Only the current traces above a bound, or with at
-- least {{param:loop_floor}} LLM calls, come back, each carrying its
-- cohort's figures; Rust tests the counts. A cohort with no baseline keeps
-- its rows (bounds NULL) so its loops are still seen. Costs are rounded to
-- 1e-12 as everywhere else.
WITH t AS (
  SELECT {{keys}}, trace_id, start_ns, llm_calls, tokens, duration_ms,
    CASE WHEN ABS(cost) < 1000000 THEN ROUND(cost * CAST(1000000000000 AS DOUBLE))
      / CAST(1000000000000 AS DOUBLE) ELSE cost END AS cost
  FROM ({{param:traces}}) x
),
tb AS (
  SELECT {{param:cohort}}, COUNT(*) AS base_traces,
    COUNT(cost) AS cost_base, QUANTILE_CONT(cost, 0.99) AS cost_bound, MAX(cost) AS cost_max,
    COUNT(tokens) AS tokens_base, QUANTILE_CONT(tokens, 0.99) AS tokens_bound, MAX(tokens) AS tokens_max,
    COUNT(llm_calls) AS calls_base, QUANTILE_CONT(llm_calls, 0.99) AS calls_bound, MAX(llm_calls) AS calls_max,
    COUNT(duration_ms) AS duration_base, QUANTILE_CONT(duration_ms, 0.99) AS duration_bound, MAX(duration_ms) AS duration_max
  FROM t
  WHERE arm = {{param:baseline}}
  GROUP BY {{param:cohort}}
),
tc AS (
  SELECT a.*, b.base_traces, b.cost_base, b.cost_bound, b.cost_max, b.tokens_base, b.tokens_bound,
    b.tokens_max, b.calls_base, b.calls_bound, b.calls_max, b.duration_base, b.duration_bound,
    b.duration_max
  FROM (SELECT * FROM t WHERE arm <> {{param:baseline}}) a LEFT JOIN tb b ON {{param:on}}
),
tr AS (
  SELECT {{param:cohort}}, COUNT(*) AS traces, COUNT(cost) AS cost_n, COUNT(tokens) AS tokens_n,
    COUNT(llm_calls) AS calls_n, COUNT(duration_ms) AS duration_n
  FROM tc
  GROUP BY {{param:cohort}}
)
SELECT a.*, b.traces, b.cost_n, b.tokens_n, b.calls_n, b.duration_n
FROM tc a JOIN tr b ON {{param:on}}
WHERE a.cost > a.cost_bound OR a.tokens > a.tokens_bound OR a.llm_calls > a.calls_bound
  OR a.duration_ms > a.duration_bound
  OR (a.llm_calls >= {{param:loop_floor}} AND (a.calls_bound IS NULL OR a.llm_calls > a.calls_bound))
