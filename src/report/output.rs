//! Output folders committed as one unit: every file of a run is written into a hidden staging
//! folder beside the destination, which then takes the destination's place in one rename.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::html::REPORT_FILES;

/// The files every run writes besides the report's.
const CORE_FILES: [&str; 5] = ["trajectories.txt", "vehicles.csv", "summary.json", "run.ron", "commands.ron"];

/// The files a run folder may hold; `--force` replaces only folders holding nothing else.
pub const RUN_FILES: [&str; CORE_FILES.len() + REPORT_FILES.len()] = {
    let mut all = [""; CORE_FILES.len() + REPORT_FILES.len()];
    let mut i = 0;
    while i < all.len() {
        all[i] = if i < CORE_FILES.len() { CORE_FILES[i] } else { REPORT_FILES[i - CORE_FILES.len()] };
        i += 1;
    }
    all
};

/// How the first line of a run folder's `run.ron` starts.
pub const RUN_RECORD_MARK: &str = "// unitwin run record";

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output folder {0} already exists and is not empty; pass --force to replace it, or choose another --out")]
    Exists(PathBuf),
    #[error("{0} is not a unitwin run folder ({1}); --force replaces only run folders, so choose another --out")]
    NotARunFolder(PathBuf, String),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, io::Error),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |e| OutputError::Io(path.to_path_buf(), e)
}

/// A run folder being written: files go into a hidden sibling of the destination, which replaces
/// the destination on [`Staging::commit`]. Dropped uncommitted, it removes itself.
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    committed: bool,
}

/// Hidden names beside `dest` used by this process: the staging folder, and where a replaced
/// folder waits to be removed.
fn sibling(dest: &Path, role: &str, pid: u32) -> PathBuf {
    let name = dest.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    dest.with_file_name(format!(".{name}.unitwin-{role}-{pid}"))
}

/// Whether a process with this id is running. Unknown (not Linux): assume it is, and keep its files.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// Removes staging and replaced folders of `dest` left by runs that were killed.
fn remove_stale(dest: &Path) {
    let Some(name) = dest.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = fs::read_dir(parent) else { return };
    let prefix = format!(".{name}.unitwin-");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let pid = rest.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !process_alive(pid)
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Why `dir` may not be replaced, if it may not: it holds something a run does not write.
fn foreign_content(dir: &Path) -> Option<String> {
    let entries = fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !RUN_FILES.contains(&name.as_str()) {
            return Some(format!("it holds '{name}'"));
        }
    }
    let record = fs::read_to_string(dir.join("run.ron")).unwrap_or_default();
    (!record.starts_with(RUN_RECORD_MARK)).then(|| "it has no unitwin run.ron".to_string())
}

impl Staging {
    /// Prepares to write the run folder `dest`. Refuses a non-empty `dest` unless `force`, and
    /// even then anything but a run folder.
    pub fn begin(dest: &Path, force: bool) -> Result<Staging, OutputError> {
        remove_stale(dest);
        if let Ok(mut entries) = fs::read_dir(dest)
            && entries.next().is_some()
        {
            if !force {
                return Err(OutputError::Exists(dest.to_path_buf()));
            }
            if let Some(why) = foreign_content(dest) {
                return Err(OutputError::NotARunFolder(dest.to_path_buf(), why));
            }
        } else if dest.exists() && !dest.is_dir() {
            return Err(OutputError::NotARunFolder(dest.to_path_buf(), "it is a file".into()));
        }
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let dir = sibling(dest, "tmp", std::process::id());
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
        }
        fs::create_dir(&dir).map_err(io_error(&dir))?;
        Ok(Staging { dir, dest: dest.to_path_buf(), committed: false })
    }

    /// The staging path of one output file.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The folder the run will be committed to.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Opens an output file for streaming.
    pub fn create(&self, file: &str) -> Result<BufWriter<File>, OutputError> {
        let path = self.path(file);
        let f = File::create(&path).map_err(io_error(&path))?;
        Ok(BufWriter::with_capacity(1 << 20, f))
    }

    /// Writes a whole output file.
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.path(file);
        let mut w = self.create(file)?;
        w.write_all(bytes).and_then(|_| w.flush()).map_err(io_error(&path))
    }

    /// Syncs the files and puts the folder in the destination's place in one step.
    pub fn commit(mut self) -> Result<(), OutputError> {
        for entry in fs::read_dir(&self.dir).map_err(io_error(&self.dir))?.flatten() {
            File::open(entry.path()).and_then(|f| f.sync_all()).map_err(io_error(&entry.path()))?;
        }
        let replaced = sibling(&self.dest, "old", std::process::id());
        if self.dest.exists() && !is_empty_dir(&self.dest) {
            if exchange(&self.dir, &self.dest).is_ok() {
                // The old run now sits at the staging name.
                let _ = fs::remove_dir_all(&self.dir);
            } else {
                fs::rename(&self.dest, &replaced).map_err(io_error(&self.dest))?;
                fs::rename(&self.dir, &self.dest).map_err(io_error(&self.dest))?;
                let _ = fs::remove_dir_all(&replaced);
            }
        } else {
            if self.dest.exists() {
                fs::remove_dir(&self.dest).map_err(io_error(&self.dest))?;
            }
            fs::rename(&self.dir, &self.dest).map_err(io_error(&self.dest))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut e| e.next().is_none())
}

/// Swaps two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A single file written under a temporary name in its folder and renamed into place (scenes
/// written by the importer, benchmark results).
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let name = dest.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(OutputError::Io(dest.to_path_buf(), e));
    }
    Ok(())
}
