//! Every malformed scene in tests/scenes/invalid/ must be rejected with the located message its
//! first line names (`// expect: LINE:COL: message`), by the library and by `unitwin check`.

use std::path::{Path, PathBuf};
use std::process::Command;

use unitwin::scene::read_scene;

fn cases() -> Vec<(PathBuf, String, String)> {
    let dir = Path::new(&unitwin_manifest_dir()).join("tests/scenes/invalid");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scenes/invalid exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let expect = text
                .lines()
                .next()
                .unwrap()
                .strip_prefix("// expect: ")
                .expect("first line is `// expect: LINE:COL: message`");
            let (pos, message) = expect.split_once(": ").unwrap();
            (path, pos.to_string(), message.to_string())
        })
        .collect();
    cases.sort();
    cases
}

#[test]
fn there_are_at_least_ten_malformed_scenes() {
    assert!(cases().len() >= 10, "only {} malformed scenes", cases().len());
}

#[test]
fn each_malformed_scene_gives_its_located_message() {
    for (path, pos, message) in cases() {
        let result = read_scene(&path).and_then(unitwin::twin::build);
        let Err(diags) = result else { panic!("{} was accepted, expected `{pos}: {message}`", path.display()) };
        let wanted = format!("{}:{pos}: error: ", path.display());
        let all = diags.to_string();
        assert!(
            diags.0.iter().any(|d| d.to_string().starts_with(&wanted) && d.to_string().contains(&message)),
            "{}: expected `{pos}: {message}`, got:\n{all}",
            path.display()
        );
    }
}

#[test]
fn unitwin_check_fails_with_the_message_and_never_panics() {
    for (path, pos, message) in cases() {
        let out = Command::new(env!("CARGO_BIN_EXE_unitwin")).arg("check").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: exit status {:?}, stderr:\n{stderr}", path.display(), out.status);
        assert!(!stderr.contains("panicked"), "{} panicked:\n{stderr}", path.display());
        assert!(
            stderr.contains(&format!(":{pos}: error: ")) && stderr.contains(&message),
            "{}: expected `{pos}: {message}` in:\n{stderr}",
            path.display()
        );
    }
}

#[test]
fn unitwin_run_refuses_a_malformed_scene() {
    let (path, _, message) = cases().into_iter().find(|c| c.0.ends_with("unreachable_exit.ron")).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_unitwin"))
        .args(["run", "--quiet", "--out"])
        .arg(out_dir.path().join("run"))
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&message));
    assert!(!out_dir.path().join("run").exists(), "no output folder for a rejected scene");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_unitwin")).args(["check", "scenes/no_such_scene.ron"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("scenes/no_such_scene.ron:1:1: error: cannot read the scene file"), "{stderr}");
}

#[test]
fn the_bundled_scenes_check_clean() {
    let dir = Path::new(&unitwin_manifest_dir()).join("scenes");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            if let Err(d) = read_scene(&path).and_then(unitwin::twin::build) {
                panic!("{} does not check clean:\n{d}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 1);
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
