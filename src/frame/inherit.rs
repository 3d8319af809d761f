//! Trace-level inheritance (docs/span-table.md, "Cohort keys inherited from the trace"): a span lacking
//! route, tenant, user, session or prompt version takes it from its nearest
//! ancestor that has it, then from the earliest span of its trace that has
//! it. Route falls back to the root span's name. Agent comes from the nearest
//! ancestor only (an LLM call belongs to the agent that made it).
//!
//! The same per-trace pass clears the usage that wrapper spans repeat: a
//! span that is not a model call but carries token counts, with a model
//! call carrying token counts below it (the Vercel AI SDK's
//! `ai.generateText` around its `doGenerate` steps, an agent step that
//! totals its calls), counts nothing itself, so no report counts the calls
//! twice.

use std::sync::Arc;

use ahash::AHashMap;

use super::FileCounts;
use crate::span::row::{SpanRow, SpanType};

type Get = fn(&SpanRow) -> &Option<Arc<str>>;
type Set = fn(&mut SpanRow) -> &mut Option<Arc<str>>;

const KEYS: [(Get, Set, bool); 6] = [
    (|r| &r.route, |r| &mut r.route, true),
    (|r| &r.tenant, |r| &mut r.tenant, true),
    (|r| &r.user, |r| &mut r.user, true),
    (|r| &r.session, |r| &mut r.session, true),
    (|r| &r.prompt_version, |r| &mut r.prompt_version, true),
    (|r| &r.agent, |r| &mut r.agent, false),
];

/// Where a row lives: (batch, index within the batch).
type Pos = (u32, u32);

struct Rows<'a>(&'a mut [Vec<SpanRow>]);

impl Rows<'_> {
    fn at(&self, p: Pos) -> &SpanRow {
        &self.0[p.0 as usize][p.1 as usize]
    }
    fn at_mut(&mut self, p: Pos) -> &mut SpanRow {
        &mut self.0[p.0 as usize][p.1 as usize]
    }
}

/// Fill inherited keys in place, over rows kept in batches (as the scan
/// made them), and clear wrappers' repeated usage (counted per file in
/// `per_file`). Rows of one trace may come from several batches or files.
pub(crate) fn inherit(batches: &mut [Vec<SpanRow>], per_file: &mut [FileCounts]) {
    let mut groups: Vec<Vec<Pos>> = {
        let mut by_trace: AHashMap<&str, Vec<Pos>> = AHashMap::new();
        for (b, batch) in batches.iter().enumerate() {
            for (i, r) in batch.iter().enumerate() {
                by_trace
                    .entry(&r.trace_id)
                    .or_default()
                    .push((b as u32, i as u32));
            }
        }
        by_trace.into_values().collect()
    };
    groups.sort_unstable_by_key(|g| g[0]);
    let mut rows = Rows(batches);
    for idx in groups {
        fill_trace(&mut rows, &idx, per_file);
    }
}

/// Whether a span carries token counts.
fn carries_tokens(r: &SpanRow) -> bool {
    r.input_tokens.is_some() || r.output_tokens.is_some()
}

fn is_model_call(r: &SpanRow) -> bool {
    matches!(r.span_type, Some(SpanType::Llm | SpanType::Embedding))
}

/// Clear the usage (tokens and cost) of spans that are not model calls,
/// carry token counts, and have a model call carrying token counts below
/// them: their counts are their calls' again. A span carrying only a cost
/// (a reranking fee) keeps it. Each span is marked once (a walk up stops
/// at a marked span), so this is linear in the trace.
fn clear_rolled_up(
    rows: &mut Rows<'_>,
    idx: &[Pos],
    parent: &[Option<usize>],
    per_file: &mut [FileCounts],
) {
    let n = idx.len();
    let mut call_below = vec![false; n];
    for s in 0..n {
        let r = rows.at(idx[s]);
        if !(is_model_call(r) && carries_tokens(r)) {
            continue;
        }
        // (a span naming itself as its parent is no ancestor of itself)
        let mut cur = parent[s].filter(|&a| a != s);
        while let Some(a) = cur {
            if call_below[a] {
                break;
            }
            call_below[a] = true;
            cur = parent[a];
        }
    }
    for p in 0..n {
        let r = rows.at_mut(idx[p]);
        if call_below[p] && !is_model_call(r) && carries_tokens(r) {
            r.input_tokens = None;
            r.output_tokens = None;
            r.cache_read_tokens = None;
            r.cache_write_tokens = None;
            r.cache_write_1h_tokens = None;
            r.reasoning_tokens = None;
            r.reported_cost_usd = None;
            if let Some(c) = per_file.get_mut(r.file as usize) {
                c.rolled_up += 1;
            }
        }
    }
}

