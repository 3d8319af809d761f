use clap::Parser;

// The scan makes millions of small, short-lived allocations from two
// threads; mimalloc is measurably faster than glibc's malloc here and gives
// freed rows back, which keeps peak memory down (benches/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keep the memory mimalloc frees for reuse instead of returning it to the
/// system a second later (its default). Set once the inputs are in memory
/// (`cmd::pipeline::LOADED_IN_MEMORY`): a report's queries then allocate
/// and free whole columns many times, and each page given back and taken
/// again was zeroed by the kernel (a third of a Parquet report's CPU time
/// in `clear_page_erms`, 30,000 page faults against 3,400 kept;
/// benches/RESULTS.md). Not during the read: freed rows given back keep a
/// JSON read's peak memory down. Left as it is when `MIMALLOC_PURGE_DELAY`
/// is set, or when the option does not hold mimalloc's default (another
/// numbering of its options).
fn keep_freed_memory() {
    use std::ffi::{c_int, c_long};
    extern "C" {
        fn mi_option_get(option: c_int) -> c_long;
        fn mi_option_set(option: c_int, value: c_long);
    }
    // `mi_option_purge_delay` in mimalloc v3's mimalloc.h (libmimalloc-sys
    // 0.1.49), default 1000 (ms, options.c); -1 never purges
    const PURGE_DELAY: c_int = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: both are plain C functions of the linked mimalloc, taking and
    // returning integers; setting an option is thread-safe
    unsafe {
        if mi_option_get(PURGE_DELAY) == 1000 {
            mi_option_set(PURGE_DELAY, -1);
        }
    }
}

fn main() {
    let _ = spanlens::cmd::pipeline::LOADED_IN_MEMORY.set(keep_freed_memory);
    let cli = match spanlens::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version
                let _ = e.print();
                std::process::exit(spanlens::exit::OK);
            }
            // one error style for clap's errors and spanlens' own; the help
            // that a bare `spanlens` prints is not an error message
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprint!("{}", e.render());
            } else {
                eprint!("spanlens: {}", e.render());
            }
            std::process::exit(spanlens::exit::USAGE);
        }
    };
    // a panic is a bug: exit 5 with the same error style as any other
    let run = spanlens::guard::catch(|| spanlens::run(cli))
        .unwrap_or_else(|msg| Err(spanlens::Error::internal(format!("panic: {msg}"))));
    let code = match run {
        Ok(code) => code,
        Err(spanlens::Error::BrokenPipe) => spanlens::exit::OK,
        Err(e) => {
            // messages quote file names and values from the data: no raw
            // escape sequence reaches the terminal
            let safe = |s: &str| spanlens::report::format::terminal_safe(s, 4000);
            eprintln!("spanlens: error: {}", safe(&e.to_string()));
            if let Some(h) = e.hint() {
                eprintln!("hint: {}", safe(h));
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
