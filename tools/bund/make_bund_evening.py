#!/usr/bin/env python3
"""Writes scenes/bund_evening.ron: the Bund waterfront at full scale on New Year's Eve 2014.

The scene repeats one stairway and one crossing many times along 1.8 km, so it is generated
rather than written by hand. Every dimension that is not a published fact is marked ESTIMATED in
the scene's header, which this script writes too. Run from the repository root:

    python3 tools/bund/make_bund_evening.py > scenes/bund_evening.ron
    python3 tools/bund/make_bund_evening.py --cordon > scenes/bund_evening_cordon.ron

With --cordon it writes the evening as 2014 had it: the police kept the Chen Yi Square stairway
one-way (down only [est]) until the cordon broke at 22:37; every other stairway two-way.
"""

import math
import sys

# y of the waterfront's ends (north: Waibaidu Bridge; south: towards the Shiliupu ferry), m.
NORTH, SOUTH = 550.0, -1250.0
# Arrivals into the whole Bund area, persons/h, from 20:00 (t = 0); they stop at 23:35.
HOURLY = [(0.0, 120000.0), (3600.0, 160000.0), (7200.0, 240000.0), (10800.0, 310000.0), (12900.0, 0.0)]
# Side streets from the west: (id, y of the centre line, width of the street's mouth,
# width of its crossing of Zhongshan East 1st Road, share of all arrivals). ESTIMATED.
SIDE_STREETS = [
    ("beijing_east_road", 260.0, 16.0, 10.0, 0.08),
    ("nanjing_east_road", 0.0, 20.0, 15.0, 0.32),
    ("jiujiang_road", -110.0, 12.0, 10.0, 0.06),
    ("hankou_road", -200.0, 12.0, 10.0, 0.05),
    ("fuzhou_road", -300.0, 14.0, 10.0, 0.07),
    ("guangdong_road", -440.0, 14.0, 10.0, 0.06),
    ("yanan_east_road", -700.0, 24.0, 10.0, 0.08),
    ("jinling_east_road", -1150.0, 20.0, 10.0, 0.03),
]
# Along the waterfront itself, from its ends: (door, share). ESTIMATED.
ENDS = [("greenway_north", 0.06), ("platform_north", 0.06), ("greenway_south", 0.065), ("platform_south", 0.065)]
# Stairways up to the flood-wall platform, y of their centre lines; 0.0 is Chen Yi Square's. ESTIMATED
# but the Chen Yi Square one.
STAIRS = [480.0, 330.0, 180.0, 0.0, -150.0, -300.0, -450.0, -600.0, -750.0, -900.0, -1050.0, -1200.0]
# Viewing stretches: the platform along 150 m each, but the first and last 20 m (those coming in at the
# platform's ends would otherwise stop right inside it and hold the rest off), and but a walkway along
# the flood wall (those stepping off a stairway would otherwise stop at its head and hold the rest on it).
VIEW_EDGES = [SOUTH + 150.0 * k for k in range(13)]
VIEW_EDGES[0] += 20.0
VIEW_EDGES[-1] -= 20.0
# x of the belt between the road and the flood wall, its planting, and the platform, m.
BELT = (12.0, 71.5)
PLANTING = (20.0, 64.0)
PLATFORM = (81.25, 96.25)
WALKWAY = 3.0
# How long visitors stay where they watch from. ESTIMATED (see the header).
DWELL = f"LogNormal(mu: {math.log(720.0):.4f}, sigma: 0.5, min: 120.0, max: 3600.0)"
# Share of those coming in at ground level who watch from there: the west strip of the belt along the
# road (x 12.5-19.5 m, in the same 150 m stretches as the platform's) or, in Chen Yi Square's stretch,
# the square. ESTIMATED from "the embankment holds about 50,000" against peaks of 85,000-91,000
# (mean 88,000) on the waterfront: 43 % of all stay below the platform, which, with the 12 % coming
# along the platform itself, is 49 % of those coming in at ground level.
WATCH_FROM_GROUND = 1.0 - 50000.0 / 88000.0
GROUND_SHARE = round(WATCH_FROM_GROUND / (1.0 - sum(share for door, share in ENDS if door.startswith("platform"))), 2)
GROUND_STRIP = (12.5, 19.5)
# Where those watching in Chen Yi Square stand: its middle, leaving its edges to those walking to
# and from the stairway and the Nanjing East Road crossing.
SQUARE_VIEW = (24.0, -35.0, 60.0, 35.0)
# Half the width of the way kept clear through where people stand on the ground: in front of each
# stairway's path through the planting (which is as wide), and across Chen Yi Square from the Nanjing
# East Road crossing (15 m) to its stairway. People standing at random spots there held up everyone
# going up (a first run: 127 waiting in front of one path, 35 in the square).
PATH_HALF = 10.0
assert abs(sum(s[4] for s in SIDE_STREETS) + sum(e[1] for e in ENDS) - 1.0) < 1e-9


