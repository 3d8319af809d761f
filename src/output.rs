//! Atomic outputs: every file is written to a temporary file in the target
//! directory and renamed into place, so a crash leaves the old file or the
//! new one, never half of one (docs/reliability.md promise 2).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Temporary files are `.spanlens-PID-RANDOM.tmp`; the kernel lock their
/// writer holds tells a file left by a killed run (kill -9 cannot clean up)
/// from one being written.
const TMP_PREFIX: &str = ".spanlens-";
const TMP_SUFFIX: &str = ".tmp";

/// Remove the temporary files in `dir` whose writer is gone: a writer
/// holds a kernel lock on its file while it writes ([`try_lock`]), so a
/// file whose lock can be taken was left by a killed run.
fn remove_stale_temps(dir: &Path) {
    sweep_abandoned(
        dir,
        |n| n.starts_with(TMP_PREFIX) && n.ends_with(TMP_SUFFIX),
        Path::to_path_buf,
    );
}

/// How old an abandoned file must be before a sweep removes it.
pub const SWEEP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Remove the entries of `dir` (files or directories) whose name `ours`
/// accepts and whose lock file (`lock_of(entry)`) can be locked: a run
/// holds that lock while it lives, so these were left by a killed run. An
/// entry without its lock file (one being created) is kept.
pub fn sweep_abandoned(
    dir: &Path,
    ours: impl Fn(&str) -> bool,
    lock_of: impl Fn(&Path) -> PathBuf,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_str().is_some_and(&ours) {
            continue;
        }
        let path = e.path();
        // a run locks what it creates at once (microseconds later); an
        // entry younger than SWEEP_GRACE may not be locked yet, and is left
        // to a later sweep
        let fresh = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age < SWEEP_GRACE);
        if fresh {
            continue;
        }
        let Ok(f) = std::fs::File::open(lock_of(&path)) else {
            continue;
        };
        if try_lock(&f).unwrap_or(false) {
            drop(f);
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

/// Write `path` atomically with `write`. A device, FIFO or socket at the
/// path (after following links: `-o /dev/null`, `-o /dev/stdout`) is written
/// through, as there is nothing to replace; a symlink stays a symlink, and
/// its target is what is replaced.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    match stage(path, write)? {
        Staged::Written => Ok(()),
        Staged::Temp { tmp, dest } => tmp
            .persist(&dest)
            .map(drop)
            .map_err(|e| Error::output_io(&dest, &e.error)),
    }
}

/// A file written in full, not yet in place.
enum Staged {
    /// Written through (a device, FIFO or socket): nothing to rename.
    Written,
    /// A complete, synced, locked temporary beside `dest`.
    Temp {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
    },
}

