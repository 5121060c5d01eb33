#!/usr/bin/env python3
"""Interleaved A/B of shipwatch builds against the durable reference, for a machine whose speed varies
from minute to minute: each round runs every build once through shipwatch-bench (each run measures the
durable reference too), and the medians of the rounds are compared.

    python3 src-tauri/crates/bench/tools/ab.py ROUNDS small,large BUILD_A BUILD_B ...

BUILD is a shipwatch binary (or a script exec'ing one with settings). Environment: BENCH (default
target/release/shipwatch-bench), WORK (data dirs; default the system temp dir), EXTRA (more bench
flags)."""
import subprocess, sys, re, statistics, os
rounds = int(sys.argv[1]); sizes = sys.argv[2]; bins = sys.argv[3:]
bench = os.environ.get('BENCH', 'target/release/shipwatch-bench')
work = os.environ.get('WORK', '/tmp'); extra = os.environ.get('EXTRA', '').split()
res = {b: {s: [] for s in sizes.split(',')} for b in bins}
for r in range(rounds):
    for b in bins:
        out = subprocess.run([bench, '--work-dir', work, '--rate', '0', '--targets', 'durable,shipwatch',
                              '--sizes', sizes, '--shipwatch', b] + extra, capture_output=True, text=True).stdout
        for s in sizes.split(','):
            d = re.search(rf'^{s}\s+\S+ KB\s+durable\s+\d+\s+(\d+)', out, re.M)
            w = re.search(rf'^{s}\s+\S+ KB\s+shipwatch\s+\d+\s+(\d+)\s+(\S+)\s+(\S+)', out, re.M)
            c = re.search(rf'^  {s} / shipwatch\s+(\d+) us', out, re.M)
            if d and w:
                res[b][s].append((int(w.group(1)) / int(d.group(1)), int(w.group(1)), int(d.group(1)), float(w.group(3)), int(c.group(1)) if c else 0))
        print(f"round {r+1} {os.path.basename(b)}: " + "  ".join(f"{s} {v[-1][0]:.2f}x ({v[-1][1]}/{v[-1][2]}, {v[-1][4]}us)" for s, v in res[b].items() if v), flush=True)
print()
for b in bins:
    for s, v in res[b].items():
        if not v: continue
        ratios = [x[0] for x in v]
        print(f"{os.path.basename(b):14s} {s:5s} ratio median {statistics.median(ratios):.2f} (min {min(ratios):.2f} max {max(ratios):.2f})  "
              f"sw median {statistics.median(x[1] for x in v):.0f}/s  durable median {statistics.median(x[2] for x in v):.0f}/s  "
              f"p99 median {statistics.median(x[3] for x in v):.1f} ms  cpu median {statistics.median(x[4] for x in v):.0f} us")
