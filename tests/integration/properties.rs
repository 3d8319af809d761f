//! Issue 7, the invariants of docs/reliability.md as properties (proptest):
//! PSI >= 0; JS distance in [0, 1] and symmetric; percentiles monotone in
//! q and within [min, max]; cost additive over any partition of the spans;
//! OTLP -> Parquet -> read back preserves every field. The cases come from
//! a fixed seed: the same on every run, so CI passes or fails for a reason.

use proptest::prelude::*;
use serde_json::{json, Value};
use spanlens::pricing::{ModelPrice, Rates, Tier, Tokens};
use spanlens::stats::drift::{js_distance, psi, shares};
use spanlens::stats::quantile::{quantile, quantile_log_buckets, quantile_weighted};

use crate::common::{load_paths, run, stderr};

fn counts() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
    (1usize..24).prop_flat_map(|b| {
        (
            prop::collection::vec(0u64..5_000, b),
            prop::collection::vec(0u64..5_000, b),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..ProptestConfig::default()
    })]

    #[test]
    fn psi_is_never_negative((a, b) in counts()) {
        let v = psi(&shares(&a), &shares(&b));
        prop_assert!(v >= 0.0, "psi {v}");
        prop_assert!(v.is_finite());
        prop_assert_eq!(psi(&shares(&a), &shares(&a)), 0.0);
    }

    #[test]
    fn js_distance_is_in_0_1_and_symmetric((a, b) in counts()) {
        let (p, q) = (shares(&a), shares(&b));
        let d = js_distance(&p, &q);
        prop_assert!((0.0..=1.0).contains(&d), "js {d}");
        prop_assert!((d - js_distance(&q, &p)).abs() <= 1e-12, "not symmetric");
        prop_assert!(js_distance(&p, &p) <= 1e-7);
        // disjoint supports: the distance is 1, never past it
        let (mut x, mut y) = (a.clone(), b.clone());
        for (i, v) in x.iter_mut().enumerate() {
            if i % 2 == 0 { *v += 1 } else { *v = 0 }
        }
        for (i, v) in y.iter_mut().enumerate() {
            if i % 2 == 0 { *v = 0 } else { *v += 1 }
        }
        if x.len() > 1 {
            let d = js_distance(&shares(&x), &shares(&y));
            prop_assert!(d <= 1.0 && (d - 1.0).abs() <= 1e-12, "disjoint: {d}");
        }
    }

    #[test]
    fn percentiles_are_monotone_and_within_range(
        v in prop::collection::vec(-1e6f64..1e9, 1..300),
        mut qs in prop::collection::vec(0.0f64..=1.0, 2..12),
    ) {
        qs.sort_by(f64::total_cmp);
        let (min, max) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let mut last = f64::MIN;
        for &q in &qs {
            let x = quantile(&v, q).unwrap();
            prop_assert!(x >= last, "q {q}: {x} < {last}");
            prop_assert!(x >= min && x <= max, "q {q}: {x} outside [{min}, {max}]");
            last = x;
        }
        prop_assert_eq!(quantile(&v, 0.0), Some(min));
        prop_assert_eq!(quantile(&v, 1.0), Some(max));
        // the weighted form equals the expanded one
        let pairs: Vec<(f64, u64)> = v.iter().map(|&x| (x, 1)).collect();
        for &q in &qs {
            prop_assert_eq!(quantile_weighted(&pairs, q), quantile(&v, q));
        }
    }

    #[test]
    fn log_bucket_percentiles_are_monotone_and_within_range(
        b in prop::collection::vec((-200i64..1500, 1u64..50), 1..100),
        mut qs in prop::collection::vec(0.0f64..=1.0, 2..12),
    ) {
        qs.sort_by(f64::total_cmp);
        let mut last = f64::MIN;
        let lo = quantile_log_buckets(&b, 0.0).unwrap();
        let hi = quantile_log_buckets(&b, 1.0).unwrap();
        for &q in &qs {
            let x = quantile_log_buckets(&b, q).unwrap();
            prop_assert!(x >= last && x >= lo && x <= hi, "q {q}: {x}");
            last = x;
        }
    }

    /// The cost of a set of spans is the sum of the costs of any partition
    /// of it (tiers are chosen per span, so a partition cannot move a span
    /// across a tier).
    #[test]
    fn cost_is_additive_over_any_partition(
        spans in prop::collection::vec(
            (0u64..400_000, 0u64..50_000, 0u64..300_000, 0u64..50_000, 0u64..60_000, 0usize..4, 0u64..50_000),
            1..200,
        ),
    ) {
        let rates = Rates {
            input: 2.5e-6,
            output: 1e-5,
            cache_read: Some(1.25e-6),
            cache_write: None,
            cache_write_1h: Some(6e-6),
            reasoning: Some(1.2e-5),
        };
        let price = ModelPrice {
            key: "m".into(),
            provider: None,
            base: rates,
            tiers: vec![Tier {
                above: 200_000,
                inclusive: false,
                rates: Rates { input: 5e-6, output: 1.5e-5, ..rates },
            }],
            services: Vec::new(),
        };
        let tokens: Vec<(Tokens, usize)> = spans
            .iter()
            .map(|&(input, output, cache_read, cache_write, reasoning, part, cache_write_1h)| {
                (Tokens { input, output, cache_read, cache_write, cache_write_1h, reasoning }, part)
            })
            .collect();
        let total: f64 = tokens.iter().map(|(t, _)| price.cost(t).total()).sum();
        let parts: f64 = (0..4)
            .map(|p| {
                tokens
                    .iter()
                    .filter(|(_, q)| *q == p)
                    .map(|(t, _)| price.cost(t).total())
                    .sum::<f64>()
            })
            .sum();
        prop_assert!((total - parts).abs() <= 1e-9 * total.max(1e-9), "{total} vs {parts}");
        for (t, _) in &tokens {
            let c = price.cost(t);
            prop_assert!(c.input >= 0.0 && c.cache_read >= 0.0 && c.output >= 0.0 && c.reasoning >= 0.0);
            let [a, b, c2, d, e] = t.by_kind();
            prop_assert_eq!(a + b + c2, t.input, "input split");
            prop_assert_eq!(d + e, t.output, "output split");
        }
    }
}

