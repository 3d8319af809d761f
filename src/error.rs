//! Typed errors. Each carries what went wrong and a hint with the fix; the
//! binary prints them as `spanlens: error: ...` / `hint: ...` and maps each
//! kind to its exit code (exit.rs).

use std::path::{Path, PathBuf};

use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}")]
    Usage { what: String, hint: String },
    #[error("{path}: {what}")]
    Input {
        path: String,
        what: String,
        hint: String,
    },
    #[error("{what}")]
    TooManyRejects { what: String, hint: String },
    /// The inputs hold nothing the command can judge (no span, none in
    /// the window, an empty compare arm): exit 3, never a silent pass.
    #[error("{what}")]
    NoData { what: String, hint: String },
    #[error("{path}: {what}")]
    Output {
        path: String,
        what: String,
        hint: String,
    },
    /// spanlens' own fault (a bundled query failed): exit 5.
    #[error("internal error: {what}")]
    Internal { what: String },
    #[error("stdout closed")]
    BrokenPipe,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::Input { .. } | Error::TooManyRejects { .. } | Error::NoData { .. } => {
                exit::INPUT
            }
            Error::Output { .. } => exit::OUTPUT,
            Error::Internal { .. } => exit::INTERNAL,
            Error::BrokenPipe => exit::OK,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Usage { hint, .. }
            | Error::Input { hint, .. }
            | Error::TooManyRejects { hint, .. }
            | Error::NoData { hint, .. }
            | Error::Output { hint, .. } => Some(hint.as_str()).filter(|h| !h.is_empty()),
            Error::Internal { .. } => Some(
                "this is a bug in spanlens, not in your input or flags: please report it with the \
                 command line, `spanlens --version` and this message",
            ),
            Error::BrokenPipe => None,
        }
    }

    pub fn usage(what: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage {
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub fn no_data(what: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::NoData {
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub fn internal(what: impl Into<String>) -> Error {
        Error::Internal { what: what.into() }
    }

    pub fn input(
        path: impl AsRef<Path>,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error::Input {
            path: path.as_ref().display().to_string(),
            what: what.into(),
            hint: hint.into(),
        }
    }

    /// An I/O failure while reading an input, with a hint chosen by its kind.
    pub fn input_io(path: impl AsRef<Path>, e: &std::io::Error) -> Error {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "check the path; globs must be quoted or expanded by the shell"
            }
            std::io::ErrorKind::PermissionDenied => {
                "the file is not readable by this user; check its permissions"
            }
            _ => "check that the file is complete and readable",
        };
        Error::input(path, io_text(e), hint)
    }

    pub fn output(
        path: impl AsRef<Path>,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> Error {
        Error::Output {
            path: path.as_ref().display().to_string(),
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub fn output_io(path: impl AsRef<Path>, e: &std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Error::BrokenPipe;
        }
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                "the output location is not writable; choose another -o path"
            }
            std::io::ErrorKind::StorageFull => "the disk is full; free space or write elsewhere",
            std::io::ErrorKind::NotFound => "the output directory does not exist; create it first",
            _ => "check the output path and free space",
        };
        Error::output(path, io_text(e), hint)
    }
}

/// An io::Error as a sentence, without the Debug form (`Os { code: .. }`).
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Display a path for messages: `-` for stdin.
pub fn display_path(p: &Path) -> String {
    if p == Path::new("-") {
        "<stdin>".into()
    } else {
        p.display().to_string()
    }
}

pub fn path_buf(p: &str) -> PathBuf {
    PathBuf::from(p)
}

/// ` (did you mean `route`?)` when one of `known` is close to `word`
/// (Jaro-Winkler similarity of at least 0.8, or one edit away: short
/// words score low), the closest one; else "".
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let word = word.trim();
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(word, k), k))
        .filter(|(score, k)| {
            *k != word && (*score >= 0.8 || strsim::damerau_levenshtein(word, k) <= 1)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}
