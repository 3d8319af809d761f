//! The terminal view of a table that fits a width: short two-line headers
//! (`latency` over `p50 ms`, `p95 ms`, ...), the columns a table marks
//! [`wide`](super::model::Table::wide) left out, then the least important
//! ones from the right until the rows fit, and lists of ids moved under
//! the table so an id is never cut and a row never wraps. Piped output
//! and `--wide` keep every column under its full name.

use unicode_width::UnicodeWidthStr;

use super::model::{Table, Unit};

/// Columns kept whatever the width, besides the cohort keys: what a row
/// is about and its verdict.
const PINNED: &[&str] = &[
    "objective",
    "evaluation",
    "metric",
    "field",
    "kind",
    "severity",
    "verdict",
    "status",
    "alert",
    "budget",
    "trace_id",
];

/// A column of ids a person copies: never cut.
pub fn is_id(name: &str) -> bool {
    name == "trace_id" || name.ends_with("_id")
}

/// `s` in at most `max` columns of a terminal, `…` marking a cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for ch in s.chars() {
        if out.width() + ch.to_string().width() + 1 > max {
            break;
        }
        out.push(ch);
    }
    out.push('…');
    out
}

/// What a fitted table shows.
#[derive(Debug, PartialEq)]
pub struct Layout {
    /// the grid's columns, in order
    pub shown: Vec<usize>,
    /// their two header lines (the first empty under a group already named)
    pub header: Vec<(String, String)>,
    /// left out to fit, in column order
    pub hidden: Vec<usize>,
    /// list columns (ids), printed under the table
    pub lists: Vec<usize>,
}

/// The longest `_`-boundary prefix of `name` that `other` shares.
fn shared_prefix<'a>(name: &'a str, other: &str) -> Option<&'a str> {
    name.rmatch_indices('_').map(|(i, _)| &name[..i]).find(|p| {
        other.len() > p.len() && other.starts_with(p) && other[p.len()..].starts_with('_')
    })
}

/// The two header lines of each column: a run of neighbours sharing a
/// prefix shows it once over the run (`latency` / `p50 ms`, `p95 ms`); a
/// lone `a_b` name is split at its first `_`; a one-word name sits on the
/// second line.
pub fn headers(names: &[&str]) -> Vec<(String, String)> {
    let mut groups: Vec<(String, String)> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| shared_prefix(name, names[j]));
        let next = names.get(i + 1).and_then(|n| shared_prefix(name, n));
        let group = match (prev, next) {
            (Some(a), Some(b)) => Some(if a.len() >= b.len() { a } else { b }),
            (a, b) => a.or(b),
        };
        let (g, label) = match group {
            Some(g) => (g, &name[g.len() + 1..]),
            None => match name.split_once('_') {
                Some((g, rest)) => (g, rest),
                None => ("", *name),
            },
        };
        groups.push((g.replace('_', " "), label.replace('_', " ")));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (i, (g, label)) in groups.iter().enumerate() {
        let repeated = i > 0 && !g.is_empty() && groups[i - 1].0 == *g;
        out.push((
            if repeated { String::new() } else { g.clone() },
            label.clone(),
        ));
    }
    out
}

/// The grid's width: `│ cell ┆ cell │`, one space of padding each side.
fn grid_width(widths: &[usize]) -> usize {
    1 + widths.iter().map(|w| w + 3).sum::<usize>()
}

/// The view of `t` (its cells already formatted, `cells[row][col]`) that
/// fits `width` columns.
pub fn layout(t: &Table, cells: &[Vec<String>], width: usize) -> Layout {
    let lists: Vec<usize> = (0..t.columns.len())
        .filter(|&c| t.columns[c].unit == Unit::List)
        .collect();
    let mut shown: Vec<usize> = (0..t.columns.len())
        .filter(|&c| !t.columns[c].wide && !lists.contains(&c))
        .collect();
    let droppable = |c: usize| c >= t.keys && !PINNED.contains(&t.columns[c].name.as_str());
    let content: Vec<usize> = (0..t.columns.len())
        .map(|c| cells.iter().map(|r| r[c].width()).max().unwrap_or(0))
        .collect();
    // what goes first: the table's own order (`a+b` together), then the
    // rest from the right, one at a time
    let index = |name: &str| t.columns.iter().position(|c| c.name == name);
    let mut order: Vec<Vec<usize>> = t
        .drop_order
        .iter()
        .map(|e| e.split('+').filter_map(index).collect())
        .collect();
    let listed: Vec<usize> = order.iter().flatten().copied().collect();
    order.extend(
        (0..t.columns.len())
            .rev()
            .filter(|c| !listed.contains(c))
            .map(|c| vec![c]),
    );
    let mut order = order
        .into_iter()
        .map(|g| g.into_iter().filter(|&c| droppable(c)).collect::<Vec<_>>())
        .filter(|g| !g.is_empty());
    loop {
        let names: Vec<&str> = shown.iter().map(|&c| t.columns[c].name.as_str()).collect();
        let header = headers(&names);
        let widths: Vec<usize> = shown
            .iter()
            .zip(&header)
            .map(|(&c, (a, b))| content[c].max(a.width()).max(b.width()))
            .collect();
        let fits = grid_width(&widths) <= width;
        // the next group still shown, never the last column
        let next = (!fits)
            .then(|| order.find(|g| g.iter().any(|c| shown.contains(c))))
            .flatten()
            .filter(|g| shown.iter().any(|c| !g.contains(c)));
        match next {
            Some(g) => shown.retain(|c| !g.contains(c)),
            None => {
                let hidden = (0..t.columns.len())
                    .filter(|c| !shown.contains(c) && !lists.contains(c))
                    .collect();
                return Layout {
                    shown,
                    header,
                    hidden,
                    lists,
                };
            }
        }
    }
}

