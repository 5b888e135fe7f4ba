//! Batches: a manifest's scenes × variants × seeds run in parallel, resumable and shardable, compared
//! across variants (`compare.csv`, `compare.html`); rehearsals scored against a baseline (`unitwin compare`).

pub mod compare;
pub mod exec;
pub mod manifest;
pub mod rehearsal;
pub mod stats;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use exec::{BatchError, BatchOptions, BatchReport, run_batch};
pub use manifest::{LoadedManifest, Manifest, Override, read_manifest};

/// How the first line of a batch folder's `batch.ron` starts.
pub const BATCH_RECORD_MARK: &str = "// unitwin batch record";

/// What a batch folder was made from, so that a resumed or merged batch never mixes runs of two
/// manifests or two unitwin versions. Written once, when the folder is created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRecord {
    pub unitwin_version: String,
    /// The manifest file as given on the command line.
    pub manifest: String,
    /// SHA-256 over the manifest and every scene and command file it names.
    pub manifest_key: String,
    /// Scene names (file stems), variant ids and seeds, in manifest order.
    pub scenes: Vec<String>,
    pub variants: Vec<String>,
    pub baseline: String,
    pub seeds: Vec<u64>,
}

impl BatchRecord {
    pub fn of(manifest: &LoadedManifest) -> BatchRecord {
        let m = &manifest.manifest;
        BatchRecord {
            unitwin_version: crate::report::VERSION.into(),
            manifest: manifest.source.file.display().to_string(),
            manifest_key: manifest.key.clone(),
            scenes: manifest.scenes.iter().map(|s| s.name.clone()).collect(),
            variants: m.variants.iter().map(|v| v.id.clone()).collect(),
            baseline: m.variants[manifest.baseline].id.clone(),
            seeds: m.seeds.clone(),
        }
    }

    pub fn to_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::default().struct_names(true);
        let body = ron::ser::to_string_pretty(self, config).expect("plain data serialises");
        format!(
            "{BATCH_RECORD_MARK}: resume with `unitwin batch {} --out DIR`; combine shards with `unitwin merge`\n{body}\n",
            crate::report::summary::shell_word(&self.manifest)
        )
    }

    /// Reads `dir/batch.ron`: `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> Result<Option<BatchRecord>, String> {
        let path = dir.join("batch.ron");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        if !text.starts_with(BATCH_RECORD_MARK) {
            return Err(format!("{} is not a unitwin batch record", path.display()));
        }
        crate::scene::load::ron_options()
            .from_str::<BatchRecord>(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a unitwin batch record: {e}", path.display()))
    }

    /// Every run of the manifest, in manifest order: scenes, then variants, then seeds.
    pub fn runs(&self) -> Vec<RunId> {
        let mut runs = Vec::with_capacity(self.scenes.len() * self.variants.len() * self.seeds.len());
        for scene in 0..self.scenes.len() {
            for variant in 0..self.variants.len() {
                for (seed_index, &seed) in self.seeds.iter().enumerate() {
                    runs.push(RunId { index: runs.len(), scene, variant, seed_index, seed });
                }
            }
        }
        runs
    }

    pub fn baseline_index(&self) -> usize {
        self.variants.iter().position(|v| *v == self.baseline).unwrap_or(0)
    }

    /// A run's folder under a batch folder: `<scene>/<variant>/seed<N>`.
    pub fn run_dir(&self, root: &Path, run: &RunId) -> PathBuf {
        root.join(&self.scenes[run.scene]).join(&self.variants[run.variant]).join(format!("seed{}", run.seed))
    }

    pub fn run_name(&self, run: &RunId) -> String {
        format!("{}/{}/seed{}", self.scenes[run.scene], self.variants[run.variant], run.seed)
    }

    /// Why two batch folders cannot be combined, if they cannot.
    pub fn mismatch(&self, other: &BatchRecord) -> Option<String> {
        if self.unitwin_version != other.unitwin_version {
            return Some(format!("unitwin {} against unitwin {}", self.unitwin_version, other.unitwin_version));
        }
        if self.manifest_key != other.manifest_key
            || *self != (BatchRecord { manifest: self.manifest.clone(), ..other.clone() })
        {
            return Some(format!(
                "manifest {} (key {}…) against manifest {} (key {}…): the manifest or a scene or command file it names differs",
                self.manifest,
                short(&self.manifest_key),
                other.manifest,
                short(&other.manifest_key)
            ));
        }
        None
    }
}

/// The start of a key, for messages (a record read from disk may hold anything).
pub fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

/// One run of a batch: a row of the expanded manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunId {
    /// Position in manifest order (scene, variant, seed), from 0.
    pub index: usize,
    pub scene: usize,
    pub variant: usize,
    pub seed_index: usize,
    pub seed: u64,
}

/// `--shard I/N`: shard `I` (from 0) of `N` runs the runs whose manifest-order index is `I` mod `N`.
/// Interleaving spreads every scene and variant (and so their costs) evenly over the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn takes(&self, run: &RunId) -> bool {
        run.index % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes I/N with 0 ≤ I < N, e.g. 0/4 (got '{s}')");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Whether a run's folder is complete: the run record and summary that a committed run always has.
/// A run folder only appears by the final rename of its staging folder, so this holds for every
/// run that finished and for nothing half-written.
pub fn run_finished(dir: &Path) -> bool {
    let record = std::fs::read_to_string(dir.join("run.ron")).unwrap_or_default();
    record.starts_with(crate::report::output::RUN_RECORD_MARK)
        && ["summary.json", "commands.ron", "trajectories.txt"].iter().all(|f| dir.join(f).is_file())
}
