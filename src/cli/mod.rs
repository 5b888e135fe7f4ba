//! The `unitwin` command line: check scenes, run them headless.
//! Exit status: 0 success, 1 a run or output failure, 2 an invalid scene or bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Prints a line to stdout; a closed pipe (`unitwin run … | head`) is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use crate::runner::{RunError, RunRequest, default_out_dir, run_scene};
use crate::scene::{CheckedScene, Diagnostics, Placement, check_scene, read_scene};
use crate::sim::RunOptions;

#[derive(Parser, Debug)]
#[command(name = "unitwin", version, about = "Digital-twin crowd simulation for urban minimum management units")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check scene files and report every problem with file:line:column.
    Check {
        /// Scene files (scenes/*.ron).
        #[arg(required = true)]
        scenes: Vec<PathBuf>,
    },
    /// Run a scene headless and write trajectories.txt, summary.json and run.ron.
    Run {
        scene: PathBuf,
        /// Random seed (default: the scene's `run.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Stop at this simulated time in seconds (default: the scene's `run.duration`).
        #[arg(long)]
        until: Option<f64>,
        /// Output folder (default: out/<scene>-seed<N>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite the files of an existing output folder.
        #[arg(long)]
        force: bool,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Time the simulation: agents crossing an open plaza to four exits, on one thread and on all cores.
    Bench {
        /// Crowd sizes to time.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        agents: Vec<u32>,
        /// Simulated seconds per configuration.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Import a GIS file (GeoJSON or OpenStreetMap XML) as a scene: walkable ways and areas, buildings, exits.
    Import {
        #[command(subcommand)]
        format: crate::import::cli::ImportFormat,
    },
    /// One benchmark configuration (used by `bench`, which runs each in its own process).
    #[command(hide = true)]
    BenchOne {
        #[arg(long)]
        agents: u32,
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        threads: usize,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { scenes } => check(&scenes),
        Command::Run { scene, seed, until, out, force, threads, quiet } => {
            run(scene, seed, until, out, force, threads, quiet)
        }
        Command::Bench { agents, seconds, json } => bench(&agents, seconds, json),
        Command::Import { format } => crate::import::cli::run(format),
        Command::BenchOne { agents, seconds, threads } => match crate::bench::run_one(agents, seconds, Some(threads)) {
            Ok(result) => {
                say!("{}", serde_json::to_string(&result).expect("plain data"));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn bench(agents: &[u32], seconds: f64, json: Option<PathBuf>) -> ExitCode {
    if !(seconds > 0.0) || agents.iter().any(|&n| n == 0) {
        eprintln!("error: --seconds must be positive and every --agents count at least 1");
        return ExitCode::from(2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find the unitwin executable: {e}");
            return ExitCode::from(1);
        }
    };
    say!(
        "unitwin bench: open plaza at {} person/m², four 4 m exits, {seconds} s simulated, step 0.05 s",
        crate::bench::PLAZA_DENSITY
    );
    say!(
        "{:>8} {:>8} {:>14} {:>16} {:>14} {:>10}",
        "agents",
        "threads",
        "wall s",
        "wall s / sim s",
        "µs/agent-step",
        "× real"
    );
    let mut results = Vec::new();
    for &n in agents {
        let mut thread_counts = vec![1];
        if cores > 1 {
            thread_counts.push(cores);
        }
        for threads in thread_counts {
            eprintln!("  timing {n} agents on {threads} thread(s)…");
            let output = std::process::Command::new(&exe)
                .args([
                    "bench-one",
                    "--agents",
                    &n.to_string(),
                    "--seconds",
                    &seconds.to_string(),
                    "--threads",
                    &threads.to_string(),
                ])
                .output();
            let result: crate::bench::BenchResult = match output {
                Ok(out) if out.status.success() => match serde_json::from_slice(&out.stdout) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("error: unreadable benchmark result: {e}");
                        return ExitCode::from(1);
                    }
                },
                Ok(out) => {
                    eprintln!("error: benchmark of {n} agents failed: {}", String::from_utf8_lossy(&out.stderr));
                    return ExitCode::from(1);
                }
                Err(e) => {
                    eprintln!("error: cannot start the benchmark process: {e}");
                    return ExitCode::from(1);
                }
            };
            say!(
                "{:>8} {:>8} {:>14.2} {:>16.3} {:>14.3} {:>10.1}",
                result.agents,
                result.threads,
                result.wall_seconds,
                result.wall_per_simulated_second(),
                result.micros_per_agent_step(),
                1.0 / result.wall_per_simulated_second()
            );
            results.push(result);
        }
    }
    let largest = agents.iter().copied().max().unwrap_or(1000) as usize;
    let (bulk, update) = crate::bench::rtree_refresh_millis(largest);
    say!(
        "agent R-tree refresh for {largest} moving points: bulk_load {bulk:.1} ms, update in place {update:.1} ms \
         (unitwin rebuilds it with bulk_load every step)"
    );
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&results).expect("plain data");
        if let Err(e) = crate::report::write_atomic(&path, text.as_bytes()) {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn load(path: &PathBuf) -> Result<CheckedScene, Diagnostics> {
    check_scene(read_scene(path)?)
}

fn check(scenes: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for path in scenes {
        match load(path) {
            Ok(checked) => say!("ok: {} — {}", path.display(), describe(&checked)),
            Err(diags) => {
                failed += 1;
                eprint!("{diags}");
                eprintln!("{}: {} problem(s)", path.display(), diags.0.len());
            }
        }
    }
    if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS }
}

fn describe(checked: &CheckedScene) -> String {
    let scene = checked.scene();
    let exits = checked.space.doors.iter().filter(|d| d.boundary && d.exit).count();
    let placed: u32 = scene
        .populations
        .iter()
        .map(|p| match p.placement {
            Placement::Area { count, .. } => count,
            Placement::Arrivals { .. } => 0,
        })
        .sum();
    let arrivals = scene.populations.iter().filter(|p| matches!(p.placement, Placement::Arrivals { .. })).count();
    let area: f64 = checked.space.levels.iter().filter(|l| !l.is_stair()).map(|l| l.walkable_area()).sum();
    format!(
        "'{}' ({:?}): {} level(s), {} stair(s), {} street(s), {area:.0} m² walkable, {} door(s) of which {exits} exit(s), {placed} agents placed, {arrivals} arrival flow(s)",
        scene.unit.name,
        scene.unit.kind,
        scene.levels.len(),
        checked.space.stairs.len(),
        scene.streets.len(),
        scene.doors.len(),
    )
}

fn run(
    scene: PathBuf,
    seed: Option<u64>,
    until: Option<f64>,
    out: Option<PathBuf>,
    force: bool,
    threads: Option<usize>,
    quiet: bool,
) -> ExitCode {
    let checked = match load(&scene) {
        Ok(c) => c,
        Err(diags) => {
            eprint!("{diags}");
            return ExitCode::from(2);
        }
    };
    if let Some(until) = until
        && !(until > 0.0 && until.is_finite())
    {
        eprintln!("error: --until must be a positive number of seconds (got {until})");
        return ExitCode::from(2);
    }
    if threads == Some(0) {
        eprintln!("error: --threads must be at least 1");
        return ExitCode::from(2);
    }
    let mut options = RunOptions::from_scene(&checked);
    options.seed = seed.unwrap_or(options.seed);
    options.until = until.unwrap_or(options.until);
    options.threads = threads;
    let out_dir = out.unwrap_or_else(|| default_out_dir(&checked, options.seed));
    let request = RunRequest { options, out_dir, force, progress: !quiet };
    match run_scene(&checked, &request) {
        Ok(result) => {
            let s = &result.summary;
            say!("unitwin run: {} (seed {})", scene.display(), s.seed);
            say!(
                "  simulated {:.1} s in {} steps, {:.2} s wall ({:.0}× real time)",
                s.simulated_time,
                result.steps,
                result.wall_seconds,
                s.simulated_time / result.wall_seconds.max(1e-9)
            );
            say!("  agents: {} spawned, {} exited, {} on site", s.agents.spawned, s.agents.exited, s.agents.on_site);
            match s.evacuation_time {
                Some(t) => say!("  everyone left; the last at {t:.1} s"),
                None => say!("  not everyone left by the end of the run"),
            }
            let exits: Vec<String> = s.exits.iter().map(|(k, v)| format!("{k} {v}")).collect();
            say!("  exits: {}", exits.join(", "));
            if let Some(p) = &s.peak_density {
                say!(
                    "  peak local density {:.2} persons/m² at ({:.1}, {:.1}) on '{}', t = {:.1} s",
                    p.density,
                    p.x,
                    p.y,
                    p.level,
                    p.t
                );
            }
            say!("  wrote {}/{{trajectories.txt, summary.json, run.ron}}", result.out_dir.display());
            ExitCode::SUCCESS
        }
        Err(RunError::Scene(diags)) => {
            eprint!("{diags}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
