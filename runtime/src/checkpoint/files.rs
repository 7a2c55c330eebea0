//! Output files: atomic replacement, temporary files that never outlive their save, and a check
//! that a path can be written before hours of work are spent on what it will hold.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The directory `path` is in (`.` for a bare file name) and its file name.
fn split(path: &Path) -> Result<(&Path, String)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| Error::format(path.display().to_string(), "not a file path"))?;
    Ok((dir, name.to_string_lossy().into_owned()))
}

/// The temporary file a save to `dir/name` by process `pid` writes first.
fn temporary(dir: &Path, name: &str, pid: u32) -> PathBuf {
    dir.join(format!(".{name}.{pid}.tmp"))
}

/// Replaces `path` with `bytes` atomically: written to a temporary file beside it, flushed,
/// renamed over it, and the directory flushed. On error the temporary file is removed and
/// `path` is untouched. Temporary files of earlier saves to `path` whose process has died (it
/// was killed mid-save) are removed first.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let (dir, name) = split(path)?;
    remove_stale(dir, &name);
    let temporary = temporary(dir, &name, std::process::id());
    let written = (|| -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io(path.display(), &e));
    }
    // The rename itself is durable once the directory is flushed.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes `dir/.name.PID.tmp` for every PID that is not a running process. Where running
/// processes cannot be listed (no `/proc`), nothing is removed.
fn remove_stale(dir: &Path, name: &str) {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return;
    }
    let (prefix, suffix) = (format!(".{name}."), ".tmp");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix)?.strip_suffix(suffix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Checks, before any work, that `path` can be written later: its directory exists and takes
/// a new file, and `path` itself is not a directory. Nothing is left behind.
pub fn check_writable(path: &Path) -> Result<()> {
    let (dir, name) = split(path)?;
    if path.is_dir() {
        return Err(Error::format(path.display().to_string(), "is a directory, not a file"));
    }
    if !dir.is_dir() {
        return Err(Error::format(
            path.display().to_string(),
            format!("cannot be written: the directory {} does not exist", dir.display()),
        ));
    }
    let probe = temporary(dir, &name, std::process::id());
    File::create(&probe).map_err(|e| Error::io(path.display(), &e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
