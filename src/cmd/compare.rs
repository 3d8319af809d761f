//! `spanlens compare IN... --baseline PRED --candidate PRED`

use super::pipeline::{emit, prepare, Need};
use super::Context;
use crate::cli::CompareArgs;
use crate::engine::{parse_key, Arm, Arms, Condition, KindFilter};
use crate::error::{Error, Result};
use crate::metrics::compare::{self, ArmsSpec, CompareOptions};
use crate::options;
use crate::report::format;
use crate::window::Window;

/// What one `--baseline` / `--candidate` value means.
#[derive(Debug, PartialEq)]
enum ArmArg {
    /// conditions: `prompt_version=refunds@v3,model=gpt-4o`
    Where(Vec<String>),
    /// `latest:FIELD` (candidate) or `previous:FIELD` (baseline)
    Latest(String),
    Previous(String),
    /// a window: `1d`, `2026-01-01..2026-01-08`
    Window(String),
}

fn arm_arg(s: &str) -> ArmArg {
    let s = s.trim();
    if let Some(f) = s.strip_prefix("latest:") {
        return ArmArg::Latest(f.to_string());
    }
    if let Some(f) = s.strip_prefix("previous:") {
        return ArmArg::Previous(f.to_string());
    }
    if !s.contains('=') {
        return ArmArg::Window(s.to_string());
    }
    // split on commas that start a new KEY=VALUE (a value may hold a comma)
    let mut parts: Vec<String> = Vec::new();
    for piece in s.split(',') {
        match parts.last_mut() {
            Some(last) if !piece.contains('=') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => parts.push(piece.trim().to_string()),
        }
    }
    ArmArg::Where(parts)
}

fn describe_where(c: &[String]) -> String {
    c.join(" and ")
}

