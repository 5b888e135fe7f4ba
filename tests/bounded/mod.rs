//! Running the `unitwin` binary in bounded time and memory, for the malformed-input tests: under
//! `ulimit -v`, with both pipes drained on threads, killed when it takes longer than allowed.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run gave.
pub struct Bounded {
    /// Exit status; `None` when a signal ended it (an abort, a crash, being killed).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
    pub timed_out: bool,
}

/// Runs `unitwin ARGS` in `dir` with `address_space_kib` KiB of address space, killing it after `timeout`.
pub fn run_bounded<S: AsRef<OsStr>>(args: &[S], dir: &Path, address_space_kib: u64, timeout: Duration) -> Bounded {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {address_space_kib}; exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_unitwin"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start unitwin under sh");
    // Both pipes are read on threads, so that a chatty child cannot block on a full pipe.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for unitwin") {
            break status;
        }
        if started.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("reap unitwin");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    Bounded { code: status.code(), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap(), took, timed_out }
}