def f(x):
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else f"{x:.1f}"


def rect(x0, y0, x1, y1):
    return f"[({f(x0)}, {f(y0)}), ({f(x1)}, {f(y0)}), ({f(x1)}, {f(y1)}), ({f(x0)}, {f(y1)})]"


def rates(share):
    return "[" + ", ".join(f"({f(t)}, {f(round(r * share, 1))})" for t, r in HOURLY) + "]"


def views_near(y, n=3):
    centres = [(0.5 * (a + b), k) for k, (a, b) in enumerate(zip(VIEW_EDGES, VIEW_EDGES[1:]))]
    centres.sort(key=lambda c: (abs(c[0] - y), c[1]))
    return sorted(k for _, k in centres[:n])


def ground_views(k):
    """Where those watching from the ground in stretch `k` stand: (side, (x0, y0, x1, y1)), south
    and north of the way up to its stairway kept clear."""
    a, b = VIEW_EDGES[k], VIEW_EDGES[k + 1]
    if a <= 0.0 < b:
        x0, y0, x1, y1 = SQUARE_VIEW
        return [("south", (x0, y0, x1, -PATH_HALF)), ("north", (x0, PATH_HALF, x1, y1))]
    (stair,) = [s for s in STAIRS if a <= s < b]
    x0, x1 = GROUND_STRIP
    return [("south", (x0, a, x1, stair - PATH_HALF)), ("north", (x0, stair + PATH_HALF, x1, b))]


# 2014's cordon on the Chen Yi Square stairway: the direction it let people go (ESTIMATED: the
# reference gives only that the one-way cordon broke at 22:37) and when it broke (t = 0 is 20:00).
CORDON_DIRECTION = "DownOnly"
CORDON_BROKE = 9420.0
NO_MEASURES_TEXT = """// No crowd measures: every stairway is two-way from 20:00 (in 2014 the police held the Chen Yi
// Square stairway one-way until 22:37: bund_evening_cordon.ron has that)."""
CORDON_TEXT = """// As in 2014: the Chen Yi Square stairway is one-way (down only [est]) from 20:00 until the
// police's cordon on it broke at 22:37, then two-way; every other stairway is two-way, and there
// are no other crowd measures."""