/// A value of one OTLP attribute, of any scalar type.
fn attr_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,12}|[|`<>*_#\\n]{1,6}|\u{e9}\u{4e2d}\u{1F600}"
            .prop_map(|s| json!({"stringValue": s})),
        (-1_000_000i64..1_000_000).prop_map(|i| json!({"intValue": i.to_string()})),
        (-1e6f64..1e6).prop_map(|d| json!({"doubleValue": d})),
        any::<bool>().prop_map(|b| json!({"boolValue": b})),
    ]
}

#[derive(Debug, Clone)]
struct GenSpan {
    name: String,
    start: i64,
    dur: i64,
    model: Option<String>,
    input: Option<u32>,
    output: Option<u32>,
    error: bool,
    extra: Vec<(String, Value)>,
}

fn gen_span() -> impl Strategy<Value = GenSpan> {
    (
        "[a-z .|]{1,16}",
        1_767_225_600_000_000_000i64..1_767_916_800_000_000_000,
        0i64..120_000_000_000,
        prop::option::of("(gpt-4o|claude-sonnet-4|x-[a-z0-9]{1,6})"),
        prop::option::of(0u32..2_000_000),
        prop::option::of(0u32..100_000),
        any::<bool>(),
        prop::collection::vec(("app\\.[a-z]{1,8}", attr_value()), 0..4),
    )
        .prop_map(
            |(name, start, dur, model, input, output, error, extra)| GenSpan {
                name,
                start,
                dur,
                model,
                input,
                output,
                error,
                extra,
            },
        )
}

fn otlp_line(spans: &[GenSpan], trace: usize) -> String {
    let items: Vec<Value> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut attrs = vec![json!({"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}})];
            if let Some(m) = &s.model {
                attrs.push(json!({"key": "gen_ai.request.model", "value": {"stringValue": m}}));
            }
            if let Some(n) = s.input {
                attrs.push(json!({"key": "gen_ai.usage.input_tokens", "value": {"intValue": n}}));
            }
            if let Some(n) = s.output {
                attrs.push(json!({"key": "gen_ai.usage.output_tokens", "value": {"intValue": n.to_string()}}));
            }
            for (k, v) in &s.extra {
                attrs.push(json!({"key": k, "value": v}));
            }
            let mut span = json!({
                "traceId": format!("{:032x}", trace + 1),
                "spanId": format!("{:016x}", (trace << 8) + i + 1),
                "name": s.name,
                "kind": 3,
                "startTimeUnixNano": s.start.to_string(),
                "endTimeUnixNano": (s.start + s.dur).to_string(),
                "attributes": attrs,
                "status": {"code": if s.error { 2 } else { 1 }},
            });
            if i > 0 {
                span["parentSpanId"] = json!(format!("{:016x}", (trace << 8) + 1));
            }
            span
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeSpans": [{"scope": {"name": "prop"}, "spans": items}]
    }]})
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..ProptestConfig::default()
    })]

    /// Reading OTLP lines, writing the canonical Parquet and reading it
    /// back gives the same table, every column and attribute.
    #[test]
    fn otlp_to_parquet_round_trip_is_lossless(
        traces in prop::collection::vec(prop::collection::vec(gen_span(), 1..6), 1..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.otlp.jsonl");
        let text: Vec<String> = traces.iter().enumerate().map(|(i, t)| otlp_line(t, i)).collect();
        std::fs::write(&input, text.join("\n") + "\n").unwrap();
        let out = dir.path().join("spans.parquet");
        let o = run(&["ingest", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q"]);
        prop_assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let direct = load_paths(&[&input]);
        let back = load_paths(&[&out]);
        let n: usize = traces.iter().map(Vec::len).sum();
        prop_assert_eq!(direct.spans.height(), n);
        prop_assert_eq!(direct.rejected(), 0);
        prop_assert!(back.spans.equals_missing(&direct.spans), "spans differ after the round trip");
        prop_assert!(back.evals.equals_missing(&direct.evals), "evals differ after the round trip");
    }
}