/// What each span of a trace passes to its children for one key: its own
/// value, else what its parent passes (None at a root, or inside a parent
/// cycle of bad data). Each span is walked once: linear in the trace, where
/// a walk up from every span was quadratic in its depth (a 100k-span chain
/// took two minutes).
fn passed_down(
    rows: &Rows<'_>,
    idx: &[Pos],
    parent: &[Option<usize>],
    get: Get,
) -> Vec<Option<Arc<str>>> {
    let n = idx.len();
    let mut known: Vec<Option<Option<Arc<str>>>> = vec![None; n];
    // the walk that last passed a span: a span met twice in one walk is a cycle
    let mut walk: Vec<usize> = vec![usize::MAX; n];
    let mut chain = Vec::new();
    for start in 0..n {
        if known[start].is_some() {
            continue;
        }
        chain.clear();
        let mut cur = Some(start);
        let value = loop {
            let Some(a) = cur else { break None };
            if let Some(v) = &known[a] {
                break v.clone();
            }
            if let Some(v) = get(rows.at(idx[a])) {
                known[a] = Some(Some(v.clone()));
                break Some(v.clone());
            }
            if walk[a] == start {
                break None; // a parent cycle
            }
            walk[a] = start;
            chain.push(a);
            cur = parent[a];
        };
        for &a in &chain {
            known[a] = Some(value.clone());
        }
    }
    known.into_iter().map(Option::flatten).collect()
}