HEADER = """\
// The Bund waterfront at full scale on New Year's Eve 2014 (外滩, 陈毅广场): 1.8 km of the flood-wall
// riverside platform with twelve stairways up to it, the belt between it and Zhongshan East 1st Road,
// Chen Yi Square, the Nanjing East Road approach and seven more side streets, and the signalised
// crossings of Zhongshan East 1st Road, with the 2014-12-31 arrival rates. Generated by
// tools/bund/make_bund_evening.py (edit that, not this file); bund_chenyi*.ron are the small, fast
// variants of its middle.
{measures}
//
// Facts used (../shared/reference/pilot-units.md):
//   - Chen Yi Square ≈ 31.2410 N, 121.4860 E; the Bund waterfront is ≈ 1.8 km long.
//   - People entering the Bund area on 2014-12-31: ≈ 120,000 (20–21 h), 160,000 (21–22 h),
//     240,000 (22–23 h), 310,000 per hour (23 h until the crush at 23:35). Here t = 0 is 20:00 and
//     arrivals stop at t = 12,900 s (23:35).
//   - The Chen Yi Square stairway: two flights of 9 and 8 steps with a landing under 20 m², about
//     5 m wide; at 22:37 the police's one-way cordon on it broke; 23:23–23:33 the up- and
//     down-flows deadlocked mid-stair.
//   - Peaks on the waterfront: 85,000 (NYE 2017→18) and 91,000 (2018→19) at midnight; "the embankment
//     holds about 50,000 and visitors stay up to an hour" (Shanghai police, 2023).
//   - One signal cycle of 2 min 50 s (170 s) at the Nanjing East Road crossing lets about 2,000
//     people across (Shanghai police, 2023).
//   - IMO MSC.1/Circ.1533 stair speeds and flows (the engine's stair defaults).
//
// ESTIMATED (not published; chosen plausibly):
//   - The layout is straightened: the road runs north–south along x = 0 from y = -1,250 (south) to
//     y = 550 (north, Waibaidu Bridge); the river is to the east.
//   - Side streets' positions, mouth widths and shares of the arrivals (the rest, 25 %, come along
//     the waterfront from its two ends, on the belt and on the platform):
//{streets}
//   - Crossings: Nanjing East Road's 15 m wide, so that one 170 s cycle passes about the police's
//     2,000 (15 m × 1.3 persons/(m·s), IMO, × 115 s of green and amber ≈ 2,240); the others 10 m.
//     All signals run the pedestrian-heavy plan of bund_chenyi.ron (vehicles 45 + 3 + 2 s,
//     pedestrians 105 + 10 + 5 s) from 20:00, offset 0; vehicles 800 / 700 / 600 per hour each way
//     (87 % cars, 3 % buses, 10 % vans), 4 lanes two-way at 40 km/h, sidewalks 6 m (west) and 5 m.
//     The crossings' capacity (≈ 40,000 + 7 × 24,000 ≈ 210,000 persons/h) is below the 23 h peak's
//     232,000 from the west: people then gather on the west sidewalk.
//   - The belt between the road and the flood wall: x 12–71.5 m, planted at x 20–64 m except for
//     20 m wide paths to each stairway, 10 m at each end, and Chen Yi Square (x 12–71.5 m,
//     y -45–45 m, open).
//   - Twelve stairways (y = {stairs}), each as Chen Yi Square's: 5 m wide, a 2.75 m lower flight
//     (9 risers), a 5 m × 3.5 m landing at 1.44 m, a 2.5 m upper flight (8 risers), 2.72 m in all;
//     no ramps.
//   - The platform: 15 m wide (x 81.25–96.25 m), 1.8 km long, open at both ends.
//   - Those going up go to one of twelve 150 m stretches of the platform (all of its width but a 3 m walkway
//     along the flood wall, from which the river is in view over the crowd at the railing; the first
//     and last 20 m of the platform are left free), up the stairway within that stretch (static
//     shortest paths alone would send everyone from Nanjing East Road up the Chen Yi Square stairway),
//     one of the three nearest their way in, and stay there a log-normal time (median 12 min,
//     σ 0.5, 2–60 min: a mean stay of about 17 min with the walk, so that 310,000 arrivals an hour
//     hold about 90,000 on site), then leave by the nearest way out.
//   - Not everyone goes up: the platform holds about 50,000 of the peak's 85,000-91,000 (mean 88,000),
//     so 43 % of all watch from the ground. Of those coming in at ground level (all but the 12 %
//     coming along the platform from its ends), 49 % stay on the ground: in twelve stretches of the
//     belt's strip along the road (x 12.5-19.5 m, the platform's stretches), Chen Yi Square's being
//     the square's middle (x 24-60 m, y -35-35 m), but for 20 m kept clear in front of each stairway's
//     path through the planting and across the square from the Nanjing East Road crossing to its
//     stairway; each way in is split over the three nearest, each of those over the two sides of the
//     way kept clear by their areas, with the same stays.
//   - Walking speeds: Weidmann (1993) defaults. Routing: static shortest paths.
"""


