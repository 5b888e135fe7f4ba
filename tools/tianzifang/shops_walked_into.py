"""Writes scenes/tianzifang.ron, Tianzifang's holiday afternoon with the shops walked into (issue 12, item 6).

It is written from docs/design/tianzifang_eight_strolls.ron (the scene before 2026-12-07, whose routes past
eight stroll points spread over the quarter asked the lanes to carry twice what crowds carry):
  - each shop's sales floor takes in the ground floor of its house (8 m x 11 m instead of 8 m x 5 m),
    and the house (its upper floors, drawn only) moves back behind it, clipped where the lanes, the
    floors or another house leave less room (one house with under 1 m left is left out);
  - a visitor stays in the shop but its front 3 m, the shop filling from the back (the engine's
    `fill: FromTheBack`: the furthest of a few random spots with room around them), for the dwell given (default 5-10 min, uniform) instead of 20-70 s at a counter;
  - each of the 24 visitor groups is split in two (48 routes, the same arrival rates in all), and
    each route goes stroll point, shop, stroll point, shop, stroll point, shop, then out by the
    nearest way: each next point the least visited within 60 m (Manhattan, lanes run north-south and
    alleys east-west) of the last, no shop in more than 3 routes where the routes allow; each route is
    given a way out in the entrances' shares and its last shop is one nearest that way out; seeded,
    so the file is reproducible byte for byte.
Little's law at the peak's 10,000 an hour: 3 shops x 7.5 min + about 7 min of walking is W = 30 min,
N = 5,000 on site (the published instantaneous peak), about 3,750 of them in shops.

    python3 tools/tianzifang/shops_walked_into.py --force    # rewrites scenes/tianzifang.ron
    unitwin run scenes/tianzifang.ron --until 9000

What it showed is in docs/design/tianzifang-shops.md.
"""
import argparse
import os
import random
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
NUM = r'(-?[0-9.]+)'


def points(text):
    return [(float(a), float(b)) for a, b in re.findall(r'\(' + NUM + r', ' + NUM + r'\)', text)]


def bounds(pts):
    return (min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts))


def ring(r):
    def f(v):
        return f"{v:.2f}".rstrip('0').rstrip('.') if v != int(v) else f"{v:.1f}"
    x0, y0, x1, y1 = r
    return f"[({f(x0)}, {f(y0)}), ({f(x1)}, {f(y0)}), ({f(x1)}, {f(y1)}), ({f(x0)}, {f(y1)})]"


def overlaps(a, b):
    return a[0] < b[2] - 1e-9 and b[0] < a[2] - 1e-9 and a[1] < b[3] - 1e-9 and b[1] < a[3] - 1e-9


