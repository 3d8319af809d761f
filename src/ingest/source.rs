//! Inputs: files, directories, globs and `-` (stdin); transparent gzip and
//! zstd (including the collector's length-prefixed zstd framing), with a
//! decompression-ratio guard so a bomb cannot fill memory or disk.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Decompressed bytes beyond which the ratio guard applies.
const RATIO_GRACE: u64 = 64 << 20;
/// Largest accepted decompressed/compressed ratio. Real trace JSON compresses
/// 5-50x; a run of one byte compresses ~1000x or more.
pub const MAX_RATIO: u64 = 1000;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

impl Input {
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::Path(p) => p.display().to_string(),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::Stdin => None,
            Input::Path(p) => Some(p),
        }
    }
}

/// Files found under a directory that are not trace exports, with why.
#[derive(Clone, Debug, Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    pub skipped: Vec<(String, String)>,
}

fn known_extension(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let base = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(&name);
    [".json", ".jsonl", ".ndjson", ".parquet", ".pq", ".otlp"]
        .iter()
        .any(|e| base.ends_with(e))
}

/// Expand command-line inputs into files, sorted within each directory.
pub fn expand(args: &[String]) -> Result<Expanded> {
    let mut out = Expanded::default();
    if args.is_empty() {
        return Err(Error::usage(
            "no inputs given",
            "name one or more files, directories or globs, or `-` for stdin",
        ));
    }
    for a in args {
        if a == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        let p = PathBuf::from(a);
        if p.is_dir() {
            walk(&p, &mut out)?;
        } else if p.exists() {
            out.inputs.push(Input::Path(p));
        } else if a.contains(['*', '?', '[']) {
            let paths = glob::glob(a).map_err(|e| {
                Error::usage(
                    format!("bad glob `{a}`: {e}"),
                    "quote the pattern, e.g. 'exports/*.jsonl'",
                )
            })?;
            let mut found: Vec<PathBuf> = paths.filter_map(|r| r.ok()).collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::input(
                    a,
                    "no file matches this pattern",
                    "check the pattern and the directory",
                ));
            }
            for f in found {
                if f.is_dir() {
                    walk(&f, &mut out)?;
                } else {
                    out.inputs.push(Input::Path(f));
                }
            }
        } else {
            return Err(Error::input(
                a,
                "no such file or directory",
                "check the path",
            ));
        }
    }
    Ok(out)
}

/// The file `spanlens report --out-dir` leaves in its directory: a
/// directory holding it is spanlens' own output, never read as an input.
pub const REPORT_MARKER: &str = ".spanlens-report";

/// A directory's identity (device, inode): a directory reached twice
/// (a symlink loop, or two links to one directory) is read once.
#[cfg(unix)]
fn dir_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(p: &Path) -> Option<(u64, u64)> {
    let _ = p;
    None
}

fn walk(dir: &Path, out: &mut Expanded) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    walk_in(dir, out, &mut seen)
}

fn walk_in(
    dir: &Path,
    out: &mut Expanded,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> Result<()> {
    if let Some(id) = dir_id(dir) {
        if !seen.insert(id) {
            out.skipped.push((
                dir.display().to_string(),
                "a directory already read (a symlink loop?)".into(),
            ));
            return Ok(());
        }
    }
    if dir.join(REPORT_MARKER).exists() {
        out.skipped.push((
            dir.display().to_string(),
            "a spanlens report's --out-dir (its own tables)".into(),
        ));
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|e| Error::input_io(dir, &e))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name.starts_with('_') {
            out.skipped
                .push((p.display().to_string(), "hidden or marker file".into()));
            continue;
        }
        if p.is_dir() {
            walk_in(&p, out, seen)?;
        } else if known_extension(&p) || sniff_file(&p) {
            out.inputs.push(Input::Path(p));
        } else {
            out.skipped.push((
                p.display().to_string(),
                "not a JSON, JSONL or Parquet export".into(),
            ));
        }
    }
    Ok(())
}

/// Whether a file without a known extension starts like an export.
fn sniff_file(p: &Path) -> bool {
    let mut buf = [0u8; 8];
    let Ok(mut f) = File::open(p) else {
        return false;
    };
    let n = f.read(&mut buf).unwrap_or(0);
    let b = &buf[..n];
    b.starts_with(b"PAR1")
        || b.starts_with(&[0x1f, 0x8b])
        || b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || b.iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|c| *c == b'{' || *c == b'[')
        || b.starts_with(&[0xef, 0xbb, 0xbf])
}

