use clap::Parser;

// The scan makes millions of small, short-lived allocations from two
// threads; mimalloc is measurably faster than glibc's malloc here and gives
// freed rows back, which keeps peak memory down (benches/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
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
