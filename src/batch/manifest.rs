//! The batch manifest (`unitwin batch MANIFEST.ron`, version 1): scenes × variants × seeds, read with
//! located errors, and each variant's overrides applied to a scene as a scene file of its own.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scene::diagnostic::one_line;
use crate::scene::load::{hex, parse_ron, read_text};
use crate::scene::{
    Action, Diagnostic, Diagnostics, PedestrianModel, Placement, Routing, Scene, SourceMap, TimedEvent,
};

/// The only manifest format version this build reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Most runs one manifest may ask for (scenes × variants × seeds).
pub const MAX_RUNS: usize = 100_000;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "BatchManifest")]
pub struct Manifest {
    pub version: u32,
    /// Scene files, relative to the manifest's folder. Each is named in outputs by its file stem.
    pub scenes: Vec<String>,
    /// Every variant of every scene runs with each of these seeds (common random numbers).
    pub seeds: Vec<u64>,
    /// Stop every run at this simulated time (s); default: each scene's `run.duration`.
    #[serde(default)]
    pub until: Option<f64>,
    pub variants: Vec<Variant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub id: String,
    /// The variant the others are compared with; without any marked, the first.
    #[serde(default)]
    pub baseline: bool,
    #[serde(default)]
    pub overrides: Vec<Override>,
}

/// One change to a scene or to how it is run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Override {
    /// The door is closed from the start (a closed door is wall; routes are built without it).
    CloseDoor(String),
    /// The door is open from the start.
    OpenDoor(String),
    /// Pedestrian demand × factor: arrival rates and totals, and the counts placed in areas.
    ScaleDemand(f64),
    /// Vehicle flows' rates × factor.
    ScaleTraffic(f64),
    /// Another pedestrian model, e.g. `Model(SocialForce())` (with `Step(0.01)`).
    Model(PedestrianModel),
    /// Another routing, e.g. `Routing(DensityAware(interval: 2.0))`.
    Routing(Routing),
    /// Another time step (s); `output_interval` must stay a whole multiple of it.
    Step(f64),
    /// A measure switched on: a command applied at t = 0, as a timed scene event.
    AtStart(Action),
    /// Replays a `commands.ron` recorded by `unitwin run` (relative to the manifest's folder)
    /// instead of the scene's timed events, as `unitwin run --commands` does.
    Commands(String),
}

/// A manifest read and checked, with the files it names.
#[derive(Clone, Debug)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    pub source: SourceMap,
    pub scenes: Vec<ManifestScene>,
    /// Index into `manifest.variants`.
    pub baseline: usize,
    /// SHA-256 over the manifest's bytes and every file it names: two batches with the same key
    /// ask for the same runs.
    pub key: String,
}

#[derive(Clone, Debug)]
pub struct ManifestScene {
    /// The file stem, naming the scene's folder in the output.
    pub name: String,
    pub path: PathBuf,
}

/// Ids name folders and command-line objects: ASCII letters, digits, `_`, `-`, `.` (not first).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

