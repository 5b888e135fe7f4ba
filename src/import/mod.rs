//! GIS import: GeoJSON and OpenStreetMap XML files → a checked unitwin scene on one level.
//! Owns the WGS84 → local-metre projection, tag interpretation, line buffering, geometry cleaning and exit placement.
//!
//! What is kept (both formats read the same tags; GeoJSON properties are read as OSM tags):
//! - buildings: polygons with `building` (not `no`), `height` or `building:levels` → `Building`s;
//!   height from `height` (m; `ft` and `'` converted), else `building:levels` × 3.0 m, else one floor
//!   of 3.0 m; every assumption is recorded in `unit.sources`;
//! - walkable polygons: `unitwin=walkable`, `highway=pedestrian|footway` (GeoJSON polygons; OSM closed
//!   ways with `area=yes`), `area:highway=*`, `place=square` → walkable `Area`s;
//! - walkable lines: `highway=footway|pedestrian|path|steps|living_street` or `unitwin=walkable`,
//!   buffered by `width`/2 (flat caps, bevelled joins; default widths in [`default_width`]); in OSM
//!   files a `living_street` is a road instead (below);
//! - roads (OSM): ways with `highway=primary|secondary|tertiary|residential|…` → `Street`s split
//!   at junctions, with `Junction`s, `Crossing`s and estimated fixed-time `Signal`s (see [`roads`]);
//! - exits: points with `entrance=*` (not `no`) or `unitwin=exit` → exit `Door`s on the nearest
//!   boundary of the walkable space, if within [`EXIT_SNAP`] m.
//!
//! Everything goes on one level, `ground`. Buildings cut the walkable space, as everywhere in unitwin.

pub mod build;
pub mod cli;
pub mod geojson;
pub mod osm;
pub mod project;
pub mod roads;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::scene::{LatLon, Point, Scene};
pub use project::{Projection, parse_origin};

/// Storey height used to turn `building:levels` into a height, m.
pub const STOREY_HEIGHT: f64 = 3.0;
/// Width of an exit door when the entrance has no `width`, m.
pub const DEFAULT_EXIT_WIDTH: f64 = 1.0;
/// How far (m) an entrance point may lie from the walkable boundary to become an exit.
pub const EXIT_SNAP: f64 = 2.0;
/// Narrowest walkable line kept as drawn, m; narrower widths are raised to it (one person passes).
pub const MIN_LINE_WIDTH: f64 = 0.8;
/// Points further than this from `--origin` are refused: the local projection is meant for a unit.
pub const MAX_EXTENT: f64 = 50_000.0;

// ---- Limits: what the importer refuses up front, so that any input is handled in bounded time
// and memory (see the README's "Importing GIS data: limits").

/// Largest navigation grid, in cells. The grid covers the walkable space's bounding box plus two
/// cells on every side; the cell grows from 0.25 m up to 1 m to stay below this.
pub const MAX_NAV_CELLS: f64 = 4.0e6;
/// The coarsest navigation cell the importer chooses, m.
pub const MAX_NAV_CELL: f64 = 1.0;
/// Widest walkable line (`width`/`est_width`), m. The widest pedestrian streets and squares drawn as
/// lines are a few tens of metres; anything wider is a tagging error (e.g. `width=99999999`).
pub const MAX_LINE_WIDTH: f64 = 100.0;
/// Tallest building (`height`), m, and most storeys (`building:levels`): above the tallest
/// buildings standing (828 m, 163 storeys), so larger values are tagging errors.
pub const MAX_BUILDING_HEIGHT: f64 = 1000.0;
pub const MAX_BUILDING_LEVELS: f64 = 300.0;
/// Most corners (positions, OSM node references) of all kept features together. A dense 2 km ×
/// 2 km city extract has a few hundred thousand.
pub const MAX_VERTICES: usize = 1_000_000;
/// Most exits (entrance points). The engine places each door by scanning every wall of its level,
/// so doors × walls must stay bounded; a unit has tens of exits, a dense city block hundreds.
pub const MAX_EXITS: usize = 2_000;
/// Most XML elements in an OSM file (about a 400 MB file); roxmltree's `nodes_limit` is set so
/// that it cannot be reached first (text nodes included).
pub const MAX_XML_ELEMENTS: usize = 8_000_000;
/// Most corners of one polygon once cleaned (outline and holes, after dropping points within
/// 0.5 mm of a straight line). The scene checker tests every pair of a ring's edges, so a polygon's
/// check time grows with the square of its corners; an OSM way has at most 2,000 nodes, and its
/// buffered outline about twice as many corners.
pub const MAX_POLYGON_CORNERS: usize = 5_000;
/// Most corners of one population polygon written by `--people` (larger spawn pieces are cut).
pub const MAX_PIECE_CORNERS: usize = 500;

