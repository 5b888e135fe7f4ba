"""Writes Tianzifang's two what-if variants from scenes/tianzifang.ron: one-way circulation and wave release.

Both keep the holiday afternoon's lanes, shops, arrival rates, stays and speeds (scenes/tianzifang.ron, itself
written by tools/tianzifang/shops_walked_into.py) and change only what the measure changes:
  - scenes/tianzifang_oneway.ron: everyone coming from Taikang Road enters at lane 210's arch (an entrance
    only), lane 248's Taikang Road mouth is closed (a police barrier), and visitors leave by lane 274 or the
    Jianguo Middle Road gate; each route's stops are taken from east to west, so the net flow runs
    210 -> 248 -> 274.
  - scenes/tianzifang_wave_release.ron: the quarter gets a maximum capacity, hold lines 1 m inside the four
    entrances (--hold-depth) and a playbook that releases waves at them while the quarter is at orange, as
    staff did at gate 7 on 2019-10-02 (about 100 every 2-3 minutes; --wave-every 30 gives waves of a fifth
    at the same rate); plus an incident library (a fallen visitor in the 1.6 m alley_w2, a shop on fire on
    lane 210).
The capacity is not published. On 2019-10-02 the quarter was over it from about 14:00 and peaked at 5,328 at
15:30; the default (--capacity 3300) is what the scene without measures holds at 14:00 (3,265 at seed 210,
2026-12-07), so that it too is over capacity from about 14:00.

    python3 tools/tianzifang/variants.py --force    # rewrites both scenes
    unitwin run scenes/tianzifang_oneway.ron --until 9000
"""
import argparse
import os
import re
import sys

from shops_walked_into import ROOT, points

# What the afternoon without measures holds at 14:00 (3,265 at seed 210), rounded.
DEFAULT_CAPACITY = 3300.0


