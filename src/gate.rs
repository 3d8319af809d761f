//! The gate: findings x `--fail-on` -> exit code (spec/cli.md).

use crate::error::{Error, Result};
use crate::exit;
use crate::report::model::Finding;

/// Finding kinds a gate accepts, across every command.
pub const KINDS: &[&str] = &[
    "breach",
    "regression",
    "drift",
    "anomaly",
    "inconclusive",
    "unpriced",
    "budget",
    "stale",
];

/// Check the `--fail-on` list against the finding kinds.
pub fn parse(list: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for k in list {
        let k = k.trim().to_ascii_lowercase();
        if k.is_empty() {
            continue;
        }
        if !KINDS.contains(&k.as_str()) {
            return Err(Error::usage(
                format!("--fail-on: unknown finding kind `{k}`"),
                format!("use one or more of {}", KINDS.join(", ")),
            ));
        }
        out.push(k);
    }
    Ok(out)
}

/// 1 when a finding of a gated kind occurred, else 0; with the findings that tripped it.
pub fn evaluate<'a>(findings: &'a [Finding], fail_on: &[String]) -> (i32, Vec<&'a Finding>) {
    let hits: Vec<&Finding> = findings
        .iter()
        .filter(|f| fail_on.contains(&f.kind))
        .collect();
    (
        if hits.is_empty() {
            exit::OK
        } else {
            exit::FINDING
        },
        hits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_only_when_asked() {
        let f = vec![Finding {
            cause: None,
            kind: "unpriced".into(),
            message: "m".into(),
            strength: 1.0,
        }];
        assert_eq!(evaluate(&f, &[]).0, exit::OK);
        assert_eq!(evaluate(&f, &["breach".into()]).0, exit::OK);
        assert_eq!(
            evaluate(&f, &["breach".into(), "unpriced".into()]).0,
            exit::FINDING
        );
        assert!(parse(&["Breach".into()]).is_ok());
        assert!(parse(&["typo".into()])
            .unwrap_err()
            .to_string()
            .contains("typo"));
    }
}