/// Default width (m) of a walkable line by its `highway` value, when it has no `width` tag.
pub fn default_width(highway: &str) -> f64 {
    match highway {
        "pedestrian" => 4.0,
        "living_street" => 5.0,
        "path" => 1.5,
        _ => 2.0, // footway, steps, unitwin=walkable
    }
}

/// A problem with an input file, located where the parser allows.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportError {
    pub file: PathBuf,
    /// Line and column (from 1), when known.
    pub pos: Option<(usize, usize)>,
    /// The feature or element at fault, e.g. `feature #3 (id 'gate')` or `way 42`.
    pub object: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl ImportError {
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        ImportError { file: file.to_path_buf(), pos: None, object: None, message: message.into(), hint: None }
    }
    pub fn at(mut self, line: usize, col: usize) -> Self {
        self.pos = Some((line, col));
        self
    }
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.pos {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": error: ")?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// Choices for an import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Place this many people over the walkable space, heading for the nearest exit.
    pub people: Option<u32>,
    /// The unit's name (default: the file stem).
    pub name: Option<String>,
    /// `run.seed` of the scene.
    pub seed: u64,
    /// The command line that made the scene, recorded in its header comment.
    pub command: Option<String>,
    /// Vehicles per hour entering at each street end at the data's edge (OSM roads); none if unset.
    pub vehicles: Option<f64>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { people: None, name: None, seed: 1, command: None, vehicles: None }
    }
}

/// The result of an import: the scene, its RON text (what `--out` receives) and a summary.
#[derive(Clone, Debug)]
pub struct Imported {
    pub scene: Scene,
    pub text: String,
    pub summary: ImportSummary,
}

#[derive(Clone, Debug, Default)]
pub struct ImportSummary {
    /// Walkable `Area`s written.
    pub areas: usize,
    /// Walkable m² once buildings are cut out.
    pub walkable_m2: f64,
    pub buildings: usize,
    pub exits: usize,
    /// Exits added because the file had none and people were asked for.
    pub added_exits: usize,
    pub people: u32,
    pub populations: usize,
    /// Assumptions made (also in `unit.sources`).
    pub assumptions: Vec<String>,
    /// Features left out, each with the reason (also in `unit.sources`).
    pub skipped: Vec<String>,
    /// Grid cell chosen for navigation, m.
    pub nav_cell: f64,
    /// Streets for vehicles, their pedestrian crossings, junctions and signals written.
    pub streets: usize,
    pub crossings: usize,
    pub junctions: usize,
    pub signals: usize,
    /// Vehicle flows written (`--vehicles`).
    pub flows: usize,
}

/// Imports a GeoJSON FeatureCollection (RFC 7946, WGS84 longitude/latitude).
pub fn import_geojson(
    text: &str,
    file: &Path,
    origin: LatLon,
    options: &ImportOptions,
) -> Result<Imported, Vec<ImportError>> {
    let bytes = text.as_bytes();
    let text = strip_bom(text);
    let features = geojson::read(text, file, &Projection::new(origin))?;
    build::build_scene(features, file, origin, options, "GeoJSON", bytes)
}

/// Imports an OpenStreetMap XML file (`.osm`, as exported by the OSM website, JOSM or osmium).
pub fn import_osm(
    text: &str,
    file: &Path,
    origin: LatLon,
    options: &ImportOptions,
) -> Result<Imported, Vec<ImportError>> {
    let bytes = text.as_bytes();
    let text = strip_bom(text);
    let features = osm::read(text, file, &Projection::new(origin))?;
    build::build_scene(features, file, origin, options, "OpenStreetMap XML", bytes)
}

/// The text without a leading byte-order mark (U+FEFF), which some Windows tools write. RFC 8259
/// allows a JSON reader to ignore it; XML allows it. Positions are then counted as an editor shows them.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Line and column (both from 1; the column counts characters) of byte `offset` in `text`.
/// An offset past the end, or inside a character, is taken back to the nearest character start.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The text of an input file: it must be UTF-8 (GeoJSON and OSM XML are); a leading byte-order
/// mark is dropped. A byte that is not UTF-8 is reported at its line and column.
pub fn decode(bytes: Vec<u8>, file: &Path) -> Result<String, ImportError> {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
            let prefix = strip_bom(prefix);
            let (line, col) = line_col(prefix, prefix.len());
            let message = match e.utf8_error().error_len() {
                Some(_) => format!(
                    "the file is not UTF-8 text: byte 0x{:02X} (offset {valid}) is not valid UTF-8",
                    bytes[valid]
                ),
                None => format!("the file ends in the middle of a UTF-8 character (offset {valid}): is it truncated?"),
            };
            Err(ImportError::new(file, message).at(line, col).hint(
                "GeoJSON and OSM XML are UTF-8: re-save the file as UTF-8 (e.g. iconv -f GB18030 -t UTF-8 in.osm > out.osm)",
            ))
        }
    }
}

