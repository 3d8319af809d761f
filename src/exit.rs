//! Exit codes: the one place they are defined (docs/cli.md).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | ran; no gated finding (or no gate asked) |
//! | 1 | ran; a finding named in `--fail-on` occurred |
//! | 2 | usage error: bad flag, bad window, unknown field, bad config |
//! | 3 | input error: unreadable file, or malformed records beyond `--max-bad` |
//! | 4 | output error: cannot write the output (nothing partial is left behind) |
//! | 5 | internal error: a bundled query or an invariant failed; a bug to report |
//!
//! A broken pipe on stdout exits 0.

pub const OK: i32 = 0;
pub const FINDING: i32 = 1;
pub const USAGE: i32 = 2;
pub const INPUT: i32 = 3;
pub const OUTPUT: i32 = 4;
pub const INTERNAL: i32 = 5;
