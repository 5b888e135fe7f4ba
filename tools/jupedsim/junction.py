#!/usr/bin/env python3
"""The alley junction of `tests/junction.rs` in JuPedSim 1.4's collision-free speed model.

`tests/junction.rs` finds that unitwin's junction of a 2 m alley with a 3.5 m lane locks at about
0.9 p/(m·s) in the alley, 60 % of the bidirectional capacity (README, *Junctions*). This script runs
the same junction in JuPedSim's CollisionFreeSpeedModel, to tell a property of the model family from
one of unitwin's: the geometry and the six streams of `tests/scenes/counterflow/alley_junction.ron`
(Poisson arrivals, each stream at its share of the scene's rates, scaled as the test scales them),
unitwin's defaults for people (radius 0.21 m, time gap 0.55 s, free speeds normal 1.34 ± 0.26 m/s
within 0.5-2.0), and the test's criterion: in the last half of the run at least 90 % as many leave as
arrive. Someone arriving comes in once nobody stands within 0.5 m of their entry point; people leave
on reaching a 0.3 m strip at their exit. A run whose crowd passes `--locked` people is called locked
and stopped there (JuPedSim slows as the jam grows).

    pip install jupedsim==1.4.2          # once
    python3 tools/jupedsim/junction.py [--flows 0.5,0.625,0.75,0.875,1.0] [--seeds 1,2] [--until 1200]
                                       [--time-gap 0.55]
"""

import argparse
import random
import sys

# (entrance, exit, persons/h) as in alley_junction.ron.
STREAMS = [
    ("alley_west", "lane_north", 900.0),
    ("alley_west", "lane_south", 900.0),
    ("lane_south", "alley_west", 900.0),
    ("lane_south", "lane_north", 1800.0),
    ("lane_north", "alley_west", 900.0),
    ("lane_north", "lane_south", 1800.0),
]
ALLEY = (0.0, 38.0, 40.0, 40.0)
# The alley's flow at the scene's rates, p/(m·s): its streams in and out over its width.
SCENE_FLOW = sum(r for a, b, r in STREAMS if "alley_west" in (a, b)) / (ALLEY[3] - ALLEY[1]) / 3600.0
LANE = (40.0, 0.0, 43.5, 80.0)
EXITS = {
    "alley_west": (0.0, 38.0, 0.3, 40.0),
    "lane_south": (40.0, 0.0, 43.5, 0.3),
    "lane_north": (40.0, 79.7, 43.5, 80.0),
}
ENTRY = {
    "alley_west": lambda r: (0.8, r.uniform(38.35, 39.65)),
    "lane_south": lambda r: (r.uniform(40.35, 43.15), 0.8),
    "lane_north": lambda r: (r.uniform(40.35, 43.15), 79.2),
}
KEEPS_PACE = 0.9


def run(flow: float, seed: int, until: float, step: float, locked: int, time_gap: float) -> dict:
    import jupedsim as jps
    import shapely

    scale = flow / SCENE_FLOW
    sim = jps.Simulation(
        model=jps.CollisionFreeSpeedModel(),
        geometry=shapely.union(shapely.box(*ALLEY), shapely.box(*LANE)),
        dt=step,
    )
    stages = {name: sim.add_exit_stage(shapely.box(*strip)) for name, strip in EXITS.items()}
    journeys = {name: sim.add_journey(jps.JourneyDescription([stage])) for name, stage in stages.items()}
    rng = random.Random(seed)
    next_arrival = [rng.expovariate(rate * scale / 3600.0) for _, _, rate in STREAMS]
    waiting: list[int] = []
    arrived = 0
    half = until / 2.0
    left_by_half = None
    while sim.elapsed_time() < until:
        t = sim.elapsed_time()
        for i, (_, _, rate) in enumerate(STREAMS):
            while next_arrival[i] <= t:
                waiting.append(i)
                arrived += 1
                next_arrival[i] += rng.expovariate(rate * scale / 3600.0)
        still = []
        for i in waiting:
            entrance, exit_, _ = STREAMS[i]
            p = ENTRY[entrance](rng)
            if any(True for _ in sim.agents_in_range(p, 0.5)):
                still.append(i)
                continue
            sim.add_agent(
                jps.CollisionFreeSpeedModelAgentParameters(
                    position=p,
                    journey_id=journeys[exit_],
                    stage_id=stages[exit_],
                    desired_speed=min(2.0, max(0.5, rng.gauss(1.34, 0.26))),
                    radius=0.21,
                    time_gap=time_gap,
                )
            )
        waiting = still
        sim.iterate()
        if left_by_half is None and sim.elapsed_time() >= half:
            left_by_half = arrived - len(waiting) - sim.agent_count()
        if sim.agent_count() > locked:
            break
    left = arrived - len(waiting) - sim.agent_count()
    demanded = sum(rate for _, _, rate in STREAMS) * scale * (until - half) / 3600.0
    end = sim.elapsed_time()
    left_last_half = None if left_by_half is None or end < until else left - left_by_half
    return {
        "flow": flow,
        "seed": seed,
        "end": end,
        "left": left,
        "left_last_half": left_last_half,
        "demanded_last_half": demanded,
        "on_site": sim.agent_count(),
        "keeps_pace": left_last_half is not None and left_last_half >= KEEPS_PACE * demanded,
    }


def numbers(kind, text: str, least) -> list:
    """A comma-separated list of numbers of `kind`, each at least `least`, or a clear error naming the bad item."""
    out = []
    for item in text.split(","):
        try:
            value = kind(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{item}' is not a number") from None
        if not value >= least:
            raise argparse.ArgumentTypeError(f"{item} must be at least {least}")
        out.append(value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--flows",
        type=lambda t: numbers(float, t, 0.01),
        default="0.5,0.625,0.75,0.875,1.0",
        help="p/(m·s) in the alley, both ways",
    )
    parser.add_argument("--seeds", type=lambda t: numbers(int, t, 0), default="1,2")
    parser.add_argument("--until", type=float, default=1200.0, help="simulated s (the test's 1,200)")
    parser.add_argument("--step", type=float, default=0.05, help="s (unitwin's default step)")
    parser.add_argument("--locked", type=int, default=1500, help="stop once this many are on site")
    parser.add_argument("--time-gap", type=float, default=0.55, help="s (unitwin's default; JuPedSim's own is 1.0)")
    args = parser.parse_args()
    for name, value, low, high in [("--until", args.until, 1.0, 86400.0), ("--step", args.step, 0.001, 0.5),
                                   ("--time-gap", args.time_gap, 0.01, 10.0), ("--locked", args.locked, 1, 10**6)]:
        if not low <= value <= high:
            parser.error(f"{name} must be between {low} and {high} (got {value})")
    try:
        import jupedsim  # noqa: F401
    except ImportError:
        print("junction.py: needs JuPedSim: pip install jupedsim==1.4.2", file=sys.stderr)
        return 2
    print("| p/(m·s) in the alley | seed | left in the last half / arrivals due | on site at the end | keeps pace |")
    print("|---|---|---|---|---|")
    for flow in args.flows:
        for seed in args.seeds:
            r = run(flow, seed, args.until, args.step, args.locked, args.time_gap)
            last = (
                f"{r['left_last_half']} / {r['demanded_last_half']:.0f}"
                if r["left_last_half"] is not None
                else f"locked: {r['on_site']} on site at {r['end']:.0f} s, {r['left']} left"
            )
            print(f"| {flow:.3f} | {seed} | {last} | {r['on_site']} | {'yes' if r['keeps_pace'] else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