def main():
    streets = "\n".join(
        f"//       {sid}: y = {f(y)} m, mouth {f(w)} m, crossing {f(cw)} m, {round(share * 100, 1)} %"
        for sid, y, w, cw, share in SIDE_STREETS
    )
    cordon = sys.argv[1:] == ["--cordon"]
    if sys.argv[1:] not in ([], ["--cordon"]):
        sys.exit("usage: make_bund_evening.py [--cordon]")
    header = HEADER.replace("{measures}", CORDON_TEXT if cordon else NO_MEASURES_TEXT)
    out = [header.replace("{streets}", streets).replace("{stairs}", ", ".join(f(s) for s in STAIRS))]
    out.append("Scene(\n    version: 1,")
    out.append(
        '    unit: Unit(\n        name: "The Bund waterfront, New Year\'s Eve 2014 at full scale (1.8 km, twelve stairways, '
        + ("the one-way cordon on the Chen Yi Square stairway until 22:37" if cordon else "no measures")
        + ')",\n'
        "        kind: Plaza,\n        origin: (lat: 31.2410, lon: 121.4860),\n"
        '        sources: "pilot-units.md (official investigation report 2015-01-21: arrivals per hour 120,000 / 160,000 / 240,000 / 310,000, the Chen Yi Square stair 9 + 8 steps, landing < 20 m², ≈5 m wide; waterfront ≈1.8 km; peaks 85,000–91,000; police 2023: 2,000 people a 170 s cycle at the Nanjing East Road crossing, visitors stay up to an hour); IMO MSC.1/Circ.1533. ESTIMATED: the straightened layout, side streets and their shares, crossing widths and signal split, the belt and its planting, eleven more stairways as Chen Yi Square\'s, the platform\'s width, viewing stretches and dwell times, vehicles (see the header).",\n    ),'
    )
    out.append("    run: RunSettings(step: 0.05, duration: 14400.0, seed: 2014, output_interval: 0.5, nav_cell: 0.25),")
    out.append("    routing: Static,")
    # Levels.
    street_areas = []
    for sid, y, w, _, _ in SIDE_STREETS:
        street_areas.append(f'                Area(id: "{sid}_mouth", outer: {rect(-50.0, y - w / 2, -13.0, y + w / 2)}),')
    street_areas.append(f'                Area(id: "belt", outer: {rect(BELT[0], SOUTH, BELT[1], NORTH)}),')
    out.append("    levels: [\n        Level(\n            id: \"ground\",\n            elevation: 0.0,\n            walkable: [")
    out += street_areas
    out.append("            ],\n        ),")
    out.append("        // The landings between each stairway's two flights: 5.0 m × 3.5 m = 17.5 m².")
    out.append("        Level(\n            id: \"landings\",\n            elevation: 1.44,\n            walkable: [")
    for k, y in enumerate(STAIRS):
        out.append(f'                Area(id: "landing_{k + 1}", outer: {rect(74.25, y - 2.5, 77.75, y + 2.5)}),')
    out.append("            ],\n        ),")
    out.append("        Level(\n            id: \"platform\",\n            elevation: 2.72,\n            walkable: [")
    out.append(f'                Area(id: "promenade", outer: {rect(PLATFORM[0], SOUTH, PLATFORM[1], NORTH)}),')
    for k, y in enumerate(STAIRS):
        out.append(f'                Area(id: "stairhead_{k + 1}", outer: {rect(80.25, y - 2.5, 81.5, y + 2.5)}),')
    out.append("            ],\n        ),\n    ],")
    # Stairs.
    out.append("    stairs: [")
    for k, y in enumerate(STAIRS):
        n = k + 1
        out.append(
            f'        Stair(id: "stair_{n}_lower", foot: (level: "ground", at: (71.5, {f(y)})), head: (level: "landings", at: (74.25, {f(y)})), width: 5.0, run: 2.75, direction: Both),'
        )
        out.append(
            f'        Stair(id: "stair_{n}_upper", foot: (level: "landings", at: (77.75, {f(y)})), head: (level: "platform", at: (80.25, {f(y)})), width: 5.0, run: 2.5, direction: Both),'
        )
    out.append("    ],")
    # Street and crossings.
    out.append("    streets: [\n        Street(\n            id: \"zhongshan_east_1st_road\",\n            level: \"ground\",")
    out.append(f"            centerline: [(0.0, {f(SOUTH)}), (0.0, {f(NORTH)})],")
    out.append("            carriageway: 15.0,\n            sidewalks: (6.0, 5.0),\n            kerb: 0.15,\n            one_way: false,\n            lanes: 4,\n            speed_limit: 40.0,\n            crossings: [")
    for sid, y, _, cw, _ in SIDE_STREETS:
        out.append(f'                Crossing(id: "{sid}_crossing", at: {f(y - SOUTH)}, width: {f(cw)}, signal: true),')
    out.append("            ],\n        ),\n    ],")
    out.append("    signals: [")
    for sid, _, _, _, _ in SIDE_STREETS:
        out.append(
            f'        Signal(\n            id: "{sid}_signal",\n            heads: [\n'
            f'                SignalHead(id: "{sid}_vehicles", vehicles: [Approach(street: "zhongshan_east_1st_road", at: "{sid}_crossing")]),\n'
            f'                SignalHead(id: "{sid}_walk", crossings: ["{sid}_crossing"]),\n            ],\n            plans: [\n'
            f'                SignalPlan(id: "holiday", offset: 0.0, phases: [\n'
            f'                    Phase(duration: 45.0, green: ["{sid}_vehicles"]),\n'
            f'                    Phase(duration: 3.0, amber: ["{sid}_vehicles"]),\n'
            f"                    Phase(duration: 2.0),\n"
            f'                    Phase(duration: 105.0, green: ["{sid}_walk"]),\n'
            f'                    Phase(duration: 10.0, amber: ["{sid}_walk"]),\n'
            f"                    Phase(duration: 5.0),\n                ]),\n"
            f'                SignalPlan(id: "normal", offset: 0.0, phases: [\n'
            f'                    Phase(duration: 95.0, green: ["{sid}_vehicles"]),\n'
            f'                    Phase(duration: 3.0, amber: ["{sid}_vehicles"]),\n'
            f"                    Phase(duration: 2.0),\n"
            f'                    Phase(duration: 55.0, green: ["{sid}_walk"]),\n'
            f'                    Phase(duration: 10.0, amber: ["{sid}_walk"]),\n'
            f"                    Phase(duration: 5.0),\n                ]),\n            ],\n        ),"
        )
    out.append("    ],")
    out.append(
        "    traffic: Traffic(\n        flows: [\n"
        '            Flow(id: "northbound", street: "zhongshan_east_1st_road", from: Start, rate: [(0.0, 800.0), (3600.0, 700.0), (7200.0, 600.0)], mix: [(Car, 0.87), (Bus, 0.03), (Van, 0.10)], route: []),\n'
        '            Flow(id: "southbound", street: "zhongshan_east_1st_road", from: End, rate: [(0.0, 800.0), (3600.0, 700.0), (7200.0, 600.0)], mix: [(Car, 0.87), (Bus, 0.03), (Van, 0.10)], route: []),\n'
        "        ],\n    ),"
    )
    # Planting beds on the belt, between the paths to the stairways (and not on Chen Yi Square).
    out.append("    obstacles: [")
    gaps = sorted([(y - 10.0, y + 10.0) for y in STAIRS if y != 0.0] + [(-45.0, 45.0), (SOUTH, SOUTH + 10.0), (NORTH - 10.0, NORTH)])
    k = 0
    for (a0, a1), (b0, b1) in zip(gaps, gaps[1:]):
        if b0 - a1 > 1.0:
            k += 1
            out.append(f'        Obstacle(id: "planting_{k}", level: "ground", footprint: {rect(PLANTING[0], a1, PLANTING[1], b0)}, height: 1.0),')
    out.append("    ],")
    # Doors.
    out.append("    doors: [")
    for sid, y, w, _, _ in SIDE_STREETS:
        out.append(f'        Door(id: "{sid}", level: "ground", at: (-50.0, {f(y)}), width: {f(w)}),')
    # The belt's end, from the east sidewalk's edge (x = 12.5, where the belt joins it) to the flood wall.
    belt_mid, belt_w = 0.5 * (12.5 + BELT[1]), BELT[1] - 12.5
    plat_mid, plat_w = 0.5 * (PLATFORM[0] + PLATFORM[1]), PLATFORM[1] - PLATFORM[0]
    out.append(f'        Door(id: "greenway_north", level: "ground", at: ({f(belt_mid)}, {f(NORTH)}), width: {f(belt_w)}),')
    out.append(f'        Door(id: "greenway_south", level: "ground", at: ({f(belt_mid)}, {f(SOUTH)}), width: {f(belt_w)}),')
    out.append(f'        Door(id: "platform_north", level: "platform", at: ({f(plat_mid)}, {f(NORTH)}), width: {f(plat_w)}),')
    out.append(f'        Door(id: "platform_south", level: "platform", at: ({f(plat_mid)}, {f(SOUTH)}), width: {f(plat_w)}),')
    out.append("    ],")
    # Viewing stretches.
    out.append("    destinations: [")
    for k, (a, b) in enumerate(zip(VIEW_EDGES, VIEW_EDGES[1:])):
        out.append(
            f'        Destination(id: "view_{k + 1}", level: "platform", area: {rect(PLATFORM[0] + WALKWAY, a, PLATFORM[1], b)}, dwell: {DWELL}),'
        )
    # Where those staying on the ground watch from: north and south of the way up kept clear.
    for k in range(len(VIEW_EDGES) - 1):
        for side, (x0, y0, x1, y1) in ground_views(k):
            out.append(
                f'        Destination(id: "ground_view_{k + 1}_{side}", level: "ground", area: {rect(x0, y0, x1, y1)}, dwell: {DWELL}),'
            )
    # The foot of each stairway, passed on the way up to the stretch it serves.
    for k, y in enumerate(STAIRS):
        out.append(f'        Destination(id: "stair_{k + 1}_foot", level: "ground", area: {rect(66.5, y - 2.5, 71.5, y + 2.5)}),')
    out.append("    ],")
    # Populations: every way in, split over the three viewing stretches nearest it.
    out.append("    populations: [")
    ways_in = [(sid, "ground", y, share) for sid, y, _, _, share in SIDE_STREETS]
    ways_in += [(door, "ground" if door.startswith("greenway") else "platform", NORTH if door.endswith("north") else SOUTH, share) for door, share in ENDS]
    for door, level, y, share in ways_in:
        for k in views_near(y):
            # From the ground, up the stairway within the stretch (each stretch holds one).
            (stair,) = [n for n, s in enumerate(STAIRS) if VIEW_EDGES[k] <= s < VIEW_EDGES[k + 1]]
            route = f'"view_{k + 1}"' if level == "platform" else f'"stair_{stair + 1}_foot", "view_{k + 1}"'
            up = 1.0 if level == "platform" else 1.0 - GROUND_SHARE
            out.append(
                f'        Population(id: "{door}_to_view_{k + 1}", level: "{level}", placement: Arrivals(door: "{door}", rates: {rates(share * up / 3.0)}), goal: Route([{route}])),'
            )
            if level == "ground":
                # Split over the two sides by their areas, so that both fill alike.
                views = ground_views(k)
                total = sum((x1 - x0) * (y1 - y0) for _, (x0, y0, x1, y1) in views)
                for side, (x0, y0, x1, y1) in views:
                    part = (x1 - x0) * (y1 - y0) / total
                    out.append(
                        f'        Population(id: "{door}_to_ground_view_{k + 1}_{side}", level: "ground", placement: Arrivals(door: "{door}", rates: {rates(share * GROUND_SHARE / 3.0 * part)}), goal: Route(["ground_view_{k + 1}_{side}"])),'
                    )
    out.append("    ],")
    chen_yi = STAIRS.index(0.0) + 1  # stairways are numbered from 1, north to south
    if cordon:
        # 2014: the Chen Yi Square stairway one-way until the cordon broke at 22:37 (t = 9,420 s).
        out.append("    events: [")
        for t, direction in ((0.0, CORDON_DIRECTION), (CORDON_BROKE, "Both")):
            for flight in ("lower", "upper"):
                out.append(
                    f'        (at: {f(t)}, action: StairDirection(stair: "stair_{chen_yi}_{flight}", direction: {direction})),'
                )
        out.append("    ],")
    # Measurements at the Chen Yi Square stairway, as in bund_chenyi.ron, at its neighbours (where
    # its flow goes while it is one-way) and on the platform.
    neighbours = []
    for n in (chen_yi - 1, chen_yi + 1):
        y = STAIRS[n - 1]
        neighbours += [
            f'        Area(id: "stair_{n}_foot_area", level: "ground", polygon: {rect(66.5, y - 5.0, 71.5, y + 5.0)}),',
            f'        Area(id: "stair_{n}_landing", level: "landings", polygon: {rect(74.25, y - 2.5, 77.75, y + 2.5)}),',
            f'        Area(id: "stair_{n}_head", level: "platform", polygon: {rect(81.25, y - 5.0, 86.25, y + 5.0)}),',
            f'        Line(id: "square_to_stair_{n}", level: "ground", from: ({f(69.0)}, {f(y - 5.0)}), to: ({f(69.0)}, {f(y + 5.0)})),',
        ]
    out.append(
        "    measurements: [\n"
        '        Area(id: "stair_foot", level: "ground", polygon: [(66.5, -5.0), (71.5, -5.0), (71.5, 5.0), (66.5, 5.0)]),\n'
        '        Area(id: "landing_area", level: "landings", polygon: [(74.25, -2.5), (77.75, -2.5), (77.75, 2.5), (74.25, 2.5)]),\n'
        '        Area(id: "stair_head", level: "platform", polygon: [(81.25, -5.0), (86.25, -5.0), (86.25, 5.0), (81.25, 5.0)]),\n'
        '        Line(id: "square_to_stair", level: "ground", from: (69.0, -5.0), to: (69.0, 5.0)),\n'
        '        Line(id: "nanjing_road_crossing_line", level: "ground", from: (0.0, -10.0), to: (0.0, 10.0)),\n'
        + "\n".join(neighbours)
        + "\n    ],"
    )
    out.append(")")
    print("\n".join(out))


main()
