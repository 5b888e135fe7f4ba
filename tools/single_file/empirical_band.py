#!/usr/bin/env python3
"""The empirical band of single-file walking speeds that `tests/verification_flow.rs` compares with
(RiMEA 4.1.1 test 16).

Reads single-file trajectories in PedPy's demo CSV layout (ID,Frame,x,y,v_x,v_y; metres and m/s,
everyone walking along x, one camera's view of a straight part of the circuit) and prints, per run,
the mean headway (distance along x to the next person ahead in the same frame), the density it
implies (1 / headway, persons per metre) and the 10th, 50th and 90th percentiles of the speeds
along x. The two runs used are PedPy's demo data, not part of this repository. From the top of
this repository:

    git clone https://github.com/PedestrianDynamics/PedPy /tmp/PedPy
    for run in n34_cam2 n56_cam1; do
        git -C /tmp/PedPy show ef4df98:notebooks/demo-data/single_file/$run.csv > /tmp/$run.csv
    done
    python3 tools/single_file/empirical_band.py /tmp/n34_cam2.csv /tmp/n56_cam1.csv

Percentiles are the nearest-rank kind on the sorted speeds (index p * (n - 1), rounded down).
"""
import collections
import csv
import statistics
import sys


def percentile(sorted_values, p):
    return sorted_values[int(p * (len(sorted_values) - 1))]


def band(path):
    with open(path, encoding="ascii", newline="") as f:
        rows = list(csv.DictReader(f))
    direction = 1.0 if statistics.mean(float(r["v_x"]) for r in rows) > 0 else -1.0
    frames = collections.defaultdict(list)
    for r in rows:
        frames[int(r["Frame"])].append(direction * float(r["x"]))
    headways = []
    for xs in frames.values():
        xs.sort()
        headways += [b - a for a, b in zip(xs, xs[1:])]
    speeds = sorted(direction * float(r["v_x"]) for r in rows)
    headway = statistics.mean(headways)
    return {
        "run": path,
        "observations": len(speeds),
        "headway_m": round(headway, 3),
        "density_per_m": round(1.0 / headway, 2),
        "speed_p10": round(percentile(speeds, 0.1), 3),
        "speed_p50": round(percentile(speeds, 0.5), 3),
        "speed_p90": round(percentile(speeds, 0.9), 3),
    }


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: empirical_band.py RUN.csv [RUN.csv ...]")
    for path in sys.argv[1:]:
        print(band(path))
