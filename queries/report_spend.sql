-- Spend in three windows (the report window, the day before it, the
-- baseline) from the wrapped span costs: the summary's spend lines.
SELECT
  SUM(CASE WHEN start_ns >= {{param:cur_start}} AND start_ns < {{param:cur_end}} THEN span_cost ELSE 0 END) AS current_usd,
  SUM(CASE WHEN start_ns >= {{param:prev_start}} AND start_ns < {{param:prev_end}} THEN span_cost ELSE 0 END) AS previous_usd,
  SUM(CASE WHEN start_ns >= {{param:base_start}} AND start_ns < {{param:base_end}} THEN span_cost ELSE 0 END) AS baseline_usd
FROM ({{param:span_costs}}) c