/// A number for a message: as written if moderate, else in exponent form (`1e308`, not 309 digits).
pub fn short_num(x: f64) -> String {
    if x.is_finite() && (x == 0.0 || (1e-4..1e9).contains(&x.abs())) { format!("{x}") } else { format!("{x:e}") }
}

/// Tags of a feature: OSM tags, or GeoJSON properties with numbers and booleans as text.
pub type Tags = BTreeMap<String, String>;

/// What a polygon stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AreaRole {
    Building,
    Walkable,
}

pub(crate) fn tag<'a>(tags: &'a Tags, key: &str) -> Option<&'a str> {
    tags.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn is_yes(tags: &Tags, key: &str) -> bool {
    matches!(tag(tags, key), Some("yes" | "true" | "1"))
}

/// Walkable line kinds by `highway` value.
const WALK_HIGHWAYS: [&str; 5] = ["footway", "pedestrian", "path", "steps", "living_street"];

/// The role of a polygon. `closed_way` applies the OSM convention that a closed
/// `highway=footway|pedestrian` way is a loop unless it has `area=yes`.
pub fn area_role(tags: &Tags, closed_way: bool) -> Option<AreaRole> {
    match tag(tags, "unitwin") {
        Some("walkable") => return Some(AreaRole::Walkable),
        Some("building") => return Some(AreaRole::Building),
        _ => {}
    }
    if tag(tags, "building").is_some_and(|b| b != "no")
        || tag(tags, "height").is_some() && !tags.contains_key("highway")
        || tag(tags, "building:levels").is_some()
    {
        return Some(AreaRole::Building);
    }
    let highway_area =
        matches!(tag(tags, "highway"), Some("pedestrian" | "footway")) && (!closed_way || is_yes(tags, "area"));
    if highway_area || tag(tags, "area:highway").is_some() || tag(tags, "place") == Some("square") {
        return Some(AreaRole::Walkable);
    }
    None
}

/// A walkable line: its width (m), whether the width was assumed, and whether it is a flight of steps.
#[derive(Clone, Debug, PartialEq)]
pub struct LineKind {
    pub highway: String,
    pub width: f64,
    pub width_assumed: bool,
    pub steps: bool,
}

/// The walkable-line interpretation of a line's tags, if any. `Err` for an unreadable `width`.
pub fn line_kind(tags: &Tags) -> Option<LineKind> {
    let highway = match (tag(tags, "unitwin"), tag(tags, "highway")) {
        (Some("walkable"), h) => h.unwrap_or("footway").to_string(),
        (_, Some(h)) if WALK_HIGHWAYS.contains(&h) => h.to_string(),
        _ => return None,
    };
    let given = tag(tags, "width").or_else(|| tag(tags, "est_width")).and_then(parse_length);
    let (width, width_assumed) = match given {
        Some(w) if w > 0.0 => (w, false),
        _ => (default_width(&highway), true),
    };
    Some(LineKind { steps: highway == "steps", highway, width, width_assumed })
}

/// Whether a point is an exit, and its door width if given.
pub fn exit_point(tags: &Tags) -> Option<Option<f64>> {
    let exit = tag(tags, "unitwin") == Some("exit") || tag(tags, "entrance").is_some_and(|e| e != "no");
    exit.then(|| tag(tags, "width").and_then(parse_length).filter(|w| *w > 0.0))
}

/// Height (m) and floors of a building, with the assumption made, if any.
pub fn building_size(tags: &Tags) -> (f64, u32, Option<&'static str>) {
    let height = tag(tags, "height").and_then(parse_length).filter(|h| *h > 0.0);
    let levels = tag(tags, "building:levels").and_then(|l| l.parse::<f64>().ok()).filter(|l| *l >= 1.0);
    match (height, levels) {
        (Some(h), Some(l)) => (h, l.round() as u32, None),
        (Some(h), None) => (h, (h / STOREY_HEIGHT).round().max(1.0) as u32, Some("floors = height / 3.0 m")),
        (None, Some(l)) => (l.round() * STOREY_HEIGHT, l.round() as u32, Some("height = building:levels × 3.0 m")),
        (None, None) => (STOREY_HEIGHT, 1, Some("no height or building:levels: one floor, 3.0 m")),
    }
}

