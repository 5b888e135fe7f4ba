//! The `unitwin` command line: check scenes, run them headless (replaying commands), benchmark, import.
//! Exit status: 0 success, 1 a run or output failure, 2 an invalid scene or bad arguments, 130 interrupted.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

/// Prints a line to stdout; a closed pipe (`unitwin run … | head`) is not an error worth a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

use crate::app::{MAX_THREADS, RunOptions};
use crate::runner::{RunError, RunRequest, default_out_dir, replay_from_file, run_to_folder};
use crate::scene::{Diagnostics, Placement};
use crate::twin::Twin;

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
    /// Run a scene headless and write trajectories.txt, vehicles.csv (with vehicles), summary.json, run.ron, commands.ron, and report.html with its CSVs.
    Run {
        scene: PathBuf,
        /// Replay the commands of an earlier run (its commands.ron) instead of the scene's timed events.
        #[arg(long, value_name = "FILE")]
        commands: Option<PathBuf>,
        /// Random seed (default: the scene's `run.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Stop at this simulated time in seconds (default: the scene's `run.duration`).
        #[arg(long)]
        until: Option<f64>,
        /// Output folder (default: out/<scene>-seed<N>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing run folder (only a folder that holds nothing but a run's outputs).
        #[arg(long)]
        force: bool,
        /// Worker threads, 1 to 256 (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a batch: every scene × variant × seed of a manifest, in parallel, each run as `unitwin run`
    /// writes it; then compare the variants (compare.csv, compare.html). Rerun to resume.
    Batch {
        /// The batch manifest (see scenes/batch/example.ron).
        manifest: PathBuf,
        /// Batch folder (default: out/<manifest name>/). Runs go to <scene>/<variant>/seed<N>/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs at once, 1 to 256 (default: all cores); each run gets cores / jobs threads.
        #[arg(long)]
        jobs: Option<usize>,
        /// Run only shard I of N (0 ≤ I < N): the runs whose position in manifest order is I mod N.
        #[arg(long, value_name = "I/N")]
        shard: Option<crate::batch::Shard>,
        /// Rerun finished runs too (replacing them), or take over a folder of a changed manifest.
        #[arg(long)]
        force: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Check the manifest and every variant's scene, and list the runs (of --shard), writing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Combine the folders of a sharded batch into one comparison (compare.csv, compare.html).
    Merge {
        /// Batch folders written by `unitwin batch --shard I/N` of the same manifest.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the comparison.
        #[arg(long)]
        out: PathBuf,
        /// Compare the runs present even when some are missing.
        #[arg(long)]
        allow_missing: bool,
    },
    /// Score rehearsals against a baseline: key figures seed by seed, with a verdict per figure
    /// (compare.csv, compare.html). Each folder is a run folder or a folder of run folders (one per seed).
    Compare {
        /// The baseline: a run without the measures (or a folder of such runs, one per seed).
        baseline: PathBuf,
        /// Rehearsals: runs with measures, each a run folder or a folder of runs (one per seed).
        #[arg(required = true)]
        rehearsals: Vec<PathBuf>,
        /// Where to write compare.csv and compare.html.
        #[arg(long, default_value = "compare")]
        out: PathBuf,
        /// Replace an earlier comparison in --out.
        #[arg(long)]
        force: bool,
    },
    /// Time the simulation: agents crossing an open plaza to four exits (or a packed hall queueing at
    /// four narrow exits), on one thread and on all cores.
    Bench {
        /// The crowd to time: `plaza` (1 person/m², walking almost freely) or `hall` (3 persons/m²,
        /// queues at four 1.2 m exits).
        #[arg(long, value_enum, default_value = "plaza")]
        scene: crate::bench::BenchScene,
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
    /// Time vehicle traffic: a 10 × 10 grid of signalised junctions with about 1,000 vehicles and a
    /// 20 × 20 grid with about 10,000, on 1 and 2 threads; prints vehicle updates per second.
    BenchTraffic {
        /// Simulated seconds per configuration.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Worker counts to time.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Import a GIS file (GeoJSON or OpenStreetMap XML) as a scene: walkable ways and areas, buildings, exits.
    Import {
        #[command(subcommand)]
        format: crate::import::cli::ImportFormat,
    },
    /// Render a picture of a scene at a simulated time, or of a recorded run folder (replayed from
    /// its files, no simulation), offscreen: no window, display or GPU needed (Mesa's software
    /// Vulkan, `mesa-vulkan-drivers`, suffices). Writes PNGs atomically; `--frames` a numbered sequence.
    #[cfg(feature = "viewer")]
    Render {
        /// A scene file (simulated headless to each time) or a run folder (`unitwin run`, "save rehearsal").
        target: PathBuf,
        /// Simulated time of the picture, s (a scene's run stops earlier when everyone has left).
        #[arg(long, required_unless_present = "frames", conflicts_with = "frames")]
        at: Option<f64>,
        /// A sequence of pictures at FROM, FROM + EVERY, … up to TO seconds (e.g. 0:60:0.5).
        #[arg(long, value_name = "FROM:TO:EVERY")]
        frames: Option<String>,
        /// The PNG to write; with --frames a folder (frame-00000.png, frame-00001.png, … inside) or a
        /// pattern whose `{}` becomes the picture's number (00000, 00001, …).
        #[arg(long)]
        out: PathBuf,
        /// Named view: overview (oblique, the whole unit), top (plan, north up), or the id of an
        /// entrance, exit or stair (seen from outside the door, or from beside the flight's foot;
        /// floors over it are left out). An unknown name lists the unit's views.
        #[arg(long, default_value = "overview")]
        view: String,
        /// Show this level and those below it only: the floors above are cut away, with the people
        /// on them (multi-level buildings).
        #[arg(long, value_name = "LEVEL")]
        level: Option<String>,
        /// Cover the floors with the density heatmap (1 m cells coloured by Fruin's Level of
        /// Service of the people within the 3 m square around them) and ring the densest person.
        #[arg(long)]
        heatmap: bool,
        /// Picture size in pixels, WIDTHxHEIGHT.
        #[arg(long, default_value = "1600x1000")]
        size: String,
        /// With a run folder: its scene, when its run.ron does not name one that is there (checked
        /// against the SHA-256 the run recorded).
        #[arg(long, value_name = "SCENE")]
        scene: Option<PathBuf>,
        /// Close this door at the start (repeatable), as a live command would (scenes only).
        #[arg(long, value_name = "DOOR")]
        close_door: Vec<String>,
        /// Overlay a recorded run of the same unit (e.g. the baseline without the intervention): its
        /// people at the same simulated time drawn as cyan ghosts.
        #[arg(long, value_name = "RUN_DIR")]
        compare: Option<PathBuf>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Time the viewer: frames of the offscreen renderer with crowds of 10,000 to 100,000 on the
    /// benchmark plaza (overview), and the viewer's own systems per frame.
    #[cfg(feature = "viewer")]
    BenchViewer {
        /// Crowd sizes to time.
        #[arg(long, value_delimiter = ',', default_value = "10000,50000,100000")]
        agents: Vec<u32>,
        /// Frames timed per crowd size (after three to warm up).
        #[arg(long, default_value_t = 10)]
        frames: usize,
        /// Picture size in pixels, WIDTHxHEIGHT.
        #[arg(long, default_value = "1600x1000")]
        size: String,
        /// With the density heatmap on.
        #[arg(long)]
        heatmap: bool,
    },
    /// Open the 3D viewer window on a scene: run it live, step in (close and open doors), save the
    /// rehearsal; or replay a recorded run folder (`--replay`) with a timeline.
    #[cfg(feature = "viewer")]
    View {
        /// The scene (with --replay: optional, as the run folder's run.ron names it).
        #[arg(required_unless_present = "replay")]
        scene: Option<PathBuf>,
        /// Play a run folder written by `unitwin run` or "save rehearsal" from its files (no simulation).
        #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["seed", "out", "force"])]
        replay: Option<PathBuf>,
        /// Random seed (default: the scene's `run.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Where "save rehearsal" writes the run folder (default: out/<scene>-seed<N>-rehearsal/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing rehearsal folder when saving.
        #[arg(long)]
        force: bool,
        /// Overlay a recorded run of the same unit (e.g. the baseline without the intervention): its
        /// people drawn as cyan ghosts at the same simulated time, its figures beside this run's.
        #[arg(long, value_name = "RUN_DIR")]
        compare: Option<PathBuf>,
    },
    /// One benchmark configuration (used by `bench`, which runs each in its own process).
    #[command(hide = true)]
    BenchOne {
        #[arg(long, value_enum)]
        scene: crate::bench::BenchScene,
        #[arg(long)]
        agents: u32,
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        threads: usize,
    },
}

fn bench_traffic(seconds: f64, threads: &[usize], json: Option<PathBuf>) -> ExitCode {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0)
        || threads.iter().any(|&t| t == 0 || t > crate::app::MAX_THREADS)
    {
        eprintln!("error: --seconds must lie in 0–3600 and --threads in 1–{}", crate::app::MAX_THREADS);
        return ExitCode::from(2);
    }
    let mut results = Vec::new();
    say!("grid     threads  vehicles (start → end)  simulated  wall      vehicle updates/s");
    for (grid, vehicles) in [(10usize, 1_000usize), (20, 10_000)] {
        for &t in threads {
            match crate::bench::run_traffic(grid, vehicles, seconds, t) {
                Ok(r) => {
                    say!(
                        "{:>2} × {:<2}  {:>7}  {:>8} → {:<8}      {:>6.0} s  {:>6.2} s  {:>12.0}",
                        r.grid,
                        r.grid,
                        r.threads,
                        r.vehicles_at_start,
                        r.vehicles_at_end,
                        r.simulated_seconds,
                        r.wall_seconds,
                        r.updates_per_second
                    );
                    results.push(r);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    write_bench_json(json, &results)
}

/// Writes a benchmark's results as JSON when asked to (`--json FILE`), atomically.
fn write_bench_json(json: Option<PathBuf>, results: &impl serde::Serialize) -> ExitCode {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(results).expect("plain data");
        if let Err(e) = crate::report::write_atomic(&path, text.as_bytes()) {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { scenes } => check(&scenes),
        Command::Run { scene, commands, seed, until, out, force, threads, quiet } => {
            run(RunArgs { scene, commands, seed, until, out, force, threads, quiet })
        }
        Command::Batch { manifest, dry_run: true, shard, .. } => batch_dry_run(&manifest, shard),
        Command::Batch { manifest, out, jobs, shard, force, quiet, dry_run: false } => {
            batch(&manifest, out, jobs, shard, force, quiet)
        }
        Command::Merge { dirs, out, allow_missing } => merge(&dirs, &out, allow_missing),
        Command::Compare { baseline, rehearsals, out, force } => compare(&baseline, &rehearsals, &out, force),
        Command::Bench { scene, agents, seconds, json } => bench(scene, &agents, seconds, json),
        Command::Import { format } => crate::import::cli::run(format),
        Command::BenchTraffic { seconds, threads, json } => bench_traffic(seconds, &threads, json),
        #[cfg(feature = "viewer")]
        Command::Render { target, at, frames, out, view, level, heatmap, size, scene, close_door, compare, force } => {
            render(RenderArgs {
                target,
                at,
                frames,
                out,
                view,
                level,
                heatmap,
                size,
                scene,
                close_door,
                compare,
                force,
            })
        }
        #[cfg(feature = "viewer")]
        Command::BenchViewer { agents, frames, size, heatmap } => bench_viewer(&agents, frames, &size, heatmap),
        #[cfg(feature = "viewer")]
        Command::View { scene, replay: Some(folder), compare, .. } => {
            view_replay(scene.as_deref(), &folder, compare.as_deref())
        }
        #[cfg(feature = "viewer")]
        Command::View { scene: Some(scene), seed, out, force, replay: None, compare } => {
            view(&scene, seed, out, force, compare)
        }
        #[cfg(feature = "viewer")]
        Command::View { scene: None, replay: None, .. } => {
            eprintln!("error: give a scene, or a run folder with --replay");
            ExitCode::from(2)
        }
        Command::BenchOne { scene, agents, seconds, threads } => {
            match crate::bench::run_one(scene, agents, seconds, Some(threads)) {
                Ok(result) => {
                    say!("{}", serde_json::to_string(&result).expect("plain data"));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn bench(scene: crate::bench::BenchScene, agents: &[u32], seconds: f64, json: Option<PathBuf>) -> ExitCode {
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
    say!("unitwin bench: {}, {seconds} s simulated, step 0.05 s", scene.describe());
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
                    "--scene",
                    scene.name(),
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
    let cells = crate::bench::cell_list_rebuild_millis(largest);
    let (bulk, update) = crate::bench::rtree_refresh_millis(largest);
    say!(
        "agent index refresh for {largest} moving points: cell list rebuild {cells:.1} ms (unitwin does this every \
         step); an R-tree instead: bulk_load {bulk:.1} ms, update in place {update:.1} ms"
    );
    write_bench_json(json, &results)
}

fn load(path: &PathBuf) -> Result<Twin, Diagnostics> {
    crate::twin::load(path)
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

fn describe(twin: &Twin) -> String {
    let scene = twin.scene();
    let exits = twin.space.exits().count();
    let placed: u32 = scene
        .populations
        .iter()
        .map(|p| match p.placement {
            Placement::Area { count, .. } => count,
            Placement::Arrivals { .. } => 0,
        })
        .sum();
    let arrivals = scene.populations.iter().filter(|p| matches!(p.placement, Placement::Arrivals { .. })).count();
    let area: f64 = twin.space.levels.iter().filter(|l| !l.is_stair()).map(|l| l.walkable_area()).sum();
    format!(
        "'{}' ({:?}): {} level(s), {} stair(s), {} street(s), {area:.0} m² walkable, {} door(s) of which {exits} exit(s), {placed} agents placed, {arrivals} arrival flow(s)",
        scene.unit.name,
        scene.unit.kind,
        scene.levels.len(),
        twin.space.stairs.len(),
        scene.streets.len(),
        scene.doors.len(),
    )
}

struct RunArgs {
    scene: PathBuf,
    commands: Option<PathBuf>,
    seed: Option<u64>,
    until: Option<f64>,
    out: Option<PathBuf>,
    force: bool,
    threads: Option<usize>,
    quiet: bool,
}

/// Set by Ctrl-C: the run stops within a step and writes nothing.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: quitting at once (unitwin removes its temporary folder on its next run)");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping the run (press Ctrl-C again to quit at once)");
    });
}

fn run(args: RunArgs) -> ExitCode {
    // From the start, so that Ctrl-C while the scene is being built also stops cleanly.
    install_interrupt_handler();
    if let Some(until) = args.until
        && !(until > 0.0 && until <= crate::scene::limits::MAX_DURATION)
    {
        eprintln!(
            "error: --until must be a positive number of seconds, at most {} (got {until})",
            crate::scene::limits::MAX_DURATION
        );
        return ExitCode::from(2);
    }
    if let Some(threads) = args.threads
        && !(1..=MAX_THREADS).contains(&threads)
    {
        eprintln!("error: --threads must be between 1 and {MAX_THREADS} (got {threads})");
        return ExitCode::from(2);
    }
    let twin = match load(&args.scene) {
        Ok(t) => t,
        Err(diags) => {
            eprint!("{diags}");
            return ExitCode::from(2);
        }
    };
    let mut options = RunOptions::from_twin(&twin);
    if let Some(file) = &args.commands {
        match replay_from_file(&twin, file) {
            Ok((commands, warning)) => {
                if let Some(warning) = warning {
                    eprintln!("warning: {warning}");
                }
                options.replay = Some(commands);
            }
            Err(diags) => {
                eprint!("{diags}");
                return ExitCode::from(2);
            }
        }
    }
    options.seed = args.seed.unwrap_or(options.seed);
    options.until = args.until.unwrap_or(options.until);
    options.threads = args.threads;
    let out_dir = args.out.unwrap_or_else(|| default_out_dir(&twin, options.seed));
    let request =
        RunRequest { options, out_dir, force: args.force, progress: !args.quiet, commands_file: args.commands.clone() };
    let scene = &args.scene;
    match run_to_folder(&twin, &request, &STOP) {
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
                None if s.agents.spawned == 0 => say!("  no pedestrians in this run"),
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
            if !s.places.is_empty() {
                let (stayed, passed_by) = s.places.iter().fold((0, 0), |(a, b), p| (a + p.stayed, b + p.passed_by));
                say!(
                    "  places to stay at ({}): {stayed} stays begun; {passed_by} times a visitor found one full and \
                     passed it by",
                    s.places.len()
                );
            }
            if let Some(t) = &s.traffic
                && t.vehicles_spawned + t.vehicles_on_road > 0
            {
                say!(
                    "  vehicles: {} came, {} left, {} on the road; mean delay {}; {} red-light violations, {} conflicts with pedestrians",
                    t.vehicles_spawned,
                    t.vehicles_arrived,
                    t.vehicles_on_road,
                    t.mean_trip_delay.map_or("-".into(), |d| format!("{d:.1} s")),
                    t.red_light_violations,
                    t.conflicts
                );
            }
            if !s.events.is_empty() {
                say!("  commands applied: {} (see commands.ron)", s.events.len());
            }
            let vehicles = if result.out_dir.join("vehicles.csv").exists() { "vehicles.csv, " } else { "" };
            say!(
                "  wrote {}/{{trajectories.txt, {vehicles}summary.json, run.ron, commands.ron, report.html, report_*.csv}}",
                result.out_dir.display()
            );
            say!("  report.html: {:.1} MB, built in {:.2} s", result.report_bytes as f64 / 1e6, result.report_seconds);
            ExitCode::SUCCESS
        }
        Err(RunError::Scene(diags)) => {
            eprint!("{diags}");
            ExitCode::from(2)
        }
        Err(e @ RunError::Interrupted { .. }) => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn batch_exit(e: crate::batch::BatchError) -> ExitCode {
    use crate::batch::BatchError;
    match e {
        BatchError::Input(diags) => {
            eprint!("{diags}");
            ExitCode::from(2)
        }
        e @ BatchError::Interrupted { .. } => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        e => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn batch(
    manifest: &std::path::Path,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    shard: Option<crate::batch::Shard>,
    force: bool,
    quiet: bool,
) -> ExitCode {
    use std::io::IsTerminal;
    install_interrupt_handler();
    if let Some(jobs) = jobs
        && !(1..=MAX_THREADS).contains(&jobs)
    {
        eprintln!("error: --jobs must be between 1 and {MAX_THREADS} (got {jobs})");
        return ExitCode::from(2);
    }
    let out = out.unwrap_or_else(|| {
        let stem = manifest.file_stem().map_or_else(|| "batch".into(), |s| s.to_string_lossy().into_owned());
        std::path::Path::new("out").join(stem)
    });
    let shard = shard.unwrap_or(crate::batch::Shard::ALL);
    let options = crate::batch::BatchOptions {
        out: out.clone(),
        jobs: jobs.unwrap_or_else(crate::schedule::available_cores),
        shard,
        force,
        progress: !quiet && std::io::stderr().is_terminal(),
    };
    match crate::batch::run_batch(manifest, &options, &STOP) {
        Ok(report) => {
            say!("unitwin batch: {} (shard {shard}) → {}", manifest.display(), out.display());
            let made = report.run_seconds.len();
            let mean = report.run_seconds.iter().sum::<f64>() / made.max(1) as f64;
            let longest = report.run_seconds.iter().copied().fold(0.0, f64::max);
            say!(
                "  {} runs: {} already finished, {made} run now, {} at once on {} thread(s) each, in {:.1} s wall",
                report.total,
                report.skipped,
                report.jobs,
                report.threads_per_run,
                report.wall_seconds
            );
            if made > 0 {
                say!("  time per run: mean {mean:.2} s wall, longest {longest:.2} s");
            }
            if report.compared {
                say!("  wrote {}/{{compare.csv, compare.html}}; runs in <scene>/<variant>/seed<N>/", out.display());
            } else {
                say!("  this shard is done; combine all shards with `unitwin merge DIR... --out DIR`");
            }
            ExitCode::SUCCESS
        }
        Err(e) => batch_exit(e),
    }
}

fn merge(dirs: &[PathBuf], out: &std::path::Path, allow_missing: bool) -> ExitCode {
    match crate::batch::exec::merge(dirs, out, allow_missing) {
        Ok(report) => {
            say!("unitwin merge: {} folder(s), {} runs → {}", dirs.len(), report.runs, out.display());
            if !report.missing.is_empty() {
                say!(
                    "  {} run(s) missing (compared without them): {}",
                    report.missing.len(),
                    report.missing.join(", ")
                );
            }
            say!("  wrote {}/{{compare.csv, compare.html}}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => batch_exit(e),
    }
}

fn compare(baseline: &std::path::Path, rehearsals: &[PathBuf], out: &std::path::Path, force: bool) -> ExitCode {
    use crate::batch::rehearsal::{RunSet, Scoring, Verdict};
    let scoring = RunSet::read(baseline)
        .and_then(|b| Ok((b, rehearsals.iter().map(|r| RunSet::read(r)).collect::<Result<Vec<_>, _>>()?)))
        .and_then(|(b, r)| Scoring::new(b, r));
    let scoring = match scoring {
        Ok(s) => s,
        Err(e) => {
            eprintln!("unitwin compare: error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = scoring.write(out, force) {
        eprintln!("unitwin compare: error: {e}");
        return ExitCode::from(1);
    }
    say!("unitwin compare: baseline {} ({} seed(s))", baseline.display(), scoring.baseline.runs.len());
    for (r, set) in scoring.rehearsals.iter().enumerate() {
        let scored: Vec<_> = scoring.figures.iter().map(|(k, l, _)| (l, scoring.score(r, k))).collect();
        let count = |v: Verdict| scored.iter().filter(|(_, s)| s.verdict == v).count();
        say!(
            "  {}: {} better, {} worse, {} within seed noise, {} the same, {} higher or lower (no better direction), {} not in both (of {} figures)",
            set.name,
            count(Verdict::Better),
            count(Verdict::Worse),
            count(Verdict::WithinNoise),
            count(Verdict::Same),
            count(Verdict::Higher) + count(Verdict::Lower),
            count(Verdict::Missing),
            scored.len()
        );
        for (label, s) in scored.iter().filter(|(_, s)| matches!(s.verdict, Verdict::Better | Verdict::Worse)) {
            say!("    {}: {}", s.verdict_text(), label);
        }
    }
    say!("  wrote {}/{{compare.csv, compare.html}}", out.display());
    ExitCode::SUCCESS
}

fn batch_dry_run(manifest: &std::path::Path, shard: Option<crate::batch::Shard>) -> ExitCode {
    let shard = shard.unwrap_or(crate::batch::Shard::ALL);
    match crate::batch::exec::dry_run(manifest, shard) {
        Ok(runs) => {
            say!("ok: {} — shard {shard} has {} run(s):", manifest.display(), runs.len());
            for run in runs {
                say!("  {run}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => batch_exit(e),
    }
}

#[cfg(feature = "viewer")]
fn bench_viewer(agents: &[u32], frames: usize, size: &str, heatmap: bool) -> ExitCode {
    use crate::viewer::ViewerError;
    let size = match parse_size(size) {
        Ok(s) => s,
        Err(e) => return viewer_exit(ViewerError::Arguments(e)),
    };
    if frames == 0 || agents.iter().any(|&n| n == 0) {
        return viewer_exit(ViewerError::Arguments("--frames and every --agents count must be at least 1".into()));
    }
    let heat = if heatmap { ", heatmap on" } else { "" };
    say!("unitwin bench-viewer: benchmark plaza, overview, {}x{}{heat}, {frames} frames each", size.0, size.1);
    say!(
        "{:>8} {:>16} {:>14} {:>20} {:>18}",
        "agents",
        "frame ms (mean)",
        "frame ms (max)",
        "viewer systems ms",
        "systems ms (max)"
    );
    for &n in agents {
        eprintln!("  timing {n} agents…");
        match crate::viewer::bench::bench_viewer(n, frames, size, heatmap) {
            Ok(b) => say!(
                "{:>8} {:>16.1} {:>14.1} {:>20.2} {:>18.2}",
                b.agents,
                b.frame_ms_mean,
                b.frame_ms_max,
                b.systems_ms_mean,
                b.systems_ms_max
            ),
            Err(e) => return viewer_exit(e),
        }
    }
    ExitCode::SUCCESS
}

/// Parses `WIDTHxHEIGHT`.
#[cfg(feature = "viewer")]
fn parse_size(size: &str) -> Result<(u32, u32), String> {
    let bad = || format!("--size must be WIDTHxHEIGHT in pixels, e.g. 1600x1000 (got '{size}')");
    let (w, h) = size.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?))
}

#[cfg(feature = "viewer")]
fn viewer_exit(e: crate::viewer::ViewerError) -> ExitCode {
    use crate::viewer::ViewerError;
    match e {
        ViewerError::Scene(diags) => {
            eprint!("{diags}");
            ExitCode::from(2)
        }
        e @ (ViewerError::Arguments(_) | ViewerError::Command(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        e => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(feature = "viewer")]
struct RenderArgs {
    target: PathBuf,
    at: Option<f64>,
    frames: Option<String>,
    out: PathBuf,
    view: String,
    level: Option<String>,
    heatmap: bool,
    size: String,
    scene: Option<PathBuf>,
    close_door: Vec<String>,
    compare: Option<PathBuf>,
    force: bool,
}

/// The view `--view` names in `twin` and the elevation above which it leaves floors out (`--level`,
/// or the view's own cut).
#[cfg(feature = "viewer")]
fn resolve_view(
    args: &RenderArgs,
    twin: &crate::draw::DrawTwin,
) -> Result<(crate::viewer::ViewName, Option<f64>), crate::viewer::ViewerError> {
    use crate::viewer::{ViewName, ViewerError};
    let view = ViewName::parse(&args.view, twin).map_err(ViewerError::Arguments)?;
    let cut = match &args.level {
        None => view.cut(twin),
        Some(id) => {
            let level = twin.levels.iter().find(|l| &l.name == id).ok_or_else(|| {
                let names: Vec<&str> = twin.levels.iter().map(|l| l.name.as_str()).collect();
                ViewerError::Arguments(format!("there is no level '{id}' (levels: {})", names.join(", ")))
            })?;
            Some(level.elevation)
        }
    };
    Ok((view, cut))
}

/// Most pictures one `--frames` sequence may ask for (five digits number them).
#[cfg(feature = "viewer")]
const MAX_FRAMES: usize = 100_000;

/// The times of `--frames FROM:TO:EVERY`: FROM, FROM + EVERY, … while not past TO.
#[cfg(feature = "viewer")]
fn parse_frames(spec: &str) -> Result<Vec<f64>, String> {
    let bad = |why: &str| format!("--frames must be FROM:TO:EVERY in seconds, e.g. 0:60:0.5 ({why}; got '{spec}')");
    let parts: Vec<&str> = spec.split(':').collect();
    let [from, to, every] = parts[..] else { return Err(bad("three numbers")) };
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let (Some(from), Some(to), Some(every)) = (number(from), number(to), number(every)) else {
        return Err(bad("each a number"));
    };
    if from < 0.0 || to < from || to > crate::scene::limits::MAX_DURATION {
        return Err(bad(&format!("0 ≤ FROM ≤ TO ≤ {}", crate::scene::limits::MAX_DURATION)));
    }
    if !(every > 0.0) {
        return Err(bad("EVERY must be positive"));
    }
    // The tolerance keeps TO itself when it lies on the grid despite rounding.
    let count = ((to - from) / every + 1e-9).floor() + 1.0;
    if count > MAX_FRAMES as f64 {
        return Err(bad(&format!("that is {count} pictures; at most {MAX_FRAMES}")));
    }
    Ok((0..count as usize).map(|i| from + i as f64 * every).collect())
}

/// The files of a sequence of `n` pictures: `{}` in `out` replaced by the number, else files
/// `frame-NNNNN.png` in the folder `out`.
#[cfg(feature = "viewer")]
fn sequence_paths(out: &std::path::Path, n: usize) -> Vec<PathBuf> {
    let pattern = out.to_string_lossy();
    (0..n)
        .map(|i| {
            if pattern.contains("{}") {
                PathBuf::from(pattern.replace("{}", &format!("{i:05}")))
            } else {
                out.join(format!("frame-{i:05}.png"))
            }
        })
        .collect()
}

#[cfg(feature = "viewer")]
fn render(args: RenderArgs) -> ExitCode {
    use crate::viewer::{Comparison, Recording, Renderer, ViewCamera, ViewName, ViewerError, simulate_each};
    let started = std::time::Instant::now();
    let checked = (|| {
        let times = match (args.at, &args.frames) {
            (Some(at), _) => {
                if !(at.is_finite() && (0.0..=crate::scene::limits::MAX_DURATION).contains(&at)) {
                    return Err(ViewerError::Arguments(format!(
                        "--at must be a time in seconds from 0 to {} (got {at})",
                        crate::scene::limits::MAX_DURATION
                    )));
                }
                vec![at]
            }
            (None, Some(spec)) => parse_frames(spec).map_err(ViewerError::Arguments)?,
            (None, None) => return Err(ViewerError::Arguments("give --at S or --frames FROM:TO:EVERY".into())),
        };
        let size = parse_size(&args.size).map_err(ViewerError::Arguments)?;
        let paths = if args.frames.is_some() { sequence_paths(&args.out, times.len()) } else { vec![args.out.clone()] };
        if !args.target.exists() {
            return Err(ViewerError::Arguments(format!(
                "{} does not exist (give a scene file or a run folder)",
                args.target.display()
            )));
        }
        if !args.target.is_dir() && args.scene.is_some() {
            return Err(ViewerError::Arguments(
                "--scene names the scene of a run folder; the target here is a scene itself".into(),
            ));
        }
        if args.target.is_dir() && !args.close_door.is_empty() {
            return Err(ViewerError::Arguments(
                "--close-door applies to a scene; a run folder replays the commands it recorded".into(),
            ));
        }
        // Every file is checked before the first is rendered: a sequence never stops half-way on one.
        if !args.force
            && let Some(existing) = paths.iter().find(|p| p.exists())
        {
            return Err(ViewerError::Exists(existing.clone()));
        }
        Ok((times, size, paths))
    })();
    let (times, size, paths) = match checked {
        Ok(v) => v,
        Err(e) => return viewer_exit(e),
    };
    let bar = if paths.len() > 1 {
        indicatif::ProgressBar::new(paths.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} pictures ({elapsed}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut renderer: Option<Renderer> = None;
    let mut rendering = 0.0;
    let mut last = None;
    let mut view_name = String::new();
    let mut ghosts = None;
    let mut picture_of = |snapshot: crate::viewer::Snapshot,
                          path: &std::path::Path,
                          (view, cut): (ViewName, Option<f64>),
                          comparison: &mut Option<Comparison>|
     -> Result<(), ViewerError> {
        let begun = std::time::Instant::now();
        if renderer.is_none() {
            let mut made = Renderer::new(&snapshot, size)?;
            made.set_heatmap(args.heatmap);
            renderer = Some(made);
        }
        let renderer = renderer.as_mut().expect("made above");
        // The compared run at the time of this picture (a scene's run may have ended earlier).
        if let Some(comparison) = comparison.as_mut() {
            let theirs = comparison.agents_at(snapshot.agents.t);
            ghosts = Some(theirs.agents.len());
            renderer.set_compare(Some(theirs));
        }
        let mut camera = ViewCamera::named(view, &snapshot.twin, size);
        camera.cut = cut;
        view_name = view.describe(&snapshot.twin);
        let picture = renderer.render(&snapshot, &camera)?;
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder)
                .map_err(|e| ViewerError::Output(format!("cannot create {}: {e}", folder.display())))?;
        }
        picture.write_png(path, args.force)?;
        rendering += begun.elapsed().as_secs_f64();
        bar.inc(1);
        last = Some((snapshot.agents.t, snapshot.agents.agents.len(), snapshot.traffic.vehicles.len()));
        Ok(())
    };
    let source = if args.target.is_dir() { "replayed" } else { "simulated" };
    let result = if args.target.is_dir() {
        (|| {
            let mut recording = Recording::open(&args.target, args.scene.as_deref())?;
            let unit = recording.snapshot_at(0.0).twin;
            let view = resolve_view(&args, &unit)?;
            let mut comparison = args.compare.as_deref().map(|f| Comparison::open(f, &unit)).transpose()?;
            let end = recording.end_time();
            if let Some(late) = times.iter().find(|t| **t > end + 1e-6) {
                return Err(ViewerError::Arguments(format!(
                    "t = {late} s is after the end of the recording in {} ({end} s)",
                    args.target.display()
                )));
            }
            for (t, path) in times.iter().zip(&paths) {
                picture_of(recording.snapshot_at(*t), path, view, &mut comparison)?;
            }
            Ok(())
        })()
    } else {
        match load(&args.target) {
            Ok(twin) => (|| {
                let draw = crate::draw::DrawTwin::new(&twin.space, &twin.scenario, &twin.scene().unit.name, (0.0, 0.0));
                let view = resolve_view(&args, &draw)?;
                let mut comparison = args.compare.as_deref().map(|f| Comparison::open(f, &draw)).transpose()?;
                let commands: Vec<_> =
                    args.close_door.iter().map(|d| crate::command::NamedCommand::CloseDoor(d.clone())).collect();
                let mut paths = paths.iter();
                simulate_each(&twin, &times, &commands, |_, snapshot| {
                    picture_of(snapshot, paths.next().expect("one path per time"), view, &mut comparison)
                })
            })(),
            Err(diags) => Err(ViewerError::Scene(diags)),
        }
    };
    bar.finish_and_clear();
    match (result, last) {
        (Ok(()), Some((t, agents, vehicles))) => {
            let first_t = times[0];
            let what = if paths.len() == 1 {
                format!("t = {t:.1} s ({agents} agents, {vehicles} vehicles)")
            } else {
                format!("{} pictures from t = {first_t:.1} s to {t:.1} s", paths.len())
            };
            let cut = args.level.as_ref().map_or_else(String::new, |l| format!(" up to level {l}"));
            say!("unitwin render: {}: {what}, view {view_name}{cut}, {}x{}", args.target.display(), size.0, size.1);
            if let (Some(folder), Some(n)) = (&args.compare, ghosts) {
                say!(
                    "  compared with {}: its {n} agents at the last picture's time drawn as cyan ghosts",
                    folder.display()
                );
            }
            let wrote = match paths.len() {
                1 => paths[0].display().to_string(),
                n => format!("{} … {} ({n} files)", paths[0].display(), paths[n - 1].display()),
            };
            say!(
                "  {source} in {:.2} s, rendered in {rendering:.2} s; wrote {wrote}",
                started.elapsed().as_secs_f64() - rendering
            );
            ExitCode::SUCCESS
        }
        (Ok(()), None) => viewer_exit(ViewerError::Render("nothing was rendered".into())),
        (Err(e), _) => viewer_exit(e),
    }
}

#[cfg(feature = "viewer")]
fn view_replay(
    scene: Option<&std::path::Path>,
    folder: &std::path::Path,
    compare: Option<&std::path::Path>,
) -> ExitCode {
    let started = std::time::Instant::now();
    let recording = match crate::viewer::Recording::open(folder, scene) {
        Ok(r) => r,
        Err(e) => return viewer_exit(e),
    };
    say!(
        "unitwin view --replay: {} ({} frames, {} agent positions, {} commands) loaded in {:.2} s",
        folder.display(),
        recording.index.frames(),
        recording.index.records_len(),
        recording.events.len(),
        started.elapsed().as_secs_f64()
    );
    match crate::viewer::replay::view_replay(recording, compare) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => viewer_exit(e),
    }
}

#[cfg(feature = "viewer")]
fn view(
    scene: &std::path::Path,
    seed: Option<u64>,
    out: Option<PathBuf>,
    force: bool,
    compare: Option<PathBuf>,
) -> ExitCode {
    let twin = match load(&scene.to_path_buf()) {
        Ok(t) => t,
        Err(diags) => {
            eprint!("{diags}");
            return ExitCode::from(2);
        }
    };
    let seed_used = seed.unwrap_or(twin.scenario.run.seed);
    let out_dir = out.unwrap_or_else(|| {
        std::path::Path::new("out").join(format!("{}-seed{seed_used}-rehearsal", twin.loaded.stem()))
    });
    match crate::viewer::window::view(twin, crate::viewer::window::ViewOptions { seed, out_dir, force, compare }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => viewer_exit(e),
    }
}