fn fill_trace(rows: &mut Rows<'_>, idx: &[Pos], per_file: &mut [FileCounts]) {
    // parent position within the trace, if the parent is present
    let pos: AHashMap<&str, usize> = idx
        .iter()
        .enumerate()
        .map(|(p, &i)| (rows.at(i).span_id.as_ref(), p))
        .collect();
    let parent: Vec<Option<usize>> = idx
        .iter()
        .map(|&i| {
            rows.at(i)
                .parent_span_id
                .as_deref()
                .and_then(|p| pos.get(p).copied())
        })
        .collect();
    drop(pos);
    clear_rolled_up(rows, idx, &parent, per_file);
    // earliest-starting order, for the trace-wide fallback and the root name
    let mut order: Vec<usize> = (0..idx.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (rows.at(idx[a]), rows.at(idx[b]));
        ra.start_ns
            .cmp(&rb.start_ns)
            .then_with(|| ra.span_id.cmp(&rb.span_id))
    });
    let root_name: Option<Arc<str>> = order
        .iter()
        .find(|&&p| parent[p].is_none())
        .map(|&p| rows.at(idx[p]).name.clone())
        .filter(|n| !n.is_empty());

    for (get, set, trace_wide) in KEYS {
        if idx.iter().all(|&i| get(rows.at(i)).is_some()) {
            continue;
        }
        let trace_value: Option<Arc<str>> = if trace_wide {
            order.iter().find_map(|&p| get(rows.at(idx[p])).clone())
        } else {
            None
        };
        let provided = passed_down(rows, idx, &parent, get);
        let mut filled: Vec<Option<Arc<str>>> = vec![None; idx.len()];
        for p in 0..idx.len() {
            if get(rows.at(idx[p])).is_some() {
                continue;
            }
            filled[p] = parent[p]
                .and_then(|a| provided[a].clone())
                .or_else(|| trace_value.clone());
        }
        for (p, v) in filled.into_iter().enumerate() {
            if v.is_some() {
                *set(rows.at_mut(idx[p])) = v;
            }
        }
    }
    if let Some(name) = root_name {
        for &i in idx {
            let r = rows.at_mut(i);
            if r.route.is_none() {
                r.route = Some(name.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, start: i64) -> SpanRow {
        SpanRow {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            name: format!("n-{id}").into(),
            start_ns: start,
            ..Default::default()
        }
    }

    #[test]
    fn nearest_ancestor_then_trace_then_root_name() {
        // root(route=/chat, tenant=acme) -> agent(tenant=beta, agent=planner) -> llm
        // orphan (parent missing) gets trace-level values; nobody has a user.
        let mut root = span("r", None, 1);
        root.tenant = Some("acme".into());
        root.session = Some("s1".into());
        let mut agent = span("a", Some("r"), 2);
        agent.tenant = Some("beta".into());
        agent.agent = Some("planner".into());
        let llm = span("l", Some("a"), 3);
        let orphan = span("o", Some("missing"), 4);
        // two batches: a trace's rows may be split between them
        let mut batches = vec![vec![llm, orphan], vec![agent, root]];
        inherit(&mut batches, &mut [FileCounts::default()]);
        let rows: Vec<SpanRow> = batches.concat();
        let by = |id: &str| {
            rows.iter()
                .find(|r| r.span_id.as_ref() == id)
                .unwrap()
                .clone()
        };
        assert_eq!(by("l").tenant.as_deref(), Some("beta"));
        assert_eq!(by("l").agent.as_deref(), Some("planner"));
        assert_eq!(by("l").session.as_deref(), Some("s1"));
        assert_eq!(
            by("o").tenant.as_deref(),
            Some("acme"),
            "earliest span of the trace"
        );
        assert_eq!(by("o").agent, None, "agent only from ancestors");
        assert_eq!(by("l").route.as_deref(), Some("n-r"), "root span name");
        assert_eq!(by("o").user, None);
    }

    /// Issue 21: a wrapper that repeats its calls' usage counts nothing
    /// itself; a wrapper with no call below it, and a model call below
    /// another model call, keep theirs.
    #[test]
    fn wrappers_do_not_count_their_calls_twice() {
        let usage = |mut r: SpanRow, t: SpanType, tokens: i64| {
            r.span_type = Some(t);
            r.input_tokens = Some(tokens);
            r.output_tokens = Some(tokens / 10);
            r.reported_cost_usd = Some(0.5);
            r
        };
        // agent step -> generateText wrapper -> two doGenerate calls
        let step = usage(span("step", None, 0), SpanType::Agent, 300);
        let wrap = usage(span("wrap", Some("step"), 1), SpanType::Chain, 300);
        let call1 = usage(span("c1", Some("wrap"), 2), SpanType::Llm, 100);
        let call2 = usage(span("c2", Some("wrap"), 3), SpanType::Llm, 200);
        // a lone wrapper (its calls not exported) and an LLM under an LLM
        let mut lone = usage(span("lone", None, 4), SpanType::Chain, 50);
        lone.trace_id = "t2".into();
        let mut proxy = usage(span("proxy", None, 5), SpanType::Llm, 70);
        proxy.trace_id = "t3".into();
        let mut inner = usage(span("inner", Some("proxy"), 6), SpanType::Llm, 70);
        inner.trace_id = "t3".into();
        let mut batches = vec![vec![step, wrap, call1, call2, lone, proxy, inner]];
        let mut counts = [FileCounts::default()];
        inherit(&mut batches, &mut counts);
        let by = |id: &str| batches[0].iter().find(|r| &*r.span_id == id).unwrap();
        for id in ["step", "wrap"] {
            let r = by(id);
            assert_eq!(
                (r.input_tokens, r.output_tokens, r.reported_cost_usd),
                (None, None, None),
                "{id}"
            );
        }
        for (id, tokens) in [
            ("c1", 100),
            ("c2", 200),
            ("lone", 50),
            ("proxy", 70),
            ("inner", 70),
        ] {
            assert_eq!(by(id).input_tokens, Some(tokens), "{id}");
        }
        assert_eq!(counts[0].rolled_up, 2);

        // not wrappers: a tool under an untyped call (tokens, no model) that
        // carries only a cost; a retriever's fee over an embedding; a span
        // naming itself as its parent
        let mut untyped = usage(span("u", None, 0), SpanType::Other, 500);
        untyped.trace_id = "t4".into();
        let mut tool = span("tool", Some("u"), 1);
        tool.trace_id = "t4".into();
        tool.span_type = Some(SpanType::Tool);
        tool.reported_cost_usd = Some(0.01);
        let mut fee = span("fee", None, 0);
        fee.trace_id = "t5".into();
        fee.span_type = Some(SpanType::Retriever);
        fee.reported_cost_usd = Some(0.002);
        let mut emb = usage(span("emb", Some("fee"), 1), SpanType::Embedding, 40);
        emb.trace_id = "t5".into();
        let mut selfish = usage(span("self", Some("self"), 0), SpanType::Chain, 80);
        selfish.trace_id = "t6".into();
        let mut batches = vec![vec![untyped, tool, fee, emb, selfish]];
        let mut counts = [FileCounts::default()];
        inherit(&mut batches, &mut counts);
        let by = |id: &str| batches[0].iter().find(|r| &*r.span_id == id).unwrap();
        assert_eq!(by("u").input_tokens, Some(500));
        assert_eq!(by("tool").reported_cost_usd, Some(0.01));
        assert_eq!(by("fee").reported_cost_usd, Some(0.002));
        assert_eq!(by("self").input_tokens, Some(80));
        assert_eq!(counts[0].rolled_up, 0);
    }

    /// Issue 19: a 100k-span chain (and a 100k-span parent cycle) inherits
    /// in linear time; the chain's leaf takes the root's value, the cycle
    /// the trace's earliest value.
    #[test]
    fn deep_chains_and_cycles_are_linear() {
        let n = 100_000;
        let mut chain: Vec<SpanRow> = (0..n)
            .map(|i| {
                let parent = (i > 0).then(|| format!("c{}", i - 1));
                span(&format!("c{i}"), parent.as_deref(), i as i64)
            })
            .collect();
        chain[0].tenant = Some("acme".into());
        let mut cycle: Vec<SpanRow> = (0..n)
            .map(|i| {
                let mut r = span(
                    &format!("y{i}"),
                    Some(&format!("y{}", (i + 1) % n)),
                    i as i64,
                );
                r.trace_id = "cycle".into();
                r
            })
            .collect();
        cycle[n / 2].session = Some("s".into());
        let mut batches = vec![chain, cycle];
        let t = std::time::Instant::now();
        inherit(&mut batches, &mut [FileCounts::default()]);
        assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
        assert_eq!(batches[0][n - 1].tenant.as_deref(), Some("acme"));
        // every span of the cycle descends from the one holding the session
        assert!(batches[1].iter().all(|r| r.session.as_deref() == Some("s")));
    }
}
