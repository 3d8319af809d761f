//! Panics inside polars, caught and turned into spanlens errors. polars
//! unwraps on some corrupt Parquet footers (found by the parquet_file fuzz
//! target) and its streaming engine has unimplemented corners (a
//! `COUNT(*)` over a multi-file scan panics on a UInt128 sum); a user should
//! get `spanlens: error: ...` naming the file or query, not a backtrace.
//!
//! The process-wide panic hook stays silent while any [`catch`] is running
//! (on any thread: the streaming engine panics on its worker threads and
//! re-raises on the caller's) and otherwise prints as Rust's default does.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

static QUIET: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

fn install() {
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.load(Ordering::SeqCst) == 0 {
                default(info);
            }
        }));
    });
}

/// Run `f`; a panic inside it comes back as `Err` with its message, and
/// prints nothing.
pub fn catch<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    install();
    QUIET.fetch_add(1, Ordering::SeqCst);
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.fetch_sub(1, Ordering::SeqCst);
    out.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_comes_back_with_its_message() {
        assert_eq!(catch(|| 7), Ok(7));
        let r: std::result::Result<(), String> = catch(|| panic!("bad footer {}", 3));
        assert_eq!(r, Err("bad footer 3".to_string()));
        let r: std::result::Result<(), String> = catch(|| panic!("static text"));
        assert_eq!(r, Err("static text".to_string()));
        // the hook is quiet only while a catch runs
        assert_eq!(QUIET.load(Ordering::SeqCst), 0);
    }
}
