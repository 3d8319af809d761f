//! `spanlens query`: a user's SQL template over the canonical tables.

use crate::common::*;

#[test]
fn query_runs_a_user_template() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.sql");
    std::fs::write(
        &q,
        "-- spans and tokens per cohort\nSELECT {{keys}}, COUNT(*) AS spans, SUM(input_tokens) AS input\nFROM {{spans}} s WHERE {{kind}} GROUP BY {{keys}} ORDER BY {{keys}}\n",
    )
    .unwrap();
    let v = json_of(&[
        "query",
        q.to_str().unwrap(),
        &p(COST),
        "--current",
        DAY,
        "--by",
        "route",
        "--format",
        "json",
    ]);
    let rows = v["tables"]["result"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["k0"], "/a");
    assert_eq!(rows[0]["spans"], 4);
    assert_eq!(rows[0]["input"], 14000);
    let o = run(&["query", q.to_str().unwrap(), &p(COST), "--explain"]);
    let sql = String::from_utf8_lossy(&o.stdout);
    assert!(
        sql.contains("FROM (SELECT *, 'all' AS k0 FROM spans WHERE start_ns >="),
        "{sql}"
    );
}