/// Reads, parses and checks a manifest; every problem comes back located in the manifest.
pub fn read_manifest(path: &Path) -> Result<LoadedManifest, Diagnostics> {
    let (text, bytes) = read_text(path, "batch manifest")?;
    let source = SourceMap::new(path, text);
    if let Some((offset, Some(word))) = source.field_word("version")
        && word != MANIFEST_VERSION.to_string()
    {
        let (line, col) = source.position(offset);
        return Err(Diagnostics(vec![
            source
                .at(
                    line,
                    col,
                    None,
                    format!(
                        "batch manifest version {word} is not supported; this unitwin reads version {MANIFEST_VERSION}"
                    ),
                )
                .hint("see README.md, 'Batches'"),
        ]));
    }
    let manifest: Manifest = parse_ron(&source, "the batch manifest").map_err(|d| {
        // The parser's hints point at the scene format; a manifest's syntax is described elsewhere.
        Diagnostics(
            d.0.into_iter()
                .map(|mut d| {
                    d.hint = d.hint.map(|h| {
                        h.replace(
                            "README.md, 'Scene format', and the bundled scenes/*.ron",
                            "README.md, 'Batches', and scenes/batch/*.ron",
                        )
                        .replace("README.md, 'Scene format'", "README.md, 'Batches'")
                    });
                    d
                })
                .collect(),
        )
    })?;
    let mut diags = Diagnostics::default();
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut hasher = Sha256::new();
    hasher.update(b"unitwin batch manifest\n");
    hasher.update(&bytes);

    if manifest.scenes.is_empty() {
        diags.push(
            source
                .at_text("scenes", None, "no scenes: list at least one scene file")
                .hint("scenes: [\"../yuyangli.ron\"]"),
        );
    }
    let mut scenes: Vec<ManifestScene> = Vec::new();
    for file in &manifest.scenes {
        let path = dir.join(file);
        let at = |message: String| {
            source.at_text(&format!("\"{file}\""), Some(format!("scene '{}'", one_line(file))), message)
        };
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match std::fs::read(&path) {
            Err(e) => diags.push(
                at(format!("cannot read {}: {e}", path.display()))
                    .hint("scene paths are relative to the manifest's folder"),
            ),
            Ok(scene_bytes) => hasher.update(Sha256::digest(&scene_bytes)),
        }
        if !valid_name(&name) {
            diags.push(
                at(format!("the file name '{}' cannot name an output folder", one_line(&name)))
                    .hint("name scene files with ASCII letters, digits, '_', '-' and '.'"),
            );
        } else if scenes.iter().any(|s| s.name == name) {
            diags.push(
                at(format!("a second scene named '{name}': outputs are named by the file stem"))
                    .hint("rename one of the files"),
            );
        }
        scenes.push(ManifestScene { name, path });
    }

    if manifest.seeds.is_empty() {
        diags.push(source.at_text("seeds", None, "no seeds: list at least one").hint("seeds: [1, 2, 3]"));
    }
    for (i, seed) in manifest.seeds.iter().enumerate() {
        if manifest.seeds[..i].contains(seed) {
            diags.push(source.at_text("seeds", None, format!("seed {seed} is listed twice")).hint("each seed once"));
        }
    }
    if let Some(until) = manifest.until
        && !(until > 0.0 && until <= crate::scene::limits::MAX_DURATION)
    {
        diags.push(source.at_text(
            "until",
            None,
            format!(
                "until must be a positive number of seconds, at most {} (got {until})",
                crate::scene::limits::MAX_DURATION
            ),
        ));
    }
    let runs = manifest.scenes.len().saturating_mul(manifest.variants.len()).saturating_mul(manifest.seeds.len());
    if runs > MAX_RUNS {
        diags.push(
            source
                .at(1, 1, None, format!("{runs} runs asked for; at most {MAX_RUNS} per manifest"))
                .hint("split the sweep into several manifests"),
        );
    }

    if manifest.variants.is_empty() {
        diags.push(
            source
                .at_text("variants", None, "no variants: list at least the baseline")
                .hint("variants: [Variant(id: \"baseline\")]"),
        );
    }
    let mut baseline = None;
    for (i, variant) in manifest.variants.iter().enumerate() {
        let id = &variant.id;
        if !valid_name(id) {
            diags.push(source.at_id("variant", id, "a variant id names an output folder: use ASCII letters, digits, '_', '-' and '.', at most 64, not starting with '.'"));
        } else if manifest.variants[..i].iter().any(|v| &v.id == id) {
            let (line, col) = source.locate_id(id, 1).unwrap_or((1, 1));
            diags.push(
                source
                    .at(line, col, Some(format!("variant '{id}'")), "a second variant with this id")
                    .hint("variant ids are unique"),
            );
        }
        if variant.baseline {
            if let Some(first) = baseline {
                let first: &Variant = &manifest.variants[first];
                diags.push(
                    source
                        .at_id("variant", id, format!("a second baseline (the first is '{}')", one_line(&first.id)))
                        .hint("mark exactly one variant `baseline: true`, or none (then the first is the baseline)"),
                );
            } else {
                baseline = Some(i);
            }
        }
        for o in &variant.overrides {
            match o {
                Override::ScaleDemand(f) | Override::ScaleTraffic(f) if !(f.is_finite() && *f > 0.0 && *f <= 100.0) => {
                    diags.push(variant_at(&source, id, format!("a scale factor must lie in (0, 100] (got {f})")));
                }
                Override::Step(s) if !(s.is_finite() && *s > 0.0 && *s <= 0.25) => {
                    diags.push(variant_at(&source, id, format!("the step must lie in (0, 0.25] s (got {s})")));
                }
                Override::Commands(file) => {
                    let path = dir.join(file);
                    match std::fs::read(&path) {
                        Ok(b) => hasher.update(Sha256::digest(&b)),
                        Err(e) => diags.push(
                            source
                                .at_text(
                                    &format!("\"{file}\""),
                                    Some(format!("variant '{}'", one_line(id))),
                                    format!("cannot read {}: {e}", path.display()),
                                )
                                .hint("command files are relative to the manifest's folder"),
                        ),
                    }
                }
                _ => {}
            }
        }
        if variant.overrides.iter().filter(|o| matches!(o, Override::Commands(_))).count() > 1 {
            diags.push(variant_at(&source, id, "more than one command file: a run replays one"));
        }
    }
    if !diags.is_empty() {
        return Err(diags.sorted());
    }
    Ok(LoadedManifest { baseline: baseline.unwrap_or(0), manifest, source, scenes, key: hex(&hasher.finalize()) })
}

fn variant_at(source: &SourceMap, id: &str, message: impl Into<String>) -> Diagnostic {
    source.at_id("variant", id, message)
}

impl LoadedManifest {
    pub fn dir(&self) -> &Path {
        self.source.file.parent().unwrap_or(Path::new(""))
    }

