//! Number and text formatting for humans: the only place rounding happens.
//! JSON and Parquet carry raw values.

use chrono::{TimeZone, Utc};

pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn pct(share: Option<f64>) -> String {
    match share {
        Some(p) => format!("{:.1}%", p * 100.0),
        None => "-".into(),
    }
}

pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// RFC 3339 UTC with milliseconds.
pub fn time_ns(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A time for machines (JSON): RFC 3339 in UTC with nine fractional
/// digits (`2026-01-07T23:40:54.068123000Z`), so times sort as text.
pub fn rfc3339(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A length of time, coarsely: `3d 4h`, `36h`, `15m`, `42s`.
pub fn duration_ns(ns: i64) -> String {
    let s = ns.max(0) / 1_000_000_000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    // under three days, whole hours read better as hours (36h, not 1d 12h)
    let (d, h) = if d < 3 && s % 3600 == 0 {
        (0, d * 24 + h)
    } else {
        (d, h)
    };
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// Text from span data made safe for a terminal: control characters
/// (including ANSI escapes) replaced, length bounded (docs/reliability.md #5).
pub fn terminal_safe(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for (i, c) in s.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { '·' } else { c });
    }
    out
}

/// USD rounded to 1e-4 (docs/statistics.md "Cost").
pub fn usd(x: f64) -> String {
    if x < 0.0 {
        return if format!("{:.4}", -x) == "0.0000" {
            usd(0.0)
        } else {
            format!("-{}", usd(-x))
        };
    }
    format!("${}", grouped(&format!("{x:.4}")))
}

/// A formatted decimal with its whole part's thousands grouped
/// (`-12345.60` -> `-12,345.60`); anything else (`inf`, `NaN`) as it is.
/// Rounding happens before grouping, so `999.99996` is `1,000.0000`.
fn grouped(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (whole, frac) = rest.split_once('.').map_or((rest, ""), |(w, f)| (w, f));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + whole.len() / 3);
    out.push_str(sign);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Milliseconds with one decimal, thousands grouped.
pub fn ms(x: f64) -> String {
    grouped(&format!("{x:.1}"))
}

/// Tokens: a whole number, thousands grouped (a mean of 534.27 tokens
/// reads 534).
pub fn tokens(x: f64) -> String {
    if x.is_finite() {
        // round half away from zero; -0.4 reads 0, not -0
        grouped(&format!("{:.0}", x.round() + 0.0))
    } else {
        number(x)
    }
}

/// A plain number: two decimals, thousands grouped, or "inf".
pub fn number(x: f64) -> String {
    if x.is_infinite() {
        if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        grouped(&format!("{x:.2}"))
    }
}

/// A statistic or p-value: 4 decimals, scientific notation below 1e-4.
pub fn stat(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-4 {
        format!("{x:.1e}")
    } else {
        format!("{x:.4}")
    }
}

/// U+2060: no width, no break; splits a pattern GitHub would link.
const WORD_JOINER: char = '\u{2060}';

/// Text made inert in Markdown, in a table cell, a list item or a
/// paragraph of its own (docs/reliability.md): what could open emphasis,
/// code, a link, an image, HTML, strikethrough or a new cell is escaped,
/// and so is a block marker at its start (`#`, `>`, `-`, `+`, `=`, `1.`);
/// leading blanks and control characters are dropped (four spaces would
/// open a code block, a line break would hide a marker), later ones become
/// spaces; a word joiner splits what GitHub links after parsing (`://`,
/// `www.`, `@name`, `#12`). Only what can form markup is escaped, so the
/// tool's own sentences read as written: `file(s)`, `quantile_cont` and
/// `a -> b` stay as they are (`(` needs a `]` before it, an underscore
/// between letters opens nothing, `>` closes only what `<` opened).
pub fn markdown_safe(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().take(max.saturating_add(1)).collect();
    let word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    let mut out = String::with_capacity(s.len() + 8);
    // where a block marker would be (after what is dropped), and a
    // leading run of digits there, for `1.` and `1)` list markers
    let lead = chars
        .iter()
        .take_while(|c| c.is_whitespace() || c.is_control())
        .count();
    let digits = chars[lead..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    // the end, a blank or `same` at `i` (`##`, `---`, `===` open blocks too)
    let blank_or =
        |i: usize, same: char| chars.get(i).is_none_or(|n| n.is_whitespace() || *n == same);
    for (i, &c) in chars.iter().enumerate().skip(lead) {
        if i >= max {
            out.push('…');
            break;
        }
        let at_start = i == lead;
        let escape = match c {
            // `$` opens math on GitHub
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' | '$' => true,
            // emphasis opens or closes only at a word boundary
            '_' => !(word(i.checked_sub(1)) && word(Some(i + 1))),
            // block markers: only where one would open (`-5%` and `1.5`
            // open nothing)
            '>' => at_start,
            '#' | '-' | '+' | '=' => at_start && blank_or(i + 1, c),
            '.' | ')' => (1..=9).contains(&digits) && i == lead + digits && blank_or(i + 1, ' '),
            _ => false,
        };
        match c {
            _ if escape => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            // an entity (`&lt;`, `&#60;`) starts with & and a letter or #
            '&' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_alphanumeric() || *n == '#') =>
            {
                out.push_str("&amp;")
            }
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        // GitHub links `https://...` and `www.` and turns `@name` and
        // `#12` into mentions and issue links after parsing, so escapes
        // cannot stop it: an invisible word joiner breaks each pattern
        let next = chars.get(i + 1).copied();
        let word_start = !word(i.checked_sub(1));
        let breaks = match c {
            ':' => chars.get(i + 1..i + 3) == Some(&['/', '/'][..]),
            'w' => word_start && chars.get(i..i + 4) == Some(&['w', 'w', 'w', '.'][..]),
            // `@name` a mention, `me@example.com` an e-mail link (its
            // domain has a dot: `refunds@v4` links nothing)
            '@' => {
                next.is_some_and(|n| n.is_alphanumeric())
                    && (word_start || {
                        let domain: Vec<char> = chars[i + 1..]
                            .iter()
                            .copied()
                            .take_while(|c| c.is_alphanumeric() || "-_.".contains(*c))
                            .collect();
                        domain
                            .windows(2)
                            .any(|w| w[0] == '.' && w[1].is_alphanumeric())
                    })
            }
            '#' => word_start && next.is_some_and(|n| n.is_ascii_digit()),
            _ => false,
        };
        if breaks {
            out.push(WORD_JOINER);
        }
    }
    out
}

/// A CSV text cell that a spreadsheet would run as a formula gets a
/// leading apostrophe (OWASP CSV injection); control characters other than
/// line ends and tabs (ANSI escapes, bells: a CSV is often printed to a
/// terminal) are replaced by U+FFFD.
pub fn csv_safe(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => c,
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    match clean.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{clean}"),
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(tokens(534.27), "534");
        assert_eq!(tokens(1234.5), "1,235");
        assert_eq!(tokens(-0.4), "0");
        assert_eq!(tokens(-1234.6), "-1,235");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(12), "12");
        assert_eq!(pct(Some(0.5)), "50.0%");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(
            time_ns(1_760_460_275_939_000_000),
            "2025-10-14T16:44:35.939Z"
        );
        assert_eq!(terminal_safe("a\x1b[31mb\nc", 100), "a·[31mb·c");
        assert_eq!(usd(0.000_049), "$0.0000");
        assert_eq!(usd(1.23456), "$1.2346");
        assert_eq!(usd(12345.5), "$12,345.5000");
        assert_eq!(usd(-0.0123), "-$0.0123");
        assert_eq!(usd(-0.00001), "$0.0000");
        assert_eq!(number(f64::INFINITY), "inf");
        assert_eq!(stat(0.012345), "0.0123");
        assert_eq!(stat(3.2e-7), "3.2e-7");
        assert_eq!(ms(18454.46), "18,454.5");
        assert_eq!(number(-1234567.891), "-1,234,567.89");
        assert_eq!(number(999.5), "999.50");
        assert_eq!(usd(999.99996), "$1,000.0000");
        assert_eq!(usd(1234.99996), "$1,235.0000");
        assert_eq!(usd(1234.5), "$1,234.5000");
        assert_eq!(grouped("NaN"), "NaN");
        assert_eq!(
            markdown_safe("a|b <img> [x](y)\n", 100),
            "a\\|b &lt;img> \\[x\\](y) "
        );
        // the tool's own sentences read as written
        assert_eq!(
            markdown_safe("1 file(s); quantile_cont; a -> b; 3 anomaly(ies)", 100),
            "1 file(s); quantile_cont; a -> b; 3 anomaly(ies)"
        );
        // what could still form markup
        assert_eq!(
            markdown_safe("_x_ *y* `z` ~~w~~ &amp; & #h", 100),
            "\\_x\\_ \\*y\\* \\`z\\` \\~\\~w\\~\\~ &amp;amp; & #h"
        );
        assert_eq!(markdown_safe("# h", 100), "\\# h");
        assert_eq!(markdown_safe("> q", 100), "\\> q");
        assert_eq!(markdown_safe("- item", 100), "\\- item");
        assert_eq!(markdown_safe("12. item", 100), "12\\. item");
        assert_eq!(markdown_safe("---", 100), "\\---");
        assert_eq!(
            markdown_safe("-5% and 1.5 and +1 and #3", 100),
            "-5% and 1.5 and +1 and #\u{2060}3"
        );
        assert_eq!(markdown_safe("  # h", 100), "\\# h");
        assert_eq!(markdown_safe("\n# h", 100), "\\# h");
        assert_eq!(markdown_safe("\r\u{1}> q", 100), "\\> q");
        assert_eq!(markdown_safe("    code?", 100), "code?");
        // what GitHub would link or mention after parsing is split
        let j = WORD_JOINER;
        assert_eq!(
            markdown_safe("https://x.io www.x.io @team #12 a@b refunds@v4 v1#2", 100),
            format!("https:{j}//x.io w{j}ww.x.io @{j}team #{j}12 a@b refunds@v4 v1#2")
        );
        assert_eq!(
            markdown_safe("ops@acme.io and $5 of $x$", 100),
            format!("ops@{j}acme.io and \\$5 of \\$x\\$")
        );
        assert_eq!(markdown_safe("abcdef", 3), "abc…");
        assert_eq!(csv_safe("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_safe("/chat"), "/chat");
        assert_eq!(csv_safe("a\x1b[31mb\x07"), "a\u{fffd}[31mb\u{fffd}");
        assert_eq!(csv_safe("two\nlines\tok"), "two\nlines\tok");
    }
}
