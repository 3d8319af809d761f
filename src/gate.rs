//! The gate: findings x `--fail-on` -> exit code (docs/cli.md, "Exit codes").

use crate::error::{Error, Result};
use crate::exit;
use crate::report::model::{Finding, FindingKind};

/// Check a `--fail-on` list (or `[report] fail_on`) against the finding
/// kinds.
pub fn parse(list: &[String]) -> Result<Vec<FindingKind>> {
    let mut out = Vec::new();
    for k in list {
        if k.trim().is_empty() {
            continue;
        }
        let kind = FindingKind::parse(k).ok_or_else(|| {
            Error::usage(
                format!(
                    "--fail-on: unknown finding kind `{}`{}",
                    k.trim(),
                    crate::error::did_you_mean(k, FindingKind::ALL.map(FindingKind::as_str))
                ),
                format!("use one or more of {}", names()),
            )
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

/// Every kind, comma-separated.
pub fn names() -> String {
    FindingKind::ALL.map(FindingKind::as_str).join(", ")
}

/// Whether gating on `fail_on` trips on a finding of `kind`. A comparison
/// of which nothing could be judged never passes a gate on its verdict:
/// `unjudged` trips a `regression` or an `inconclusive` gate too.
pub fn trips(fail_on: &[FindingKind], kind: FindingKind) -> bool {
    fail_on.contains(&kind)
        || (kind == FindingKind::Unjudged
            && (fail_on.contains(&FindingKind::Regression)
                || fail_on.contains(&FindingKind::Inconclusive)))
}

/// 1 when a finding of a gated kind occurred, else 0; with the findings that tripped it.
pub fn evaluate<'a>(findings: &'a [Finding], fail_on: &[FindingKind]) -> (i32, Vec<&'a Finding>) {
    let hits: Vec<&Finding> = findings.iter().filter(|f| trips(fail_on, f.kind)).collect();
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
        let f = vec![Finding::new(FindingKind::Unpriced, "m".into(), 1.0)];
        assert_eq!(evaluate(&f, &[]).0, exit::OK);
        assert_eq!(evaluate(&f, &[FindingKind::Breach]).0, exit::OK);
        assert_eq!(
            evaluate(&f, &[FindingKind::Breach, FindingKind::Unpriced]).0,
            exit::FINDING
        );
        assert_eq!(parse(&["Breach".into()]).unwrap(), [FindingKind::Breach]);
        // a comparison of which nothing could be judged never passes a
        // regression gate; one thin metric beside judged ones does
        let finding = |kind| Finding::new(kind, "m".into(), 0.5);
        let nothing = [finding(FindingKind::Unjudged)];
        assert_eq!(
            evaluate(&nothing, &[FindingKind::Regression]).0,
            exit::FINDING
        );
        assert_eq!(
            evaluate(&nothing, &[FindingKind::Inconclusive]).0,
            exit::FINDING
        );
        assert_eq!(evaluate(&nothing, &[FindingKind::Drift]).0, exit::OK);
        let thin = [finding(FindingKind::Inconclusive)];
        assert_eq!(evaluate(&thin, &[FindingKind::Regression]).0, exit::OK);
        assert!(parse(&["typo".into()])
            .unwrap_err()
            .to_string()
            .contains("typo"));
    }
}
