//! Records the commit spanlens is built from for `spanlens --version`
//! ("unknown commit" outside a git checkout, e.g. from a crate archive).

use std::path::Path;
use std::process::Command;

/// A git command's trimmed output, if it ran and printed something.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .map(|c| format!("git {c}"))
        .unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=SPANLENS_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // rebuilt when the checkout moves to another commit: HEAD, the branch
    // it names and the packed refs, wherever git keeps them (worktrees too)
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for p in watched.into_iter().flatten() {
        if Path::new(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