def centres(s):
    out = {}
    for m in re.finditer(r'Destination\(id: "([a-z0-9_]+)", level: "lanes", area: (\[[^\]]*\])', s):
        pts = points(m.group(2))
        out[m.group(1)] = (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
    return out


def sub_once(pattern, repl, s, flags=0):
    s, n = re.subn(pattern, repl, s, count=1, flags=flags)
    assert n == 1, f"scenes/tianzifang.ron has no {pattern!r}"
    return s


def retitle(s, title, name):
    """The variant's own comment and name; the facts and estimates below them are the scene's."""
    s = sub_once(r'\A(// .*\n)*?//\n', lambda m: title + '//\n', s)
    return sub_once(r'name: "Tianzifang \(田子坊\), Taikang Road lanes 210/248/274: holiday afternoon"',
                    lambda m: f'name: "Tianzifang (田子坊), Taikang Road lanes 210/248/274: {name}"', s)


WRITTEN = (
    "// Written by tools/tianzifang/variants.py from scenes/tianzifang.ron; edit the tool, not this file.\n"
)


def one_way(src):
    title = (
        "// Tianzifang (田子坊), Taikang Road lanes 210 / 248 / 274: one-way circulation.\n"
        "// Variant of scenes/tianzifang.ron (same lanes, shops, arrival rates, stays and speeds) with one-way\n"
        "// circulation through the lanes: everyone coming from Taikang Road enters at the lane 210 arch (an\n"
        "// entrance only, `exit: false`); lane 248's Taikang Road mouth is closed (a police barrier,\n"
        "// `open: false`); visitors leave by lane 274 on Taikang Road or by the Jianguo Middle Road gate. Each\n"
        "// route's stops are taken from east to west, so the net flow runs 210 -> 248 -> 274.\n"
        + WRITTEN
    )
    s = retitle(src, title, "one-way circulation")
    s = sub_once(r'(Door\(id: "taikang_210", level: "lanes", at: \([^)]*\), width: [0-9.]+)\)', r'\1, exit: false)', s)
    s = sub_once(r'(Door\(id: "taikang_248", level: "lanes", at: \([^)]*\), width: [0-9.]+)\)', r'\1, open: false)', s)
    for door in ('taikang_248', 'taikang_274'):
        s = s.replace(f'Arrivals(door: "{door}"', 'Arrivals(door: "taikang_210"')
    centre = centres(s)

    def east_to_west(m):
        stops = re.findall(r'"([a-z0-9_]+)"', m.group(1))
        # Stable sort: stops at the same x keep the route's order.
        stops = sorted(stops, key=lambda k: -centre[k][0])
        return 'goal: Route([' + ', '.join(f'"{k}"' for k in stops) + '])'

    s, n = re.subn(r'goal: Route\(\[([^\]]*)\]\)', east_to_west, s)
    assert n == 48, n
    return s


def wave_release(src, capacity, hold_depth, every):
    # 2019's gate 7: about 100 every 2-3 minutes at lane 210's arch; the others by their share of arrivals.
    sizes = [max(1, round(n * every / 150.0)) for n in (100, 55, 35, 25)]
    gate7 = "as at gate 7" if every == 150.0 else "at the rate of gate 7's 100 every 150 s"
    why = ("it is\n"
           "//     what the afternoon without measures holds at 14:00, 3,265 at seed 210, so that here too the\n"
           "//     quarter is over it from about 14:00" if capacity == DEFAULT_CAPACITY else
           f"chosen with --capacity {capacity:g}")
    walkable = walkable_area(src)
    per_person = round(walkable / capacity, 2)
    cap = walkable / per_person
    title = (
        "// Tianzifang (田子坊), Taikang Road lanes 210 / 248 / 274: holiday peak over capacity, with wave release.\n"
        "// Variant of scenes/tianzifang.ron (same lanes, shops, arrivals, routes and stays) with the measure\n"
        "// staff used on 2019-10-02, when the quarter was over its maximum capacity from about 14:00 (peak\n"
        "// 5,328 on site at 15:30) and gate 7 held visitors and released about 100 every 2-3 minutes\n"
        "// (../shared/reference/pilot-units.md, press reports).\n"
        + WRITTEN +
        "//\n"
        "// Added here:\n"
        f"//   - `quarter`: the whole modelled frame as a measurement area with a capacity of about {round(cap, -1):,.0f}:\n"
        f"//     its walkable {round(walkable, -1):,.0f} m² at {per_person:g} m² per visitor (ESTIMATED: the capacity is not published; {why}), so yellow / orange / red at about {round(0.8 * cap, -1):,.0f} / {round(0.9 * cap, -1):,.0f} / {round(cap, -1):,.0f}.\n"
        f"//   - A hold line {hold_depth:g} m inside each of the four entrances, held only for people coming in (leavers\n"
        "//     pass freely), with the entrance's first metre as its queue area: those not yet let through wait\n"
        "//     outside, in the street (arrivals wait outside the frame until there is room at the door), as at\n"
        "//     gate 7. Held 6 m inside (the variant before 2026-12-07), the held crowd filled the lane mouths at up\n"
        "//     to 7 persons/m² and those leaving by them could not get past (docs/design/tianzifang-shops.md).\n"
        "//   - A playbook: when the quarter has been at orange or above for 60 s, every entrance releases\n"
        f"//     waves every {every:g} s sized by its share of arrivals, {sizes[0]} at lane 210's arch ({gate7}), {sizes[1]} at\n"
        f"//     lane 248, {sizes[2]} at lane 274 and {sizes[3]} at Jianguo Middle Road; when the quarter has been below\n"
        "//     yellow for 120 s, the entrances open again.\n"
        "// Score it against scenes/tianzifang.ron with `unitwin compare` (same seeds).\n"
        "// Also in the incident library, not ordered here: `fallen_visitor_alley_w2`, a visitor fallen in the\n"
        "// 1.6 m alley_w2 (a local risk while down); `shop_lane_210_e1_fire`, the sales floor of a shop on lane\n"
        "// 210 on fire (use `Smoke(zone, extinction)` or `BlockZone`).\n"
    )
    s = retitle(src, title, "holiday peak with wave release")
    fire = re.search(r'Area\(id: "shop_lane_210_e1_floor", outer: (\[[^\]]*\])', s).group(1)
    d, h = hold_depth, hold_depth / 2
    areas = (
        f'        Area(id: "quarter", level: "lanes", polygon: [(-10.0, -1.0), (185.0, -1.0), (185.0, 185.0), (-10.0, 185.0)], area_per_person: Some({per_person})),\n'
        f'        Area(id: "mouth_210", level: "lanes", polygon: [(168.0, 0.0), (172.0, 0.0), (172.0, {d}), (168.0, {d})]),\n'
        f'        Area(id: "mouth_248", level: "lanes", polygon: [(93.25, 0.0), (96.75, 0.0), (96.75, {d}), (93.25, {d})]),\n'
        f'        Area(id: "mouth_274", level: "lanes", polygon: [(18.5, 0.0), (21.5, 0.0), (21.5, {d}), (18.5, {d})]),\n'
        f'        Area(id: "mouth_jianguo", level: "lanes", polygon: [(93.25, {175 - d}), (96.75, {175 - d}), (96.75, 175.0), (93.25, 175.0)]),\n'
    )
    measures = (
        '    hold_lines: [\n'
        f'        HoldLine(id: "hold_210", level: "lanes", from: (168.0, {d}), to: (172.0, {d}), held_from: (170.0, {h}), queue: Some("mouth_210")),\n'
        f'        HoldLine(id: "hold_248", level: "lanes", from: (93.25, {d}), to: (96.75, {d}), held_from: (95.0, {h}), queue: Some("mouth_248")),\n'
        f'        HoldLine(id: "hold_274", level: "lanes", from: (18.5, {d}), to: (21.5, {d}), held_from: (20.0, {h}), queue: Some("mouth_274")),\n'
        f'        HoldLine(id: "hold_jianguo", level: "lanes", from: (93.25, {175 - d}), to: (96.75, {175 - d}), held_from: (95.0, {175 - h}), queue: Some("mouth_jianguo")),\n'
        '    ],\n'
        '    playbooks: [\n'
        '        Playbook(\n'
        '            id: "wave_release_at_the_entrances",\n'
        '            when: WarningAtLeast(area: "quarter", level: Orange, for: 60.0),\n'
        '            then: [\n'
        f'                HoldLine(line: "hold_210", release: Batches(size: {sizes[0]}, every: {every:.1f})),\n'
        f'                HoldLine(line: "hold_248", release: Batches(size: {sizes[1]}, every: {every:.1f})),\n'
        f'                HoldLine(line: "hold_274", release: Batches(size: {sizes[2]}, every: {every:.1f})),\n'
        f'                HoldLine(line: "hold_jianguo", release: Batches(size: {sizes[3]}, every: {every:.1f})),\n'
        '            ],\n'
        '            until: Some(WarningBelow(area: "quarter", level: Yellow, for: 120.0)),\n'
        '            after: [ReleaseLine("hold_210"), ReleaseLine("hold_248"), ReleaseLine("hold_274"), ReleaseLine("hold_jianguo")],\n'
        '        ),\n'
        '    ],\n'
        '    // Incident library, not ordered here (place it from the viewer, code or an event).\n'
        '    zones: [\n'
        '        // A fire in the shop at lane 210\'s first east frontage: `Smoke(zone: "shop_lane_210_e1_fire",\n'
        '        // extinction: K)` fills its sales floor, `BlockZone` makes it untenable.\n'
        f'        Zone(id: "shop_lane_210_e1_fire", level: "lanes", polygon: {fire}),\n'
        '    ],\n'
        '    barriers: [\n'
        '        // A visitor fallen against the south wall of the 1.6 m dog-leg alley_w2, the narrowest way\n'
        '        // in the quarter: 1.0 m is left to pass.\n'
        '        Barrier(id: "fallen_visitor_alley_w2", level: "lanes", line: [(40.0, 72.2), (41.8, 72.2), (41.8, 72.8), (40.0, 72.8)], closed: true, fallen: true),\n'
        '    ],\n'
    )
    # The measurements are the scene's last list: the areas go at its end, the measures after it.
    s = sub_once(r'(    measurements: \[\n(?:        .*\n)*?)(    \],\n)\)\n\Z',
                 lambda m: m.group(1) + areas + m.group(2) + measures + ')\n', s)
    return s


def walkable_area(s):
    """The lanes level's walkable floor, the union of its areas (they overlap where lanes meet), counted on
    a 0.25 m grid: the scene's corners lie on it, so the count is the engine's area (`unitwin check`)."""
    cell = 0.25
    inside = set()
    for m in re.finditer(r'Area\(id: "[a-z0-9_]+", outer: (\[[^\]]*\])', s):
        pts = points(m.group(1))
        x0, y0 = min(p[0] for p in pts), min(p[1] for p in pts)
        x1, y1 = max(p[0] for p in pts), max(p[1] for p in pts)
        for i in range(int(x0 // cell), int(x1 // cell) + 1):
            for j in range(int(y0 // cell), int(y1 // cell) + 1):
                if (i, j) not in inside and contains(pts, ((i + 0.5) * cell, (j + 0.5) * cell)):
                    inside.add((i, j))
    return len(inside) * cell * cell


def contains(ring, q):
    """Whether q lies inside the ring (even-odd rule)."""
    x, y = q
    c = False
    for (ax, ay), (bx, by) in zip(ring, ring[1:] + ring[:1]):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            c = not c
    return c


def write(path, text, force):
    if os.path.exists(path) and not force:
        sys.exit(f"{path} exists; --force replaces it")
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(path + '.tmp', path)
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--scene', default=os.path.join(ROOT, 'scenes', 'tianzifang.ron'),
                    help='the scene the variants are written from (default: scenes/tianzifang.ron)')
    ap.add_argument('--out-dir', default=os.path.join(ROOT, 'scenes'))
    ap.add_argument('--capacity', type=float, default=DEFAULT_CAPACITY,
                    help="the quarter's maximum capacity, visitors (default 3300: see above)")
    ap.add_argument('--hold-depth', type=float, default=1.0,
                    help="how far inside each entrance its hold line runs, m (default 1.0: see above)")
    ap.add_argument('--wave-every', type=float, default=150.0,
                    help="seconds between waves, their sizes scaled to keep gate 7's rate (default 150: 100 at lane 210)")
    ap.add_argument('--force', action='store_true', help='replace the variants if they exist')
    a = ap.parse_args()
    src = open(a.scene, encoding='utf-8').read()
    write(os.path.join(a.out_dir, 'tianzifang_oneway.ron'), one_way(src), a.force)
    write(os.path.join(a.out_dir, 'tianzifang_wave_release.ron'), wave_release(src, a.capacity, a.hold_depth, a.wave_every), a.force)


if __name__ == '__main__':
    main()
