//! Running a batch: the folder and its record, each variant's scene and twin, and a pool of workers
//! that run the pending runs through `runner::run_to_folder` (the code of `unitwin run`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::manifest::LoadedManifest;
use super::{BatchRecord, RunId, Shard, compare, read_manifest, run_finished};
use crate::app::RunOptions;
use crate::command::ReplayCommands;
use crate::report::write_atomic;
use crate::runner::{RunError, RunRequest, replay_from_file, run_to_folder};
use crate::scene::{Diagnostics, read_scene};
use crate::twin::Twin;

#[derive(Clone, Debug)]
pub struct BatchOptions {
    pub out: PathBuf,
    /// Runs at once (each on `cores / jobs` threads, at least one).
    pub jobs: usize,
    pub shard: Shard,
    /// Rerun every run of this shard, replacing finished ones.
    pub force: bool,
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// An invalid manifest, scene, variant or command file (exit 2).
    #[error("{0}")]
    Input(Diagnostics),
    /// The output folder cannot be used (exit 1).
    #[error("{0}")]
    Folder(String),
    #[error(
        "interrupted: {finished} of {total} runs of this batch are finished and kept; run the same command again to resume"
    )]
    Interrupted { finished: usize, total: usize },
    #[error("{} run(s) failed:\n{}", .0.len(), .0.iter().map(|(run, e)| format!("  {run}: {e}")).collect::<Vec<_>>().join("\n"))]
    RunsFailed(Vec<(String, String)>),
}

/// What a batch did.
pub struct BatchReport {
    /// Runs of this shard, and how many were already finished.
    pub total: usize,
    pub skipped: usize,
    /// Wall seconds of each run made now, in manifest order.
    pub run_seconds: Vec<f64>,
    pub wall_seconds: f64,
    pub jobs: usize,
    pub threads_per_run: usize,
    /// Whether `compare.csv` and `compare.html` were written (only when the whole manifest ran here).
    pub compared: bool,
}

/// A (scene, variant) ready to run: its twin and the commands it replays.
struct Prepared {
    twin: Twin,
    replay: Option<(ReplayCommands, PathBuf)>,
}