    /// Whether a variant changes the scene itself (then it runs from a scene file of its own).
    pub fn changes_scene(&self, variant: usize) -> bool {
        self.manifest.variants[variant].overrides.iter().any(|o| !matches!(o, Override::Commands(_)))
    }

    /// The command file a variant replays.
    pub fn commands_file(&self, variant: usize) -> Option<PathBuf> {
        self.manifest.variants[variant].overrides.iter().find_map(|o| match o {
            Override::Commands(file) => Some(self.dir().join(file)),
            _ => None,
        })
    }

    /// Applies a variant's overrides to a scene. Overrides naming what the scene lacks are located
    /// in the manifest, at the variant.
    pub fn apply(&self, variant: usize, scene_name: &str, scene: &mut Scene) -> Result<(), Diagnostics> {
        let v = &self.manifest.variants[variant];
        let mut diags = Diagnostics::default();
        let door_ids = known(scene, "door");
        let missing = |what: &str, id: &str| {
            let at = self.locate_in_variant(&v.id, id);
            self.source
                .at(
                    at.0,
                    at.1,
                    Some(format!("variant '{}'", one_line(&v.id))),
                    format!("scene '{scene_name}' has no {what} '{}'", one_line(id)),
                )
                .hint(format!("{what}s of '{scene_name}': {door_ids}"))
        };
        for o in &v.overrides {
            match o {
                Override::CloseDoor(id) | Override::OpenDoor(id) => {
                    match scene.doors.iter_mut().find(|d| &d.id == id) {
                        Some(door) => door.open = matches!(o, Override::OpenDoor(_)),
                        None => diags.push(missing("door", id)),
                    }
                }
                Override::ScaleDemand(f) => {
                    for p in &mut scene.populations {
                        match &mut p.placement {
                            Placement::Area { count, .. } => *count = scale_count(*count, *f),
                            Placement::Arrivals { rates, total, .. } => {
                                for (_, rate) in rates.iter_mut() {
                                    *rate *= f;
                                }
                                if let Some(total) = total {
                                    *total = scale_count(*total, *f);
                                }
                            }
                        }
                    }
                }
                Override::ScaleTraffic(f) => {
                    for flow in &mut scene.traffic.flows {
                        for (_, rate) in flow.rate.iter_mut() {
                            *rate *= f;
                        }
                    }
                }
                Override::Model(m) => scene.model = m.clone(),
                Override::Routing(r) => scene.routing = *r,
                Override::Step(s) => scene.run.step = *s,
                Override::AtStart(action) => {
                    // Before the scene's own events, so that a later scene event still applies after it.
                    scene.events.insert(0, TimedEvent { at: 0.0, action: action.clone(), incident: false });
                }
                Override::Commands(_) => {}
            }
        }
        if diags.is_empty() { Ok(()) } else { Err(diags) }
    }

    /// Where `value` is written inside the variant `id` (its override), or the variant itself.
    fn locate_in_variant(&self, id: &str, value: &str) -> (usize, usize) {
        let Some((line, col)) = self.source.locate_id(id, 0) else { return (1, 1) };
        let start = offset_of(&self.source.text, line, col);
        let end = self.source.text[start..].find("Variant(").map_or(self.source.text.len(), |e| start + e);
        self.source.locate_string_in((start, end), value)
    }

    /// The scene text a variant runs: the scene with the overrides applied, written out in the
    /// scene format with a comment saying where it came from.
    pub fn variant_scene_text(&self, variant: usize, scene_name: &str, scene: &Scene) -> String {
        let v = &self.manifest.variants[variant];
        let overrides: Vec<String> = v
            .overrides
            .iter()
            .filter(|o| !matches!(o, Override::Commands(_)))
            .map(|o| ron::ser::to_string(o).unwrap_or_default())
            .collect();
        let config = ron::ser::PrettyConfig::default().struct_names(true);
        let body = ron::ser::to_string_pretty(scene, config).expect("a scene serialises");
        format!(
            "// Written by `unitwin batch` from scene '{scene_name}' with variant '{}' of {}: {}.\n// Regenerated from the manifest on every batch run; edit the manifest, not this file.\n{body}\n",
            one_line(&v.id),
            one_line(&self.source.file.display().to_string()),
            one_line(&overrides.join(", "))
        )
    }
}

fn scale_count(count: u32, f: f64) -> u32 {
    (count as f64 * f).round().clamp(0.0, u32::MAX as f64) as u32
}

/// The ids of one kind of object in a scene, for a hint.
fn known(scene: &Scene, what: &str) -> String {
    let ids: Vec<&str> = match what {
        "door" => scene.doors.iter().map(|d| d.id.as_str()).collect(),
        _ => Vec::new(),
    };
    if ids.is_empty() { "none".into() } else { ids.join(", ") }
}

/// The byte offset of a line and column (both from 1, the column in characters).
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    text[start..].char_indices().nth(col.saturating_sub(1)).map_or(text.len(), |(i, _)| start + i)
}
