//! Output files and standard output, for every front-end.
//!
//! [`write_whole`] writes a report or a trace to a path so that nothing a
//! user had is lost:
//!
//! - a **regular file** (or a path that does not exist yet) is written whole
//!   or not at all: into a temporary file created exclusively (`O_EXCL`)
//!   beside it, synced, given the old file's permissions, then renamed over
//!   it; on any error the temporary file is removed and the old file stays;
//! - a **symbolic link** is followed to its target, which is then written as
//!   above (the link stays a link);
//! - anything else that can be opened for writing (a FIFO, a terminal,
//!   `/dev/null`, `/dev/full`) is written **directly**: it cannot be
//!   replaced, and a reader on the other end expects the bytes;
//! - a directory is an error.
//!
//! [`print`] writes to standard output and turns a reader that went away
//! (`pagelab ... | head`) into [`StdoutError::Closed`], which every command
//! treats as a reason to stop early and exit 0.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The most symbolic links followed before giving up (Linux's own limit
/// for one path lookup is 40).
const MAX_LINKS: usize = 40;

/// The most temporary names tried before giving up.
const MAX_TEMP_TRIES: u32 = 1000;

/// Follows `path` through symbolic links to what it finally names, which
/// may not exist yet (a dangling link names the file it would create).
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p)?;
                p = if target.is_absolute() { target } else { p.parent().map(|d| d.join(&target)).unwrap_or(target) };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("more than {MAX_LINKS} symbolic links")))
}

/// Writes what `write` produces to `path` (see the module documentation:
/// whole or not at all for files, directly for FIFOs and devices).
pub fn write_whole(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let target = resolve_links(path)?;
    match fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(io::Error::other("it is a directory")),
        Ok(m) if !m.is_file() => {
            // A FIFO, a device, a socket: write through it.
            let f = OpenOptions::new().write(true).open(&target)?;
            let mut w = io::BufWriter::new(f);
            write(&mut w)?;
            w.flush()
        }
        Ok(m) => replace_file(&target, Some(m.permissions()), write),
        Err(e) if e.kind() == io::ErrorKind::NotFound => replace_file(&target, None, write),
        Err(e) => Err(e),
    }
}

/// Writes `contents` to `path`, as [`write_whole`] does.
pub fn write_text(path: &Path, contents: &str) -> io::Result<()> {
    write_whole(path, |w| w.write_all(contents.as_bytes()))
}

/// A temporary file beside `target`, created exclusively, renamed over it
/// once written and synced.
fn replace_file(
    target: &Path,
    permissions: Option<fs::Permissions>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let (tmp, file) = create_temp(dir, &name)?;
    let result = (|| {
        if let Some(p) = permissions {
            file.set_permissions(p)?;
        }
        let mut w = io::BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `.NAME.pagelab-tmp-PID-N` in `dir` with `O_EXCL`, trying the
/// next N while the name is taken: a name someone else made (a file, or a
/// symbolic link planted to redirect the write) is never opened.
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    for n in 0..MAX_TEMP_TRIES {
        let tmp = dir.join(format!(".{name}.pagelab-tmp-{pid}-{n}"));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Private until the target's own permissions are applied.
            o.mode(0o600);
        }
        match o.open(&tmp) {
            Ok(f) => {
                #[cfg(unix)]
                {
                    // A new file gets what a plain create would give it.
                    use std::os::unix::fs::PermissionsExt;
                    let mode = 0o666 & !umask();
                    f.set_permissions(fs::Permissions::from_mode(mode))?;
                }
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("no free temporary name beside it after {MAX_TEMP_TRIES} tries")))
}

/// The process's file-creation mask, read without changing it (from
/// /proc where it is offered; 022, the common default, otherwise).
#[cfg(unix)]
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Umask:").and_then(|v| u32::from_str_radix(v.trim(), 8).ok()))
        })
        .unwrap_or(0o022)
}

/// Why a write to standard output stopped.
#[derive(Debug)]
pub enum StdoutError {
    /// The reader went away (a closed pipe). Not a failure: the command
    /// stops early and exits 0.
    Closed,
    /// Any other failure (a full disk behind a redirect, say).
    Io(io::Error),
}

impl From<io::Error> for StdoutError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            StdoutError::Closed
        } else {
            StdoutError::Io(e)
        }
    }
}

/// Writes `text` to standard output and flushes it.
pub fn print(text: &str) -> Result<(), StdoutError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pagelab-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(d: &Path) -> Vec<String> {
        fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("pagelab-tmp"))
            .collect()
    }

    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let d = scratch("link");
        fs::write(d.join("real.txt"), "old").unwrap();
        symlink("real.txt", d.join("link.txt")).unwrap();
        write_text(&d.join("link.txt"), "new").unwrap();
        assert!(fs::symlink_metadata(d.join("link.txt")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(d.join("real.txt")).unwrap(), "new");
        // A dangling link creates its target.
        symlink("sub/made.txt", d.join("dangling")).unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        write_text(&d.join("dangling"), "made").unwrap();
        assert_eq!(fs::read_to_string(d.join("sub/made.txt")).unwrap(), "made");
        assert!(leftovers(&d).is_empty() && leftovers(&d.join("sub")).is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn the_mode_of_a_replaced_file_is_kept() {
        let d = scratch("mode");
        let p = d.join("secret.json");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_text(&p, "new").unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let d = scratch("fail");
        let p = d.join("report.txt");
        fs::write(&p, "precious").unwrap();
        let e = write_whole(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(e.is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), "precious");
        assert!(leftovers(&d).is_empty());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_planted_temporary_name_is_never_opened() {
        let d = scratch("planted");
        let p = d.join("out.txt");
        // Someone made the first temporary name a link to a file of theirs.
        fs::write(d.join("victim"), "theirs").unwrap();
        symlink(d.join("victim"), d.join(format!(".out.txt.pagelab-tmp-{}-0", std::process::id()))).unwrap();
        write_text(&p, "mine").unwrap();
        assert_eq!(fs::read_to_string(d.join("victim")).unwrap(), "theirs");
        assert_eq!(fs::read_to_string(&p).unwrap(), "mine");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_device_is_written_directly_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        // /dev/null takes the bytes and stays a device.
        write_text(Path::new("/dev/null"), "gone").unwrap();
        assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        // /dev/full refuses them: an error, and the device is still there.
        if Path::new("/dev/full").exists() {
            let e = write_text(Path::new("/dev/full"), "x").unwrap_err();
            assert!(e.to_string().contains("space"), "{e}");
            assert!(fs::metadata("/dev/full").unwrap().file_type().is_char_device());
        }
    }

    #[test]
    fn a_directory_is_an_error() {
        let d = scratch("dir");
        let e = write_text(&d, "x").unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        assert!(d.is_dir());
        let _ = fs::remove_dir_all(&d);
    }
}