/// Counts bytes read from the underlying (compressed) source.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Fails a decompressing reader whose output outgrows its input by MAX_RATIO.
struct RatioGuard<R> {
    inner: R,
    compressed: Arc<AtomicU64>,
    out: u64,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > RATIO_GRACE {
            let c = self.compressed.load(Ordering::Relaxed).max(1);
            if self.out / c > MAX_RATIO {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "decompressed size exceeds {MAX_RATIO}x the compressed size (a decompression bomb?)"
                    ),
                ));
            }
        }
        Ok(n)
    }
}

/// The collector file exporter's legacy zstd framing: `[u32 BE length][zstd frame]`
/// records, each one JSON message. Yields the messages, newline-separated.
/// Each frame is decompressed as a stream, so the ratio guard around this
/// reader sees its output as it grows (a 98 KB frame once inflated to 4.5 GB
/// in memory before any guard saw it).
struct LengthPrefixedZstd<R> {
    inner: R,
    /// The frame being decompressed.
    frame: Option<zstd::stream::read::Decoder<'static, io::BufReader<io::Cursor<Vec<u8>>>>>,
    /// The last byte the frame gave (a message not ending in a newline gets one).
    last: u8,
    /// A newline still owed after the frame's end.
    newline: bool,
}

impl<R: Read> LengthPrefixedZstd<R> {
    fn new(inner: R) -> Self {
        LengthPrefixedZstd {
            inner,
            frame: None,
            last: b'\n',
            newline: false,
        }
    }
}

impl<R: Read> Read for LengthPrefixedZstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.newline {
                self.newline = false;
                buf[0] = b'\n';
                return Ok(1);
            }
            if let Some(dec) = &mut self.frame {
                let n = dec.read(buf)?;
                if n > 0 {
                    self.last = buf[n - 1];
                    return Ok(n);
                }
                self.frame = None;
                self.newline = self.last != b'\n';
                self.last = b'\n';
                continue;
            }
            let mut len = [0u8; 4];
            match read_exact_or_eof(&mut self.inner, &mut len)? {
                0 => return Ok(0),
                4 => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "truncated length prefix",
                    ))
                }
            }
            let n = u32::from_be_bytes(len) as usize;
            let mut frame = Vec::new();
            (&mut self.inner).take(n as u64).read_to_end(&mut frame)?;
            if frame.len() < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated zstd record",
                ));
            }
            self.frame = Some(zstd::stream::read::Decoder::new(io::Cursor::new(frame))?);
        }
    }
}

fn read_exact_or_eof<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = r.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

pub struct Opened {
    pub reader: Box<dyn BufRead + Send>,
    pub compression: Option<&'static str>,
    /// Compressed bytes consumed so far (for progress).
    pub consumed: Arc<AtomicU64>,
    pub size: Option<u64>,
    pub is_parquet: bool,
}

/// Open an input, sniffing compression from its first bytes.
pub fn open(input: &Input) -> Result<Opened> {
    let consumed = Arc::new(AtomicU64::new(0));
    let (raw, size): (Box<dyn Read + Send>, Option<u64>) = match input {
        Input::Stdin => (Box::new(io::stdin()), None),
        Input::Path(p) => {
            if p.is_dir() {
                return Err(Error::input(
                    p,
                    "is a directory",
                    "pass the directory itself to read every export in it",
                ));
            }
            let f = File::open(p).map_err(|e| Error::input_io(p, &e))?;
            let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(f), size)
        }
    };
    let counting = Counting {
        inner: raw,
        count: consumed.clone(),
    };
    let mut buffered = BufReader::with_capacity(1 << 20, counting);
    let head = buffered
        .fill_buf()
        .map_err(|e| Error::input_io(input.display(), &e))?
        .to_vec();
    let guard = |r: Box<dyn Read + Send>| -> Box<dyn BufRead + Send> {
        Box::new(BufReader::with_capacity(
            1 << 20,
            RatioGuard {
                inner: r,
                compressed: consumed.clone(),
                out: 0,
            },
        ))
    };
    let zstd_magic = [0x28, 0xb5, 0x2f, 0xfd];
    let (reader, compression): (Box<dyn BufRead + Send>, Option<&'static str>) =
        if head.starts_with(&[0x1f, 0x8b]) {
            (
                guard(Box::new(flate2::bufread::MultiGzDecoder::new(buffered))),
                Some("gzip"),
            )
        } else if head.starts_with(&zstd_magic) {
            let dec = zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| Error::input_io(input.display(), &e))?;
            (guard(Box::new(dec)), Some("zstd"))
        } else if head.len() >= 8 && head[4..8] == zstd_magic {
            (
                guard(Box::new(LengthPrefixedZstd::new(buffered))),
                Some("zstd (collector length-prefixed)"),
            )
        } else {
            (Box::new(buffered), None)
        };
    Ok(Opened {
        reader,
        compression,
        consumed,
        size,
        is_parquet: head.starts_with(b"PAR1") && matches!(input, Input::Path(_)),
    })
}