pub fn run(mut args: CompareArgs, ctx: &Context) -> Result<i32> {
    args.common.reads = args.prices.files.clone();
    let cc = &ctx.config.compare;
    let cand = args
        .candidate
        .clone()
        .or_else(|| cc.candidate.clone())
        .map(|s| arm_arg(&s));
    let base_raw = args
        .common
        .baseline
        .clone()
        .or_else(|| ctx.config.report.baseline.clone());
    let base = base_raw.as_deref().map(arm_arg);
    let window_hint = "give both arms as conditions (--baseline prompt_version=v3 --candidate \
                       prompt_version=v4), both as windows (--baseline 7d --candidate 1d), or \
                       --candidate latest:prompt_version";
    // predicates and latest: the shared --baseline is not a window
    let predicate_arms = !matches!(cand, None | Some(ArmArg::Window(_)));
    if predicate_arms {
        args.common.baseline = None;
        match &base {
            Some(ArmArg::Window(w)) => {
                return Err(Error::usage(
                    format!("--baseline {w} is a window but --candidate selects spans"),
                    window_hint,
                ))
            }
            Some(ArmArg::Latest(_)) => {
                return Err(Error::usage(
                    "--baseline cannot be latest:FIELD",
                    "use previous:FIELD (the default with --candidate latest:FIELD) or conditions",
                ))
            }
            _ => {}
        }
    } else {
        if let Some(ArmArg::Where(_) | ArmArg::Latest(_) | ArmArg::Previous(_)) = &base {
            return Err(Error::usage(
                "--baseline selects spans but --candidate is a window (or missing)",
                window_hint,
            ));
        }
        if let Some(ArmArg::Window(w)) = &cand {
            args.common.current = Some(w.clone());
        }
    }
    let explicit_window = args.common.current.is_some() || ctx.config.report.current.is_some();

    let settings = options::compare(
        ctx,
        options::CompareFlags {
            metrics: &args.metrics,
            alpha: args.alpha,
            min_effect: &args.min_effect,
            seed: args.seed,
        },
    )?;
    let cost = options::cost(ctx, &args.prices.files)?;

    let p = prepare(&args.common, ctx, KindFilter::llm(), Need::AnySpan)?;
    let mut scope = p.scope;
    let mut pre = p.pre;
    let where_of =
        |c: &[String], flag: &str| -> Result<Vec<Condition>> { options::conditions(c, flag) };
    let (spec, b_desc, c_desc) =
        match (cand, base) {
            (None | Some(ArmArg::Window(_)), _) => (
                ArmsSpec::Fixed(Arms::windows(p.baseline, scope.window, "candidate")),
                window_text(p.baseline),
                window_text(scope.window),
            ),
            (Some(ArmArg::Where(c)), Some(ArmArg::Where(b))) => (
                ArmsSpec::Fixed(Arms {
                    baseline: Arm::Where(where_of(&b, "--baseline")?),
                    candidate: Arm::Where(where_of(&c, "--candidate")?),
                    candidate_label: "candidate",
                }),
                describe_where(&b),
                describe_where(&c),
            ),
            (Some(ArmArg::Where(_)), _) => return Err(Error::usage(
                "--candidate selects spans: --baseline must select spans too",
                "e.g. --baseline prompt_version=refunds@v3 --candidate prompt_version=refunds@v4",
            )),
            (Some(ArmArg::Latest(f)), b) => {
                let field = parse_key(&f).map_err(|e| {
                    Error::usage(
                        format!("--candidate latest:{f}: {e}"),
                        "e.g. --candidate latest:prompt_version",
                    )
                })?;
                let (baseline, desc) = match b {
                    Some(ArmArg::Where(b)) => {
                        let d = describe_where(&b);
                        (Some(where_of(&b, "--baseline")?), d)
                    }
                    Some(ArmArg::Previous(g)) if g != f => {
                        return Err(Error::usage(
                            format!(
                        "--baseline previous:{g} and --candidate latest:{f} name different fields"
                    ),
                            format!("use --baseline previous:{f}"),
                        ))
                    }
                    _ => (None, format!("each cohort's previous {f}")),
                };
                (
                    ArmsSpec::Latest {
                        field,
                        baseline,
                        missing_ok: false,
                    },
                    desc,
                    format!("each cohort's newest {f}"),
                )
            }
            (Some(ArmArg::Previous(_)), _) => {
                return Err(Error::usage(
                    "--candidate cannot be previous:FIELD",
                    "use --candidate latest:FIELD",
                ))
            }
        };
    if predicate_arms && !explicit_window {
        // span selections: every span up to --until unless --current is given
        let end = scope.window.end_ns;
        scope.window = Window {
            start_ns: crate::stats::quantile::ZERO_BUCKET,
            end_ns: end,
        };
        for (k, v) in pre.meta.iter_mut() {
            if k == "window" {
                *v = format!("all spans up to {}", format::time_ns(end));
            }
        }
    }
    pre.meta.push(("baseline arm".into(), b_desc));
    pre.meta.push(("candidate arm".into(), c_desc));
    let mut engine = p.engine;
    let opts = CompareOptions {
        key_names: p.key_names,
        min_count: p.min_count,
        top: p.top,
        arms: spec,
        metrics: settings.metrics,
        alpha: settings.alpha,
        min_effect: settings.min_effect,
        seed: settings.seed,
        cost,
    };
    let mut report = compare::run(&mut engine, scope, &opts)?;
    pre.apply(&mut report);
    emit(&report, &args.common, &p.fail_on, ctx)
}

fn window_text(w: Window) -> String {
    format!(
        "{} .. {}",
        format::time_ns(w.start_ns),
        format::time_ns(w.end_ns)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_values() {
        assert_eq!(arm_arg("7d"), ArmArg::Window("7d".into()));
        assert_eq!(
            arm_arg("2026-01-01..2026-01-08"),
            ArmArg::Window("2026-01-01..2026-01-08".into())
        );
        assert_eq!(
            arm_arg("prompt_version=refunds@v3,model=gpt-4o"),
            ArmArg::Where(vec![
                "prompt_version=refunds@v3".into(),
                "model=gpt-4o".into()
            ])
        );
        // a comma inside a value stays in the value
        assert_eq!(
            arm_arg("attr:tags=a,b,model=x"),
            ArmArg::Where(vec!["attr:tags=a,b".into(), "model=x".into()])
        );
        assert_eq!(
            arm_arg("latest:prompt_version"),
            ArmArg::Latest("prompt_version".into())
        );
    }
}