def rewrite_header(s, a):
    """The scene's own comment, describing the scene written, not the one it was written from."""
    lo, hi = a.dwell[0] / 60, a.dwell[1] / 60
    title = (
        "// Tianzifang (田子坊), Taikang Road lanes 210 / 248 / 274: holiday afternoon.\n"
        "// Visitors arrive at the three lane mouths on Taikang Road and at a gate on Jianguo Middle Road, walk a\n"
        f"// local route of {a.strolls} stroll points and {a.shops} shops, stay {lo:g}-{hi:g} minutes in each shop, and leave by the\n"
        "// way out nearest their last shop.\n"
        "// Written by tools/tianzifang/shops_walked_into.py from docs/design/tianzifang_eight_strolls.ron, the\n"
        "// scene before 2026-12-07, whose routes asked the lanes to carry twice what crowds carry (see\n"
        "// docs/design/tianzifang-shops.md); edit the tool, not this file.\n"
    )
    shops = (
        "//   - Shops: 49 of the 329, each a sales floor of 8.0 m x 11.0 m open to the lane: its front 3 m is\n"
        "//     where people walk in, the rest (8.0 m x 8.0 m) the destination, where each visitor stands at a\n"
        "//     spot of their own. A `use: Shop` house (2-3 floors, drawn) stands behind each floor, clipped\n"
        "//     where lanes or other houses leave less room; shop_lane_248_e4's is left out (sizes ESTIMATED).\n"
    )
    stay = (
        "//   - Routes and stay (ESTIMATED): each group is split in two (48 routes, each at half the group's\n"
        "//     rates). A route goes stroll point, shop, stroll point, shop, stroll point, shop, each next\n"
        f"//     point the least visited within {a.reach:g} m (Manhattan) of the last, a shop in at most {a.shop_cap}\n"
        "//     routes where the routes allow; each route is given a way out in the entrances' shares, and its\n"
        f"//     last shop is one nearest that way out. A stay in a shop is {lo:g}-{hi:g} min (uniform). W = 3 x 7.5 min\n"
        "//     in shops + about 300 m of walking = about 30 min; Little's law, N = lambda W: 10,000/h x 0.5 h =\n"
        "//     5,000 on site at the peak (the 2023-04-29 instantaneous peak), about 3,750 of them in shops.\n"
        "//     A visitor held up outside a shop that is full passes it by (`when_full: PassBy`). A shop\n"
        "//     fills from the back (`fill: FromTheBack`): a visitor makes for the furthest of a few spots\n"
        "//     with room around them, so those coming in need not pass those standing (ESTIMATED).\n"
    )
    s = re.sub(r'\A(// .*\n)*?//\n', lambda m: title + '//\n', s, count=1)
    s, n1 = re.subn(r'//   - Shops:.*?\n(?=//   - )', lambda m: shops, s, count=1, flags=re.S)
    s, n2 = re.subn(r'//   - Stay \(ESTIMATED\):.*?\n(?=//   - )', lambda m: stay, s, count=1, flags=re.S)
    assert n1 == n2 == 1, 'the source scene\'s comment has no Shops or Stay entry'
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--scene', default=os.path.join(ROOT, 'docs', 'design', 'tianzifang_eight_strolls.ron'),
                    help='the scene written from (default: the scene before 2026-12-07)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'scenes', 'tianzifang.ron'))
    ap.add_argument('--dwell', nargs=2, type=float, default=[300.0, 600.0], metavar=('MIN', 'MAX'),
                    help='stay in a shop, s, uniform (default 300 600)')
    ap.add_argument('--reach', type=float, default=60.0, help='how far the next point is looked for first, m')
    ap.add_argument('--shop-cap', type=int, default=3, help='routes a shop is in at most')
    ap.add_argument('--shops', type=int, default=3, help='shops on a route (default 3)')
    ap.add_argument('--strolls', type=int, default=3, help='stroll points on a route, one before each shop at most (default 3)')
    ap.add_argument('--force', action='store_true', help='replace --out if it exists')
    a = ap.parse_args()
    if os.path.exists(a.out) and not a.force:
        sys.exit(f"{a.out} exists; --force replaces it")
    src = open(a.scene, encoding='utf-8').read()
    dwell = f"Uniform(min: {a.dwell[0]:.1f}, max: {a.dwell[1]:.1f})"

    floors = {m.group(1): bounds(points(m.group(2)))
              for m in re.finditer(r'Area\(id: "(shop_[a-z0-9_]+)_floor", outer: (\[[^\]]*\])', src)}
    houses = {m.group(1): bounds(points(m.group(2)))
              for m in re.finditer(r'Building\(id: "(shop_[a-z0-9_]+)_house", level: "lanes", footprint: (\[[^\]]*\])', src)}
    floor, house, place, back = {}, {}, {}, {}
    for k, f in floors.items():
        h = houses[k]
        u = (min(f[0], h[0]), min(f[1], h[1]), max(f[2], h[2]), max(f[3], h[3]))
        dx = (h[0] + h[2]) / 2 - (f[0] + f[2]) / 2
        dy = (h[1] + h[3]) / 2 - (f[1] + f[3]) / 2
        if abs(dx) > abs(dy):
            d = h[2] - h[0]
            back[k] = 'E' if dx > 0 else 'W'
            house[k] = (u[2], u[1], u[2] + d, u[3]) if dx > 0 else (u[0] - d, u[1], u[0], u[3])
            place[k] = (u[0] + 3.0, u[1], u[2], u[3]) if dx > 0 else (u[0], u[1], u[2] - 3.0, u[3])
        else:
            d = h[3] - h[1]
            back[k] = 'N' if dy > 0 else 'S'
            house[k] = (u[0], u[3], u[2], u[3] + d) if dy > 0 else (u[0], u[1] - d, u[2], u[1])
            place[k] = (u[0], u[1] + 3.0, u[2], u[3]) if dy > 0 else (u[0], u[1], u[2], u[3] - 3.0)
        floor[k] = u

    def cut(h, side, at):
        x0, y0, x1, y1 = h
        return {'E': (x0, y0, min(x1, at), y1), 'W': (max(x0, at), y0, x1, y1),
                'N': (x0, y0, x1, min(y1, at)), 'S': (x0, max(y0, at), x1, y1)}[side]

    def near_edge(o, side):
        return {'E': o[0], 'W': o[2], 'N': o[1], 'S': o[3]}[side]

    lanes = [bounds(points(m.group(1)))
             for m in re.finditer(r'Area\(id: "(?!shop_)[a-z0-9_]+", outer: (\[[^\]]*\])', src)]
    fixed = lanes + list(floor.values())
    for k in sorted(house):
        for o in fixed:
            if overlaps(house[k], o):
                house[k] = cut(house[k], back[k], near_edge(o, back[k]))
    for k in sorted(house):
        for j in sorted(house):
            if j <= k or not overlaps(house[k], house[j]):
                continue
            if {back[k], back[j]} in ({'N', 'S'}, {'E', 'W'}):
                lo, hi = (1, 3) if back[k] in 'NS' else (0, 2)
                mid = (max(house[k][lo], house[j][lo]) + min(house[k][hi], house[j][hi])) / 2
                house[k], house[j] = cut(house[k], back[k], mid), cut(house[j], back[j], mid)
            else:
                house[j] = cut(house[j], back[j], near_edge(house[k], back[j]))
    dropped = sorted(k for k, h in house.items() if h[2] - h[0] < 1.0 or h[3] - h[1] < 1.0)
    for k in dropped:
        del house[k]
    for k, h in house.items():
        assert not any(overlaps(h, o) for o in fixed), k
        assert not any(j != k and overlaps(h, o) for j, o in house.items()), k

    s = src
    for k in floors:
        s = re.sub(r'(Area\(id: "' + k + r'_floor", outer: )\[[^\]]*\]', lambda m: m.group(1) + ring(floor[k]), s)
        if k in house:
            s = re.sub(r'(Building\(id: "' + k + r'_house", level: "lanes", footprint: )\[[^\]]*\]',
                       lambda m: m.group(1) + ring(house[k]), s)
        else:
            s = re.sub(r'        Building\(id: "' + k + r'_house".*\n', '', s)
        s = re.sub(r'(Destination\(id: "' + k + r'", level: "lanes", area: )\[[^\]]*\], dwell: [^)]*\)\)',
                   lambda m: m.group(1) + ring(place[k]) + ', dwell: ' + dwell + ', when_full: PassBy, fill: FromTheBack)', s)

    dest = {m.group(1): bounds(points(m.group(2)))
            for m in re.finditer(r'Destination\(id: "([a-z0-9_]+)", level: "lanes", area: (\[[^\]]*\])', s)}
    centre = {k: ((r[0] + r[2]) / 2, (r[1] + r[3]) / 2) for k, r in dest.items()}
    shops = sorted(k for k in centre if k.startswith('shop_'))
    strolls = sorted(k for k in centre if k.startswith('stroll_'))
    doors = {m.group(1): (float(m.group(2)), float(m.group(3)))
             for m in re.finditer(r'Door\(id: "([a-z0-9_]+)", level: "lanes", at: \(' + NUM + ', ' + NUM + r'\)', s)}

    def dist(p, q):
        return abs(p[0] - q[0]) + abs(p[1] - q[1])

    rng = random.Random(210)
    visits = {k: 0 for k in shops + strolls}

    def pick(at, pool, used, cap):
        reach = a.reach
        while reach <= 400.0:
            near = [k for k in pool if k not in used and 5 < dist(at, centre[k]) <= reach and visits[k] < cap]
            if near:
                least = min(visits[k] for k in near)
                return rng.choice([k for k in near if visits[k] == least])
            reach += 15.0
        return None

    def nearest_door(p):
        return min(sorted(doors), key=lambda d: dist(p, doors[d]))

    # The way out each route is given, in the entrances' shares (each group's door, twice), at random;
    # its last shop is one whose nearest way out that is, so the engine's nearest exit takes it there.
    groups = re.findall(r'Population\(\n            id: "visitors_[a-z0-9_]+",\n.*?door: "([a-z_0-9]+)"', src, flags=re.S)
    ways_out = [d for d in groups for _ in 'ab']
    rng.shuffle(ways_out)
    # The last shops are taken first, so that the shops nearest each way out are kept for them.
    last_shop = []
    for way_out in ways_out:
        region = [k for k in shops if nearest_door(centre[k]) == way_out and visits[k] < a.shop_cap]
        if not region:
            sys.exit(f"the shops nearest {way_out} are all in {a.shop_cap} routes: raise --shop-cap")
        least = min(visits[k] for k in region)
        k = rng.choice([k for k in region if visits[k] == least])
        visits[k] += 1
        last_shop.append(k)
    routes_made = []

    def route(door):
        n = len(routes_made)
        at, seq = doors[door], []
        kinds = [kind for i in range(a.shops) for kind in (('stroll', 'shop') if i < a.strolls else ('shop',))]
        for kind in kinds[:-1]:
            pool = shops if kind == 'shop' else strolls
            k = pick(at, pool, seq + [last_shop[n]], a.shop_cap if kind == 'shop' else 10**9)
            if k is None:
                sys.exit(f"no {kind} is left for a route from {door}: raise --shop-cap or lower --shops")
            visits[k] += 1
            seq.append(k)
            at = centre[k]
        seq.append(last_shop[n])
        routes_made.append(seq)
        return seq

    lengths = []

    def split(m):
        block = m.group(0)
        rates = re.search(r'rates: \[([^\]]*)\]', block).group(1)
        half = ', '.join(f'({t}, {float(r) / 2:.3f})' for t, r in re.findall(r'\(' + NUM + r', ' + NUM + r'\)', rates))
        door = re.search(r'door: "([a-z_0-9]+)"', block).group(1)
        out = []
        for part in 'ab':
            r = route(door)
            lengths.append(dist(doors[door], centre[r[0]]) + sum(dist(centre[p], centre[q]) for p, q in zip(r, r[1:])))
            b = block.replace(rates, half)
            b = re.sub(r'id: "(visitors_[a-z0-9_]+)"', lambda mm: f'id: "{mm.group(1)}_{part}"', b)
            b = re.sub(r'goal: Route\(\[[^\]]*\]\)', 'goal: Route([' + ', '.join(f'"{k}"' for k in r) + '])', b)
            out.append(b)
        return ',\n'.join(out)

    s = re.sub(r'        Population\(\n            id: "visitors_.*?\n        \)', split, s, flags=re.S)
    s = rewrite_header(s, a)
    with open(a.out + '.tmp', 'w', encoding='utf-8') as f:
        f.write(s)
    os.replace(a.out + '.tmp', a.out)
    n = sorted(v for k, v in visits.items() if k in shops)
    print(f"wrote {a.out}: shops in {n[0]}-{n[-1]} routes each; route from the entrance to its last shop "
          f"{sum(lengths) / len(lengths):.0f} m on average (Manhattan); houses left out: {', '.join(dropped) or 'none'}")


if __name__ == '__main__':
    main()
