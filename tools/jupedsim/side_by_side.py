#!/usr/bin/env python3
"""Whole-process wall time of unitwin against JuPedSim 1.4 on the same evacuations.

Issue 12 asks how unitwin's cost compares with JuPedSim's collision-free speed model on the same
300-person bottleneck evacuation and a 3,000-person hall evacuation, one thread each. This script
runs both tools as separate processes (so interpreter start-up, loading and writing count for both,
as a user sees them) and prints a table and, with --json, the figures.

    pip install jupedsim==1.4.2          # once
    python3 tools/jupedsim/side_by_side.py --unitwin target/release/unitwin [--repeat 3] [--json FILE]

The geometry here mirrors tools/jupedsim/bottleneck_300.ron and hall_3000.ron. JuPedSim runs its
CollisionFreeSpeedModel with its own default agents (1.2 m/s, radius 0.2 m, time gap 1 s) at its
default step 0.01 s and at unitwin's 0.05 s; agents are removed on reaching a 0.5 m deep exit strip
at the door (a body's centre stays a radius off the wall), and no trajectory is written. unitwin runs with --threads 1 and writes its usual outputs
(trajectories, summary, report), which JuPedSim does not: the comparison favours JuPedSim there.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name: (unitwin scene, walkable polygon, placement polygon, count, exit strips, max simulated s)
CASES = {
    "bottleneck_300": (
        HERE / "bottleneck_300.ron",
        [(0, 0), (15, 0), (15, 4.5), (17, 4.5), (17, 5.5), (15, 5.5), (15, 10), (0, 10)],
        [(0.5, 0.5), (14.5, 0.5), (14.5, 9.5), (0.5, 9.5)],
        300,
        [[(16.5, 4.5), (17, 4.5), (17, 5.5), (16.5, 5.5)]],
        600.0,
    ),
    "hall_3000": (
        HERE / "hall_3000.ron",
        [(0, 0), (50, 0), (50, 40), (0, 40)],
        [(1, 1), (49, 1), (49, 39), (1, 39)],
        3000,
        [
            [(24, 39.5), (26, 39.5), (26, 40), (24, 40)],
            [(49.5, 19), (50, 19), (50, 21), (49.5, 21)],
            [(24, 0), (26, 0), (26, 0.5), (24, 0.5)],
            [(0, 19), (0.5, 19), (0.5, 21), (0, 21)],
        ],
        1200.0,
    ),
}


def jupedsim_run(case: str, dt: float) -> None:
    """Runs one JuPedSim evacuation in this process and prints its outcome as JSON."""
    import jupedsim as jps
    import shapely

    _, walkable, placement, count, exits, max_t = CASES[case]
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=shapely.Polygon(walkable), dt=dt)
    journeys = []
    for strip in exits:
        stage = sim.add_exit_stage(strip)
        journeys.append((jps.JourneyDescription([stage]), stage, shapely.Polygon(strip).centroid))
    journey_ids = [(sim.add_journey(j), stage, c) for j, stage, c in journeys]
    positions = jps.distribute_by_number(
        polygon=shapely.Polygon(placement),
        number_of_agents=count,
        distance_to_agents=0.4,
        distance_to_polygon=0.2,
        seed=1,
    )
    for x, y in positions:
        # Everyone heads for the nearest exit, as unitwin's NearestExit does in these open rooms.
        jid, stage, _ = min(journey_ids, key=lambda j: (j[2].x - x) ** 2 + (j[2].y - y) ** 2)
        sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(position=(x, y), journey_id=jid, stage_id=stage))
    while sim.agent_count() > 0 and sim.elapsed_time() < max_t:
        sim.iterate()
    print(json.dumps({"left": count - sim.agent_count(), "simulated": sim.elapsed_time(), "steps": sim.iteration_count()}))


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{out.stderr}")
    return wall, out.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unitwin", default="target/release/unitwin", help="the unitwin executable")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the fastest counts")
    parser.add_argument("--json", type=Path, help="also write the figures here (must not exist)")
    parser.add_argument("--jupedsim-run", nargs=2, metavar=("CASE", "DT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jupedsim_run:
        jupedsim_run(args.jupedsim_run[0], float(args.jupedsim_run[1]))
        return
    if not Path(args.unitwin).is_file():
        sys.exit(f"error: no unitwin executable at {args.unitwin} (build it with cargo build --release)")
    if args.json and args.json.exists():
        sys.exit(f"error: {args.json} exists; not overwriting it")
    import jupedsim

    rows = []
    for case, (scene, *_rest) in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [args.unitwin, "run", str(scene), "--threads", "1", "--quiet", "--force", "--out", tmp + "/run"]
            best = min(timed(cmd)[0] for _ in range(args.repeat))
            summary = json.loads(Path(tmp, "run", "summary.json").read_text())
        rows.append({
            "case": case, "tool": "unitwin " + subprocess.run([args.unitwin, "--version"], capture_output=True,
                                                               text=True).stdout.strip().split()[-1],
            "dt": 0.05, "wall_s": best, "left": summary["agents"]["exited"],
            "simulated_s": summary["simulated_time"],
        })
        for dt in (0.01, 0.05):
            cmd = [sys.executable, __file__, "--jupedsim-run", case, str(dt)]
            results = [timed(cmd) for _ in range(args.repeat)]
            wall, out = min(results)
            outcome = json.loads(out)
            rows.append({
                "case": case, "tool": f"JuPedSim {jupedsim.__version__}", "dt": dt, "wall_s": wall,
                "left": outcome["left"], "simulated_s": outcome["simulated"],
            })
        print(f"{case}: done", file=sys.stderr)
    print(f"{'case':<16} {'tool':<16} {'step s':>7} {'left':>6} {'simulated s':>12} {'wall s':>8} {'JuPedSim / unitwin':>19}")
    for r in rows:
        ours = next(x for x in rows if x["case"] == r["case"] and x["tool"].startswith("unitwin"))
        ratio = r["wall_s"] / ours["wall_s"]
        print(f"{r['case']:<16} {r['tool']:<16} {r['dt']:>7.2f} {r['left']:>6} {r['simulated_s']:>12.1f} "
              f"{r['wall_s']:>8.2f} {ratio:>19.1f}")
    if args.json:
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps(rows, indent=2))
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