fn stage(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<Staged> {
    if path.is_dir() {
        // refused before anything is written or renamed
        return Err(Error::output_io(
            path,
            &io::Error::from(io::ErrorKind::IsADirectory),
        ));
    }
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() && !m.is_dir() {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::output_io(path, &e))?;
            let mut w = io::BufWriter::new(f);
            write(&mut w).map_err(|e| Error::output_io(path, &e))?;
            w.flush().map_err(|e| Error::output_io(path, &e))?;
            return Ok(Staged::Written);
        }
    }
    let path = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            // the final target; a dangling link's first hop
            std::fs::canonicalize(path)
                .or_else(|_| std::fs::read_link(path).map(|t| parent_dir(path).join(t)))
                .map_err(|e| Error::output_io(path, &e))?
        }
        _ => path.to_path_buf(),
    };
    let dir = parent_dir(&path);
    remove_stale_temps(&dir);
    // a file replaced keeps its mode; a new one gets 0666 less the umask,
    // as any Unix tool creates it (not tempfile's private 0600)
    let existing = std::fs::metadata(&path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions());
    let prefix = format!("{TMP_PREFIX}{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .map_err(|e| Error::output_io(&path, &e))?;
    if let Some(p) = existing {
        tmp.as_file()
            .set_permissions(p)
            .map_err(|e| Error::output_io(&path, &e))?;
    }
    // held until the rename: a concurrent sweep leaves this file alone
    try_lock(tmp.as_file()).map_err(|e| Error::output_io(&path, &e))?;
    {
        let mut w = io::BufWriter::new(tmp.as_file_mut());
        write(&mut w).map_err(|e| Error::output_io(&path, &e))?;
        w.flush().map_err(|e| Error::output_io(&path, &e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::output_io(&path, &e))?;
    Ok(Staged::Temp { tmp, dest: path })
}

/// The journal of a [`FileSet`] commit in its directory.
const JOURNAL: &str = ".spanlens-commit";

/// Several outputs that a reader sees all old or all new (a report, its
/// tables and its charts). Each file is written in full to a temporary
/// beside its destination as it is added; nothing is replaced until
/// [`FileSet::commit`], so a failure while writing (a full disk) leaves
/// every old file as it was. The commit records its renames in a journal
/// in `dir` before the first one; a run killed among them leaves that
/// journal, and the next run holding `dir`'s lock completes them
/// ([`roll_forward`]) before it writes anything.
pub struct FileSet {
    dir: PathBuf,
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl FileSet {
    /// A set journalled in `dir` (held under the caller's [`DirLock`]).
    pub fn new(dir: &Path) -> FileSet {
        FileSet {
            dir: dir.to_path_buf(),
            staged: Vec::new(),
        }
    }

    /// Write `path` in full now; it replaces the old file at commit, in the
    /// order files were added.
    pub fn add(
        &mut self,
        path: &Path,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<()> {
        if let Staged::Temp { tmp, dest } = stage(path, write)? {
            self.staged.push((tmp, dest));
        }
        Ok(())
    }

    /// The files this set replaces or creates.
    pub fn destinations(&self) -> impl Iterator<Item = &Path> {
        self.staged.iter().map(|(_, d)| d.as_path())
    }

    /// Put every file in place.
    pub fn commit(self) -> Result<()> {
        let journal = self.dir.join(JOURNAL);
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let entries: Vec<(PathBuf, PathBuf)> = self
            .staged
            .iter()
            .map(|(t, d)| (abs(t.path()), abs(d)))
            .collect();
        write_atomic(&journal, |w| {
            for (t, d) in &entries {
                w.write_all(&path_bytes(t))?;
                w.write_all(b"\0")?;
                w.write_all(&path_bytes(d))?;
                w.write_all(b"\0")?;
            }
            Ok(())
        })?;
        for (tmp, dest) in self.staged {
            if let Err(e) = tmp.persist(&dest) {
                let _ = std::fs::remove_file(&journal);
                return Err(Error::output_io(&dest, &e.error));
            }
        }
        std::fs::remove_file(&journal).map_err(|e| Error::output_io(&journal, &e))
    }
}

/// Complete a [`FileSet`] commit a kill interrupted in `dir`: every
/// temporary its journal names that is still there goes to its place
/// (those already renamed are gone from their temporary names). Called
/// with `dir`'s lock held, before anything sweeps temporaries.
pub fn roll_forward(dir: &Path) {
    let journal = dir.join(JOURNAL);
    let Ok(bytes) = std::fs::read(&journal) else {
        return;
    };
    let parts: Vec<PathBuf> = bytes
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(bytes_path)
        .collect();
    for pair in parts.chunks_exact(2) {
        // only a temporary of ours, renamed within its own directory: a
        // journal is not a way to move other files
        let ours = pair[0]
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(TMP_PREFIX) && n.ends_with(TMP_SUFFIX));
        if ours && pair[0].parent() == pair[1].parent() && pair[0].is_file() {
            let _ = std::fs::rename(&pair[0], &pair[1]);
        }
    }
    let _ = std::fs::remove_file(&journal);
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(unix)]
fn bytes_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuse an output path that resolves to a file this run reads: an
/// input as given, any file a directory or glob input expands to (and the
/// evaluations beside a spans file), or one of `reads` (the configuration,
/// price tables, objectives, a query's SQL). Symlinks are followed.
pub fn refuse_input_as_output(out: &Path, inputs: &[String], reads: &[PathBuf]) -> Result<()> {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let Some(o) = canon(out) else { return Ok(()) };
    let mut read: Vec<PathBuf> = inputs.iter().map(PathBuf::from).collect();
    read.extend(reads.iter().cloned());
    if let Ok(x) = crate::ingest::source::expand(inputs) {
        for i in x.inputs {
            if let Some(p) = i.path() {
                read.extend(crate::frame::evals_sibling(p));
                read.push(p.to_path_buf());
            }
        }
    }
    for r in &read {
        // the output itself, or a directory holding something read
        if canon(r).is_some_and(|c| c.starts_with(&o)) {
            return Err(Error::usage(
                format!(
                    "the output {} is a file this run reads ({})",
                    out.display(),
                    r.display()
                ),
                "write to another path; nothing spanlens reads is ever overwritten",
            ));
        }
    }
    Ok(())
}

/// Where [`replace_dir`] moves the old `dest` while it swaps.
fn old_dir(dest: &Path) -> PathBuf {
    dest.with_file_name(format!(
        ".{}.spanlens-old",
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ))
}

/// Undo a swap a kill interrupted: with no `dest` but its old copy, the
/// old copy goes back; with both, the old copy goes.
pub fn recover_dir(dest: &Path) {
    let old = old_dir(dest);
    if !old.is_dir() {
        return;
    }
    if dest.exists() {
        let _ = std::fs::remove_dir_all(&old);
    } else {
        let _ = std::fs::rename(&old, dest);
    }
}

/// Replace directory `dest` with the fully written `staging` directory.
/// The caller has checked that `dest`, if it exists, is its own to replace
/// (`cmd::ingest::lake_exists`).
pub fn replace_dir(staging: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        let old = old_dir(dest);
        let _ = std::fs::remove_dir_all(&old);
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

/// Take an exclusive kernel lock (flock) on `f` without waiting: Ok(false)
/// when another open file holds it. The kernel releases it when its holder
/// closes the file or exits, however it exits: no pid to outlive its
/// process (a pid can be reused, and in a fresh container namespace the
/// next run may get the dead run's pid).
pub fn try_lock(f: &std::fs::File) -> io::Result<bool> {
    match f.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// A lock on an output directory: a kernel lock on `DIR/.spanlens.lock`,
/// held while this value lives and the file removed when it ends. A second
/// run refuses with a clear message; a killed run's lock goes with its
/// process (the file it leaves is taken over).
pub struct DirLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        DirLock::at(dir.join(".spanlens.lock"), dir)
    }

    /// The lock of `dir` held on the file `path` (a lake's lock lives
    /// beside it: the lake itself may be swapped).
    pub fn at(path: PathBuf, dir: &Path) -> Result<DirLock> {
        // a lock taken on a file another run removed just before is not the
        // lock at the path: take it again on the file that is there
        for _ in 0..8 {
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::output_io(&path, &e))?;
            if !try_lock(&f).map_err(|e| Error::output_io(&path, &e))? {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                return Err(Error::output(
                    dir,
                    format!(
                        "another spanlens run{} is writing this directory",
                        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
                    ),
                    "wait for it to finish: its lock goes when it ends",
                ));
            }
            if !same_file(&f, &path) {
                continue;
            }
            // the pid is for people reading the file; the lock is the kernel's
            let _ = f.set_len(0);
            let _ = writeln!(f, "{}", std::process::id());
            return Ok(DirLock { path, _file: f });
        }
        Err(Error::output(
            dir,
            "could not take the directory lock",
            "another run keeps replacing it; try again",
        ))
    }
}

/// Whether the open file `f` is the file at `path` now.
#[cfg(unix)]
fn same_file(f: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_f: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // removed while still locked (a run that opened it retries), and
        // only if the path is still this lock's file (its directory may
        // have been swapped away, and another run's lock be there now)
        if same_file(&self._file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
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

    /// Temporary files of a killed run are removed by the next write,
    /// whatever pid their name holds (issue 19: in a fresh container the
    /// next run may get the dead run's pid); a file whose writer holds its
    /// lock is kept, and so are unrelated files.
    #[test]
    fn issue19_stale_temporary_files_go_by_lock_not_pid() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".spanlens-4294967-abc.tmp");
        let same_pid = dir
            .path()
            .join(format!(".spanlens-{}-old.tmp", std::process::id()));
        let live = dir.path().join(".spanlens-1-xyz.tmp");
        let unrelated = dir.path().join("notes.tmp");
        for p in [&dead, &same_pid, &live, &unrelated] {
            std::fs::write(p, "partial").unwrap();
        }
        let writer = std::fs::File::open(&live).unwrap();
        assert!(try_lock(&writer).unwrap());
        // younger than the grace: kept, whatever its lock
        write_atomic(&dir.path().join("out.json"), |w| w.write_all(b"{}")).unwrap();
        assert_eq!(temps(dir.path()).len(), 4);
        std::thread::sleep(SWEEP_GRACE + std::time::Duration::from_millis(200));
        write_atomic(&dir.path().join("out.json"), |w| w.write_all(b"{}")).unwrap();
        assert_eq!(
            temps(dir.path()),
            [".spanlens-1-xyz.tmp".to_string(), "notes.tmp".to_string()]
        );
        drop(writer);
        write_atomic(&dir.path().join("out.json"), |w| w.write_all(b"{}")).unwrap();
        assert_eq!(temps(dir.path()), ["notes.tmp".to_string()]);
    }

    /// Issue 19 #9: a set whose last file fails (a full disk) replaces
    /// nothing, and leaves no temporary; a set committed replaces all.
    #[test]
    fn issue19_a_file_set_is_all_old_or_all_new() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("report.md"));
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        let mut set = FileSet::new(dir.path());
        set.add(&a, |w| w.write_all(b"new a")).unwrap();
        let e = set
            .add(&b, |_| Err(io::Error::from(io::ErrorKind::StorageFull)))
            .unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::OUTPUT);
        drop(set);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "old b");
        assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
        let mut set = FileSet::new(dir.path());
        set.add(&a, |w| w.write_all(b"new a")).unwrap();
        set.add(&b, |w| w.write_all(b"new b")).unwrap();
        set.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new b");
        assert!(!dir.path().join(JOURNAL).exists());
        assert!(temps(dir.path()).is_empty());
    }

    /// Issue 19 #9: a commit killed after its first rename (its journal
    /// and the second temporary left behind) is completed by the next run.
    #[test]
    fn issue19_a_killed_commit_is_rolled_forward() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.parquet"), "new a").unwrap();
        std::fs::write(d.join("report.md"), "old b").unwrap();
        std::fs::write(d.join(".spanlens-9-x.tmp"), "new b").unwrap();
        let mut journal = Vec::new();
        for (t, dest) in [
            (d.join(".spanlens-9-gone.tmp"), d.join("a.parquet")),
            (d.join(".spanlens-9-x.tmp"), d.join("report.md")),
        ] {
            journal.extend(path_bytes(&t));
            journal.push(0);
            journal.extend(path_bytes(&dest));
            journal.push(0);
        }
        std::fs::write(d.join(JOURNAL), journal).unwrap();
        roll_forward(d);
        assert_eq!(
            std::fs::read_to_string(d.join("a.parquet")).unwrap(),
            "new a"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("report.md")).unwrap(),
            "new b"
        );
        assert!(!d.join(JOURNAL).exists());
        assert!(temps(d).is_empty(), "{:?}", temps(d));
    }

    /// Regression: a lock holding a pid refused forever when the next run
    /// got the same pid; a kernel lock goes with its holder.
    #[test]
    fn issue19_a_directory_lock_is_the_kernels() {
        let dir = tempfile::tempdir().unwrap();
        // a lock file left by a killed run, naming this very process
        std::fs::write(
            dir.path().join(".spanlens.lock"),
            format!("{}\n", std::process::id()),
        )
        .unwrap();
        let held = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).err().unwrap();
        assert!(err.to_string().contains("another spanlens run"), "{err}");
        drop(held);
        DirLock::acquire(dir.path()).unwrap();
    }
}