/// Runs this shard's share of a manifest into `options.out`, skipping finished runs, and writes the
/// comparison when the whole manifest is done.
pub fn run_batch(manifest_path: &Path, options: &BatchOptions, stop: &AtomicBool) -> Result<BatchReport, BatchError> {
    let started = Instant::now();
    let manifest = read_manifest(manifest_path).map_err(BatchError::Input)?;
    let record = BatchRecord::of(&manifest);
    let texts = variant_scenes(&manifest)?;
    open_folder(&options.out, &record, options.force)?;
    let runs: Vec<RunId> = record.runs().into_iter().filter(|r| options.shard.takes(r)).collect();
    let pending: Vec<RunId> =
        runs.iter().copied().filter(|r| options.force || !run_finished(&record.run_dir(&options.out, r))).collect();
    let prepared = prepare(&manifest, &record, &texts, &options.out, &pending)?;

    let cores = crate::schedule::available_cores();
    let jobs = options.jobs.clamp(1, pending.len().max(1));
    let threads_per_run = (cores / jobs).max(1);
    let log = Mutex::new(open_log(&options.out)?);
    let bar = if options.progress && !pending.is_empty() {
        ProgressBar::new(pending.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} runs ({elapsed}, eta {eta}) {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let next = AtomicUsize::new(0);
    // By manifest position, so that what is reported never depends on which run finished first.
    let outcomes: Mutex<BTreeMap<usize, Result<f64, String>>> = Mutex::new(BTreeMap::new());
    let running: Mutex<BTreeMap<usize, String>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(run) = pending.get(i) else { return };
                    let name = record.run_name(run);
                    let show = |running: &BTreeMap<usize, String>| {
                        bar.set_message(running.values().cloned().collect::<Vec<_>>().join(", "))
                    };
                    show(&{
                        let mut r = running.lock().unwrap();
                        r.insert(run.index, name.clone());
                        r.clone()
                    });
                    log_line(&log, &format!("started {name}"));
                    let dir = record.run_dir(&options.out, run);
                    if remove_incomplete(&dir) {
                        log_line(&log, &format!("removed the incomplete folder of {name}"));
                    }
                    let p = &prepared[&(run.scene, run.variant)];
                    let mut run_options = RunOptions::from_twin(&p.twin);
                    run_options.seed = run.seed;
                    run_options.until = manifest.manifest.until.unwrap_or(run_options.until);
                    run_options.threads = Some(threads_per_run);
                    run_options.replay = p.replay.as_ref().map(|(r, _)| r.clone());
                    let request = RunRequest {
                        options: run_options,
                        out_dir: dir,
                        // A pending run's folder is absent, or incomplete (which `Staging` replaces
                        // only if it holds nothing but run files), or `--force` asked for a rerun.
                        force: true,
                        progress: false,
                        commands_file: p.replay.as_ref().map(|(_, f)| f.clone()),
                    };
                    let outcome = match run_to_folder(&p.twin, &request, stop) {
                        Ok(result) => {
                            log_line(
                                &log,
                                &format!(
                                    "finished {name}: {:.1} s simulated in {:.2} s wall",
                                    result.summary.simulated_time, result.wall_seconds
                                ),
                            );
                            bar.inc(1);
                            Ok(result.wall_seconds)
                        }
                        Err(RunError::Interrupted { t, .. }) => {
                            log_line(&log, &format!("interrupted {name} at t = {t:.1} s; nothing kept"));
                            Err("interrupted".to_string())
                        }
                        Err(e) => {
                            let text = match e {
                                RunError::Scene(d) => d.to_string(),
                                other => other.to_string(),
                            };
                            log_line(&log, &format!("failed {name}: {}", text.replace('\n', " ")));
                            bar.inc(1);
                            Err(text)
                        }
                    };
                    outcomes.lock().unwrap().insert(run.index, outcome);
                    show(&{
                        let mut r = running.lock().unwrap();
                        r.remove(&run.index);
                        r.clone()
                    });
                }
            });
        }
    });
    bar.finish_and_clear();
    let outcomes = outcomes.into_inner().unwrap();
    let finished_now = outcomes.values().filter(|o| o.is_ok()).count();
    if stop.load(Ordering::Relaxed) {
        return Err(BatchError::Interrupted { finished: runs.len() - pending.len() + finished_now, total: runs.len() });
    }
    let failed: Vec<(String, String)> = pending
        .iter()
        .filter_map(|r| match outcomes.get(&r.index) {
            Some(Err(e)) => Some((record.run_name(r), e.clone())),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        return Err(BatchError::RunsFailed(failed));
    }
    let compared = options.shard.count == 1;
    if compared {
        let comparison =
            compare::Comparison::collect(&record, std::slice::from_ref(&options.out)).map_err(BatchError::Folder)?;
        comparison.write(&options.out).map_err(BatchError::Folder)?;
    }
    Ok(BatchReport {
        total: runs.len(),
        skipped: runs.len() - pending.len(),
        run_seconds: outcomes.values().filter_map(|o| o.as_ref().ok().copied()).collect(),
        wall_seconds: started.elapsed().as_secs_f64(),
        jobs,
        threads_per_run,
        compared,
    })
}

