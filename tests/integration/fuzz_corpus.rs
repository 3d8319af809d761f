//! Issue 7: the fuzz targets' seeds and every crash the fuzzer found
//! (fuzz/regressions, each fixed) replayed through the same harnesses under
//! `cargo test`, so a fix that regresses fails here without a fuzz build.

use crate::common::root;

#[path = "../../fuzz/harness.rs"]
mod harness;

#[test]
fn issue7_fuzz_seeds_and_regressions_replay_cleanly() {
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 7] = [
        ("otlp_line", harness::otlp_line),
        ("flat_line", harness::flat_line),
        ("parquet_file", harness::parquet_file),
        ("price_table", harness::price_table),
        ("config", harness::config),
        ("window", harness::window),
        ("predicate", harness::predicate),
    ];
    for (name, run) in targets {
        let mut n = 0;
        for kind in ["seeds", "regressions"] {
            let dir = root().join("fuzz").join(kind).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for f in files {
                eprintln!("fuzz replay: {}", f.display());
                run(&std::fs::read(&f).unwrap());
                n += 1;
            }
        }
        assert!(n > 0, "{name}: no seeds");
    }
}