/// Parses an OSM length: `12`, `12.5 m`, `3,5`, `40 ft`, `12'6"`. Metres.
pub fn parse_length(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_lowercase().replace(',', ".");
    if let Some((feet, rest)) = t.split_once('\'') {
        let feet: f64 = feet.trim().parse().ok()?;
        let inches: f64 = rest.trim().trim_end_matches('"').trim().parse().unwrap_or(0.0);
        return Some((feet * 12.0 + inches) * 0.0254);
    }
    let number_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(t.len());
    let value: f64 = t[..number_end].parse().ok()?;
    let unit = t[number_end..].trim();
    let factor = match unit {
        "" | "m" | "meter" | "meters" | "metre" | "metres" => 1.0,
        "ft" | "feet" => 0.3048,
        "cm" => 0.01,
        "km" => 1000.0,
        _ => return None,
    };
    (value.is_finite()).then_some(value * factor)
}

/// What the reader found, in local metres, before cleaning.
#[derive(Clone, Debug, Default)]
pub struct Features {
    pub walk_areas: Vec<SourcePolygon>,
    pub walk_lines: Vec<SourceLine>,
    pub buildings: Vec<SourceBuilding>,
    pub exits: Vec<SourceExit>,
    /// Roads for vehicles (OSM only): streets, junctions, crossings and signals.
    pub roads: roads::Roads,
    pub notes: Notes,
}

/// A polygon with the source's name for it and an id suggestion.
#[derive(Clone, Debug)]
pub struct SourcePolygon {
    /// How the source names it in messages, e.g. `way 42` or `feature #3 'square'`.
    pub label: String,
    /// Line and column of its element in the file, when the format allows (OSM XML).
    pub pos: Option<(usize, usize)>,
    /// Suggested scene id, e.g. `way42`.
    pub id: String,
    pub outer: Vec<Point>,
    pub holes: Vec<Vec<Point>>,
}

#[derive(Clone, Debug)]
pub struct SourceLine {
    pub label: String,
    /// Line and column of its element in the file, when the format allows (OSM XML).
    pub pos: Option<(usize, usize)>,
    pub id: String,
    pub points: Vec<Point>,
    pub kind: LineKind,
}

#[derive(Clone, Debug)]
pub struct SourceBuilding {
    pub polygon: SourcePolygon,
    pub height: f64,
    pub floors: u32,
}

#[derive(Clone, Debug)]
pub struct SourceExit {
    pub label: String,
    /// Line and column of its element in the file, when the format allows (OSM XML).
    pub pos: Option<(usize, usize)>,
    pub id: String,
    pub at: Point,
    pub width: Option<f64>,
}

/// Assumptions made and features skipped, written to `unit.sources` and the summary.
#[derive(Clone, Debug, Default)]
pub struct Notes {
    /// Assumption → the features it was made for.
    pub assumed: BTreeMap<String, Vec<String>>,
    pub skipped: Vec<String>,
    /// Names of imported features, e.g. `road_w9_1, road_w9_2: Through Road (way 9, highway=primary)`.
    pub names: Vec<String>,
}

impl Notes {
    pub fn assume(&mut self, what: impl Into<String>, who: impl Into<String>) {
        self.assumed.entry(what.into()).or_default().push(who.into());
    }
    pub fn skip(&mut self, what: impl Into<String>) {
        self.skipped.push(what.into());
    }
    pub fn name(&mut self, what: impl Into<String>) {
        self.names.push(what.into());
    }

    /// One line per assumption, naming up to six features.
    pub fn assumption_lines(&self) -> Vec<String> {
        self.assumed
            .iter()
            .map(|(what, who)| {
                let shown: Vec<&str> = who.iter().take(6).map(String::as_str).collect();
                let more = if who.len() > 6 { format!(" and {} more", who.len() - 6) } else { String::new() };
                format!("{what} ({}: {}{more})", who.len(), shown.join(", "))
            })
            .collect()
    }
}

/// A readable id: letters, digits and `_` only.
pub fn sanitize_id(text: &str) -> String {
    let s: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect::<String>();
    let s = s.trim_matches('_').to_string();
    if s.is_empty() { "feature".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert_eq!(parse_length("12"), Some(12.0));
        assert_eq!(parse_length("12.5 m"), Some(12.5));
        assert_eq!(parse_length("3,5"), Some(3.5));
        assert!((parse_length("10 ft").unwrap() - 3.048).abs() < 1e-9);
        assert!((parse_length("10'").unwrap() - 3.048).abs() < 1e-9);
        assert_eq!(parse_length("tall"), None);
    }
}
