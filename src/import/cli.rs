//! `unitwin import geojson|osm FILE --origin LAT,LON [--out FILE] [--people N] [--force]`.
//! Exit status: 0 written, 1 a file could not be read or written, 2 bad input or arguments.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{ImportOptions, Imported, decode, import_geojson, import_osm, parse_origin};
use crate::scene::LatLon;

#[derive(Subcommand, Debug)]
pub enum ImportFormat {
    /// A GeoJSON FeatureCollection (WGS84 longitude/latitude, RFC 7946).
    Geojson(ImportArgs),
    /// An OpenStreetMap XML file (.osm).
    Osm(ImportArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// Origin of the scene's local metres, LAT,LON in decimal degrees (e.g. 31.2400,121.4820).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_origin)]
    pub origin: LatLon,
    /// Scene file to write (default: scenes/<file stem>.ron).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Place this many people over the walkable space, heading for the nearest exit.
    #[arg(long)]
    pub people: Option<u32>,
    /// The unit's name (default: the file stem).
    #[arg(long)]
    pub name: Option<String>,
    /// OSM roads: let this many vehicles per hour (ESTIMATED, 90 % cars, 10 % vans) enter at each
    /// street end at the edge of the data (default: no vehicles).
    #[arg(long, value_parser = parse_vehicles)]
    pub vehicles: Option<f64>,
    /// Overwrite an existing scene file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(format: ImportFormat) -> ExitCode {
    let (kind, args) = match format {
        ImportFormat::Geojson(a) => ("geojson", a),
        ImportFormat::Osm(a) => ("osm", a),
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.file));
    if out.exists() && !args.force {
        err(&format!("error: {} already exists; add --force to overwrite it, or choose --out FILE", out.display()));
        return ExitCode::from(1);
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            err(&format!("error: cannot read {}: {e}", args.file.display()));
            return ExitCode::from(1);
        }
    };
    let text = match decode(bytes, &args.file) {
        Ok(t) => t,
        Err(e) => {
            err(&format!("{e}\n{}: 1 problem(s); nothing written", args.file.display()));
            return ExitCode::from(2);
        }
    };
    let options = ImportOptions {
        people: args.people.filter(|n| *n > 0),
        name: args.name.clone(),
        seed: 1,
        command: Some(command_line()),
        vehicles: args.vehicles,
    };
    let result = match kind {
        "geojson" => import_geojson(&text, &args.file, args.origin, &options),
        _ => import_osm(&text, &args.file, args.origin, &options),
    };
    let imported = match result {
        Ok(i) => i,
        Err(errors) => {
            let mut report: Vec<String> = errors.iter().map(ToString::to_string).collect();
            report.push(format!("{}: {} problem(s); nothing written", args.file.display(), errors.len()));
            err(&report.join("\n"));
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        err(&format!("error: cannot create {}: {e}", dir.display()));
        return ExitCode::from(1);
    }
    if let Err(e) = crate::report::write_atomic(&out, imported.text.as_bytes()) {
        err(&format!("error: {e}"));
        return ExitCode::from(1);
    }
    let mut summary = vec![summary_line(&args.file, &out, &imported)];
    // The signal plans are invented, not read: say so where the user looks.
    for a in imported.summary.assumptions.iter().filter(|a| a.starts_with("signal timings ESTIMATED")) {
        summary.push(format!("  assumed: {a}"));
    }
    for s in imported.summary.skipped.iter().take(10) {
        summary.push(format!("  skipped: {s}"));
    }
    if imported.summary.skipped.len() > 10 {
        summary.push(format!("  … and {} more skipped (see unit.sources)", imported.summary.skipped.len() - 10));
    }
    say(&summary.join("\n"));
    ExitCode::SUCCESS
}

/// Writes a line to standard output without panicking: the scene is written by then, so a
/// standard output that cannot take the summary (closed, or a full disk as with `> /dev/full`)
/// does not make the import fail; the summary goes to standard error instead.
fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        err(&format!("{text}\n(standard output could not be written: {e})"));
    }
}

/// Writes a line to standard error, ignoring failure (there is nowhere left to report it).
fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `--vehicles`: vehicles per hour, 0–2,000 (one lane carries about 1,800 an hour).
fn parse_vehicles(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..=2000.0).contains(&v) => Ok(v),
        _ => Err(format!("expected vehicles per hour at each edge of the road network, 0–2000 (got '{text}')")),
    }
}

/// `scenes/<file stem>.ron`.
pub fn default_out(file: &Path) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned());
    PathBuf::from("scenes").join(format!("{stem}.ron"))
}

pub fn summary_line(file: &Path, out: &Path, imported: &Imported) -> String {
    let s = &imported.summary;
    let added = if s.added_exits > 0 { format!(" ({} added)", s.added_exits) } else { String::new() };
    let people = if s.people > 0 {
        format!("{} people in {} group(s)", s.people, s.populations)
    } else {
        "no people (use --people N)".into()
    };
    let roads = if s.streets > 0 {
        format!(
            "{} street(s) with {} crossing(s), {} junction(s), {} signal(s){}{}; ",
            s.streets,
            s.crossings,
            s.junctions,
            s.signals,
            if s.signals > 0 { " (timings estimated)" } else { "" },
            if s.flows > 0 { format!(", {} vehicle flow(s)", s.flows) } else { String::new() }
        )
    } else {
        String::new()
    };
    format!(
        "imported {} → {}: {} walkable area(s), {:.0} m² walkable; {} building(s); {} exit(s){added}; {people}; {roads}{} skipped, {} assumption(s) (see unit.sources)",
        file.display(),
        out.display(),
        s.areas,
        s.walkable_m2,
        s.buildings,
        s.exits,
        s.skipped.len(),
        s.assumptions.len()
    )
}

fn command_line() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "unitwin".into();
    }
    args.join(" ")
}