/// `text` in lines of at most `width` columns, broken at spaces (a word
/// longer than the width stands alone, whole); the first line after
/// `first`, the others after `rest`.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.width() + 1 + word.width() > width {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_group_neighbours_by_prefix() {
        let h = headers(&[
            "route",
            "error_rate",
            "latency_p50_ms",
            "latency_p95_ms",
            "per_trace_p50_usd",
            "per_trace_p95_usd",
            "n_baseline",
        ]);
        let want = [
            ("", "route"),
            ("error", "rate"),
            ("latency", "p50 ms"),
            ("", "p95 ms"),
            ("per trace", "p50 usd"),
            ("", "p95 usd"),
            ("n", "baseline"),
        ];
        assert_eq!(
            h,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
    }

    fn table() -> (Table, Vec<Vec<String>>) {
        let t = Table::with_keys(
            "t",
            "T",
            &["route".to_string()],
            &[
                ("spans", Unit::Count),
                ("traces", Unit::Count),
                ("latency_p50_ms", Unit::Ms),
                ("latency_p99_ms", Unit::Ms),
                ("verdict", Unit::Text),
                ("open", Unit::List),
            ],
        )
        .wide(&["traces"]);
        let cells = vec![
            ["/chat", "12", "7", "1,234.5", "9,876.5", "regressed", "a b"]
                .map(String::from)
                .to_vec(),
        ];
        (t, cells)
    }

    #[test]
    fn a_layout_drops_wide_then_rightmost_columns_and_keeps_verdicts() {
        let (t, cells) = table();
        // everything but the wide column and the list fits 100
        let l = layout(&t, &cells, 100);
        assert_eq!(l.shown, [0, 1, 3, 4, 5]);
        assert_eq!(l.hidden, [2]);
        assert_eq!(l.lists, [6]);
        // widths 5, 5, 7, 7, 9 (route, spans, p50, p99, verdict), each + 3, + 1 = 49
        let l = layout(&t, &cells, 48);
        assert_eq!(l.shown, [0, 1, 3, 5], "p99 goes first, the verdict stays");
        // nothing droppable left: the keys and the verdict stay whatever the width
        let l = layout(&t, &cells, 10);
        assert_eq!(l.shown, [0, 5]);
        assert_eq!(l.hidden, [1, 2, 3, 4]);
    }

    #[test]
    fn a_table_says_what_goes_first_and_pairs_go_together() {
        let t = Table::new(
            "t",
            "T",
            &[
                ("model", Unit::Text),
                ("baseline", Unit::Number),
                ("candidate", Unit::Number),
                ("ci_low", Unit::Number),
                ("ci_high", Unit::Number),
                ("spans", Unit::Count),
            ],
        )
        .drop_first(&["ci_low+ci_high", "baseline"]);
        let cells = vec![["gpt-4o", "1.00", "2.00", "0.50", "3.00", "7"]
            .map(String::from)
            .to_vec()];
        // widths 6, 8, 9, 4 (ci / low), 4, 5, each + 3, + 1 = 55
        assert_eq!(layout(&t, &cells, 55).shown, [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            layout(&t, &cells, 54).shown,
            [0, 1, 2, 5],
            "both ends at once"
        );
        assert_eq!(layout(&t, &cells, 40).shown, [0, 2, 5]);
        // then from the right; a table without keys keeps one column
        assert_eq!(layout(&t, &cells, 29).shown, [0, 2]);
        assert_eq!(layout(&t, &cells, 5).shown, [0]);
    }

    #[test]
    fn long_text_is_cut_to_its_width() {
        assert_eq!(cut("/chat", 16), "/chat");
        let long = format!("/{}", "a".repeat(200));
        assert_eq!(cut(&long, 16).chars().count(), 16);
        assert!(cut(&long, 16).ends_with('…'));
        // wide characters count twice
        assert_eq!(cut("日本語日本語日本語", 7).width(), 7);
        assert!(is_id("trace_id") && !is_id("route"));
    }

    #[test]
    fn wrap_breaks_at_spaces_and_never_cuts_a_word() {
        assert_eq!(wrap("aa bb cc dd", 8, "k: ", "  "), ["k: aa bb", "  cc dd"]);
        let id = "4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7";
        assert_eq!(
            wrap(&format!("x {id}"), 20, "", "  "),
            ["x", &format!("  {id}")]
        );
    }
}
