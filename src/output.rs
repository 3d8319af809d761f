//! Atomic outputs: every file is written to a temporary file in the target
//! directory and renamed into place, so a crash leaves the old file or the
//! new one, never half of one (reliability.md promise 2).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Temporary files are `.spanlens-PID-RANDOM.tmp`: the pid tells a file
/// left by a killed run (kill -9 cannot clean up) from one being written.
const TMP_PREFIX: &str = ".spanlens-";
const TMP_SUFFIX: &str = ".tmp";

/// Remove the temporary files in `dir` whose writing process is gone.
/// Only where `/proc` tells which processes run (elsewhere nothing is
/// removed: a live run's file must never be).
fn remove_stale_temps(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix(TMP_PREFIX)
            .filter(|_| name.ends_with(TMP_SUFFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Write `path` atomically with `write`.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    remove_stale_temps(&dir);
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{TMP_PREFIX}{}-", std::process::id()))
        .suffix(TMP_SUFFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::output_io(path, &e))?;
    {
        let mut w = io::BufWriter::new(tmp.as_file_mut());
        write(&mut w).map_err(|e| Error::output_io(path, &e))?;
        w.flush().map_err(|e| Error::output_io(path, &e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::output_io(path, &e))?;
    tmp.persist(path)
        .map_err(|e| Error::output_io(path, &e.error))?;
    Ok(())
}

pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuse an output path that is one of the inputs.
pub fn refuse_input_as_output(out: &Path, inputs: &[String]) -> Result<()> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let Some(o) = canon(out) else { return Ok(()) };
    for i in inputs {
        if canon(Path::new(i)).as_deref() == Some(o.as_path()) {
            return Err(Error::usage(
                format!("the output {} is also an input", out.display()),
                "write to another path; inputs are never overwritten",
            ));
        }
    }
    Ok(())
}

/// Replace directory `dest` with the fully written `staging` directory.
pub fn replace_dir(staging: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        let marker = dest.join(crate::cmd::ingest::MARKER);
        let empty = std::fs::read_dir(dest)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !marker.exists() && !empty {
            return Err(Error::output(
                dest,
                "exists and was not written by spanlens",
                "choose a new directory for --partition output, or remove this one",
            ));
        }
        let old = dest.with_file_name(format!(
            ".{}.spanlens-old-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
            std::process::id()
        ));
        std::fs::rename(dest, &old).map_err(|e| Error::output_io(dest, &e))?;
        if let Err(e) = std::fs::rename(staging, dest) {
            let _ = std::fs::rename(&old, dest);
            return Err(Error::output_io(dest, &e));
        }
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(staging, dest).map_err(|e| Error::output_io(dest, &e))?;
    }
    Ok(())
}

/// A lock on an output directory: `DIR/.spanlens.lock` created exclusively
/// (holding the pid), removed on drop. A second run refuses with a clear
/// message; a lock left by a process that no longer runs is taken over.
pub struct DirLock {
    path: PathBuf,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(".spanlens.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(DirLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    let alive =
                        holder.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive || holder.is_none() {
                        return Err(Error::output(
                            dir,
                            format!(
                                "another spanlens run{} is writing this directory",
                                holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
                            ),
                            format!(
                                "wait for it to finish, or remove {} if no run is active",
                                path.display()
                            ),
                        ));
                    }
                    // stale: its process is gone
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(Error::output_io(&path, &e)),
            }
        }
        Err(Error::output(
            dir,
            "could not take the directory lock",
            format!("remove {} if no run is active", path.display()),
        ))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temps(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(TMP_SUFFIX))
            .collect();
        v.sort();
        v
    }

    /// A writer failing half way (a full disk, injected): exit 4, the old
    /// file intact, no temporary file left.
    #[test]
    fn issue7_a_failing_writer_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.md");
        std::fs::write(&out, "old report\n").unwrap();
        let e = write_atomic(&out, |w| {
            w.write_all(&[b'x'; 100_000])?;
            Err(io::Error::from(io::ErrorKind::StorageFull))
        })
        .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::OUTPUT);
        assert!(e.to_string().contains("report.md"), "{e}");
        assert!(e.hint().unwrap().contains("disk is full"));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old report\n");
        assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
        write_atomic(&out, |w| w.write_all(b"new report\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new report\n");
    }

    /// Temporary files of a killed run are removed by the next write; a
    /// live process's file and unrelated files are kept.
    #[test]
    fn issue7_stale_temporary_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22 on Linux: this pid cannot run
        let dead = dir.path().join(".spanlens-4294967-abc.tmp");
        let live = dir
            .path()
            .join(format!(".spanlens-{}-xyz.tmp", std::process::id()));
        let other = dir.path().join(".spanlens-notapid.tmp");
        for p in [&dead, &live, &other] {
            std::fs::write(p, "partial").unwrap();
        }
        write_atomic(&dir.path().join("out.json"), |w| w.write_all(b"{}")).unwrap();
        let mut kept = vec![
            ".spanlens-notapid.tmp".to_string(),
            live.file_name().unwrap().to_string_lossy().into_owned(),
        ];
        kept.sort();
        assert_eq!(temps(dir.path()), kept);
    }
}
