//! Trace-level inheritance (span-model.md, "Cohort keys"): a span lacking
//! route, tenant, user, session or prompt version takes it from its nearest
//! ancestor that has it, then from the earliest span of its trace that has
//! it. Route falls back to the root span's name. Agent comes from the nearest
//! ancestor only (an LLM call belongs to the agent that made it).

use ahash::AHashMap;

use super::row::SpanRow;

type Get = fn(&SpanRow) -> &Option<Box<str>>;
type Set = fn(&mut SpanRow) -> &mut Option<Box<str>>;

const KEYS: [(Get, Set, bool); 6] = [
    (|r| &r.route, |r| &mut r.route, true),
    (|r| &r.tenant, |r| &mut r.tenant, true),
    (|r| &r.user, |r| &mut r.user, true),
    (|r| &r.session, |r| &mut r.session, true),
    (|r| &r.prompt_version, |r| &mut r.prompt_version, true),
    (|r| &r.agent, |r| &mut r.agent, false),
];

/// Fill inherited keys in place. Rows of one trace may come from several files.
pub fn inherit(rows: &mut [SpanRow]) {
    let mut by_trace: AHashMap<&str, Vec<usize>> = AHashMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_trace.entry(&r.trace_id).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by_trace.into_values().collect();
    groups.sort_unstable_by_key(|g| g[0]);
    for idx in groups {
        fill_trace(rows, &idx);
    }
}

fn fill_trace(rows: &mut [SpanRow], idx: &[usize]) {
    // parent position within the trace, if the parent is present
    let pos: AHashMap<&str, usize> = idx
        .iter()
        .enumerate()
        .map(|(p, &i)| (rows[i].span_id.as_ref(), p))
        .collect();
    let parent: Vec<Option<usize>> = idx
        .iter()
        .map(|&i| {
            rows[i]
                .parent_span_id
                .as_deref()
                .and_then(|p| pos.get(p).copied())
        })
        .collect();
    // earliest-starting order, for the trace-wide fallback and the root name
    let mut order: Vec<usize> = (0..idx.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[idx[a]], &rows[idx[b]]);
        ra.start_ns
            .cmp(&rb.start_ns)
            .then_with(|| ra.span_id.cmp(&rb.span_id))
    });
    let root_name: Option<Box<str>> = order
        .iter()
        .find(|&&p| parent[p].is_none())
        .map(|&p| rows[idx[p]].name.clone())
        .filter(|n| !n.is_empty());

    for (get, set, trace_wide) in KEYS {
        if idx.iter().all(|&i| get(&rows[i]).is_some()) {
            continue;
        }
        let trace_value: Option<Box<str>> = if trace_wide {
            order.iter().find_map(|&p| get(&rows[idx[p]]).clone())
        } else {
            None
        };
        let mut filled: Vec<Option<Box<str>>> = vec![None; idx.len()];
        for p in 0..idx.len() {
            if get(&rows[idx[p]]).is_some() {
                continue;
            }
            let mut cur = parent[p];
            let mut steps = 0;
            while let Some(a) = cur {
                if let Some(v) = get(&rows[idx[a]]) {
                    filled[p] = Some(v.clone());
                    break;
                }
                cur = parent[a];
                steps += 1;
                if steps > idx.len() {
                    break; // a parent cycle in bad data
                }
            }
            if filled[p].is_none() {
                filled[p] = trace_value.clone();
            }
        }
        for (p, v) in filled.into_iter().enumerate() {
            if v.is_some() {
                *set(&mut rows[idx[p]]) = v;
            }
        }
    }
    if let Some(name) = root_name {
        for &i in idx {
            if rows[i].route.is_none() {
                rows[i].route = Some(name.clone());
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
        let mut rows = vec![llm, orphan, agent, root];
        inherit(&mut rows);
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
}
