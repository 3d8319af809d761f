//! Records the commit spanlens is built from for `spanlens --version`
//! ("unknown commit" outside a git checkout, e.g. from a crate archive).

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=SPANLENS_GIT_COMMIT=git {commit}");
    // rebuilt when the checkout moves to another commit
    let head = Path::new(".git/HEAD");
    if head.exists() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(text) = std::fs::read_to_string(head) {
            if let Some(r) = text.strip_prefix("ref: ") {
                let r = Path::new(".git").join(r.trim());
                if r.exists() {
                    println!("cargo:rerun-if-changed={}", r.display());
                }
            }
        }
        if Path::new(".git/packed-refs").exists() {
            println!("cargo:rerun-if-changed=.git/packed-refs");
        }
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