/// Creates the batch folder with its record, or checks that an existing one was made from the same
/// manifest, scenes and unitwin version. `--force` lets a changed manifest take over a batch folder
/// (its runs are then all rerun), as does any manifest when no run of the earlier one finished;
/// nothing else is ever replaced.
fn open_folder(out: &Path, record: &BatchRecord, force: bool) -> Result<(), BatchError> {
    let existing = BatchRecord::read(out).map_err(BatchError::Folder)?;
    match existing {
        Some(old) => {
            if let Some(why) = old.mismatch(record) {
                // A folder whose manifest failed its checks before any run finished holds nothing to lose.
                let kept = old.runs().iter().any(|r| run_finished(&old.run_dir(out, r)));
                if kept && !force {
                    return Err(BatchError::Folder(format!(
                        "{} holds a batch of another manifest or unitwin version ({why}); its runs cannot be reused. \
                         Choose another --out, or pass --force to rerun every run there",
                        out.display()
                    )));
                }
            } else if old == *record {
                return Ok(());
            }
        }
        None => {
            if let Ok(mut entries) = std::fs::read_dir(out)
                && entries.next().is_some()
            {
                return Err(BatchError::Folder(format!(
                    "{} is not empty and holds no batch.ron: it is not a unitwin batch folder; choose another --out",
                    out.display()
                )));
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| BatchError::Folder(format!("cannot create {}: {e}", out.display())))?;
    write_atomic(&out.join("batch.ron"), record.to_ron().as_bytes()).map_err(|e| BatchError::Folder(e.to_string()))
}

fn open_log(out: &Path) -> Result<File, BatchError> {
    let path = out.join("batch.log");
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| BatchError::Folder(format!("cannot write {}: {e}", path.display())))
}

/// One line of `batch.log`: what started, finished, failed or was interrupted, for the record (a
/// resumed batch shows which runs were made by which invocation).
fn log_line(log: &Mutex<File>, line: &str) {
    let mut file = log.lock().unwrap();
    let _ = writeln!(file, "{line}");
    let _ = file.flush();
}

/// Applies every variant's overrides to every scene, so that a bad override is reported before
/// anything is written: the text of each variant's own scene file (`None` where a variant leaves
/// the scene as it is), by scene and variant.
fn variant_scenes(manifest: &LoadedManifest) -> Result<Vec<Vec<Option<String>>>, BatchError> {
    let mut diags = Diagnostics::default();
    let mut texts = Vec::new();
    for scene in &manifest.scenes {
        let loaded = match read_scene(&scene.path) {
            Ok(l) => l,
            Err(d) => {
                diags.0.extend(d.0);
                continue;
            }
        };
        let mut per_variant = Vec::new();
        for vi in 0..manifest.manifest.variants.len() {
            if !manifest.changes_scene(vi) {
                per_variant.push(None);
                continue;
            }
            let mut variant_scene = loaded.scene.clone();
            match manifest.apply(vi, &scene.name, &mut variant_scene) {
                Ok(()) => per_variant.push(Some(manifest.variant_scene_text(vi, &scene.name, &variant_scene))),
                Err(d) => diags.0.extend(d.0),
            }
        }
        texts.push(per_variant);
    }
    if diags.is_empty() { Ok(texts) } else { Err(BatchError::Input(diags)) }
}

/// Builds the twins of the (scene, variant) pairs with pending runs. A variant that changes the
/// scene runs from its own scene file, `<scene>/<variant>/scene.ron` in the batch folder, so that
/// each of its runs can be repeated with `unitwin run` (its `run.ron` says how).
fn prepare(
    manifest: &LoadedManifest,
    record: &BatchRecord,
    texts: &[Vec<Option<String>>],
    out: &Path,
    pending: &[RunId],
) -> Result<BTreeMap<(usize, usize), Prepared>, BatchError> {
    let mut diags = Diagnostics::default();
    let mut prepared = BTreeMap::new();
    for (si, scene) in manifest.scenes.iter().enumerate() {
        for (vi, text) in texts[si].iter().enumerate() {
            if !pending.iter().any(|r| r.scene == si && r.variant == vi) {
                continue;
            }
            let path = match text {
                Some(text) => {
                    let path = out.join(&record.scenes[si]).join(&record.variants[vi]).join("scene.ron");
                    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                        let written = std::fs::create_dir_all(path.parent().expect("a file in a folder"))
                            .map_err(|e| e.to_string())
                            .and_then(|_| write_atomic(&path, text.as_bytes()).map_err(|e| e.to_string()));
                        if let Err(e) = written {
                            return Err(BatchError::Folder(format!("cannot write {}: {e}", path.display())));
                        }
                    }
                    path
                }
                None => scene.path.clone(),
            };
            let twin = match crate::twin::load(&path) {
                Ok(t) => t,
                Err(d) => {
                    let v = &manifest.manifest.variants[vi];
                    diags.push(manifest.source.at_id(
                        "variant",
                        &v.id,
                        format!("scene '{}' with this variant is not a valid scene (problems follow)", scene.name),
                    ));
                    diags.0.extend(d.0);
                    continue;
                }
            };
            let replay = match manifest.commands_file(vi) {
                None => None,
                Some(file) => match replay_from_file(&twin, &file) {
                    Ok((commands, warning)) => {
                        if let Some(w) = warning {
                            eprintln!("warning: {w}");
                        }
                        Some((commands, file))
                    }
                    Err(d) => {
                        diags.0.extend(d.0);
                        continue;
                    }
                },
            };
            prepared.insert((si, vi), Prepared { twin, replay });
        }
    }
    if diags.is_empty() { Ok(prepared) } else { Err(BatchError::Input(diags)) }
}

