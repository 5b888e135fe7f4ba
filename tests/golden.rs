//! A golden run: the outputs of one pilot scene at its own seed, hashed and stored, so that any
//! change of results (a dependency, a platform, a refactor) is seen and explained in its commit.

use std::process::Command;

use sha2::{Digest, Sha256};

const SCENE: &str = "scenes/yuyangli.ron";
const GOLDEN: &str = "tests/golden/yuyangli.sha256";
const FILES: [&str; 3] = ["trajectories.txt", "summary.json", "commands.ron"];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_golden_run_is_unchanged() {
    let root = std::path::PathBuf::from(unitwin_manifest_dir());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("golden");
    let o = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .current_dir(&root)
        .args(["run", SCENE, "--quiet", "--threads", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let measured: String =
        FILES.iter().map(|f| format!("{}  {f}\n", hex(&Sha256::digest(std::fs::read(out.join(f)).unwrap())))).collect();
    if std::env::var_os("UNITWIN_BLESS").is_some() {
        std::fs::write(root.join(GOLDEN), &measured).unwrap();
        println!("wrote {GOLDEN}:\n{measured}");
        return;
    }
    let stored = std::fs::read_to_string(root.join(GOLDEN)).unwrap_or_default();
    assert!(
        stored == measured,
        "the results of {SCENE} changed.\nstored ({GOLDEN}):\n{stored}\nnow:\n{measured}\n\
         If the change is intended, run `UNITWIN_BLESS=1 cargo test --release --test golden` and say in the \
         commit message why the results changed."
    );
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