/// What a merge found.
pub struct MergeReport {
    pub runs: usize,
    pub missing: Vec<String>,
}

/// Combines the batch folders of shards (or of any partial runs of one manifest) into the
/// comparison in `out`. Refuses folders of different manifests or unitwin versions, and missing
/// runs unless `allow_missing`.
pub fn merge(dirs: &[PathBuf], out: &Path, allow_missing: bool) -> Result<MergeReport, BatchError> {
    let mut first: Option<(BatchRecord, &PathBuf)> = None;
    for dir in dirs {
        let record = BatchRecord::read(dir).map_err(BatchError::Folder)?.ok_or_else(|| {
            BatchError::Folder(format!("{} holds no batch.ron: it is not a unitwin batch folder", dir.display()))
        })?;
        match &first {
            None => first = Some((record, dir)),
            Some((r, d)) => {
                if let Some(why) = r.mismatch(&record) {
                    return Err(BatchError::Folder(format!(
                        "cannot merge {} and {}: they are batches of different runs ({why})",
                        d.display(),
                        dir.display()
                    )));
                }
            }
        }
    }
    let Some((record, _)) = first else { return Err(BatchError::Folder("no batch folders to merge".into())) };
    let comparison = compare::Comparison::collect(&record, dirs).map_err(BatchError::Folder)?;
    let missing = comparison.missing.clone();
    if !missing.is_empty() && !allow_missing {
        let shown: Vec<&str> = missing.iter().take(20).map(String::as_str).collect();
        let more = if missing.len() > 20 { format!(" and {} more", missing.len() - 20) } else { String::new() };
        return Err(BatchError::Folder(format!(
            "{} of {} runs are missing: {}{more}; run the missing shards (or resume them), or pass --allow-missing",
            missing.len(),
            record.runs().len(),
            shown.join(", ")
        )));
    }
    open_folder(out, &record, false)?;
    comparison.write(out).map_err(BatchError::Folder)?;
    Ok(MergeReport { runs: record.runs().len() - missing.len(), missing })
}

/// Removes a run folder that is not finished and holds nothing but run files (never made by
/// unitwin, whose run folders appear whole, but possible by hand or by a foreign copy tool), so
/// that its run is made again. A folder holding anything else is left for `Staging` to refuse.
fn remove_incomplete(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    let only_run_files = entries.flatten().all(|e| {
        e.file_type().is_ok_and(|t| t.is_file())
            && crate::report::RUN_FILES.contains(&e.file_name().to_string_lossy().as_ref())
    });
    only_run_files && !run_finished(dir) && std::fs::remove_dir_all(dir).is_ok()
}

/// `unitwin batch --dry-run`: checks the manifest and builds every (scene, variant) twin, writing
/// nothing, and returns the runs of `shard` by their folder names, in manifest order.
pub fn dry_run(manifest_path: &Path, shard: Shard) -> Result<Vec<String>, BatchError> {
    let manifest = read_manifest(manifest_path).map_err(BatchError::Input)?;
    let record = BatchRecord::of(&manifest);
    let texts = variant_scenes(&manifest)?;
    let mut diags = Diagnostics::default();
    for (si, scene) in manifest.scenes.iter().enumerate() {
        for (vi, text) in texts[si].iter().enumerate() {
            let built = match text {
                // Located as the batch would write it, so that messages name the same file.
                Some(text) => {
                    let path = Path::new("<out>").join(&record.scenes[si]).join(&record.variants[vi]).join("scene.ron");
                    crate::scene::parse_scene(crate::scene::SourceMap::new(&path, text.clone()), String::new())
                        .and_then(crate::twin::build)
                }
                None => crate::twin::load(&scene.path),
            };
            match built {
                Ok(twin) => {
                    if let Some(file) = manifest.commands_file(vi)
                        && let Err(d) = replay_from_file(&twin, &file)
                    {
                        diags.0.extend(d.0);
                    }
                }
                Err(d) => {
                    diags.push(manifest.source.at_id(
                        "variant",
                        &manifest.manifest.variants[vi].id,
                        format!("scene '{}' with this variant is not a valid scene (problems follow)", scene.name),
                    ));
                    diags.0.extend(d.0);
                }
            }
        }
    }
    if !diags.is_empty() {
        return Err(BatchError::Input(diags));
    }
    Ok(record.runs().iter().filter(|r| shard.takes(r)).map(|r| record.run_name(r)).collect())
}
